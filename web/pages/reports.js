// Reports: proof of play for a period, filtered by district, campaign and
// panel; charts (plays per day by district and by campaign, signs online
// over time, how fast alerts reached the signs), each savable as a PNG;
// the summary per district and campaign; the play log; downloads as an
// Excel workbook (for the periodic report to the province) and as CSV.
// Names and local times come from the server.

import { locale, t } from '../lib/i18n.js';
import { addDays, fmtDateTime, prettyGroup, todayVN, vnMidnight, ymdToDmy } from '../lib/format.js';
import { clear, debounce, h, icon } from '../lib/dom.js';
import { dateInput, emptyState, fail, field, toast } from '../lib/components.js';
import { S, allGroups } from '../lib/state.js';
import { api, enc, loadCampaigns, loadMessages, loadPanels } from '../lib/api.js';
import { PALETTE, pairedBars, saveBlob, stackedBars, timeLine, toPng } from '../lib/chart.js';
import { onCleanup } from '../lib/router.js';

const NONE = '(none)';
/** Series a daily chart shows one by one; the rest are added up as "other". */
const MAX_SERIES = 8;
/** Rows of the play log shown on the page (the downloads have them all). */
const LOG_ROWS = 500;

const num = (n) => (n || 0).toLocaleString(locale());
const hours = (s) => ((s || 0) / 3600).toLocaleString(locale(), { minimumFractionDigits: 1, maximumFractionDigits: 2 });
const groupLabel = (g) => (g === NONE ? t('wall.ungrouped') : prettyGroup(g));

function campaignLabel(key, name) {
  if (key === NONE) return t('rep.noCampaign');
  if (key.startsWith('alert:')) return `${t('rep.alertPrefix')}${name || key.slice(6)}`;
  return name || key;
}

function daysBetween(a, b) {
  const out = [];
  for (let d = a; d <= b && out.length < 400; d = addDays(d, 1)) out.push(d);
  return out;
}

/** Daily rows → the series of a stacked bar chart, the biggest first. */
function seriesOf(rows, days, label) {
  const by = new Map();
  for (const r of rows) {
    if (!by.has(r.key)) by.set(r.key, { key: r.key, name: label(r), total: 0, values: days.map(() => 0) });
    const s = by.get(r.key);
    const i = days.indexOf(r.date);
    if (i >= 0) { s.values[i] += r.plays; s.total += r.plays; }
  }
  const all = [...by.values()].sort((a, b) => b.total - a.total || a.name.localeCompare(b.name, 'vi'));
  const shown = all.slice(0, MAX_SERIES);
  const rest = all.slice(MAX_SERIES);
  if (rest.length) shown.push({ key: 'other', name: t('rep.other', { n: rest.length }), total: 0, values: days.map((_, i) => rest.reduce((s, x) => s + x.values[i], 0)) });
  return shown.map((s, i) => ({ ...s, color: PALETTE[Math.min(i, PALETTE.length - 1)] }));
}

export async function viewReports(main, _args, ctx) {
  document.title = `${t('rep.title')} · ${t('app.title')}`;
  await Promise.all([loadPanels().catch(() => {}), loadMessages().catch(() => {}), loadCampaigns().catch(() => {})]);
  if (!ctx.alive()) return;
  // Dates typed and shown as dd/mm/yyyy, like every date on the dashboard.
  const fromIn = dateInput(sessionStorage.getItem('bangtin.rep.from') || todayVN(-6));
  const toIn = dateInput(sessionStorage.getItem('bangtin.rep.to') || todayVN());
  fromIn.id = 'rep-from';
  toIn.id = 'rep-to';
  const pick = (id, all, options, key) => {
    const saved = sessionStorage.getItem(key) || '';
    const s = h('select', { id }, h('option', { value: '' }, all), options.map(([v, label]) => h('option', { value: v, selected: v === saved }, label)));
    return s;
  };
  const groupSel = pick('rep-group', t('rep.allGroups'), [...allGroups().map((g) => [g, prettyGroup(g)]), [NONE, t('wall.ungrouped')]], 'bangtin.rep.group');
  const campaignSel = pick('rep-campaign', t('rep.allCampaigns'),
    [...[...S.campaigns].sort((a, b) => a.name.localeCompare(b.name, 'vi')).map((c) => [c.id, c.name]), ['alerts', t('rep.alertsOnly')]], 'bangtin.rep.campaign');
  const panelSel = pick('rep-panel', t('rep.allPanels'), S.panels.map((p) => [p.id, p.name]), 'bangtin.rep.panel');
  const unitIn = h('input', { type: 'text', id: 'rep-unit', value: localStorage.getItem('bangtin.rep.unit') || '', placeholder: t('rep.unitPh'), autocomplete: 'organization', maxlength: '120' });
  unitIn.addEventListener('change', () => localStorage.setItem('bangtin.rep.unit', unitIn.value.trim()));

  const day = (input) => input.ymd();
  const err = h('p', { class: 'field-error', role: 'alert' });
  const out = h('div');
  const period = () => `from=${enc(vnMidnight(day(fromIn)))}&to=${enc(vnMidnight(addDays(day(toIn), 1)))}`;
  const filters = () => [['group', groupSel], ['campaign', campaignSel], ['panel', panelSel]]
    .filter(([, s]) => s.value).map(([k, s]) => `&${k}=${enc(s.value)}`).join('');
  const q = () => `${period()}${filters()}`;
  const stamp = () => `${day(fromIn)}_${day(toIn)}`;
  const periodText = () => (day(fromIn) === day(toIn) ? ymdToDmy(day(fromIn)) : `${ymdToDmy(day(fromIn))} – ${ymdToDmy(day(toIn))}`);
  const scopeText = () => [groupSel, campaignSel, panelSel].filter((s) => s.value).map((s) => s.selectedOptions[0].textContent).join(' · ');

  const download = async (btn, path, accept, file, bom) => {
    btn.disabled = true;
    try {
      const res = await api(path, { raw: true, accept });
      let blob = await res.blob();
      // Excel reads a CSV as UTF-8 only when it starts with a byte-order mark.
      if (bom) blob = new Blob(['\ufeff', blob], { type: blob.type });
      saveBlob(blob, file);
      toast(t('rep.downloaded', { file }), 'ok');
    } catch (e) { fail(e); } finally { btn.disabled = false; }
  };
  const dlButton = (id, label, run) => {
    const b = h('button', { type: 'button', class: 'btn btn-small', id, onclick: () => run(b) }, icon('download'), label);
    return b;
  };
  const exportCard = h('section', { class: 'card export-card', 'aria-labelledby': 'rep-export' },
    h('div', { class: 'card-head' }, h('h2', { id: 'rep-export' }, t('rep.export'))),
    h('div', { class: 'export-row' },
      field(t('rep.unit'), unitIn, { hint: t('rep.unitHint'), cls: 'grow' }),
      h('div', { class: 'export-buttons' },
        dlButton('rep-xlsx', t('rep.xlsx'), (b) => {
          localStorage.setItem('bangtin.rep.unit', unitIn.value.trim());
          const unit = unitIn.value.trim() ? `&unit=${enc(unitIn.value.trim())}` : '';
          return download(b, `/reports/summary.xlsx?${q()}${unit}`, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', `bao-cao-phat-${stamp()}.xlsx`, false);
        }),
        dlButton('rep-csv-summary', t('rep.csvSummary'), (b) => download(b, `/reports/summary?${q()}`, 'text/csv', `tong-hop-${stamp()}.csv`, true)),
        dlButton('rep-csv-plays', t('rep.csvPlays'), (b) => download(b, `/reports/plays?${q()}`, 'text/csv', `nhat-ky-phat-${stamp()}.csv`, true)))));

  // Charts are drawn at the width of their card and again when it changes.
  const charts = [];
  const chartCard = (id, title, draw) => {
    const box = h('div', { class: 'chart-box' });
    const save = h('button', {
      type: 'button', class: 'btn btn-small', 'data-action': 'save-png',
      onclick: async () => {
        // The picture carries its title and period; the page's copy does not need them.
        const svg = draw(chartWidth(box), true);
        if (!svg) return;
        save.disabled = true;
        try {
          const file = `${id}-${stamp()}.png`;
          saveBlob(await toPng(svg), file);
          toast(t('rep.downloaded', { file }), 'ok');
        } catch { toast(t('rep.pngFailed')); } finally { save.disabled = false; }
      },
    }, icon('image'), t('rep.savePng'));
    const card = h('section', { class: 'card chart-card', id, 'aria-label': title }, h('div', { class: 'card-head' }, h('h2', {}, title), save), box);
    const c = { box, draw, card, save };
    charts.push(c);
    return c;
  };
  const chartWidth = (box) => Math.max(300, Math.min(960, Math.floor(box.clientWidth)));
  const redrawCharts = () => {
    for (const c of charts) {
      if (!c.box.isConnected) continue;
      const svg = c.draw(chartWidth(c.box), false);
      clear(c.box).append(svg || emptyState(t('rep.noData')));
      c.save.disabled = !svg;
    }
  };
  const onResize = debounce(redrawCharts, 200);
  window.addEventListener('resize', onResize);
  onCleanup(() => { onResize.cancel(); window.removeEventListener('resize', onResize); });

  const show = async () => {
    err.textContent = '';
    const [a, b] = [day(fromIn), day(toIn)];
    if (!a || !b) { err.textContent = t('rep.badDate'); (a ? toIn : fromIn).focus(); return; }
    if (b < a) { err.textContent = t('rep.badRange'); return; }
    sessionStorage.setItem('bangtin.rep.from', a);
    sessionStorage.setItem('bangtin.rep.to', b);
    sessionStorage.setItem('bangtin.rep.group', groupSel.value);
    sessionStorage.setItem('bangtin.rep.campaign', campaignSel.value);
    sessionStorage.setItem('bangtin.rep.panel', panelSel.value);
    clear(out).append(h('p', { class: 'loading' }, t('loading')));
    charts.length = 0;
    try {
      // The play log shows the newest rows only; the totals come from the
      // per-campaign figures, where every play counts once.
      const [summary, playsRes, byGroup, byCampaign, online, alerts] = await Promise.all([
        api(`/reports/summary?${q()}`), api(`/reports/plays?${q()}&limit=${LOG_ROWS}`, { raw: true }),
        api(`/reports/daily?${q()}&by=group`), api(`/reports/daily?${q()}&by=campaign`),
        api(`/reports/online?${period()}&points=240`), api(`/reports/alerts?${period()}`)]);
      const plays = await playsRes.json();
      if (!ctx.alive()) return;
      const total = {
        plays: byCampaign.reduce((s, r) => s + r.plays, 0),
        on_air_s: byCampaign.reduce((s, r) => s + r.on_air_s, 0),
      };
      const days = daysBetween(a, b);
      const sub = [periodText(), scopeText()].filter(Boolean).join(' · ');
      const dayLabel = (d) => ymdToDmy(d).slice(0, 5);
      const gSeries = seriesOf(byGroup, days, (r) => groupLabel(r.key));
      const cSeries = seriesOf(byCampaign, days, (r) => campaignLabel(r.key, r.name));
      const cards = [
        chartCard('chart-district', t('rep.chart.byGroup'), (width, titled) => (total.plays ? stackedBars({ title: t('rep.chart.byGroup'), subtitle: sub, titled, days, series: gSeries, width, dayLabel, fmt: num }) : null)),
        chartCard('chart-campaign', t('rep.chart.byCampaign'), (width, titled) => (total.plays ? stackedBars({ title: t('rep.chart.byCampaign'), subtitle: sub, titled, days, series: cSeries, width, dayLabel, fmt: num }) : null)),
        chartCard('chart-online', t('rep.chart.online'), (width, titled) => (online.length ? timeLine({
          title: t('rep.chart.online'), subtitle: `${periodText()} · ${t('rep.chart.onlineSub', { n: S.panels.length })}`, titled, width,
          points: online.map((p) => ({ t: new Date(p.at).getTime(), y: p.online, min: p.min, max: p.max })),
          yMax: Math.max(...online.map((p) => p.panels)), fmt: num, label: (ms) => fmtDateTime(new Date(ms).toISOString()),
        }) : null)),
        chartCard('chart-alerts', t('rep.chart.alerts'), (width, titled) => {
          const rows = alerts.filter((x) => x.acked).map((x) => ({
            label: x.text, note: `${x.created_at_local.slice(0, 5)} ${x.created_at_local.slice(11, 16)} · ${t('rep.chart.acked', { n: x.acked, of: x.targets })}`,
            a: x.median_ms / 1000, b: x.last_ack_ms / 1000,
          }));
          return rows.length ? pairedBars({ title: t('rep.chart.alerts'), subtitle: periodText(), titled, rows, width, names: [t('rep.chart.median'), t('rep.chart.slowest')], fmt: (v) => `${(+v).toLocaleString(locale(), { maximumFractionDigits: 1 })} s` }) : null;
        }),
      ];
      clear(out).append(
        h('div', { class: 'charts' }, cards.map((c) => c.card)),
        summaryCard(summary, total),
        logCard(plays, total.plays));
      redrawCharts();
    } catch (e) { clear(out); fail(e); }
  };

  clear(main).append(h('div', { class: 'page reports-page' },
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, t('rep.title')), h('p', { class: 'lead' }, t('rep.lead')))),
    h('form', { class: 'toolbar card', onsubmit: (e) => { e.preventDefault(); show(); } },
      field(t('rep.from'), fromIn, { hint: t('date.hint') }), field(t('rep.to'), toIn, { hint: t('date.hint') }),
      field(t('rep.group'), groupSel), field(t('rep.campaign'), campaignSel), field(t('rep.panel'), panelSel),
      h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('rep.show')))),
    err, exportCard, out));
  show();
}

/** Plays and time on air per district, then per campaign within it; `total` counts each play once. */
function summaryCard(summary, total) {
  const groups = new Map();
  for (const r of summary) {
    if (!groups.has(r.group)) groups.set(r.group, []);
    groups.get(r.group).push(r);
  }
  const keys = [...groups.keys()].sort((a, b) => (a === NONE) - (b === NONE) || groupLabel(a).localeCompare(groupLabel(b), 'vi'));
  const rows = [];
  for (const g of keys) {
    const list = groups.get(g).sort((a, b) => b.plays - a.plays);
    list.forEach((r, i) => rows.push(h('tr', { 'data-group': g, 'data-campaign': r.campaign },
      i === 0 ? h('th', { scope: 'rowgroup', rowspan: String(list.length), class: 'group-cell' }, groupLabel(g)) : null,
      h('td', {}, r.campaign.startsWith('alert:')
        ? [h('span', { class: 'badge badge-alert' }, t('tl.alert')), ' ', r.campaign_name || r.campaign.slice(6)]
        : campaignLabel(r.campaign, r.campaign_name)),
      h('td', { class: 'num' }, num(r.panels)),
      h('td', { class: 'num' }, num(r.plays)),
      h('td', { class: 'num' }, hours(r.on_air_s)))));
  }
  return h('section', { class: 'card' },
    h('div', { class: 'card-head' }, h('h2', {}, t('rep.summary'))),
    summary.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'summary-table' },
      h('thead', {}, h('tr', {}, [['rep.col.group', ''], ['rep.col.campaign', ''], ['rep.col.panels', 'num'], ['rep.col.plays', 'num'], ['rep.col.hours', 'num']].map(([k, c]) => h('th', { scope: 'col', class: c }, t(k))))),
      h('tbody', {}, rows),
      h('tfoot', {}, h('tr', {}, h('th', { scope: 'row', colspan: '3' }, t('rep.total')), h('td', { class: 'num', id: 'rep-total-plays' }, num(total.plays)), h('td', { class: 'num' }, hours(total.on_air_s))))))
      : emptyState(t('rep.empty')),
    summary.length ? h('p', { class: 'hint' }, t('rep.summaryHint')) : null);
}

/** The newest plays (at most LOG_ROWS of `count`), with names and local times. */
function logCard(plays, count) {
  const newest = [...plays].sort((a, b) => String(b.shown_at).localeCompare(String(a.shown_at))).slice(0, LOG_ROWS);
  return h('section', { class: 'card' },
    h('div', { class: 'card-head' }, h('h2', {}, t('rep.plays'))),
    plays.length ? h('div', { class: 'table-wrap table-scroll' }, h('table', { class: 'table table-dense', id: 'plays-table' },
      h('thead', {}, h('tr', {}, [['rep.col.time', ''], ['rep.col.panel', ''], ['rep.col.group', ''], ['rep.col.message', ''], ['rep.col.campaign', ''], ['rep.col.onAir', 'num'], ['rep.col.seq', 'num']].map(([k, c]) => h('th', { scope: 'col', class: c }, t(k))))),
      h('tbody', {}, newest.map((r) => h('tr', { 'data-panel': r.panel },
        h('td', { class: 'nowrap mono' }, r.shown_at_local),
        h('td', {}, r.panel_name || r.panel),
        h('td', {}, (r.groups || []).map(prettyGroup).join(', ') || t('wall.ungrouped')),
        h('td', {}, r.message_title || t('none')),
        h('td', {}, r.alert ? [h('span', { class: 'badge badge-alert' }, t('tl.alert')), ' ', r.alert_text || ''] : r.campaign_name || t('none')),
        h('td', { class: 'num' }, `${num(r.on_air_s)} s`),
        h('td', { class: 'num mono' }, r.seq))))))
      : emptyState(t('rep.empty')),
    count > plays.length ? h('p', { class: 'muted', id: 'rep-more' }, t('rep.more', { n: plays.length, total: count })) : null);
}
