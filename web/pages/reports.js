// Proof-of-play reports: a summary and the play log for a date range, as
// tables and as CSV downloads.

import { locale, t } from '../lib/i18n.js';
import { addDays, campaignColor, fmtDateTime, prettyGroup, todayVN, vnMidnight } from '../lib/format.js';
import { clear, h, icon } from '../lib/dom.js';
import { dateInput, emptyState, fail, field, toast } from '../lib/components.js';
import { campaignName, messageTitle, panelName } from '../lib/state.js';
import { api, enc, loadCampaigns, loadMessages, loadPanels } from '../lib/api.js';

export async function viewReports(main, _args, ctx) {
  document.title = `${t('rep.title')} · ${t('app.title')}`;
  await Promise.all([loadPanels().catch(() => {}), loadMessages().catch(() => {}), loadCampaigns().catch(() => {})]);
  if (!ctx.alive()) return;
  // Dates typed and shown as dd/mm/yyyy, like every date on the dashboard.
  const fromIn = dateInput(sessionStorage.getItem('bangtin.rep.from') || todayVN(-6));
  const toIn = dateInput(sessionStorage.getItem('bangtin.rep.to') || todayVN());
  fromIn.id = 'rep-from';
  toIn.id = 'rep-to';
  const day = (input) => input.ymd();
  const err = h('p', { class: 'field-error', role: 'alert' });
  const out = h('div');
  const range = () => ({ from: vnMidnight(day(fromIn)), to: vnMidnight(addDays(day(toIn), 1)) });
  const q = () => { const r = range(); return `from=${enc(r.from)}&to=${enc(r.to)}`; };

  const csv = async (kind, btn) => {
    btn.disabled = true;
    try {
      const res = await api(`/reports/${kind}?${q()}`, { raw: true, accept: 'text/csv' });
      const blob = await res.blob();
      const file = `bangtin-${kind}-${day(fromIn)}_${day(toIn)}.csv`;
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: file, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 5000);
      toast(t('rep.downloaded', { file }), 'ok');
    } catch (e) { fail(e); } finally { btn.disabled = false; }
  };
  const csvBtn = (kind) => {
    const b = h('button', { type: 'button', class: 'btn btn-small', onclick: () => csv(kind, b) }, icon('download'), t('rep.csv'));
    return b;
  };

  const show = async () => {
    err.textContent = '';
    const [a, b] = [day(fromIn), day(toIn)];
    if (!a || !b) { err.textContent = t('rep.badDate'); (a ? toIn : fromIn).focus(); return; }
    if (b < a) { err.textContent = t('rep.badRange'); return; }
    sessionStorage.setItem('bangtin.rep.from', a);
    sessionStorage.setItem('bangtin.rep.to', b);
    clear(out).append(h('p', { class: 'loading' }, t('loading')));
    try {
      const [summary, plays] = await Promise.all([api(`/reports/summary?${q()}`), api(`/reports/plays?${q()}`)]);
      if (!ctx.alive()) return;
      const total = summary.reduce((s, r) => s + (r.plays || 0), 0);
      const LIMIT = 500;
      const sortedPlays = [...plays].sort((a, b) => String(b.shown_at).localeCompare(String(a.shown_at)));
      clear(out).append(
        h('section', { class: 'card' },
          h('div', { class: 'card-head' }, h('h2', {}, t('rep.summary')), csvBtn('summary')),
          summary.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'summary-table' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('rep.col.campaign')), h('th', { scope: 'col' }, t('rep.col.group')), h('th', { scope: 'col', class: 'num' }, t('rep.col.plays')))),
            h('tbody', {}, summary.map((r) => h('tr', {},
              h('td', {}, r.campaign ? h('span', {}, h('span', { class: 'swatch', style: { background: campaignColor(r.campaign) } }), campaignName(r.campaign)) : t('none')),
              h('td', {}, r.group ? prettyGroup(r.group) : t('wall.ungrouped')),
              h('td', { class: 'num' }, (r.plays || 0).toLocaleString(locale()))))),
            h('tfoot', {}, h('tr', {}, h('th', { scope: 'row', colspan: '2' }, t('rep.total')), h('td', { class: 'num' }, total.toLocaleString(locale()))))))
            : emptyState(t('rep.empty'))),
        h('section', { class: 'card' },
          h('div', { class: 'card-head' }, h('h2', {}, t('rep.plays')), csvBtn('plays')),
          plays.length ? h('div', { class: 'table-wrap table-scroll' }, h('table', { class: 'table table-dense' },
            h('thead', {}, h('tr', {}, ['rep.col.time', 'rep.col.panel', 'rep.col.message', 'rep.col.campaign', 'rep.col.seq'].map((k) => h('th', { scope: 'col' }, t(k))))),
            h('tbody', {}, sortedPlays.slice(0, LIMIT).map((r) => h('tr', {},
              h('td', { class: 'nowrap' }, fmtDateTime(r.shown_at)),
              h('td', {}, panelName(r.panel)),
              h('td', {}, r.message ? messageTitle(r.message) : t('none')),
              h('td', {}, r.alert ? h('span', { class: 'badge badge-alert' }, t('tl.alert')) : r.campaign ? campaignName(r.campaign) : t('none')),
              h('td', { class: 'num mono' }, r.seq))))))
            : emptyState(t('rep.empty')),
          plays.length > LIMIT ? h('p', { class: 'muted' }, t('rep.more', { n: LIMIT, total: plays.length })) : null));
    } catch (e) { clear(out); fail(e); }
  };

  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, t('rep.title')), h('p', { class: 'lead' }, t('rep.lead')))),
    h('form', { class: 'toolbar card', onsubmit: (e) => { e.preventDefault(); show(); } },
      field(t('rep.from'), fromIn, { hint: t('date.hint') }), field(t('rep.to'), toIn, { hint: t('date.hint') }),
      h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('rep.show')))),
    err, out));
  show();
}
