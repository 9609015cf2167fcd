// Administration: users and their access tokens (shown once), with an
// expiry and the groups their roles hold for; the list says when each
// expires and was last used; revocation.

import { t } from '../lib/i18n.js';
import { clear, h, icon } from '../lib/dom.js';
import { confirmDialog, emptyState, fail, field, toast } from '../lib/components.js';
import { S, allGroups } from '../lib/state.js';
import { api, enc } from '../lib/api.js';
import { fmtDateTime, prettyGroup, todayVN, vnMidnight } from '../lib/format.js';

const ROLES = ['editor', 'approver', 'scheduler', 'operator', 'admin'];

/** Checkboxes for the known groups (`chosen` is kept in step); none = the whole province. */
function groupPicker(chosen) {
  const groups = allGroups();
  if (!groups.length) return h('p', { class: 'muted' }, t('tok.noGroups'));
  return h('div', { class: 'check-row', id: 'token-scope' }, groups.map((g) => {
    const cb = h('input', { type: 'checkbox', value: g, name: 'scope' });
    cb.addEventListener('change', () => { if (cb.checked) chosen.add(g); else chosen.delete(g); });
    return h('label', { class: 'check' }, cb, h('span', {}, prettyGroup(g)));
  }));
}

/** A token's expiry as the list shows it: the time, or that it never or already expired. */
function expiry(x) {
  if (!x.expires_at) return t('tok.never');
  const when = fmtDateTime(x.expires_at);
  return new Date(x.expires_at) <= new Date() ? t('tok.expired', { when }) : when;
}

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
  const expires = h('input', { type: 'date', id: 'token-expires', name: 'expires', min: todayVN(1) });
  const scope = new Set();
  const err = h('p', { class: 'field-error', role: 'alert' });
  const reveal = h('div');
  const form = h('form', {
    class: 'card', id: 'token-form', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      if (!roles.size) { err.textContent = t('tok.needRole'); return; }
      try {
        const body = { name: name.value.trim(), roles: ROLES.filter((x) => roles.has(x)) };
        // Refused from the start of that day, Vietnamese time.
        if (expires.value) body.expires_at = new Date(vnMidnight(expires.value)).toISOString();
        if (scope.size) body.scope = [...scope];
        const r = await api('/tokens', { method: 'POST', json: body });
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
        expires.value = '';
        const fresh = await api('/tokens');
        renderList(fresh);
      } catch (ex) { err.textContent = ex.message; }
    },
  },
  h('h2', {}, t('tok.create')),
  h('div', { class: 'inline-fields' }, field(t('tok.name'), name, { hint: t('tok.nameHint') }),
    h('fieldset', { class: 'plain' }, h('legend', {}, t('tok.roles')), roleBox)),
  h('div', { class: 'inline-fields' }, field(t('tok.expires'), expires, { hint: t('tok.expiresHint') }),
    h('fieldset', { class: 'plain' }, h('legend', {}, t('usr.scope')), h('p', { class: 'hint' }, t('tok.scopeHint')), groupPicker(scope))),
  err,
  h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, t('tok.create'))));
  const listBox = h('div');
  const renderList = (items) => {
    clear(listBox).append(items.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table tokens-table' },
      h('thead', {}, h('tr', {}, [t('tok.name'), t('tok.roles'), t('usr.scope'), t('tok.expiresCol'), t('tok.lastUsed'), t('msg.col.actions')].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, items.map((x) => h('tr', { 'data-token': x.name },
        h('td', {}, h('code', {}, x.name), x.name === S.me.name ? h('span', { class: 'muted' }, ` (${t('tok.you')})`) : null),
        h('td', {}, x.roles.map((r) => h('span', { class: 'chip' }, t(`role.${r}`)))),
        h('td', { 'data-col': 'scope' }, x.scope ? x.scope.map((g) => h('span', { class: 'chip' }, prettyGroup(g))) : t('usr.province')),
        h('td', { 'data-col': 'expires' }, expiry(x)),
        h('td', { 'data-col': 'last-used' }, x.last_used_at ? fmtDateTime(x.last_used_at) : t('tok.unused')),
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
  // The list takes the whole width: its six columns do not fit beside the form.
  clear(box).append(h('div', { class: 'tokens-page' }, form, reveal, h('section', { class: 'card', id: 'token-list' }, h('h2', {}, t('adm.tokens')), listBox)));
}
