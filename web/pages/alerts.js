// Emergency alerts: send one (from a template, previewed on the smallest
// sign it reaches, armed, confirmed), follow its delivery panel by panel,
// stop it. `#/alerts/{id}` is one alert's delivery.

import { ALERT_TEMPLATES, t } from '../lib/i18n.js';
import { fmtDateTime, prettyGroup, seenText } from '../lib/format.js';
import { clear, debounce, h, icon } from '../lib/dom.js';
import { badge, confirmDialog, emptyState, fail, field, toast } from '../lib/components.js';
import { S, allGroups, describeTargets, panelsFor, provinceWide } from '../lib/state.js';
import { api, enc, fetchImage, loadAlertsQuiet, loadPanels } from '../lib/api.js';
import { keepOnRedraw, keptState, onCleanup } from '../lib/router.js';

/** A template's blanks, "[khu vực]", that the operator must fill in. */
const BLANK = /\[[^\]]*\]/;

export async function viewAlerts(main, args, ctx) {
  if (args[0]) return viewAlert(main, args[0], ctx);
  document.title = `${t('al.title')} · ${t('app.title')}`;
  await Promise.all([loadPanels(), loadAlertsQuiet()]);
  if (!ctx.alive()) return;
  const groups = allGroups();
  const kept = keptState() || {};
  const targets = new Set(kept.targets || []);
  const text = h('textarea', { rows: '3', lang: 'vi', placeholder: t('al.textPh'), maxlength: '500', id: 'alert-text' });
  text.value = kept.text || '';
  const dur = h('input', { type: 'number', min: '1', max: '4320', value: kept.dur || '60', class: 'num-input', id: 'alert-duration' });
  keepOnRedraw(() => ({ text: text.value, targets: [...targets], dur: dur.value }));
  const arm = h('input', { type: 'checkbox', id: 'al-arm' });
  const err = h('p', { class: 'field-error', role: 'alert' });
  const sendBtn = h('button', { type: 'submit', class: 'btn btn-danger btn-lg', disabled: true, id: 'send-alert' }, icon('alerts'), t('al.send'));
  arm.addEventListener('change', () => { sendBtn.disabled = !arm.checked; });

  // Templates: correct Vietnamese for the common warnings; the blanks in
  // brackets are the place and time the operator writes in.
  const selectBlank = () => {
    const m = BLANK.exec(text.value);
    text.focus();
    if (m) text.setSelectionRange(m.index, m.index + m[0].length);
  };
  const templates = h('div', { class: 'alert-templates', role: 'group', 'aria-labelledby': 'al-tpl-label' },
    h('span', { class: 'label', id: 'al-tpl-label' }, t('al.templates')),
    h('div', { class: 'template-row' }, Object.keys(ALERT_TEMPLATES).map((k) => h('button', {
      type: 'button', class: 'btn btn-chip', 'data-template': k,
      onclick: () => { text.value = ALERT_TEMPLATES[k]; selectBlank(); previewSoon(); },
    }, t(`al.tpl.${k}`)))),
    h('p', { class: 'hint' }, t('al.templatesHint')));

  // Targets: the whole province, districts, or single panels.
  const tbox = h('div', { class: 'targets' });
  const renderTargets = () => {
    clear(tbox);
    const all = targets.has('all');
    const cb = (value, label, extra) => {
      const input = h('input', { type: 'checkbox', value, checked: targets.has(value), disabled: all && value !== 'all' });
      input.addEventListener('change', () => { if (input.checked) targets.add(value); else targets.delete(value); renderTargets(); previewSoon(); });
      return h('label', { class: 'check' }, input, h('span', {}, label), h('span', { class: 'muted check-extra' }, extra));
    };
    tbox.append(provinceWide() ? cb('all', t('al.all'), ` (${S.panels.length})`) : null,
      groups.length ? h('fieldset', { class: 'sub' }, h('legend', {}, t('cf.groups')),
        h('div', { class: 'check-grid' }, groups.map((g) => cb(`group:${g}`, prettyGroup(g), ` (${S.panels.filter((p) => p.groups?.includes(g)).length})`)))) : null,
      h('details', { class: 'sub panel-targets', open: [...targets].some((x) => x !== 'all' && !x.startsWith('group:')) },
        h('summary', {}, t('al.singlePanels')),
        h('div', { class: 'check-grid check-grid-panels' }, S.panels.map((p) => cb(p.id, p.name, `${p.id} · ${p.width}×${p.height}`)))));
  };
  renderTargets();
  const chosen = () => (targets.has('all') ? ['all'] : [...targets]);

  // Preview on the smallest sign the alert reaches (where it is hardest to read).
  const pvImg = h('img', { class: 'preview-img', alt: '' });
  const pvFrame = h('div', { class: 'screen screen-preview screen-idle', 'data-empty': t('al.previewNone') }, pvImg);
  const pvHead = h('p', { class: 'muted preview-head' });
  const pvPages = h('p', { class: 'muted' });
  let pvUrl = null;
  let pvCtrl = null;
  onCleanup(() => { pvCtrl?.abort(); if (pvUrl) URL.revokeObjectURL(pvUrl); });
  const preview = async () => {
    const reach = panelsFor(chosen());
    const body = text.value.trim();
    if (!reach.length || !body) {
      pvFrame.classList.add('screen-idle');
      pvFrame.dataset.empty = reach.length ? t('al.previewNone') : t('al.previewNoTargets');
      pvHead.textContent = '';
      pvPages.textContent = '';
      return;
    }
    const p = [...reach].sort((a, b) => a.width * a.height - b.width * b.height || a.name.localeCompare(b.name, 'vi'))[0];
    pvHead.textContent = t('al.previewOn', { name: p.name, size: `${p.width}×${p.height}`, n: reach.length });
    pvFrame.style.aspectRatio = `${p.width} / ${p.height}`;
    pvCtrl?.abort();
    const c = new AbortController();
    pvCtrl = c;
    // The server draws the alert exactly as the signs will show it.
    try {
      const r = await fetchImage(`/alerts/preview?panel=${enc(p.id)}&look=led`, { method: 'POST', json: { text: body, targets: chosen() }, signal: c.signal });
      if (pvCtrl !== c) { URL.revokeObjectURL(r.url); return; }
      if (pvUrl) URL.revokeObjectURL(pvUrl);
      pvUrl = r.url;
      pvImg.src = pvUrl;
      pvImg.alt = t('preview.alt', { size: `${p.width}×${p.height}`, n: 1 });
      pvFrame.classList.remove('screen-idle');
      const pages = Math.max(1, parseInt(r.headers.get('X-Pages') || '1', 10) || 1);
      pvPages.textContent = t('al.previewPages', { n: pages, s: pages * 8 });
    } catch (e) {
      if (e.name !== 'AbortError') { pvFrame.classList.add('screen-idle'); pvFrame.dataset.empty = e.message; }
    }
  };
  const previewSoon = debounce(preview, 300);
  onCleanup(() => previewSoon.cancel());
  text.addEventListener('input', previewSoon);

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
          h('p', { class: 'muted' }, describeTargets(a.targets), ' · ', t('al.createdAt', { when: fmtDateTime(a.created_at) }), ' · ', t('al.ends', { when: fmtDateTime(a.ends_at) })),
          h('a', { href: `#/alerts/${enc(a.id)}`, class: 'alert-detail-link' }, t('al.detail'))),
        cancelButton(a, async () => { await loadAlertsQuiet(); renderActive(); })));
    }
    if (recent.length) {
      activeBox.append(h('h3', { class: 'sub-head' }, t('al.recent')));
      for (const a of recent) {
        activeBox.append(h('article', { class: 'alert-item alert-past' }, h('div', { class: 'grow' },
          h('p', {}, a.text),
          h('p', { class: 'muted' }, describeTargets(a.targets), ' · ', a.cancelled_at ? t('al.cancelledAt', { when: fmtDateTime(a.cancelled_at) }) : t('al.ended', { when: fmtDateTime(a.ends_at) })),
          h('a', { href: `#/alerts/${enc(a.id)}`, class: 'alert-detail-link' }, t('al.detail')))));
      }
    }
  };

  const poll = async (id, started) => {
    try {
      const a = await api(`/alerts/${enc(id)}`, { background: true });
      if (!ctx.alive()) return;
      clear(delivery).append(deliveryCard(a));
      const d = a.delivery || { targets: 0, acked: 0 };
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
      const tg = chosen();
      const body = text.value.trim();
      if (!body) { err.textContent = t('al.noText'); text.focus(); return; }
      if (BLANK.test(body)) { err.textContent = t('al.fillBlanks'); selectBlank(); return; }
      if (!tg.length) { err.textContent = t('al.noTargets'); return; }
      if (!(minutes >= 1 && minutes <= 4320)) { err.textContent = t('al.badDuration'); dur.focus(); return; }
      const reach = panelsFor(tg);
      const where = tg.includes('all') ? t('al.everywhere') : describeTargets(tg);
      const ok = await confirmDialog({
        title: t('al.confirmTitle'),
        body: h('div', {}, h('p', { class: 'confirm-big' }, t('al.confirmBody', { n: reach.length, where, min: minutes })), h('blockquote', { class: 'alert-quote' }, body)),
        ok: t('al.send'), danger: true,
      });
      if (!ok) return;
      sendBtn.disabled = true;
      try {
        const r = await api('/alerts', { method: 'POST', json: { text: body, targets: tg, duration_s: minutes * 60 } });
        toast(t('al.sent'), 'ok');
        text.value = '';
        arm.checked = false;
        previewSoon();
        clearTimeout(pollTimer);
        poll(r.id, Date.now());
        await loadAlertsQuiet();
        renderActive();
      } catch (ex) { err.textContent = ex.message; sendBtn.disabled = !arm.checked; }
    },
  },
  h('h2', {}, icon('alerts'), t('al.formTitle')),
  templates,
  field(t('al.text'), text),
  h('fieldset', {}, h('legend', {}, t('al.targets')), tbox),
  h('section', { class: 'alert-preview', 'aria-label': t('al.preview') }, h('span', { class: 'label' }, t('al.preview')), pvHead, pvFrame, pvPages),
  field(t('al.duration'), dur),
  h('label', { class: 'check arm' }, arm, h('span', {}, t('al.arm'))),
  err,
  h('div', { class: 'form-actions' }, sendBtn));

  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, t('al.title')), h('p', { class: 'lead' }, t('al.lead')))),
    h('div', { class: 'two-col alerts-cols' }, h('div', {}, form, delivery), h('section', { class: 'card' }, activeBox))));
  renderActive();
  preview();
  const refresh = setInterval(async () => { await loadAlertsQuiet(true); if (ctx.alive()) renderActive(); }, 15000);
  onCleanup(() => clearInterval(refresh));
}

function cancelButton(a, done) {
  return h('button', {
    type: 'button', class: 'btn btn-danger-ghost', 'data-action': 'cancel-alert',
    onclick: async () => {
      if (!await confirmDialog({ title: t('al.cancelTitle'), body: t('al.cancelConfirm', { text: a.text }), ok: t('al.cancel'), danger: true })) return;
      try {
        await api(`/alerts/${enc(a.id)}`, { method: 'DELETE' });
        toast(t('al.cancelled'), 'ok');
        await done();
      } catch (e) { fail(e); }
    },
  }, t('al.cancel'));
}

/**
 * How far an alert got: the count of panels that acknowledged it, and the
 * targeted panels that have not (`delivery.pending`, from the server), with
 * when each was last heard from.
 */
function deliveryCard(a) {
  const d = a.delivery || { targets: 0, acked: 0, pending: [] };
  const pct = d.targets ? Math.round((d.acked / d.targets) * 100) : 0;
  const missing = (d.pending || []).map((x) => ({ last_seen: null, online: false, ...S.panels.find((p) => p.id === x.id), id: x.id, name: x.name || x.id }));
  const over = a.cancelled_at || new Date(a.ends_at).getTime() < Date.now();
  return h('div', { class: 'delivery-card', 'data-alert': a.id },
    h('h3', {}, t('al.deliveryTitle')),
    h('p', { class: 'delivery-count', 'data-testid': 'delivery' }, t('al.delivery', { acked: d.acked, targets: d.targets })),
    h('div', { class: 'meter', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(d.targets), 'aria-valuenow': String(d.acked) }, h('span', { style: { width: `${pct}%` } })),
    h('p', { class: 'muted' },
      d.first_ack_ms != null ? t('al.firstAck', { ms: d.first_ack_ms }) : over ? t('al.noAck') : t('al.waiting'),
      d.last_ack_ms != null ? ` · ${t('al.lastAck', { ms: d.last_ack_ms })}` : ''),
    d.targets && d.acked >= d.targets ? h('p', { class: 'ok-text' }, icon('check'), t('al.allAcked')) : null,
    missing.length ? h('div', { class: 'unacked' },
      h('h4', {}, t('al.unacked', { n: missing.length })),
      h('ul', {}, missing.map((p) => h('li', { 'data-panel': p.id },
        h('span', { class: 'unacked-name' }, p.name, ' ', h('code', {}, p.id)),
        !p.last_seen ? badge(t('wall.neverConnected'), 'off') : p.online ? badge(t('wall.online'), 'ok') : badge(t('wall.offline'), 'off'),
        h('span', { class: 'muted small' }, seenText(p.last_seen)))))) : null);
}

/** One alert: its text, where and when, its delivery (kept up to date while it runs), and the stop button. */
async function viewAlert(main, id, ctx) {
  await loadPanels();
  let a;
  try { a = await api(`/alerts/${enc(id)}`); } catch (e) {
    if (e.status === 404) { clear(main).append(h('div', { class: 'page' }, h('p', { class: 'error-box' }, t('al.notFound')), h('a', { class: 'btn', href: '#/alerts' }, t('btn.back')))); return; }
    throw e;
  }
  if (!ctx.alive()) return;
  document.title = `${t('al.detailTitle')} · ${t('app.title')}`;
  const box = h('div');
  const render = () => {
    const running = !a.cancelled_at && new Date(a.ends_at).getTime() > Date.now();
    clear(box).append(
      h('section', { class: 'card alert-detail' },
        h('blockquote', { class: 'alert-quote' }, a.text),
        h('p', { class: 'muted' }, describeTargets(a.targets), ' · ', t('al.createdAt', { when: fmtDateTime(a.created_at) }), ' · ',
          a.cancelled_at ? t('al.cancelledAt', { when: fmtDateTime(a.cancelled_at) }) : running ? t('al.ends', { when: fmtDateTime(a.ends_at) }) : t('al.ended', { when: fmtDateTime(a.ends_at) })),
        running ? h('div', { class: 'form-actions' }, cancelButton(a, async () => { a = await api(`/alerts/${enc(id)}`); render(); })) : null),
      deliveryCard(a));
  };
  clear(main).append(h('div', { class: 'page' },
    h('nav', { class: 'crumbs', 'aria-label': t('crumbs') }, h('a', { href: '#/alerts' }, t('al.title')), ' / ', h('span', {}, t('al.detailTitle'))),
    h('div', { class: 'page-head' }, h('h1', {}, t('al.detailTitle'))),
    box));
  render();
  const timer = setInterval(async () => {
    try { await loadPanels(); a = await api(`/alerts/${enc(id)}`); if (ctx.alive()) render(); } catch { /* next time */ }
  }, 3000);
  onCleanup(() => clearInterval(timer));
}
