// Administration: staff accounts. Create one with a first password the
// person must change, reset a password, sign someone out everywhere,
// remove an account.

import { t } from '../lib/i18n.js';
import { clear, h } from '../lib/dom.js';
import { confirmDialog, emptyState, fail, field, toast } from '../lib/components.js';
import { S } from '../lib/state.js';
import { api, enc } from '../lib/api.js';
import { prettyGroup } from '../lib/format.js';

const ROLES = ['editor', 'approver', 'scheduler', 'operator', 'admin'];

export async function adminUsers(box, ctx) {
  const list = await api('/users');
  if (!ctx.alive()) return;
  const username = h('input', { type: 'text', required: true, class: 'mono', autocomplete: 'off', pattern: '[a-z0-9][a-z0-9-]{0,63}' });
  const display = h('input', { type: 'text', required: true, autocomplete: 'off' });
  const password = h('input', { type: 'text', required: true, autocomplete: 'off', minlength: '10' });
  const scope = h('input', { type: 'text', autocomplete: 'off', class: 'mono', placeholder: 'vinh, cua-lo' });
  const roles = new Set(['editor']);
  const roleBox = h('div', { class: 'check-row' }, ROLES.map((r) => {
    const cb = h('input', { type: 'checkbox', value: r, checked: roles.has(r) });
    cb.addEventListener('change', () => { if (cb.checked) roles.add(r); else roles.delete(r); });
    return h('label', { class: 'check' }, cb, h('span', {}, t(`role.${r}`)));
  }));
  const err = h('p', { class: 'field-error', role: 'alert' });
  const form = h('form', {
    class: 'card', novalidate: true, id: 'new-user',
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      if (!roles.size) { err.textContent = t('tok.needRole'); return; }
      const groups = scope.value.split(',').map((x) => x.trim()).filter(Boolean);
      try {
        await api('/users', { method: 'POST', json: { username: username.value.trim(), display_name: display.value.trim(), roles: ROLES.filter((x) => roles.has(x)), scope: groups.length ? groups : null, password: password.value } });
        toast(t('usr.created', { name: display.value.trim() }), 'ok');
        username.value = ''; display.value = ''; password.value = ''; scope.value = '';
        renderList(await api('/users'));
      } catch (ex) { err.textContent = ex.message; }
    },
  },
  h('h2', {}, t('usr.create')),
  field(t('usr.display'), display, { hint: t('usr.displayHint') }),
  field(t('usr.username'), username, { hint: t('tok.nameHint') }),
  field(t('usr.first'), password, { hint: t('usr.firstHint') }),
  h('fieldset', { class: 'plain' }, h('legend', {}, t('tok.roles')), roleBox),
  field(t('usr.scope'), scope, { hint: t('usr.scopeHint') }),
  err,
  h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('usr.create'))));
  const listBox = h('div');
  const act = (label, cls, fn) => h('button', { type: 'button', class: `btn btn-small ${cls}`, onclick: fn }, label);
  const renderList = (items) => {
    clear(listBox).append(items.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('usr.display')), h('th', { scope: 'col' }, t('tok.roles')), h('th', { scope: 'col' }, t('usr.scope')), h('th', { scope: 'col' }, t('msg.col.actions')))),
      h('tbody', {}, items.map((x) => h('tr', {},
        h('td', {}, h('div', {}, x.display_name), h('code', { class: 'muted' }, x.username), x.must_change_password ? h('span', { class: 'chip' }, t('usr.mustChange')) : null),
        h('td', {}, x.roles.map((r) => h('span', { class: 'chip' }, t(`role.${r}`)))),
        h('td', {}, x.scope ? x.scope.map((g) => h('span', { class: 'chip' }, prettyGroup(g))) : t('usr.province')),
        h('td', { class: 'actions-cell' },
          act(t('usr.reset'), 'btn-ghost', async () => {
            const pw = window.prompt(t('usr.resetPrompt', { name: x.display_name }));
            if (!pw) return;
            try { await api(`/users/${enc(x.username)}/password`, { method: 'POST', json: { password: pw } }); toast(t('usr.resetDone', { name: x.display_name }), 'ok'); renderList(await api('/users')); } catch (e) { fail(e); }
          }),
          act(t('signout.everywhere'), 'btn-ghost', async () => {
            try { await api(`/users/${enc(x.username)}/sessions`, { method: 'DELETE' }); toast(t('usr.signedOut', { name: x.display_name }), 'ok'); } catch (e) { fail(e); }
          }),
          x.username === S.me.name ? null : act(t('usr.delete'), 'btn-danger-ghost', async () => {
            if (!await confirmDialog({ title: t('usr.delete'), body: t('usr.deleteConfirm', { name: x.display_name }), ok: t('usr.delete'), danger: true })) return;
            try { await api(`/users/${enc(x.username)}`, { method: 'DELETE' }); renderList(await api('/users')); } catch (e) { fail(e); }
          })))))))
      : emptyState(t('usr.empty')));
  };
  renderList(list);
  clear(box).append(h('div', { class: 'two-col' }, h('div', {}, form), h('section', { class: 'card' }, h('h2', {}, t('adm.users')), listBox)));
}
