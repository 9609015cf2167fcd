// Notifications in the header: a bell with the count of what is new since
// the list was last opened, and the list itself (GET /notifications: own
// messages sent back with a comment or approved, and for approvers the
// messages waiting for them). The list is asked for when the header is
// drawn, on every page change, and every 30 s (as background requests: they
// do not keep an unattended tab signed in); what was seen is kept per person
// in localStorage.

import { t } from './i18n.js';
import { fmtDateTime } from './format.js';
import { clear, h, icon } from './dom.js';
import { S } from './state.js';
import { api, enc } from './api.js';

let timer = null;
let items = [];
let btn = null;
let panel = null;

window.addEventListener('hashchange', refreshNotifications);

const seenKey = () => `bangtin.notify.seen.${S.me?.name || ''}`;
const seenAt = () => localStorage.getItem(seenKey()) || '';

function line(n) {
  const href = n.kind === 'waiting' ? '#/desk' : `#/messages/${enc(n.message)}`;
  const text = t(`notify.${n.kind}`, { title: n.title, who: n.by });
  return h('li', { class: `notify-item notify-${n.kind}`, 'data-kind': n.kind, 'data-message': n.message },
    h('a', { href, onclick: () => close() }, text),
    n.comment ? h('blockquote', { class: 'notify-comment' }, n.comment) : null,
    h('div', { class: 'muted' }, fmtDateTime(n.at)));
}

function draw() {
  if (!btn) return;
  const fresh = items.filter((n) => n.at > seenAt()).length;
  const badge = btn.querySelector('.notify-count');
  badge.textContent = fresh ? String(fresh) : '';
  badge.hidden = !fresh;
  btn.setAttribute('aria-label', t('notify.label', { n: fresh }));
  if (panel && !panel.hidden) {
    clear(panel).append(
      h('div', { class: 'notify-head' }, h('h2', {}, t('notify.title')),
        h('button', { type: 'button', class: 'btn btn-ghost btn-small', id: 'notify-close', 'aria-label': t('notify.close'), onclick: close }, icon('x'))),
      items.length ? h('ul', {}, items.map(line)) : h('p', { class: 'muted' }, t('notify.empty')));
  }
}

function close() { if (panel) panel.hidden = true; btn?.setAttribute('aria-expanded', 'false'); }

/** Asks the server for the list again and redraws the bell. */
export async function refreshNotifications() {
  if (!S.me) return;
  try { items = await api('/notifications', { background: true }); } catch { return; }
  draw();
}

/** The bell and its list, for the header; starts the polling. */
export function notifyButton() {
  if (timer) clearInterval(timer);
  timer = setInterval(refreshNotifications, 30000);
  panel = h('div', { class: 'notify-panel', id: 'notify-panel', hidden: true });
  btn = h('button', {
    type: 'button', class: 'btn btn-ghost btn-small notify-btn', id: 'notify', 'aria-expanded': 'false', 'aria-controls': 'notify-panel',
    onclick: () => {
      const open = panel.hidden;
      panel.hidden = !open;
      btn.setAttribute('aria-expanded', String(open));
      draw();
      if (open && items.length) localStorage.setItem(seenKey(), items.reduce((a, n) => (n.at > a ? n.at : a), seenAt()));
    },
  }, icon('bell'), h('span', { class: 'notify-count', hidden: true }));
  refreshNotifications();
  return h('div', { class: 'notify' }, btn, panel);
}

/** Stops polling (sign-out). */
export function stopNotifications() {
  if (timer) clearInterval(timer);
  timer = null;
  items = [];
}
