// Administration: the audit trail, filtered as you type.

import { t } from '../lib/i18n.js';
import { fmtDateTime, matches } from '../lib/format.js';
import { append, clear, debounce, h } from '../lib/dom.js';
import { emptyState, field } from '../lib/components.js';
import { api } from '../lib/api.js';

export async function adminAudit(box, ctx) {
  const rows = await api('/audit?limit=200');
  if (!ctx.alive()) return;
  const filter = h('input', { type: 'search', autocomplete: 'off' });
  const tbody = h('tbody');
  const render = () => {
    const q = filter.value.trim();
    // `append` (not Element.append) takes a list: rows, not "[object …]".
    const shown = rows.filter((r) => !q || matches(JSON.stringify(r), q));
    append(clear(tbody), shown.length ? shown.map((r) => h('tr', { 'data-audit': r.id ?? '' },
      h('td', { class: 'nowrap' }, fmtDateTime(r.at)),
      h('td', {}, r.who),
      h('td', {}, h('span', { class: 'chip' }, r.action)),
      h('td', {}, r.kind),
      h('td', {}, h('code', {}, r.id ?? '')),
      h('td', { class: 'detail' }, typeof r.detail === 'string' ? r.detail : r.detail == null ? '' : JSON.stringify(r.detail))))
      : [h('tr', {}, h('td', { colspan: '6', class: 'muted' }, t('aud.noMatch')))]);
  };
  filter.addEventListener('input', debounce(render, 150));
  clear(box).append(
    h('div', { class: 'toolbar' }, field(t('aud.filter'), filter, { cls: 'grow' })),
    rows.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table table-dense' },
      h('thead', {}, h('tr', {}, ['aud.at', 'aud.who', 'aud.action', 'aud.kind', 'aud.id', 'aud.detail'].map((k) => h('th', { scope: 'col' }, t(k))))),
      tbody)) : emptyState(t('aud.empty')));
  render();
}
