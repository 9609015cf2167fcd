// The calendar ("Lịch"): month and week views of what runs where, from
// GET /calendar; each campaign in its own colour *and* pattern with its
// name written out, conflicts flagged (who wins by priority), the
// campaigns' status, and "what will this panel show at…" from
// GET /panels/{id}/at (the player's own rule).

import { locale, t } from '../lib/i18n.js';
import { TZ, addDays, campaignColor, fmtDateTime, fmtTime, prettyGroup, todayVN, vnMidnight } from '../lib/format.js';
import { append, clear, h, icon } from '../lib/dom.js';
import { badge, emptyState, fail, field } from '../lib/components.js';
import { S, allGroups } from '../lib/state.js';
import { api, enc, loadPanels } from '../lib/api.js';

const PATTERNS = 4;

/** Each campaign's colour and pattern on this page: the campaigns in id
 * order take hues a golden angle apart and the patterns in turn, so two
 * campaigns on screen never look alike (and the name is always written). */
let looks = new Map();

function setLooks(campaigns) {
  looks = new Map([...campaigns].map((c) => c.id).sort().map((id, i) => [id, { color: `hsl(${Math.round((i * 137.508 + 210) % 360)} 60% 40%)`, pattern: i % PATTERNS }]));
}

/** A colour swatch with the campaign's pattern over it. */
function swatch(id) {
  const look = looks.get(id) || { color: campaignColor(id), pattern: 0 };
  return h('span', { class: `swatch swatch-lg cal-pat-${look.pattern}`, style: { backgroundColor: look.color }, 'aria-hidden': 'true' });
}

/** Monday on or before `ymd`. */
function mondayOf(ymd) {
  const [y, m, d] = ymd.split('-').map(Number);
  const dow = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
  return addDays(ymd, -dow);
}

/** The Vietnamese date (YYYY-MM-DD) of an instant. */
function ymdOf(ms) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms));
}

function dayLabel(ymd, opts) {
  const [y, m, d] = ymd.split('-').map(Number);
  return new Intl.DateTimeFormat(locale(), { timeZone: 'UTC', ...opts }).format(new Date(Date.UTC(y, m - 1, d)));
}

/** The days a view shows and the span it asks for. */
function span(view, anchor) {
  if (view === 'week') {
    const first = mondayOf(anchor);
    return { first, days: 7, title: `${dayLabel(first, { day: '2-digit', month: '2-digit' })} – ${dayLabel(addDays(first, 6), { day: '2-digit', month: '2-digit', year: 'numeric' })}` };
  }
  const monthStart = `${anchor.slice(0, 8)}01`;
  const first = mondayOf(monthStart);
  return { first, days: 42, month: anchor.slice(0, 7), title: dayLabel(monthStart, { month: 'long', year: 'numeric' }) };
}

/** A campaign's status (upcoming, running, ended) as a badge with its word. */
export function phaseBadge(status) {
  return badge(t(`cal.status.${status}`), { running: 'ok', upcoming: 'draft', ended: 'off' }[status]);
}

/** The next Monday at 07:00 in Vietnam, for the time picker. */
function nextMondaySeven() {
  const today = todayVN();
  return `${addDays(mondayOf(today), 7)}T07:00`;
}

export async function viewCalendar(main, args, ctx) {
  document.title = `${t('cal.title')} · ${t('app.title')}`;
  await loadPanels();
  if (!ctx.alive()) return;
  let view = 'month';
  let anchor = todayVN();
  let group = '';
  const period = h('h2', { id: 'cal-period', class: 'cal-period' });
  const tabs = h('div', { class: 'segmented', role: 'group', 'aria-label': t('cal.view') });
  const renderTabs = () => {
    clear(tabs);
    for (const v of ['month', 'week']) {
      tabs.append(h('button', { type: 'button', class: 'seg', id: `cal-${v}`, 'aria-pressed': String(view === v), onclick: () => { view = v; renderTabs(); refresh(); } }, t(`cal.${v}`)));
    }
  };
  const step = (n) => {
    if (view === 'week') anchor = addDays(anchor, 7 * n);
    else {
      const [y, m] = anchor.split('-').map(Number);
      const d = new Date(Date.UTC(y, m - 1 + n, 1));
      anchor = d.toISOString().slice(0, 10);
    }
    refresh();
  };
  const groups = h('select', { id: 'cal-group', onchange: (e) => { group = e.target.value; refresh(); } },
    h('option', { value: '' }, t('cal.allGroups')),
    allGroups().map((g) => h('option', { value: g }, prettyGroup(g))));
  const grid = h('div', { class: 'cal-body', 'aria-live': 'polite' });
  const conflicts = h('section', { class: 'card', 'aria-labelledby': 'cal-conflicts-title' });
  const campaigns = h('section', { class: 'card', 'aria-labelledby': 'cal-campaigns-title' });
  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', {}, t('cal.title')), h('p', { class: 'lead' }, t('cal.lead')))),
    h('section', { class: 'card cal' },
      h('div', { class: 'cal-toolbar' },
        h('div', { class: 'cal-nav' },
          h('button', { type: 'button', class: 'btn btn-small', id: 'cal-prev', 'aria-label': t('cal.prev'), onclick: () => step(-1) }, icon('left'), h('span', { class: 'cal-nav-text' }, t('cal.prev'))),
          h('button', { type: 'button', class: 'btn btn-small', id: 'cal-today', onclick: () => { anchor = todayVN(); refresh(); } }, t('cal.today')),
          h('button', { type: 'button', class: 'btn btn-small', id: 'cal-next', 'aria-label': t('cal.next'), onclick: () => step(1) }, h('span', { class: 'cal-nav-text' }, t('cal.next')), icon('right'))),
        period,
        h('div', { class: 'cal-nav' }, tabs, groups)),
      grid),
    conflicts,
    campaigns,
    atPicker(args[0])));
  let gen = 0;
  const refresh = async () => {
    const my = ++gen;
    const s = span(view, anchor);
    period.textContent = s.title;
    const from = vnMidnight(s.first);
    const to = vnMidnight(addDays(s.first, s.days));
    clear(grid).append(h('p', { class: 'muted' }, t('loading')));
    let cal;
    try {
      cal = await api(`/calendar?from=${enc(from)}&to=${enc(to)}${group ? `&group=${enc(group)}` : ''}`);
    } catch (e) {
      if (my === gen) { clear(grid).append(emptyState(e.message || String(e))); fail(e); }
      return;
    }
    if (my !== gen || !ctx.alive()) return;
    setLooks(cal.campaigns);
    drawGrid(grid, s, cal, view);
    drawConflicts(conflicts, cal);
    drawCampaigns(campaigns, cal);
  };
  renderTabs();
  if (args[0]) {
    const at = document.getElementById('at-time');
    at?.scrollIntoView({ block: 'center' });
    at?.focus();
  }
  await refresh();
}

/** Per day, per campaign: the first start, how many stretches, conflicts. */
function byDay(cal, days) {
  const cells = new Map(days.map((d) => [d, new Map()]));
  for (const o of cal.occurrences) {
    const a = new Date(o.start).getTime();
    const b = new Date(o.end).getTime();
    for (const d of days) {
      const d0 = new Date(vnMidnight(d)).getTime();
      const d1 = d0 + 86400000;
      if (b <= d0 || a >= d1) continue;
      const cell = cells.get(d);
      const e = cell.get(o.campaign) || { o, count: 0, start: Math.max(a, d0), end: Math.min(b, d1), conflict: false, wins: false };
      e.count += 1;
      e.end = Math.max(e.end, Math.min(b, d1));
      if (o.conflicts.some((c) => new Date(c.end).getTime() > d0 && new Date(c.start).getTime() < d1)) e.conflict = true;
      cell.set(o.campaign, e);
    }
  }
  return cells;
}

function chip(e, withTimes) {
  const allDay = e.end - e.start >= 86400000 - 1000;
  const when = allDay ? t('cal.allDay') : `${fmtTime(new Date(e.start).toISOString())}–${fmtTime(new Date(e.end).toISOString())}`;
  const tip = `${e.o.name} · ${when}${e.count > 1 ? ` · ${t('cal.times', { n: e.count })}` : ''}${e.conflict ? ` · ${t('cal.conflict')}` : ''}`;
  return h('li', { class: `cal-chip${e.conflict ? ' cal-chip-conflict' : ''}`, 'data-campaign': e.o.campaign, title: tip },
    swatch(e.o.campaign),
    h('span', { class: 'cal-chip-text' },
      withTimes || !allDay ? h('span', { class: 'cal-chip-time' }, when, ' ') : null,
      e.o.name,
      e.count > 1 ? h('span', { class: 'cal-chip-count' }, ` ×${e.count}`) : null),
    e.conflict ? h('span', { class: 'cal-flag', 'data-flag': 'conflict' }, icon('warn'), h('span', {}, t('cal.conflictShort'))) : null);
}

function drawGrid(grid, s, cal, view) {
  const days = Array.from({ length: s.days }, (_, i) => addDays(s.first, i));
  const cells = byDay(cal, days);
  const today = todayVN();
  const head = h('div', { class: 'cal-row cal-head', role: 'row' },
    days.slice(0, 7).map((d) => h('div', { class: 'cal-dow', role: 'columnheader' }, dayLabel(d, { weekday: view === 'week' ? 'long' : 'short' }))));
  const table = h('div', { class: `cal-grid cal-${view}`, role: 'grid', 'aria-label': s.title }, head);
  for (let w = 0; w < days.length / 7; w++) {
    const row = h('div', { class: 'cal-row', role: 'row' });
    for (const d of days.slice(w * 7, w * 7 + 7)) {
      const items = [...cells.get(d).values()].sort((a, b) => a.start - b.start || b.o.priority - a.o.priority);
      const outside = s.month && !d.startsWith(s.month);
      row.append(h('div', { class: `cal-day${outside ? ' cal-outside' : ''}${d === today ? ' cal-today' : ''}`, role: 'gridcell', 'data-day': d },
        h('div', { class: 'cal-date' }, view === 'week' ? dayLabel(d, { day: '2-digit', month: '2-digit' }) : dayLabel(d, { day: 'numeric' })),
        items.length ? h('ul', { class: 'cal-chips' }, items.map((e) => chip(e, view === 'week'))) : null));
    }
    table.append(row);
  }
  clear(grid).append(table);
  if (!cal.occurrences.length) grid.append(h('p', { class: 'muted' }, t('cal.empty')));
}

function drawConflicts(section, cal) {
  const seen = new Set();
  const rows = [];
  for (const o of cal.occurrences) {
    for (const c of o.conflicts) {
      // Each pair once, from the side that wins (or the first, when equal).
      if (c.outcome === 'yields') continue;
      const key = [o.campaign, c.campaign, c.start].sort().join('|');
      if (seen.has(key)) continue;
      seen.add(key);
      const when = `${fmtDateTime(c.start)} – ${fmtTime(c.end)}`;
      const text = c.outcome === 'wins'
        ? t('cal.wins', { a: o.name, pa: o.priority, b: c.name, pb: c.priority, n: c.panel_count })
        : t('cal.shares', { a: o.name, b: c.name, p: o.priority, n: c.panel_count });
      rows.push(h('li', { class: 'cal-conflict-row', 'data-conflict': `${o.campaign} ${c.campaign}` },
        icon('warn'), h('span', {}, h('strong', {}, when), ' · ', text)));
    }
  }
  append(clear(section), [h('h2', { id: 'cal-conflicts-title' }, t('cal.conflicts')),
    rows.length ? h('ul', { id: 'cal-conflicts', class: 'cal-conflicts' }, rows) : emptyState(t('cal.noConflicts')),
    cal.conflicts_truncated ? h('p', { class: 'muted' }, t('cal.conflictsTruncated')) : null]);
}

function drawCampaigns(section, cal) {
  const list = [...cal.campaigns].sort((a, b) => ['running', 'upcoming', 'ended'].indexOf(a.status) - ['running', 'upcoming', 'ended'].indexOf(b.status) || b.priority - a.priority);
  clear(section).append(h('h2', { id: 'cal-campaigns-title' }, t('cal.campaigns')),
    list.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'cal-campaigns' },
      h('thead', {}, h('tr', {}, ['cal.col.name', 'cal.col.status', 'cal.col.next', 'cal.col.priority', 'cal.col.panels'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, list.map((c) => h('tr', { 'data-campaign': c.id, 'data-status': c.status },
        h('td', {}, swatch(c.id), h('a', { href: `#/campaigns/${enc(c.id)}` }, c.name)),
        h('td', {}, phaseBadge(c.status)),
        h('td', {}, c.next_start ? fmtDateTime(c.next_start) : t('none')),
        h('td', { class: 'num' }, c.priority),
        h('td', { class: 'num' }, c.panels.length))))))
      : emptyState(t('cal.noCampaigns')));
}

/** "What will this panel show at…": a panel (`chosen`, from the panel
 * wall's link `#/calendar/{panel}`), a local date and time. */
function atPicker(chosen) {
  const panel = h('select', { id: 'at-panel' }, S.panels.map((p) => h('option', { value: p.id, selected: p.id === chosen }, `${p.name} (${p.id})`)));
  const when = h('input', { id: 'at-time', type: 'datetime-local', value: nextMondaySeven(), step: '60' });
  const out = h('div', { id: 'at-result', class: 'at-result', role: 'status', 'aria-live': 'polite' });
  const ask = async (e) => {
    e.preventDefault();
    if (!panel.value || !when.value) return;
    const instant = `${when.value.length === 16 ? `${when.value}:00` : when.value}+07:00`;
    clear(out).append(h('p', { class: 'muted' }, t('loading')));
    try {
      const v = await api(`/panels/${enc(panel.value)}/at?t=${enc(instant)}`);
      const at = fmtDateTime(v.at);
      const line = v.show === 'message'
        ? t('at.message', { at, title: v.message_title || v.message, campaign: v.campaign_name || v.campaign, page: v.page, pages: v.pages })
        : v.show === 'alert'
          ? t('at.alert', { at, text: v.alert_text || v.alert })
          : t('at.blank', { at });
      append(clear(out), [h('p', { class: `at-line at-${v.show}`, 'data-show': v.show }, line),
        v.until ? h('p', { class: 'muted' }, t('at.until', { when: fmtDateTime(v.until) })) : null]);
    } catch (err) {
      clear(out);
      fail(err);
    }
  };
  return h('section', { class: 'card', 'aria-labelledby': 'at-title' },
    h('h2', { id: 'at-title' }, t('at.title')),
    h('p', { class: 'muted' }, t('at.lead')),
    S.panels.length
      ? h('form', { class: 'at-form', onsubmit: ask },
        field(t('at.panel'), panel),
        field(t('at.when'), when),
        h('button', { type: 'submit', class: 'btn btn-primary', id: 'at-go' }, t('at.go')))
      : emptyState(t('tl.noPanels')),
    out);
}
