// The panel wall: every panel's current frame (LED look), grouped by
// district, following live events.

import { t } from '../lib/i18n.js';
import { fmtTime, matches, prettyGroup, seenText } from '../lib/format.js';
import { clear, debounce, h, icon } from '../lib/dom.js';
import { badge, emptyState, fail, field } from '../lib/components.js';
import { S, allGroups, campaignName, messageTitle } from '../lib/state.js';
import { api, enc, loadAlertsQuiet, loadCampaigns, loadMessages, loadPanels } from '../lib/api.js';
import { wallHooks } from '../lib/events.js';
import { onCleanup } from '../lib/router.js';
import { linkLine } from '../lib/link.js';
import { wallMap } from '../lib/map.js';
import { keepSnapshot, openSnapshots, restoreSnapshots, snapshotBox } from '../lib/snapshot.js';

export async function viewWall(main, _args, ctx) {
  document.title = `${t('wall.title')} · ${t('app.title')}`;
  await Promise.all([loadPanels(), loadMessages().catch(() => {}), loadCampaigns().catch(() => {}), loadAlertsQuiet()]);
  await loadNowAll();
  if (!ctx.alive()) return;

  const q = sessionStorage.getItem('bangtin.wall.q') || '';
  const g = sessionStorage.getItem('bangtin.wall.g') || '';
  const search = h('input', { type: 'search', value: q, placeholder: t('wall.searchPh'), autocomplete: 'off' });
  const district = h('select', {});
  const counter = h('p', { class: 'counter', 'aria-live': 'polite' });
  const grid = h('div', { class: 'wall' });
  const mapBox = h('div', { class: 'wall-map' });
  const mapToggle = h('details', { class: 'card wall-map-card', open: sessionStorage.getItem('bangtin.wall.map') === '1' },
    h('summary', {}, t('wall.mapShow')), mapBox);
  mapToggle.addEventListener('toggle', () => { sessionStorage.setItem('bangtin.wall.map', mapToggle.open ? '1' : ''); if (mapToggle.open) wallMap(mapBox, S.panels, S.now); });

  // The districts come from the panels: a panel added in a new district
  // brings its option (the choice made is kept).
  const fillDistricts = (chosen = district.value) => {
    const want = allGroups();
    const have = [...district.options].slice(1).map((o) => o.value);
    if (district.options.length && want.length === have.length && want.every((x, i) => x === have[i])) return;
    clear(district);
    district.append(h('option', { value: '' }, t('wall.allDistricts')),
      ...want.map((x) => h('option', { value: x, selected: x === chosen }, prettyGroup(x))));
  };

  fillDistricts(g);

  const render = () => {
    fillDistricts();
    const text = search.value.trim();
    const dg = district.value;
    sessionStorage.setItem('bangtin.wall.q', search.value);
    sessionStorage.setItem('bangtin.wall.g', dg);
    // Diacritics and case aside: "son tra" finds "Sơn Trà", by the panel's
    // name, id or the name of a district it is in.
    const match = S.panels.filter((p) => !text || matches(p.name, text) || matches(p.id, text)
      || (p.groups || []).some((g) => matches(prettyGroup(g), text)));
    const online = S.panels.filter((p) => p.online).length;
    counter.textContent = t('wall.count', { online, total: S.panels.length });
    // A redraw (the filter, a panel added) keeps an open snapshot box.
    const kept = openSnapshots(grid);
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
    if (mapToggle.open) wallMap(mapBox, match.filter((p) => !dg || p.groups?.includes(dg)), S.now);
    if (!sections.size) { grid.append(emptyState(t('wall.empty'))); return; }
    const keys = [...sections.keys()].sort((a, b) => (a === '') - (b === '') || a.localeCompare(b, 'vi'));
    for (const k of keys) {
      const ps = sections.get(k);
      const on = ps.filter((p) => p.online).length;
      const section = h('section', { class: 'district', 'data-district': k, 'aria-labelledby': `d-${k || 'none'}` },
        h('h2', { id: `d-${k || 'none'}` }, k ? prettyGroup(k) : t('wall.ungrouped'), h('span', { class: 'district-count' }, `${on}/${ps.length}`)),
        h('div', { class: 'tiles' }, ps.map((p) => panelTile(p))));
      // Sections take room by their tile count: small districts share a row.
      section.style.setProperty('--tiles', ps.length);
      grid.append(section);
    }
    restoreSnapshots(grid, kept);
  };
  // A panel the wall does not know yet (added since it opened): the list
  // is read again and the wall redrawn, once for a burst of such events.
  const addPanels = debounce(async () => {
    try { await loadPanels(true); if (ctx.alive()) render(); } catch (e) { fail(e); }
  }, 250);

  search.addEventListener('input', debounce(render, 150));
  district.addEventListener('change', render);

  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', {}, t('wall.title')), h('p', { class: 'lead' }, t('wall.lead'))),
      counter),
    h('div', { class: 'toolbar' },
      field(t('wall.search'), search, { cls: 'grow' }),
      field(t('wall.district'), district)),
    mapToggle,
    grid));
  render();

  wallHooks.update = (id) => {
    const p = S.panels.find((x) => x.id === id);
    if (!p) { addPanels(); return; }
    // Every tile of the panel (one per district) is redrawn from the same state.
    for (const old of grid.querySelectorAll(`[data-panel="${CSS.escape(id)}"]`)) {
      const tile = panelTile(p);
      keepSnapshot(old, tile);
      old.replaceWith(tile);
    }
    const online = S.panels.filter((p) => p.online).length;
    counter.textContent = t('wall.count', { online, total: S.panels.length });
  };
  wallHooks.resync = async () => {
    // After the event stream reconnects: the page's doing, not the person's.
    try { await loadPanels(true); await loadNowAll(true); if (ctx.alive()) render(); } catch (e) { fail(e); }
  };
  // Keep "seen 2 minutes ago" honest without events.
  const tick = setInterval(() => {
    for (const el of grid.querySelectorAll('[data-seen]')) el.textContent = seenText(el.dataset.seen);
  }, 30000);
  onCleanup(() => { clearInterval(tick); wallHooks.update = null; wallHooks.resync = null; });
}

async function loadNowAll(background = false) {
  const ids = S.panels.map((p) => p.id);
  let i = 0;
  const worker = async () => {
    while (i < ids.length) {
      const id = ids[i++];
      try { S.now[id] = await api(`/panels/${enc(id)}/now`, { background }); } catch (e) { if (e.status === 401) throw e; }
    }
  };
  await Promise.all(Array.from({ length: Math.min(6, ids.length) }, worker));
}

/**
 * What the tile says about confirmation, from the panel's own reports: a
 * panel that never reported says so; one whose controller acknowledged
 * the frame the server sent (`acked_seq`, from `now` and the live events)
 * says that it shows it; otherwise we only know what was sent.
 */
function confirmState(p, now) {
  if (!p.last_seen) return 'never';
  if (now.seq && now.acked_seq === now.seq) return 'shown';
  if (!p.online) return 'lost';
  return 'waiting';
}

/** " · từ 07:00": since when the server has been sending this. */
function sinceText(now) {
  return now.since && now.seq ? h('span', { class: 'now-since' }, ` · ${t('wall.since', { t: fmtTime(now.since) })}`) : null;
}

function panelTile(p) {
  const now = S.now[p.id] || {};
  const conf = confirmState(p, now);
  const screen = h('div', { class: 'screen', style: { aspectRatio: `${p.width} / ${p.height}` } });
  fillScreen(screen, p, now.seq);
  const ribbon = h('span', { class: `screen-ribbon ribbon-${conf}` }, conf === 'shown' ? t('wall.ribbonShown') : t('wall.ribbonSent'));
  let sent;
  if (now.alert) {
    const al = S.alerts.find((a) => a.id === now.alert);
    sent = h('p', { class: 'now now-alert' }, h('span', { class: 'now-label' }, `${t('wall.sent')}: `), h('strong', {}, t('wall.alert')), ' ', al?.text || now.alert, sinceText(now));
  } else if (now.message) {
    sent = h('p', { class: 'now' }, h('span', { class: 'now-label' }, `${t('wall.sent')}: `),
      h('strong', { class: 'now-message', 'data-message': now.message }, messageTitle(now.message)),
      now.campaign ? h('span', { class: 'now-campaign' }, ` · ${campaignName(now.campaign)}`) : null,
      sinceText(now));
  } else {
    sent = h('p', { class: 'now now-blank' }, h('span', { class: 'now-label' }, `${t('wall.sent')}: `), t('wall.blank'));
  }
  const confirm = {
    never: () => h('p', { class: 'confirm confirm-never' }, icon('warn'), h('span', {}, t('wall.confirmNever'))),
    shown: () => h('p', { class: 'confirm confirm-shown' }, icon('check'), h('span', {}, t('wall.confirmShown', { t: fmtTime(now.acked_at) }))),
    lost: () => h('p', { class: 'confirm confirm-lost' }, icon('warn'), h('span', {}, t('wall.confirmLost'))),
    waiting: () => h('p', { class: 'confirm confirm-waiting' }, h('span', {}, t('wall.confirmWaiting'))),
  }[conf]();
  const status = !p.last_seen ? badge(t('wall.neverConnected'), 'off') : p.online ? badge(t('wall.online'), 'ok') : badge(t('wall.offline'), 'off');
  const color = p.format === 'mono1' ? (p.color || '#ff2000') : null;
  return h('article', { class: `tile${now.alert ? ' tile-alert' : ''}${p.online ? '' : ' tile-offline'}`, 'data-panel': p.id, 'data-seq': now.seq ?? '', 'data-message': now.message || '', 'data-confirm': conf },
    h('div', { class: 'screen-box' }, screen, ribbon),
    h('div', { class: 'tile-body' },
      h('div', { class: 'tile-head' }, h('h3', {}, p.name), status),
      h('p', { class: 'tile-meta' }, h('code', {}, p.id), ` · ${p.width}×${p.height} · ${p.format}`,
        color ? h('span', { class: 'swatch', style: { background: color }, title: color }) : null),
      sent,
      confirm,
      linkLine(p),
      h('p', { class: 'tile-at' }, h('a', { href: `#/calendar/${enc(p.id)}`, 'data-at': p.id }, icon('calendar'), h('span', {}, t('wall.atLink')))),
      p.transport?.kind === 'mqtt' ? snapshotBox(p) : null,
      h('p', { class: 'tile-seen', 'data-seen': p.last_seen || '' }, seenText(p.last_seen))));
}

/**
 * Puts the panel's current frame (LED look) into `screen`. Each seq is
 * fetched once, whatever the number of tiles the panel has (one per
 * district); when it arrives, every tile of the panel showing that seq is
 * painted from the same image.
 */
function fillScreen(screen, p, seq) {
  screen.dataset.frameOf = p.id;
  screen.dataset.seq = seq ?? '';
  let f = S.frames[p.id];
  if (!f || f.seq !== seq) {
    const prev = f;
    f = { seq, url: null, missing: false, done: false, prevUrl: prev ? (prev.done ? prev.url : prev.prevUrl) : null, prevSeq: prev ? (prev.done ? prev.seq : prev.prevSeq) : null };
    // The old entry's picture now belongs to the new one (shown until the new one arrives).
    if (prev && prev.done && prev.prevUrl) URL.revokeObjectURL(prev.prevUrl);
    S.frames[p.id] = f;
    const entry = f;
    api(`/panels/${enc(p.id)}/frame.png?look=led&t=${enc(seq ?? Date.now())}`, { raw: true, accept: 'image/png' })
      .then((r) => r.blob())
      .then((blob) => { entry.url = URL.createObjectURL(blob); })
      .catch((e) => { if (e.status === 404) entry.missing = true; })
      .finally(() => {
        entry.done = true;
        if (S.frames[p.id] !== entry) { if (entry.url) URL.revokeObjectURL(entry.url); return; }
        if (entry.prevUrl && (entry.url || entry.missing)) { URL.revokeObjectURL(entry.prevUrl); entry.prevUrl = null; }
        for (const s of document.querySelectorAll(`.screen[data-frame-of="${CSS.escape(p.id)}"]`)) {
          if (s.dataset.seq === String(seq ?? '')) paintScreen(s, p);
        }
      });
  }
  paintScreen(screen, p);
}

function paintScreen(screen, p) {
  const f = S.frames[p.id];
  clear(screen);
  if (f?.done && f.url) screen.append(h('img', { src: f.url, alt: t('wall.frameAlt', { name: p.name }), 'data-seq': f.seq ?? '' }));
  else if (f?.done && f.missing) screen.append(h('div', { class: 'screen-empty' }, t('wall.noFrame')));
  else if (f?.prevUrl) screen.append(h('img', { src: f.prevUrl, alt: t('wall.frameAlt', { name: p.name }), 'data-seq': f.prevSeq ?? '', class: 'stale' }));
  else screen.append(h('div', { class: 'screen-empty screen-loading' }));
}
