// The campaign list with the timeline; `#/campaigns/{id}` opens the form.

import { t } from '../lib/i18n.js';
import { campaignColor, fmtDate, fmtDuration } from '../lib/format.js';
import { clear, h, icon } from '../lib/dom.js';
import { emptyState } from '../lib/components.js';
import { S, can, describeTargets, messageTitle } from '../lib/state.js';
import { api, enc, loadCampaigns, loadMessages, loadPanels } from '../lib/api.js';
import { viewCampaignForm } from './campaign-form.js';
import { makeTimeline } from './timeline.js';
import { phaseBadge } from './calendar.js';

function describeTiming(c) {
  if (c.cron) return t('camp.cronFor', { cron: c.cron, dur: fmtDuration(c.duration_s) });
  return t('camp.days', { start: fmtDate(c.start), end: fmtDate(c.end) });
}

export async function viewCampaigns(main, args, ctx) {
  if (args[0]) return viewCampaignForm(main, args[0], ctx);
  document.title = `${t('camp.title')} · ${t('app.title')}`;
  // Each campaign's status (upcoming, running, ended), as the calendar says.
  const [, , , cal] = await Promise.all([loadCampaigns(), loadMessages(), loadPanels(), api('/calendar').catch(() => ({ campaigns: [] }))]);
  if (!ctx.alive()) return;
  const status = new Map(cal.campaigns.map((c) => [c.id, c.status]));
  const statusCell = (id) => {
    const st = status.get(id);
    return st ? phaseBadge(st) : t('none');
  };
  const list = [...S.campaigns].sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name, 'vi'));
  const timeline = makeTimeline(() => S.panels);
  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', {}, t('camp.title')), h('p', { class: 'lead' }, t('camp.lead'))),
      can('scheduler') ? h('a', { class: 'btn btn-primary', href: '#/campaigns/new', id: 'new-campaign' }, icon('plus'), t('camp.new')) : null),
    list.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ['camp.col.name', 'cal.col.status', 'camp.col.messages', 'camp.col.targets', 'camp.col.timing', 'camp.col.priority'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, list.map((c) => h('tr', { 'data-campaign': c.id },
        h('td', {}, h('span', { class: 'swatch swatch-lg', style: { background: campaignColor(c.id) } }), h('a', { href: `#/campaigns/${enc(c.id)}`, class: 'row-title' }, c.name)),
        h('td', { 'data-status': status.get(c.id) || '' }, statusCell(c.id)),
        h('td', {}, c.messages.map((m) => messageTitle(m.id)).join(', ')),
        h('td', {}, describeTargets(c.targets)),
        h('td', {}, describeTiming(c)),
        h('td', { class: 'num' }, c.priority))))))
      : emptyState(t('camp.empty')),
    timeline.el));
  timeline.refresh();
}
