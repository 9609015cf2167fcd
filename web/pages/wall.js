// The panel wall: every panel's current frame (LED look), grouped by
// district, following live events.

import { t } from '../lib/i18n.js';
import { fmtTime, prettyGroup, seenText } from '../lib/format.js';
import { clear, debounce, h } from '../lib/dom.js';
import { badge, emptyState, fail, field } from '../lib/components.js';
import { S, allGroups, campaignName, messageTitle } from '../lib/state.js';
import { api, enc, loadAlertsQuiet, loadCampaigns, loadMessages, loadPanels } from '../lib/api.js';
import { wallHooks } from '../lib/events.js';
import { onCleanup } from '../lib/router.js';
import { linkLine } from '../lib/link.js';

export async function viewWall(main, _args, ctx) {
  document.title = `${t('wall.title')} · ${t('app.title')}`;
  await Promise.all([loadPanels(), loadMessages().catch(() => {}), loadCampaigns().catch(() => {}), loadAlertsQuiet()]);
  await loadNowAll();
  if (!ctx.alive()) return;

  const q = sessionStorage.getItem('bangtin.wall.q') || '';
  const g = sessionStorage.getItem('bangtin.wall.g') || '';
  const search = h('input', { type: 'search', value: q, placeholder: t('wall.searchPh'), autocomplete: 'off' });
  const district = h('select', {}, h('option', { value: '' }, t('wall.allDistricts')),
    allGroups().map((x) => h('option', { value: x, selected: x === g }, prettyGroup(x))));
  const counter = h('p', { class: 'counter', 'aria-live': 'polite' });
  const grid = h('div', { class: 'wall' });

  const render = () => {
    const text = search.value.trim().toLowerCase();
    const dg = district.value;
    sessionStorage.setItem('bangtin.wall.q', search.value);
    sessionStorage.setItem('bangtin.wall.g', dg);
    const match = S.panels.filter((p) => !text || p.name.toLowerCase().includes(text) || p.id.includes(text));
    const online = S.panels.filter((p) => p.online).length;
    counter.textContent = t('wall.count', { online, total: S.panels.length });
    clear(grid);
    if (!S.panels.length) { grid.append(emptyState(t('wall.noPanels'))); return; }
    const sections = new Map();
    for (const p of match) {
      const gs = p.groups?.length ? p.groups : [''];
      for (const x of gs) {
        if (dg && x !== dg) continue;
        if (!sections.has(x)) sections.set(x, []);
        sections.get(x).push(p);
      }
    }
    if (!sections.size) { grid.append(emptyState(t('wall.empty'))); return; }
    const keys = [...sections.keys()].sort((a, b) => (a === '') - (b === '') || a.localeCompare(b, 'vi'));
    for (const k of keys) {
      const ps = sections.get(k);
      const on = ps.filter((p) => p.online).length;
      grid.append(h('section', { class: 'district', 'aria-labelledby': `d-${k || 'none'}` },
        h('h2', { id: `d-${k || 'none'}` }, k ? prettyGroup(k) : t('wall.ungrouped'), h('span', { class: 'district-count' }, `${on}/${ps.length}`)),
        h('div', { class: 'tiles' }, ps.map((p) => panelTile(p)))));
    }
  };

  search.addEventListener('input', debounce(render, 150));
  district.addEventListener('change', render);

  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', {}, t('wall.title')), h('p', { class: 'lead' }, t('wall.lead'))),
      counter),
    h('div', { class: 'toolbar' },
      field(t('wall.search'), search, { cls: 'grow' }),
      field(t('wall.district'), district)),
    grid));
  render();

  wallHooks.update = (id) => {
    for (const old of grid.querySelectorAll(`[data-panel="${CSS.escape(id)}"]`)) {
      const p = S.panels.find((x) => x.id === id);
      if (p) old.replaceWith(panelTile(p));
    }
    const online = S.panels.filter((p) => p.online).length;
    counter.textContent = t('wall.count', { online, total: S.panels.length });
  };
  wallHooks.resync = async () => {
    try { await loadPanels(); await loadNowAll(); if (ctx.alive()) render(); } catch (e) { fail(e); }
  };
  // Keep "seen 2 minutes ago" honest without events.
  const tick = setInterval(() => {
    for (const el of grid.querySelectorAll('[data-seen]')) el.textContent = seenText(el.dataset.seen);
  }, 30000);
  onCleanup(() => { clearInterval(tick); wallHooks.update = null; wallHooks.resync = null; });
}

async function loadNowAll() {
  const ids = S.panels.map((p) => p.id);
  let i = 0;
  const worker = async () => {
    while (i < ids.length) {
      const id = ids[i++];
      try { S.now[id] = await api(`/panels/${enc(id)}/now`); } catch (e) { if (e.status === 401) throw e; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(6, ids.length) }, worker));
}

function panelTile(p) {
  const now = S.now[p.id] || {};
  const screen = h('div', { class: 'screen', style: { aspectRatio: `${p.width} / ${p.height}` } });
  fillScreen(screen, p, now.seq);
  let showing;
  if (now.alert) {
    const al = S.alerts.find((a) => a.id === now.alert);
    showing = h('p', { class: 'now now-alert' }, h('strong', {}, t('wall.alert')), ' ', al?.text || now.alert);
  } else if (now.message) {
    showing = h('p', { class: 'now' }, h('span', { class: 'now-label' }, `${t('wall.showing')}: `),
      h('strong', { class: 'now-message', 'data-message': now.message }, messageTitle(now.message)),
      now.campaign ? h('span', { class: 'now-campaign' }, ` · ${campaignName(now.campaign)}`) : null);
  } else {
    showing = h('p', { class: 'now now-blank' }, t('wall.blank'));
  }
  const color = p.format === 'mono1' ? (p.color || '#ff2000') : null;
  return h('article', { class: `tile${now.alert ? ' tile-alert' : ''}${p.online ? '' : ' tile-offline'}`, 'data-panel': p.id, 'data-seq': now.seq ?? '', 'data-message': now.message || '' },
    screen,
    h('div', { class: 'tile-body' },
      h('div', { class: 'tile-head' },
        h('h3', {}, p.name),
        p.online ? badge(t('wall.online'), 'ok') : badge(t('wall.offline'), 'off')),
      h('p', { class: 'tile-meta' }, h('code', {}, p.id), ` · ${p.width}×${p.height} · ${p.format}`,
        color ? h('span', { class: 'swatch', style: { background: color }, title: color }) : null),
      showing,
      linkLine(p),
      h('p', { class: 'tile-seen', 'data-seen': p.last_seen || '' }, seenText(p.last_seen),
        now.since ? ` · ${t('wall.since', { t: fmtTime(now.since) })}` : '')));
}

/** Puts the panel's current frame (LED look) into `screen`, fetching it once per seq. */
function fillScreen(screen, p, seq) {
  const f = S.frames[p.id];
  const placeholder = () => h('div', { class: 'screen-empty' }, t('wall.noFrame'));
  const show = () => {
    clear(screen);
    const cur = S.frames[p.id];
    if (cur?.url) screen.append(h('img', { src: cur.url, alt: t('wall.frameAlt', { name: p.name }), 'data-seq': cur.seq ?? '' }));
    else if (cur?.missing) screen.append(placeholder());
    else screen.append(h('div', { class: 'screen-empty screen-loading' }));
  };
  if (f && f.seq === seq && (f.url || f.missing)) { show(); return; }
  show();
  if (f?.loading === seq) { f.waiters.push(screen); return; }
  const entry = { seq, loading: seq, waiters: [screen], url: f?.url, missing: f?.missing };
  S.frames[p.id] = entry;
  api(`/panels/${enc(p.id)}/frame.png?look=led&t=${enc(seq ?? Date.now())}`, { raw: true, accept: 'image/png' })
    .then((r) => r.blob())
    .then((blob) => {
      if (S.frames[p.id] !== entry) return;
      if (f?.url) URL.revokeObjectURL(f.url);
      entry.url = URL.createObjectURL(blob);
      entry.missing = false;
    })
    .catch((e) => {
      if (S.frames[p.id] !== entry) return;
      if (e.status === 404) { entry.missing = true; if (entry.url) URL.revokeObjectURL(entry.url); entry.url = null; }
    })
    .finally(() => {
      if (S.frames[p.id] !== entry) return;
      entry.loading = null;
      for (const s of entry.waiters.splice(0)) if (s.isConnected) {
        clear(s);
        if (entry.url) s.append(h('img', { src: entry.url, alt: t('wall.frameAlt', { name: p.name }), 'data-seq': seq ?? '' }));
        else s.append(placeholder());
      }
    });
}
