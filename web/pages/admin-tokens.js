// Administration: users and their access tokens (shown once), revocation.

import { t } from '../lib/i18n.js';
import { clear, h, icon } from '../lib/dom.js';
import { confirmDialog, emptyState, fail, field, toast } from '../lib/components.js';
import { S } from '../lib/state.js';
import { api, enc } from '../lib/api.js';

const ROLES = ['editor', 'approver', 'scheduler', 'operator', 'admin'];

export async function adminTokens(box, ctx) {
  const list = await api('/tokens');
  if (!ctx.alive()) return;
  const name = h('input', { type: 'text', required: true, class: 'mono', autocomplete: 'off', pattern: '[a-z0-9][a-z0-9-]{0,63}' });
  const roles = new Set(['editor']);
  const roleBox = h('div', { class: 'check-row' }, ROLES.map((r) => {
    const cb = h('input', { type: 'checkbox', value: r, checked: roles.has(r) });
    cb.addEventListener('change', () => { if (cb.checked) roles.add(r); else roles.delete(r); });
    return h('label', { class: 'check' }, cb, h('span', {}, t(`role.${r}`)));
  }));
  const err = h('p', { class: 'field-error', role: 'alert' });
  const reveal = h('div');
  const form = h('form', {
    class: 'card', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      if (!roles.size) { err.textContent = t('tok.needRole'); return; }
      try {
        const r = await api('/tokens', { method: 'POST', json: { name: name.value.trim(), roles: ROLES.filter((x) => roles.has(x)) } });
        const code = h('input', { type: 'text', readOnly: true, value: r.token, class: 'mono token-value', 'aria-label': t('signin.token') });
        clear(reveal).append(h('div', { class: 'token-reveal', role: 'alert' },
          h('h3', {}, t('tok.newTitle', { name: r.name })),
          h('p', { class: 'notice' }, icon('warn'), t('tok.once')),
          h('div', { class: 'copy-row' }, code,
            h('button', {
              type: 'button', class: 'btn btn-primary',
              onclick: async () => {
                code.select();
                try { await navigator.clipboard.writeText(r.token); } catch { document.execCommand('copy'); }
                toast(t('tok.copied'), 'ok');
              },
            }, icon('copy'), t('tok.copy')))));
        code.select();
        name.value = '';
        const fresh = await api('/tokens');
        renderList(fresh);
      } catch (ex) { err.textContent = ex.message; }
    },
  },
  h('h2', {}, t('tok.create')),
  h('div', { class: 'inline-fields' }, field(t('tok.name'), name, { hint: t('tok.nameHint') }),
    h('fieldset', { class: 'plain' }, h('legend', {}, t('tok.roles')), roleBox)),
  err,
  h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('tok.create'))));
  const listBox = h('div');
  const renderList = (items) => {
    clear(listBox).append(items.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('tok.name')), h('th', { scope: 'col' }, t('tok.roles')), h('th', { scope: 'col' }, t('msg.col.actions')))),
      h('tbody', {}, items.map((x) => h('tr', {},
        h('td', {}, h('code', {}, x.name), x.name === S.me.name ? h('span', { class: 'muted' }, ` (${t('tok.you')})`) : null),
        h('td', {}, x.roles.map((r) => h('span', { class: 'chip' }, t(`role.${r}`)))),
        h('td', { class: 'actions-cell' }, h('button', {
          type: 'button', class: 'btn btn-small btn-danger-ghost',
          onclick: async () => {
            if (!await confirmDialog({ title: t('tok.revokeTitle'), body: t('tok.revokeConfirm', { name: x.name }), ok: t('tok.revoke'), danger: true })) return;
            try { await api(`/tokens/${enc(x.name)}`, { method: 'DELETE' }); toast(t('tok.revoked', { name: x.name }), 'ok'); renderList(await api('/tokens')); } catch (e) { fail(e); }
          },
        }, t('tok.revoke'))))))))
      : emptyState(t('tok.empty')));
  };
  renderList(list);
  clear(box).append(h('div', { class: 'two-col' }, h('div', {}, form, reveal), h('section', { class: 'card' }, h('h2', {}, t('adm.tokens')), listBox)));
}
