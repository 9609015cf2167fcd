// The composer's previews: the draft on every kind of panel in use, and the
// saved version on each real panel.

import { t } from '../lib/i18n.js';
import { clear, debounce, h, icon } from '../lib/dom.js';
import { emptyState, fail, field } from '../lib/components.js';
import { S } from '../lib/state.js';
import { fmtSpan } from '../lib/format.js';
import { enc, fetchImage } from '../lib/api.js';
import { onCleanup } from '../lib/router.js';

/** Distinct panel profiles (size, format, colour) with how many panels use each. */
function profiles() {
  const map = new Map();
  for (const p of S.panels) {
    const color = p.color || '#ff2000';
    const key = `${p.width}x${p.height}x${p.format}x${p.format === 'mono1' ? color : ''}`;
    if (!map.has(key)) map.set(key, { key, width: p.width, height: p.height, format: p.format, color, panels: [] });
    map.get(key).panels.push(p);
  }
  return [...map.values()].sort((a, b) => b.panels.length - a.panels.length);
}

/** More pages than this on a sign, or a loop longer than LONG_LOOP_S, is too long to read. */
export const LONG_PAGES = 6;
const LONG_LOOP_S = 60;

/** "128×32 mono1" and the names of the panels of that kind, for sentences. */
function signName(pr) {
  const names = pr.panels.slice(0, 3).map((p) => p.name).join(', ');
  return { sign: `${pr.width}×${pr.height} ${pr.format}`, panels: pr.panels.length > 3 ? t('long.andMore', { names, n: pr.panels.length - 3 }) : names };
}

/** The pages a server warning names ("page 2: …, page 5: …"). */
function warnedPages(header) {
  return [...String(header).matchAll(/page\s+(\d+)/gi)].map((m) => Number(m[1]));
}

/**
 * Live preview: one card per panel profile, re-rendered 300 ms after the
 * last keystroke. `dwell()` is the seconds a page stays up; `onPages(list)`
 * hears, after each round, the profiles on which the message runs too long.
 */
export function makeLivePreview(bodyFn, { dwell = () => 8, onPages = () => {} } = {}) {
  const el = h('section', { class: 'card preview-card', 'aria-labelledby': 'pv-title' },
    h('h2', { id: 'pv-title' }, t('preview.live')), h('p', { class: 'hint' }, t('preview.hint')));
  const list = h('div', { class: 'previews' });
  el.append(list);
  const profs = profiles();
  const cards = profs.map((pr) => {
    const img = h('img', { class: 'preview-img', alt: '' });
    const frame = h('div', { class: 'screen screen-preview', style: { aspectRatio: `${pr.width} / ${pr.height}` } }, img);
    const pager = h('div', { class: 'pager' });
    const warn = h('p', { class: 'reading-warning', role: 'status', hidden: true });
    const card = { pr, page: 1, pages: 1, img, frame, pager, warn, ctrl: null, url: null, long: false };
    card.el = h('div', { class: 'preview', 'data-profile': pr.key },
      h('div', { class: 'preview-head' },
        h('span', { class: 'preview-size' }, `${pr.width}×${pr.height}`),
        h('span', { class: 'muted' }, ` · ${pr.format}`),
        pr.format === 'mono1' ? h('span', { class: 'swatch', style: { background: pr.color } }) : null,
        h('span', { class: 'muted preview-count', title: pr.panels.map((p) => p.name).join(', ') }, t('preview.panels', { n: pr.panels.length }))),
      frame, pager, warn);
    return card;
  });
  if (!cards.length) list.append(emptyState(t('preview.noProfiles')));
  for (const c of cards) list.append(c.el);

  const renderPager = (c) => {
    clear(c.pager);
    c.pager.append(
      h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('preview.prev'), disabled: c.page <= 1, onclick: () => { c.page--; draw(c); } }, icon('left')),
      h('span', { class: 'page-no', 'aria-live': 'polite' }, t('preview.page', { n: c.page, total: c.pages })),
      h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('preview.next'), disabled: c.page >= c.pages, onclick: () => { c.page++; draw(c); } }, icon('right')));
  };
  const draw = async (c) => {
    const b = bodyFn();
    if (!b.text && !b.image) {
      // Nothing to show: stop what is in flight and let the last picture go.
      c.ctrl?.abort();
      c.ctrl = null;
      c.img.removeAttribute('src');
      if (c.url) URL.revokeObjectURL(c.url);
      c.url = null;
      c.frame.classList.add('screen-idle');
      c.frame.dataset.empty = t('preview.none');
      c.pages = 1; c.page = 1; renderPager(c); c.warn.hidden = true;
      c.long = false; report();
      return;
    }
    c.frame.classList.remove('screen-idle');
    c.ctrl?.abort();
    const ctrl = new AbortController();
    c.ctrl = ctrl;
    c.frame.classList.add('busy');
    const { pr } = c;
    const d = dwell();
    const q = `width=${pr.width}&height=${pr.height}&format=${pr.format}&color=${enc(pr.color)}&page=${c.page}&look=led&dwell=${d}`;
    try {
      const b2 = { ...b, title: b.title || '-' };
      const { url, headers } = await fetchImage(`/preview?${q}`, { method: 'POST', json: b2, signal: ctrl.signal });
      if (c.ctrl !== ctrl) { URL.revokeObjectURL(url); return; }
      if (c.url) URL.revokeObjectURL(c.url);
      c.url = url;
      c.img.src = url;
      c.img.alt = t('preview.alt', { size: `${pr.width}×${pr.height}`, n: c.page });
      c.pages = Math.max(1, parseInt(headers.get('X-Pages') || '1', 10) || 1);
      if (c.page > c.pages) { c.page = c.pages; return draw(c); }
      // Our own sentences: the pages that hold too many words (the server
      // names them), and a loop too long to read at all.
      const w = headers.get('X-Reading-Warning');
      const dense = w ? warnedPages(w) : [];
      c.long = c.pages > LONG_PAGES || c.pages * d > LONG_LOOP_S;
      clear(c.warn);
      c.warn.hidden = !w && !c.long;
      if (c.long) c.warn.append(icon('warn'), h('span', {}, h('strong', { class: 'warn-lead' }, t('long.card', { pages: c.pages, time: fmtSpan(c.pages * d) }))));
      else if (w) c.warn.append(icon('warn'), h('span', {}, h('strong', { class: 'warn-lead' }, t('preview.tooLong')), ' ', dense.length ? t('preview.densePages', { pages: dense.join(', '), dwell: d }) : t('preview.dense', { dwell: d })));
      c.warn.classList.toggle('reading-long', c.long);
      renderPager(c);
      report();
    } catch (e) {
      if (e.name === 'AbortError') return;
      c.warn.hidden = false;
      clear(c.warn).append(icon('warn'), h('span', {}, e.message));
      if (e.status !== 400 && e.status !== 422) fail(e);
    } finally {
      if (c.ctrl === ctrl) c.frame.classList.remove('busy');
    }
  };
  const report = () => onPages(cards.filter((c) => c.long).map((c) => ({ key: c.pr.key, ...signName(c.pr), pages: c.pages, dwell: dwell() })));
  const run = () => { for (const c of cards) draw(c); };
  const deb = debounce(run, 300);
  onCleanup(() => { deb.cancel(); for (const c of cards) { c.ctrl?.abort(); if (c.url) URL.revokeObjectURL(c.url); } });
  for (const c of cards) renderPager(c);
  return { el, schedule: (ms) => (ms === 0 ? run() : deb()) };
}

/** The saved message as each real panel will show it (GET …/preview.png?panel=ID). */
export function makeSavedPreview(msgFn) {
  const sel = h('select', {}, S.panels.map((p) => h('option', { value: p.id }, `${p.name} (${p.width}×${p.height})`)));
  const img = h('img', { class: 'preview-img', alt: '' });
  const frame = h('div', { class: 'screen screen-preview' }, img);
  const pager = h('div', { class: 'pager' });
  let page = 1;
  let pages = 1;
  let url = null;
  let ctrl = null;
  const el = h('section', { class: 'card preview-card', 'aria-labelledby': 'sp-title' },
    h('h2', { id: 'sp-title' }, t('preview.saved')),
    S.panels.length ? field(t('preview.panel'), sel) : emptyState(t('preview.noProfiles')),
    S.panels.length ? frame : null, pager);
  const renderPager = () => {
    clear(pager).append(
      h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('preview.prev'), disabled: page <= 1, onclick: () => { page--; refresh(); } }, icon('left')),
      h('span', { class: 'page-no' }, t('preview.page', { n: page, total: pages })),
      h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('preview.next'), disabled: page >= pages, onclick: () => { page++; refresh(); } }, icon('right')));
  };
  const refresh = async () => {
    const m = msgFn();
    const p = S.panels.find((x) => x.id === sel.value);
    if (!m || !p) return;
    frame.style.aspectRatio = `${p.width} / ${p.height}`;
    ctrl?.abort();
    const c = new AbortController();
    ctrl = c;
    frame.classList.add('busy');
    try {
      const r = await fetchImage(`/messages/${enc(m.id)}/preview.png?panel=${enc(p.id)}&page=${page}&look=led&v=${enc(m.version ?? m.updated_at ?? '')}`, { signal: c.signal });
      if (ctrl !== c) { URL.revokeObjectURL(r.url); return; }
      if (url) URL.revokeObjectURL(url);
      url = r.url;
      img.src = url;
      img.alt = t('preview.alt', { size: `${p.width}×${p.height}`, n: page });
      pages = Math.max(1, parseInt(r.headers.get('X-Pages') || '1', 10) || 1);
      renderPager();
    } catch (e) { fail(e); } finally { if (ctrl === c) frame.classList.remove('busy'); }
  };
  sel.addEventListener('change', () => { page = 1; refresh(); });
  onCleanup(() => { ctrl?.abort(); if (url) URL.revokeObjectURL(url); });
  renderPager();
  return { el, refresh };
}
