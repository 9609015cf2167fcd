// The sign-in page: paste a token, checked against GET /me.

import { lang, t } from '../lib/i18n.js';
import { clear, h, logo } from '../lib/dom.js';
import { field, toastRegion } from '../lib/components.js';
import { S } from '../lib/state.js';
import { api } from '../lib/api.js';

export function renderSignIn({ enter, switchLang }) {
  document.documentElement.lang = lang;
  document.title = `${t('signin.title')} · ${t('app.title')}`;
  const app = clear(document.getElementById('app'));
  app.removeAttribute('aria-busy');
  const input = h('textarea', { id: 'token', name: 'token', rows: '3', autocomplete: 'off', spellcheck: 'false', class: 'mono', required: true });
  const err = h('p', { class: 'field-error', id: 'signin-error', role: 'alert' });
  const submit = h('button', { class: 'btn btn-primary btn-block', type: 'submit' }, t('signin.submit'));
  const form = h('form', {
    class: 'signin-card', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      const token = input.value.trim();
      if (!token) { err.textContent = t('signin.empty'); input.focus(); return; }
      submit.disabled = true;
      submit.textContent = t('signin.checking');
      S.token = token;
      try {
        S.me = await api('/me', { quiet401: true });
        sessionStorage.setItem('bangtin.token', token);
        if (!location.hash) history.replaceState(null, '', '#/wall');
        await enter();
      } catch (ex) {
        S.token = null;
        err.textContent = ex.status === 401 ? t('signin.bad') : ex.message;
        input.setAttribute('aria-invalid', 'true');
        submit.disabled = false;
        submit.textContent = t('signin.submit');
        input.focus();
      }
    },
  },
  h('div', { class: 'signin-brand' }, logo(), h('div', {}, h('div', { class: 'brand-name' }, t('app.title')), h('div', { class: 'brand-sub' }, t('app.subtitle')))),
  h('h1', {}, t('signin.title')),
  h('p', { class: 'lead' }, t('signin.lead')),
  field(t('signin.token'), input),
  err,
  submit,
  h('p', { class: 'hint' }, t('signin.note')),
  h('button', { class: 'btn btn-link', type: 'button', lang: lang === 'vi' ? 'en' : 'vi', onclick: switchLang }, t('lang.switch')));
  app.append(h('div', { class: 'signin' }, toastRegion(), form));
  input.focus();
}
