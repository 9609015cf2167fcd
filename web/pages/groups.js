// Administration: groups (districts, wards, corridors). Lists every group
// with its display name and how many panels it holds; creates one (an id
// panels name, and a name with diacritics people read); renames one in
// place; the search ignores case and diacritics ("son tra" finds
// "Sơn Trà"), as the server's `q=` does.

import { t } from '../lib/i18n.js';
import { clear, debounce, h } from '../lib/dom.js';
import { emptyState, field, toast } from '../lib/components.js';
import { api, enc } from '../lib/api.js';

/**
 * Gives group `id` the display name `name`. A group panels name but that
 * has no name of its own yet is not there to rename (404): it gets one.
 */
async function rename(id, name) {
  try {
    await api(`/groups/${enc(id)}`, { method: 'PATCH', json: { name } });
  } catch (e) {
    if (e.status !== 404) throw e;
    await api('/groups', { method: 'POST', json: { id, name } });
  }
}

export async function adminGroups(box, ctx) {
  const id = h('input', { type: 'text', required: true, class: 'mono', autocomplete: 'off', pattern: '[a-z0-9][a-z0-9-]{0,63}', placeholder: 'son-tra', name: 'group-id' });
  const name = h('input', { type: 'text', required: true, autocomplete: 'off', placeholder: 'Sơn Trà', name: 'group-name' });
  const err = h('p', { class: 'field-error', role: 'alert' });
  const search = h('input', { type: 'search', autocomplete: 'off', placeholder: t('grp.searchHint'), 'aria-label': t('grp.search'), name: 'group-search' });
  const listBox = h('div', { 'data-testid': 'group-list' });
  const count = h('span', { class: 'muted' });

  const load = async () => {
    const q = search.value.trim();
    const items = await api(q ? `/groups?q=${enc(q)}` : '/groups');
    if (!ctx.alive()) return;
    count.textContent = t('grp.count', { n: items.length });
    renderList(items, q);
  };

  const row = (g) => {
    const nameCell = h('td', {}, h('strong', {}, g.name));
    const edit = h('button', {
      type: 'button', class: 'btn btn-small btn-ghost', 'data-action': 'rename',
      onclick: () => {
        const input = h('input', { type: 'text', value: g.name, 'aria-label': t('grp.newName', { id: g.id }), name: 'rename' });
        const problem = h('p', { class: 'field-error', role: 'alert' });
        const save = async (e) => {
          e.preventDefault();
          problem.textContent = '';
          try {
            await rename(g.id, input.value.trim());
            toast(t('grp.renamed', { name: input.value.trim() }), 'ok');
            await load();
          } catch (ex) { problem.textContent = ex.message; }
        };
        clear(nameCell).append(h('form', { class: 'inline-edit', onsubmit: save },
          input,
          h('button', { type: 'submit', class: 'btn btn-small btn-primary' }, t('grp.save')),
          h('button', { type: 'button', class: 'btn btn-small btn-ghost', onclick: () => load() }, t('grp.cancel')),
          problem));
        input.focus();
      },
    }, t('grp.rename'));
    return h('tr', { 'data-group': g.id },
      nameCell,
      h('td', {}, h('code', { class: 'muted' }, g.id)),
      h('td', { class: 'num' }, String(g.panels)),
      h('td', { class: 'actions-cell' }, edit));
  };

  const renderList = (items, q) => {
    clear(listBox).append(items.length
      ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, t('grp.name')),
          h('th', { scope: 'col' }, t('grp.id')),
          h('th', { scope: 'col', class: 'num' }, t('grp.panels')),
          h('th', { scope: 'col' }, t('msg.col.actions')))),
        h('tbody', {}, items.map(row))))
      : emptyState(q ? t('grp.noMatch', { q }) : t('grp.empty')));
  };

  const form = h('form', {
    class: 'card', novalidate: true, id: 'new-group',
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      if (!id.value.trim() || !name.value.trim()) { err.textContent = t('grp.needBoth'); return; }
      try {
        await api('/groups', { method: 'POST', json: { id: id.value.trim(), name: name.value.trim() } });
        toast(t('grp.created', { name: name.value.trim() }), 'ok');
        id.value = ''; name.value = '';
        await load();
      } catch (ex) { err.textContent = ex.message; }
    },
  },
  h('h2', {}, t('grp.create')),
  field(t('grp.name'), name, { hint: t('grp.nameHint') }),
  field(t('grp.id'), id, { hint: t('grp.idHint') }),
  err,
  h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('grp.create'))));

  search.addEventListener('input', debounce(() => { load().catch(() => {}); }, 200));
  await load();
  if (!ctx.alive()) return;
  clear(box).append(h('div', { class: 'two-col', 'data-page': 'groups' },
    h('div', {}, form),
    h('section', { class: 'card' },
      h('div', { class: 'card-head' }, h('h2', {}, t('adm.groups')), count),
      field(t('grp.search'), search),
      listBox)));
}
