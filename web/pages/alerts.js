// Emergency alerts: send one (armed, confirmed), follow its delivery, stop it.

import { t } from '../lib/i18n.js';
import { fmtDateTime, prettyGroup } from '../lib/format.js';
import { clear, h, icon } from '../lib/dom.js';
import { confirmDialog, emptyState, fail, field, toast } from '../lib/components.js';
import { S, allGroups, describeTargets, panelsFor } from '../lib/state.js';
import { api, enc, loadAlertsQuiet, loadPanels } from '../lib/api.js';
import { onCleanup } from '../lib/router.js';

export async function viewAlerts(main, _args, ctx) {
  document.title = `${t('al.title')} · ${t('app.title')}`;
  await Promise.all([loadPanels(), loadAlertsQuiet()]);
  if (!ctx.alive()) return;
  const groups = allGroups();
  const targets = new Set();
  const text = h('textarea', { rows: '3', lang: 'vi', placeholder: t('al.textPh'), maxlength: '1000' });
  const dur = h('input', { type: 'number', min: '1', max: '4320', value: '60', class: 'num-input' });
  const arm = h('input', { type: 'checkbox', id: 'al-arm' });
  const err = h('p', { class: 'field-error', role: 'alert' });
  const sendBtn = h('button', { type: 'submit', class: 'btn btn-danger btn-lg', disabled: true, id: 'send-alert' }, icon('alerts'), t('al.send'));
  arm.addEventListener('change', () => { sendBtn.disabled = !arm.checked; });
  const tbox = h('div', { class: 'targets' });
  const renderTargets = () => {
    clear(tbox);
    const all = targets.has('all');
    const cb = (value, label, n) => {
      const input = h('input', { type: 'checkbox', value, checked: targets.has(value), disabled: all && value !== 'all' });
      input.addEventListener('change', () => { if (input.checked) targets.add(value); else targets.delete(value); renderTargets(); });
      return h('label', { class: 'check' }, input, h('span', {}, label), h('span', { class: 'muted' }, ` (${n})`));
    };
    tbox.append(cb('all', t('al.all'), S.panels.length),
      h('div', { class: 'check-grid' }, groups.map((g) => cb(`group:${g}`, prettyGroup(g), S.panels.filter((p) => p.groups?.includes(g)).length))));
  };
  renderTargets();
  const delivery = h('div', { class: 'delivery', 'aria-live': 'polite' });
  const activeBox = h('div');
  let pollTimer = null;
  onCleanup(() => clearTimeout(pollTimer));

  const renderActive = () => {
    clear(activeBox);
    const now = Date.now();
    const active = S.alerts.filter((a) => !a.cancelled_at && new Date(a.ends_at).getTime() > now)
      .sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
    const recent = S.alerts.filter((a) => !active.includes(a)).sort((a, b) => String(b.created_at).localeCompare(String(a.created_at))).slice(0, 5);
    activeBox.append(h('h2', {}, t('al.active')));
    if (!active.length) activeBox.append(emptyState(t('al.none')));
    for (const a of active) {
      activeBox.append(h('article', { class: 'alert-item', 'data-alert': a.id },
        h('div', { class: 'grow' },
          h('p', { class: 'alert-text' }, a.text),
          h('p', { class: 'muted' }, describeTargets(a.targets), ' · ', t('al.createdAt', { when: fmtDateTime(a.created_at) }), ' · ', t('al.ends', { when: fmtDateTime(a.ends_at) }))),
        h('button', {
          type: 'button', class: 'btn btn-danger-ghost',
          onclick: async () => {
            if (!await confirmDialog({ title: t('al.cancelTitle'), body: t('al.cancelConfirm', { text: a.text }), ok: t('al.cancel'), danger: true })) return;
            try {
              await api(`/alerts/${enc(a.id)}`, { method: 'DELETE' });
              toast(t('al.cancelled'), 'ok');
              await loadAlertsQuiet();
              renderActive();
            } catch (e) { fail(e); }
          },
        }, t('al.cancel'))));
    }
    if (recent.length) {
      activeBox.append(h('h3', { class: 'sub-head' }, t('al.recent')));
      for (const a of recent) {
        activeBox.append(h('article', { class: 'alert-item alert-past' }, h('div', { class: 'grow' },
          h('p', {}, a.text),
          h('p', { class: 'muted' }, describeTargets(a.targets), ' · ', a.cancelled_at ? t('al.cancelledAt', { when: fmtDateTime(a.cancelled_at) }) : t('al.ended', { when: fmtDateTime(a.ends_at) })))));
      }
    }
  };

  const poll = async (id, started) => {
    try {
      const a = await api(`/alerts/${enc(id)}`);
      if (!ctx.alive()) return;
      const d = a.delivery || { targets: 0, acked: 0 };
      const pct = d.targets ? Math.round((d.acked / d.targets) * 100) : 0;
      clear(delivery).append(h('div', { class: 'delivery-card' },
        h('h3', {}, t('al.deliveryTitle')),
        h('p', { class: 'delivery-count', 'data-testid': 'delivery' }, t('al.delivery', { acked: d.acked, targets: d.targets })),
        h('div', { class: 'meter', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(d.targets), 'aria-valuenow': String(d.acked) }, h('span', { style: { width: `${pct}%` } })),
        h('p', { class: 'muted' },
          d.first_ack_ms != null ? t('al.firstAck', { ms: d.first_ack_ms }) : t('al.waiting'),
          d.last_ack_ms != null ? ` · ${t('al.lastAck', { ms: d.last_ack_ms })}` : ''),
        d.targets && d.acked >= d.targets ? h('p', { class: 'ok-text' }, icon('check'), t('al.allAcked')) : null));
      const done = a.cancelled_at || new Date(a.ends_at).getTime() < Date.now() || (d.targets && d.acked >= d.targets && Date.now() - started > 10000);
      if (!done && Date.now() - started < 10 * 60000) pollTimer = setTimeout(() => poll(id, started), 1000);
    } catch (e) {
      if (e.status === 401) return;
      pollTimer = setTimeout(() => poll(id, started), 3000);
    }
  };

  const form = h('form', {
    class: 'card alert-form', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      const minutes = parseInt(dur.value, 10);
      const tg = targets.has('all') ? ['all'] : [...targets];
      if (!text.value.trim()) { err.textContent = t('al.noText'); text.focus(); return; }
      if (!tg.length) { err.textContent = t('al.noTargets'); return; }
      if (!(minutes >= 1 && minutes <= 4320)) { err.textContent = t('al.badDuration'); dur.focus(); return; }
      const reach = panelsFor(tg);
      const where = tg.includes('all') ? t('al.everywhere') : tg.map((x) => prettyGroup(x.slice(6))).join(', ');
      const ok = await confirmDialog({
        title: t('al.confirmTitle'),
        body: h('div', {}, h('p', { class: 'confirm-big' }, t('al.confirmBody', { n: reach.length, where, min: minutes })), h('blockquote', { class: 'alert-quote' }, text.value.trim())),
        ok: t('al.send'), danger: true,
      });
      if (!ok) return;
      sendBtn.disabled = true;
      try {
        const r = await api('/alerts', { method: 'POST', json: { text: text.value.trim(), targets: tg, duration_s: minutes * 60 } });
        toast(t('al.sent'), 'ok');
        text.value = '';
        arm.checked = false;
        clearTimeout(pollTimer);
        poll(r.id, Date.now());
        await loadAlertsQuiet();
        renderActive();
      } catch (ex) { err.textContent = ex.message; sendBtn.disabled = !arm.checked; }
    },
  },
  h('h2', {}, icon('alerts'), t('al.formTitle')),
  field(t('al.text'), text),
  h('fieldset', {}, h('legend', {}, t('al.targets')), tbox),
  field(t('al.duration'), dur),
  h('label', { class: 'check arm' }, arm, h('span', {}, t('al.arm'))),
  err,
  h('div', { class: 'form-actions' }, sendBtn));

  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, t('al.title')), h('p', { class: 'lead' }, t('al.lead')))),
    h('div', { class: 'two-col' }, h('div', {}, form, delivery), h('section', { class: 'card' }, activeBox))));
  renderActive();
  const refresh = setInterval(async () => { await loadAlertsQuiet(); if (ctx.alive()) renderActive(); }, 15000);
  onCleanup(() => clearInterval(refresh));
}
