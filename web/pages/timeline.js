// The campaign timeline: bars per panel for today or this week.

import { locale, t } from '../lib/i18n.js';
import { addDays, campaignColor, fmtDateTime, fmtTime, todayVN, vnMidnight } from '../lib/format.js';
import { clear, h } from '../lib/dom.js';
import { emptyState, fail } from '../lib/components.js';
import { campaignName, messageTitle } from '../lib/state.js';
import { api, enc } from '../lib/api.js';

/** Horizontal bars per panel for today or this week, coloured by campaign. */
export function makeTimeline(panelsFn) {
  let range = 'today';
  const body = h('div', { class: 'timeline-body' });
  const legend = h('div', { class: 'legend', 'aria-label': t('tl.legend') });
  const tabs = h('div', { class: 'segmented', role: 'group', 'aria-label': t('tl.title') });
  const renderTabs = () => {
    clear(tabs);
    for (const r of ['today', 'week']) {
      tabs.append(h('button', { type: 'button', class: 'seg', 'aria-pressed': String(range === r), onclick: () => { range = r; renderTabs(); refresh(); } }, t(`tl.${r}`)));
    }
  };
  const el = h('section', { class: 'card timeline', 'aria-labelledby': 'tl-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'tl-title' }, t('tl.title')), tabs), body, legend);
  let gen = 0;
  const refresh = async () => {
    const my = ++gen;
    const panels = panelsFn();
    const today = todayVN();
    let fromDay = today;
    let days = 1;
    if (range === 'week') {
      const [y, m, d] = today.split('-').map(Number);
      const dow = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7; // Monday = 0
      fromDay = addDays(today, -dow);
      days = 7;
    }
    const from = vnMidnight(fromDay);
    const to = vnMidnight(addDays(fromDay, days));
    const t0 = new Date(from).getTime();
    const t1 = new Date(to).getTime();
    clear(body).append(h('p', { class: 'muted' }, t('loading')));
    clear(legend);
    if (!panels.length) { clear(body).append(emptyState(t('tl.noPanels'))); return; }
    const rows = await Promise.all(panels.map((p) => fetchTimeline(p.id, from, to, range === 'week' ? 3 : 4).catch((e) => { fail(e); return { bars: [], until: null }; })));
    if (my !== gen) return;
    clear(body);
    const axis = h('div', { class: 'tl-axis', 'aria-hidden': 'true' });
    if (range === 'today') {
      for (let hr = 0; hr <= 24; hr += 3) axis.append(h('span', { style: { left: `${(hr / 24) * 100}%` } }, `${String(hr).padStart(2, '0')}:00`));
    } else {
      const fmt = new Intl.DateTimeFormat(locale(), { timeZone: 'UTC', weekday: 'short', day: '2-digit', month: '2-digit' });
      for (let i = 0; i < 7; i++) {
        const [y, m, d] = addDays(fromDay, i).split('-').map(Number);
        axis.append(h('span', { class: 'tl-day', style: { left: `${(i / 7) * 100}%`, width: `${100 / 7}%` } }, fmt.format(new Date(Date.UTC(y, m - 1, d)))));
      }
    }
    const grid = h('div', { class: 'tl-grid', role: 'table', 'aria-label': t('tl.title') },
      h('div', { class: 'tl-row tl-head', role: 'row' }, h('div', { class: 'tl-label', role: 'columnheader' }, t('tl.rowLabel')), h('div', { class: 'tl-track', role: 'columnheader' }, axis)));
    const seen = new Map();
    const nowMs = Date.now();
    let any = false;
    let truncated = null;
    panels.forEach((p, i) => {
      const track = h('div', { class: 'tl-track', role: 'cell' });
      if (range === 'week') for (let d = 1; d < 7; d++) track.append(h('span', { class: 'tl-daysep', style: { left: `${(d / 7) * 100}%` } }));
      const { bars, until } = rows[i];
      for (const bar of bars) {
        const s = Math.max(t0, bar.start);
        const e = Math.min(t1, bar.end);
        if (e <= s) continue;
        any = true;
        const color = bar.alert ? '#c4261d' : campaignColor(bar.campaign);
        const label = bar.alert ? t('tl.alert') : campaignName(bar.campaign);
        seen.set(bar.key, { color, label });
        const titles = [...bar.messages].map(messageTitle);
        const when = range2(bar.start, bar.end, range === 'week');
        const tip = `${when} · ${label}${titles.length ? ` · ${titles.join(', ')}` : ''}`;
        track.append(h('span', { class: 'tl-bar', style: { left: `${((s - t0) / (t1 - t0)) * 100}%`, width: `${((e - s) / (t1 - t0)) * 100}%`, background: color }, title: tip, 'aria-label': tip, tabindex: '0' },
          h('span', { class: 'tl-bar-text' }, titles.length === 1 ? titles[0] : label)));
      }
      if (until && until < t1) {
        truncated = Math.min(truncated ?? until, until);
        track.append(h('span', { class: 'tl-unknown', style: { left: `${((until - t0) / (t1 - t0)) * 100}%`, right: '0' }, title: t('tl.notLoaded') }));
      }
      if (nowMs > t0 && nowMs < t1) track.append(h('span', { class: 'tl-now', style: { left: `${((nowMs - t0) / (t1 - t0)) * 100}%` }, title: t('tl.now') }));
      grid.append(h('div', { class: 'tl-row', role: 'row', 'data-panel': p.id }, h('div', { class: 'tl-label', role: 'rowheader' }, h('span', {}, p.name), h('code', {}, p.id)), track));
    });
    body.append(grid);
    if (!any) body.append(h('p', { class: 'muted tl-empty' }, t('tl.empty')));
    if (truncated) body.append(h('p', { class: 'muted tl-empty' }, t('tl.truncated', { when: fmtDateTime(new Date(truncated).toISOString()) })));
    for (const [, v] of seen) legend.append(h('span', { class: 'legend-item' }, h('span', { class: 'swatch', style: { background: v.color } }), v.label));
  };
  renderTabs();
  return { el, refresh };
}

/** "07:00–09:00", or with the day for the week view. */
function range2(a, b, withDay) {
  const f = (ms) => (withDay ? fmtDateTime(new Date(ms).toISOString()) : fmtTime(new Date(ms).toISOString()));
  return `${f(a)}–${f(b)}`;
}

/**
 * A panel's timeline between `from` and `to`, with consecutive slots of the
 * same campaign (or alert) merged into one bar. The server answers slot by
 * slot (one per page) and caps each answer, so this follows on from the last
 * slot it got, at most `maxRequests` times; `until` says where it stopped
 * when that was not enough.
 */
async function fetchTimeline(panelId, from, to, maxRequests) {
  const end = new Date(to).getTime();
  const bars = [];
  let cursor = from;
  let until = null;
  for (let i = 0; i < maxRequests; i++) {
    const slots = await api(`/panels/${enc(panelId)}/timeline?from=${enc(cursor)}&to=${enc(to)}`);
    for (const s of slots) {
      if (!s.campaign && !s.alert) continue;
      const key = s.alert ? `alert:${s.alert}` : s.campaign;
      const a = new Date(s.start).getTime();
      const b = new Date(s.end).getTime();
      const prev = bars[bars.length - 1];
      if (prev && prev.key === key && a - prev.end <= 1000) {
        prev.end = Math.max(prev.end, b);
      } else {
        bars.push({ key, campaign: s.campaign, alert: s.alert, start: a, end: b, messages: new Set() });
      }
      if (s.message) bars[bars.length - 1].messages.add(s.message);
    }
    const last = slots[slots.length - 1];
    const reached = last ? new Date(last.end).getTime() : end;
    if (!last || reached >= end) { until = null; break; }
    cursor = last.end;
    until = reached;
  }
  return { bars, until };
}
