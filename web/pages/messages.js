// The message list, filtered by status; `#/messages/{id}` opens the composer.

import { t } from '../lib/i18n.js';
import { fmtDateTime, matches, snippet } from '../lib/format.js';
import { clear, debounce, h, icon } from '../lib/dom.js';
import { emptyState, field, statusBadge } from '../lib/components.js';
import { S, can } from '../lib/state.js';
import { enc, loadMessages } from '../lib/api.js';
import { approveButton } from './approval.js';
import { viewCompose } from './compose.js';

export async function viewMessages(main, args, ctx) {
  if (args[0]) return viewCompose(main, args[0], ctx);
  document.title = `${t('msg.title')} · ${t('app.title')}`;
  await loadMessages();
  if (!ctx.alive()) return;
  let filter = sessionStorage.getItem('bangtin.msg.filter') || '';
  const search = h('input', { type: 'search', placeholder: t('msg.search'), autocomplete: 'off' });
  const body = h('div');
  const tabs = h('div', { class: 'segmented', role: 'group', 'aria-label': t('msg.col.status') });
  const renderTabs = () => {
    clear(tabs);
    for (const [v, label] of [['', t('msg.all')], ['draft', t('status.draft')], ['approved', t('status.approved')]]) {
      const n = v ? S.messages.filter((m) => m.status === v).length : S.messages.length;
      tabs.append(h('button', { type: 'button', class: 'seg', 'aria-pressed': String(filter === v), onclick: () => { filter = v; sessionStorage.setItem('bangtin.msg.filter', v); renderTabs(); render(); } },
        label, h('span', { class: 'seg-count' }, n)));
    }
  };
  const render = () => {
    const q = search.value.trim();
    const list = S.messages
      .filter((m) => (!filter || m.status === filter) && (!q || matches(m.title, q) || matches(m.text || '', q)))
      .sort((a, b) => String(b.updated_at).localeCompare(String(a.updated_at)));
    clear(body);
    if (!S.messages.length) { body.append(emptyState(t('msg.empty'))); return; }
    if (!list.length) { body.append(emptyState(t('msg.noMatch'))); return; }
    body.append(h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ['msg.col.title', 'msg.col.status', 'msg.col.editor', 'msg.col.approver', 'msg.col.updated', 'msg.col.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, list.map((m) => messageRow(m, () => { renderTabs(); render(); }))))));
  };
  search.addEventListener('input', debounce(render, 150));
  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', {}, t('msg.title')), h('p', { class: 'lead' }, t('msg.lead'))),
      can('editor') ? h('a', { class: 'btn btn-primary', href: '#/messages/new', id: 'new-message' }, icon('plus'), t('msg.new')) : null),
    h('div', { class: 'toolbar' }, tabs, field(t('msg.search'), search, { cls: 'grow label-hidden' })),
    body));
  renderTabs();
  render();
}

function messageRow(m, refresh) {
  return h('tr', { 'data-message': m.id },
    h('td', {}, h('a', { href: `#/messages/${enc(m.id)}`, class: 'row-title' }, m.title),
      h('div', { class: 'row-sub' }, h('span', { class: 'snippet' }, snippet(m.text, 90)), m.image ? h('span', { class: 'chip' }, icon('image'), t('msg.image')) : null)),
    h('td', {}, statusBadge(m.status), m.rejection ? h('span', { class: 'badge badge-warn', title: m.rejection.comment }, t('status.rejected')) : null),
    h('td', {}, m.updated_by || t('none')),
    h('td', {}, m.approved_by || t('none')),
    h('td', { class: 'nowrap' }, fmtDateTime(m.updated_at)),
    h('td', { class: 'actions-cell' },
      can('approver') && m.status === 'draft' ? approveButton(m, refresh) : null,
      h('a', { class: 'btn btn-small', href: `#/messages/${enc(m.id)}` }, can('editor') ? t('btn.edit') : t('btn.open'))));
}
