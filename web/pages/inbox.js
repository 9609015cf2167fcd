// Official warnings (CAP): the incoming-warnings inbox. Each warning with
// its area drawn on a map (the signs inside filled, outside hollow), the
// matched panels by district, its text as the smallest matched sign shows
// it, and for an operator one click to deploy or dismiss a held warning;
// once deployed, its delivery. The polled feeds' health is at the top.
// `#/inbox/{id}` opens one warning.

import { t } from '../lib/i18n.js';
import { fmtDateTime, prettyGroup } from '../lib/format.js';
import { clear, h, icon } from '../lib/dom.js';
import { badge, confirmDialog, emptyState, fail, field, toast } from '../lib/components.js';
import { S, can } from '../lib/state.js';
import { api, enc, fetchImage, loadPanels } from '../lib/api.js';
import { onCleanup } from '../lib/router.js';
import { drawMap } from '../lib/map.js';

const ALERT_LOOK = { color: '#ffe000', background: '#b00000' };
const STATE_KIND = { held: 'warn', deployed: 'danger', dismissed: 'off', logged: 'off', cancelled: 'off', replaced: 'off', expired: 'off' };

/** The deciding rule as the server names it, in the page's language. */
function ruleText(rule) {
  const n = /^rule (\d+)$/.exec(rule || '');
  if (n) return t('cap.ruleN', { n: n[1] });
  if (rule === 'no rule matched') return t('cap.noRule');
  if (rule === 'no <info>') return t('cap.noInfo');
  return rule;
}

export async function viewInbox(main, args, ctx) {
  document.title = `${t('cap.title')} · ${t('app.title')}`;
  let selected = args[0] || null;
  const list = h('div', { class: 'cap-list', role: 'list' });
  const detail = h('div', { class: 'cap-detail' });
  const health = h('div', { class: 'cap-health' });
  let warnings = [];
  let status = null;
  let pvUrls = [];
  // Each drawing of the detail is a generation: a preview or a delivery
  // that comes back after a newer drawing began is thrown away.
  let drawn = 0;
  const dropPreviews = () => { for (const u of pvUrls) URL.revokeObjectURL(u); pvUrls = []; };
  onCleanup(() => { drawn += 1; dropPreviews(); });

  // `background`: the 10-second refresh, not the person (it does not keep
  // an unattended tab signed in).
  const load = async (background = false) => {
    const [w, st] = await Promise.all([api('/cap', { background }), api('/cap/feeds', { background }), loadPanels(background)]);
    warnings = w;
    status = st;
  };

  const renderHealth = () => {
    clear(health);
    if (!status) return;
    if (status.config_problem) health.append(h('p', { class: 'error-box', role: 'alert' }, t('cap.configProblem', { msg: status.config_problem })));
    if (!status.feeds.length) { health.append(h('p', { class: 'muted' }, t('cap.noFeeds'))); return; }
    health.append(h('ul', { class: 'feed-health' }, status.feeds.map((f) => h('li', { 'data-feed': f.name },
      f.ok ? badge(t('cap.feedOk'), 'ok') : f.last_poll_at ? badge(t('cap.feedDown'), 'off') : badge(t('cap.feedNew'), 'warn'),
      h('strong', {}, f.name),
      h('span', { class: 'muted small' },
        f.last_ok_at ? t('cap.feedLastOk', { when: fmtDateTime(f.last_ok_at) }) : '',
        f.ok ? '' : f.last_error ? ` · ${f.last_error}` : '',
        f.failures ? ` · ${t('cap.feedRetry', { n: f.failures, when: fmtDateTime(f.next_poll_at) })}` : '')))));
  };

  const renderList = () => {
    clear(list);
    if (!warnings.length) { list.append(emptyState(t('cap.none'))); return; }
    for (const w of warnings) {
      const info = w.info || {};
      const state = w.state === 'held' && w.expired ? 'expired' : w.state;
      list.append(h('a', {
        href: `#/inbox/${enc(w.id)}`, role: 'listitem', 'data-warning': w.id,
        class: `cap-item${w.id === selected ? ' selected' : ''}${w.live ? ' live' : ''}`,
        'aria-current': w.id === selected ? 'true' : null,
      },
      h('span', { class: 'cap-item-head' }, badge(t(`cap.state.${state}`), STATE_KIND[state] || 'off'),
        w.risk ? h('span', { class: `risk risk-${w.risk}` }, t('cap.risk', { n: w.risk })) : null,
        h('span', { class: 'muted small' }, fmtDateTime(w.received_at))),
      h('span', { class: 'cap-item-title' }, info.headline || info.event || w.identifier),
      h('span', { class: 'muted small' }, info.event || '', ' · ', t('cap.nPanels', { n: w.panels.length }), ' · ', w.sender)));
    }
  };

  /**
   * The text on each kind of sign the warning reaches (size, format,
   * colour), smallest first, with its page count: the reading-time check.
   */
  const previews = async (w, box, gen, background) => {
    const text = w.phases?.find((p) => p.wording === 'during')?.text || w.phases?.[0]?.text;
    const reach = S.panels.filter((p) => w.panels.includes(p.id));
    if (!text || !reach.length) { box.append(h('div', { class: 'screen screen-preview screen-idle', 'data-empty': text ? t('cap.noPanels') : t('cap.noText') })); return; }
    const kinds = new Map();
    for (const p of reach) {
      const k = `${p.width}x${p.height}:${p.format}:${p.color || '#ff2000'}`;
      if (!kinds.has(k)) kinds.set(k, { p, n: 0 });
      kinds.get(k).n += 1;
    }
    const list = [...kinds.values()].sort((a, b) => a.p.width * a.p.height - b.p.width * b.p.height).slice(0, 4);
    for (const { p, n } of list) {
      const img = h('img', { class: 'preview-img', alt: t('cap.previewAlt') });
      const frame = h('div', { class: 'screen screen-preview screen-idle', style: { aspectRatio: `${p.width} / ${p.height}` } }, img);
      const head = h('p', { class: 'muted preview-head' }, t('cap.previewKind', { size: `${p.width}×${p.height}`, format: p.format, n }));
      box.append(head, frame);
      const q = `width=${p.width}&height=${p.height}&format=${p.format}&color=${enc(p.color || '#ff2000')}&look=led&dwell=8`;
      try {
        const r = await fetchImage(`/preview?${q}`, { method: 'POST', json: { title: 'cap', text, style: ALERT_LOOK }, background });
        if (gen !== drawn) { URL.revokeObjectURL(r.url); return; }
        pvUrls.push(r.url);
        img.src = r.url;
        frame.classList.remove('screen-idle');
        const pages = Math.max(1, parseInt(r.headers.get('X-Pages') || '1', 10) || 1);
        head.append(' · ', t('al.previewPages', { n: pages, s: pages * 8 }));
      } catch (e) { frame.dataset.empty = e.message; }
    }
  };

  const renderDetail = async (background = false) => {
    drawn += 1;
    const gen = drawn;
    dropPreviews();
    clear(detail);
    const w = warnings.find((x) => x.id === selected) || warnings[0];
    if (!w) return;
    selected = w.id;
    const info = w.info || {};
    const state = w.state === 'held' && w.expired ? 'expired' : w.state;
    const inside = new Set(w.panels);
    const { svg, unplaced } = drawMap({
      panels: S.panels.map((p) => ({ ...p, state: inside.has(p.id) ? 'inside' : 'outside' })),
      areas: w.areas, tiles: status?.map_tiles, title: t('cap.mapTitle'),
      label: (p) => `${p.name} (${p.id}) – ${inside.has(p.id) ? t('cap.inside') : t('cap.outside')}`,
    });
    const pvBox = h('div', { class: 'cap-previews' });
    const byGroup = Object.entries(w.by_group || {}).sort(([a], [b]) => a.localeCompare(b, 'vi'));
    const actions = h('div', { class: 'cap-actions' });
    if (w.state === 'held' && !w.expired && can('operator')) {
      const text = h('textarea', { rows: '3', lang: 'vi', maxlength: '500', id: 'cap-text', placeholder: t('cap.textPh') });
      const deploy = h('button', {
        type: 'button', class: 'btn btn-danger', 'data-action': 'deploy',
        onclick: async () => {
          const body = text.value.trim();
          const ok = await confirmDialog({ title: t('cap.deployTitle'), body: t('cap.deployConfirm', { n: w.panels.length }), ok: t('cap.deploy'), danger: true });
          if (!ok) return;
          try {
            await api(`/cap/${enc(w.id)}/deploy`, { method: 'POST', json: body ? { text: body } : {} });
            toast(t('cap.deployed'), 'ok');
            await refresh();
          } catch (e) { fail(e); }
        },
      }, icon('alerts'), t('cap.deploy'));
      const dismiss = h('button', {
        type: 'button', class: 'btn', 'data-action': 'dismiss',
        onclick: async () => {
          try { await api(`/cap/${enc(w.id)}/dismiss`, { method: 'POST' }); toast(t('cap.dismissed'), 'ok'); await refresh(); } catch (e) { fail(e); }
        },
      }, t('cap.dismiss'));
      actions.append(field(w.text_source === 'none' ? t('cap.textNeeded') : t('cap.textOwn'), text), h('div', { class: 'form-actions' }, dismiss, deploy));
    }
    const delivery = h('div', { class: 'delivery' });
    detail.append(h('article', { class: 'card', 'data-warning': w.id },
      h('header', { class: 'cap-detail-head' },
        h('div', {}, badge(t(`cap.state.${state}`), STATE_KIND[state] || 'off'), w.live ? badge(t('cap.live'), 'danger') : null,
          w.risk ? h('span', { class: `risk risk-${w.risk}` }, t('cap.riskLong', { n: w.risk })) : null),
        h('h2', {}, info.headline || info.event || w.identifier)),
      h('dl', { class: 'cap-facts' },
        h('dt', {}, t('cap.event')), h('dd', {}, info.event || '—'),
        h('dt', {}, t('cap.sender')), h('dd', {}, info.sender_name ? [info.sender_name, ' ', h('code', {}, w.sender)] : h('code', {}, w.sender)),
        h('dt', {}, t('cap.levels')), h('dd', {}, [info.severity, info.urgency, info.certainty].filter(Boolean).join(' · ')),
        h('dt', {}, t('cap.when')), h('dd', {}, info.onset ? t('cap.onset', { when: fmtDateTime(info.onset) }) : '', info.onset ? ' · ' : '', info.expires ? t('cap.expires', { when: fmtDateTime(info.expires) }) : t('cap.noExpiry')),
        h('dt', {}, t('cap.area')), h('dd', {}, (w.areas || []).map((a) => a.desc).join('; ') || '—'),
        h('dt', {}, t('cap.decision')), h('dd', {}, ruleText(w.rule), w.decided_by ? ` · ${t('cap.by', { who: w.decided_by })}` : ''),
        h('dt', {}, t('cap.source')), h('dd', {}, w.source, ' · ', h('a', { href: `/api/v1/cap/${enc(w.id)}/document`, 'data-doc': w.id, onclick: (e) => { e.preventDefault(); openDocument(w.id); } }, t('cap.document')))),
      (w.notes || []).length ? h('ul', { class: 'cap-notes' }, w.notes.map((n) => h('li', {}, n))) : null,
      h('div', { class: 'cap-cols' },
        h('section', { class: 'cap-map', 'aria-label': t('cap.mapTitle') }, svg,
          h('p', { class: 'map-legend muted small' }, h('span', { class: 'dot dot-inside' }), t('cap.inside'), h('span', { class: 'dot dot-outside' }), t('cap.outside'),
            unplaced ? ` · ${t('cap.unplaced', { n: unplaced })}` : '')),
        h('section', {},
          h('h3', {}, t('cap.matched', { n: w.panels.length })),
          byGroup.length ? h('ul', { class: 'cap-groups' }, byGroup.map(([g, ids]) => h('li', {}, h('strong', {}, g === '-' ? t('wall.ungrouped') : prettyGroup(g)), ` (${ids.length}): `,
            ids.map((id) => S.panels.find((p) => p.id === id)?.name || id).join(', ')))) : emptyState(t('cap.noPanels')),
          h('h3', {}, t('cap.preview')), pvBox,
          (w.phases || []).length > 1 ? h('ol', { class: 'cap-phases' }, w.phases.map((p) => h('li', {}, h('strong', {}, t(`cap.wording.${p.wording}`)), ` ${fmtDateTime(p.from)} – ${fmtDateTime(p.until)}: `, p.text))) : null)),
      actions, delivery));
    previews(w, pvBox, gen, background);
    if (w.alerts?.length) {
      try {
        const d = (await api(`/cap/${enc(w.id)}`, { background })).delivery;
        if (!ctx.alive() || gen !== drawn) return;
        const pct = d.targets ? Math.round((d.acked / d.targets) * 100) : 0;
        clear(delivery).append(h('h3', {}, t('al.deliveryTitle')),
          h('p', { class: 'delivery-count', 'data-testid': 'cap-delivery' }, t('al.delivery', { acked: d.acked, targets: d.targets })),
          h('div', { class: 'meter', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(d.targets), 'aria-valuenow': String(d.acked) }, h('span', { style: { width: `${pct}%` } })),
          h('p', { class: 'muted' }, d.first_ack_ms != null ? t('al.firstAck', { ms: d.first_ack_ms }) : t('al.waiting'),
            d.last_ack_ms != null ? ` · ${t('al.lastAck', { ms: d.last_ack_ms })}` : ''));
      } catch { /* delivery shows next time */ }
    }
  };

  const openDocument = async (id) => {
    try {
      const r = await api(`/cap/${enc(id)}/document`, { raw: true });
      const text = await r.text();
      const w = window.open('', '_blank');
      if (w) { w.document.body.append(Object.assign(w.document.createElement('pre'), { textContent: text })); }
    } catch (e) { fail(e); }
  };

  let loading = null;
  const refresh = async (background = false) => {
    if (loading) return loading;
    loading = reload(background).finally(() => { loading = null; });
    return loading;
  };
  const reload = async (background) => {
    await load(background);
    if (!ctx.alive()) return;
    renderHealth();
    renderList();
    await renderDetail(background);
  };

  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, t('cap.title')), h('p', { class: 'lead' }, t('cap.lead')))),
    health,
    h('div', { class: 'two-col cap-cols-main' }, h('section', { class: 'card', 'aria-label': t('cap.listLabel') }, list), detail)));
  await refresh();
  const timer = setInterval(() => { refresh(true).catch(() => {}); }, 10000);
  onCleanup(() => clearInterval(timer));
}
