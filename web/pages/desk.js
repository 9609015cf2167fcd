// The approval desk ("Chờ duyệt"): the messages waiting for the signed-in
// approver (GET /desk, already filtered to their districts), each with who
// wrote it, where it will run, and the word-level diff against the last
// approved version (GET /messages/{id}/diff); approve, or send it back
// with a comment (POST /messages/{id}/reject). The history of versions
// opens below each item (GET /messages/{id}/versions).
//
// Insertions and deletions are <ins> and <del> with a "+" / "−" sign and
// a spoken label, never colour alone.

import { t } from '../lib/i18n.js';
import { fmtDateTime } from '../lib/format.js';
import { append, clear, h, icon } from '../lib/dom.js';
import { emptyState, fail, toast } from '../lib/components.js';
import { api, enc, loadMessages } from '../lib/api.js';
import { approveButton } from './approval.js';
import { refreshNotifications } from '../lib/notify.js';

/** A diff as text with <ins>/<del> runs. */
export function diffView(parts) {
  if (!parts.length) return h('span', { class: 'muted' }, t('none'));
  return h('span', { class: 'diff' }, parts.map((p) => {
    if (p.op === 'insert') return h('ins', { class: 'diff-ins' }, h('span', { class: 'visually-hidden' }, t('desk.inserted')), p.text);
    if (p.op === 'delete') return h('del', { class: 'diff-del' }, h('span', { class: 'visually-hidden' }, t('desk.deleted')), p.text);
    return p.text;
  }));
}

function windowText(w) {
  if (!w || (!w[0] && !w[1])) return t('desk.noWindow');
  return t('desk.window', { from: w[0] ? fmtDateTime(w[0]) : '…', until: w[1] ? fmtDateTime(w[1]) : '…' });
}

function placesView(placements) {
  if (!placements.length) return h('p', { class: 'muted' }, t('desk.nowhere'));
  return h('ul', { class: 'desk-places' }, placements.map((p) =>
    h('li', {}, h('a', { href: `#/campaigns/${enc(p.campaign)}` }, p.name), ': ',
      p.targets.map((x) => (x.target === 'all' ? t('desk.everywhere') : x.name)).join(', '))));
}

async function versionsView(id, box) {
  clear(box).append(h('p', { class: 'muted' }, t('loading')));
  try {
    const list = await api(`/messages/${enc(id)}/versions`);
    clear(box).append(h('ol', { class: 'desk-versions', reversed: true }, list.map((v) =>
      h('li', { 'data-version': v.version },
        h('strong', {}, t('desk.version', { n: v.version })), ' · ',
        t('desk.writtenBy', { who: v.by, when: fmtDateTime(v.at) }),
        v.approved_by ? h('span', { class: 'badge badge-ok' }, t('desk.approvedBy', { who: v.approved_by })) : null,
        v.rejection ? h('span', { class: 'badge badge-warn' }, t('desk.rejectedBy', { who: v.rejection.by })) : null,
        h('div', { class: 'snippet' }, v.title, ' — ', v.text || ''),
        v.rejection ? h('div', { class: 'muted' }, '“', v.rejection.comment, '”') : null))));
  } catch (e) { clear(box); fail(e); }
}

function itemView(item, refresh) {
  const m = item.message;
  const diffBox = h('div', { class: 'desk-diff', 'data-diff': m.id }, h('p', { class: 'muted' }, t('loading')));
  (async () => {
    try {
      const d = await api(`/messages/${enc(m.id)}/diff`);
      clear(diffBox);
      append(diffBox, [
        h('p', { class: 'desk-base' }, d.from ? t(d.base === 'rejected' ? 'desk.diffFromRejected' : 'desk.diffFrom', { from: d.from, to: d.to }) : t('desk.diffNew')),
        h('div', { class: 'diff-row' }, h('span', { class: 'label' }, t('f.title')), diffView(d.title)),
        h('div', { class: 'diff-row' }, h('span', { class: 'label' }, t('f.text')), diffView(d.text)),
        d.window ? h('p', {}, icon('warn'), t('desk.windowChanged', { before: windowText(d.window.before), after: windowText(d.window.after) })) : null,
        d.image_changed ? h('p', {}, icon('image'), t('desk.imageChanged')) : null]);
    } catch (e) { clear(diffBox); fail(e); }
  })();
  const comment = h('textarea', { rows: '3', maxlength: '1000', id: `reject-${m.id}`, lang: 'vi', required: true });
  const err = h('p', { class: 'field-error', role: 'alert' });
  const rejectForm = h('form', {
    class: 'desk-reject', hidden: true,
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      if (!comment.value.trim()) { err.textContent = t('desk.needComment'); comment.focus(); return; }
      try {
        await api(`/messages/${enc(m.id)}/reject`, { method: 'POST', json: { comment: comment.value, version: m.version } });
        toast(t('desk.rejected'), 'ok');
        await loadMessages().catch(() => {});
        refreshNotifications();
        refresh();
      } catch (ex) { err.textContent = ex.message; }
    },
  },
  h('label', { for: `reject-${m.id}` }, t('desk.comment')), comment, err,
  h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-danger', 'data-action': 'send-reject' }, t('desk.sendBack'))));
  const history = h('div', { class: 'desk-history' });
  return h('article', { class: 'card desk-item', 'data-message': m.id },
    h('h2', {}, h('a', { href: `#/messages/${enc(m.id)}` }, m.title), ' ', h('span', { class: 'muted' }, t('desk.version', { n: m.version }))),
    h('p', {}, t('desk.writtenBy', { who: m.updated_by, when: fmtDateTime(m.updated_at) }),
      m.created_by !== m.updated_by ? ` · ${t('desk.author', { who: m.created_by })}` : ''),
    h('p', {}, windowText([m.valid_from, m.valid_until])),
    h('h3', {}, t('desk.where')), placesView(item.placements),
    h('h3', {}, t('desk.changes')), diffBox,
    h('div', { class: 'form-actions' },
      approveButton(m, () => { refreshNotifications(); refresh(); }),
      h('button', { type: 'button', class: 'btn', 'data-action': 'reject', onclick: () => { rejectForm.hidden = false; comment.focus(); } }, t('desk.reject')),
      h('button', { type: 'button', class: 'btn btn-ghost', 'data-action': 'history', onclick: () => versionsView(m.id, history) }, t('desk.history'))),
    rejectForm, history);
}

export async function viewDesk(main, args, ctx) {
  document.title = `${t('desk.title')} · ${t('app.title')}`;
  const body = h('div', { class: 'desk-list' });
  const load = async () => {
    const items = await api('/desk');
    if (!ctx.alive()) return;
    clear(body);
    if (!items.length) { body.append(emptyState(t('desk.empty'))); return; }
    body.append(...items.map((it) => itemView(it, load)));
  };
  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, t('desk.title')), h('p', { class: 'lead' }, t('desk.lead')))),
    body));
  await load();
}
