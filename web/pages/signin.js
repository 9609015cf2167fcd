// The sign-in page: a user name and password (POST /session: the server
// sets an HttpOnly cookie and answers the CSRF token), then, for a first
// password an administrator chose, the form to choose one's own. Machines
// and administrators may still paste an access token (checked against
// GET /me).

import { lang, t } from '../lib/i18n.js';
import { clear, h, logo } from '../lib/dom.js';
import { field, toastRegion } from '../lib/components.js';
import { S } from '../lib/state.js';
import { api } from '../lib/api.js';

function page(switchLang, ...content) {
  document.documentElement.lang = lang;
  document.title = `${t('signin.title')} · ${t('app.title')}`;
  const app = clear(document.getElementById('app'));
  app.removeAttribute('aria-busy');
  app.append(h('div', { class: 'signin' }, toastRegion(), h('div', { class: 'signin-card' },
    h('div', { class: 'signin-brand' }, logo(), h('div', {}, h('div', { class: 'brand-name' }, t('app.title')), h('div', { class: 'brand-sub' }, t('app.subtitle')))),
    ...content,
    h('button', { class: 'btn btn-link', type: 'button', lang: lang === 'vi' ? 'en' : 'vi', onclick: switchLang }, t('lang.switch')))));
}

async function signedIn(enter) {
  if (!location.hash) history.replaceState(null, '', '#/wall');
  await enter();
}

export function renderSignIn({ enter, switchLang, change = false, notice = '' }) {
  if (change) { renderChange({ enter, switchLang }); return; }
  const user = h('input', { id: 'username', name: 'username', type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = h('p', { class: 'field-error', id: 'signin-error', role: 'alert' });
  const submit = h('button', { class: 'btn btn-primary btn-block', type: 'submit' }, t('signin.submit'));
  const form = h('form', {
    novalidate: true, id: 'signin-password',
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      if (!user.value.trim() || !pass.value) { err.textContent = t('signin.needBoth'); (user.value.trim() ? pass : user).focus(); return; }
      submit.disabled = true;
      submit.textContent = t('signin.checking');
      try {
        const s = await api('/session', { method: 'POST', json: { username: user.value.trim(), password: pass.value }, quiet401: true });
        S.token = null;
        S.csrf = s.csrf;
        if (s.must_change_password) { renderChange({ enter, switchLang }); return; }
        S.me = await api('/me', { quiet401: true });
        await signedIn(enter);
      } catch (ex) {
        S.csrf = null;
        err.textContent = ex.status === 401 ? t('signin.badPassword') : ex.message;
        pass.setAttribute('aria-invalid', 'true');
        pass.value = '';
        submit.disabled = false;
        submit.textContent = t('signin.submit');
        pass.focus();
      }
    },
  },
  field(t('signin.username'), user),
  field(t('signin.password'), pass),
  err,
  submit);
  page(switchLang,
    h('h1', {}, t('signin.title')),
    notice ? h('p', { class: 'signin-notice', id: 'signin-notice', role: 'status' }, notice) : null,
    h('p', { class: 'lead' }, t('signin.leadPassword')),
    form,
    tokenForm(enter));
  user.focus();
}

/** Signing in with an access token, folded away: for machines' owners and administrators. */
function tokenForm(enter) {
  const input = h('textarea', { id: 'token', name: 'token', rows: '3', autocomplete: 'off', spellcheck: 'false', class: 'mono', required: true });
  const err = h('p', { class: 'field-error', role: 'alert' });
  const submit = h('button', { class: 'btn btn-block', type: 'submit' }, t('signin.withToken'));
  const form = h('form', {
    novalidate: true, id: 'signin-token',
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      const token = input.value.trim();
      if (!token) { err.textContent = t('signin.empty'); input.focus(); return; }
      submit.disabled = true;
      S.token = token;
      try {
        S.me = await api('/me', { quiet401: true });
        sessionStorage.setItem('bangtin.token', token);
        await signedIn(enter);
      } catch (ex) {
        S.token = null;
        err.textContent = ex.status === 401 ? t('signin.bad') : ex.message;
        input.setAttribute('aria-invalid', 'true');
        submit.disabled = false;
        input.focus();
      }
    },
  },
  field(t('signin.token'), input),
  err,
  submit,
  h('p', { class: 'hint' }, t('signin.note')));
  return h('details', { class: 'signin-token' }, h('summary', {}, t('signin.tokenSummary')), form);
}

/** The first password an administrator chose must be replaced. */
function renderChange({ enter, switchLang }) {
  const cur = h('input', { id: 'current-password', type: 'password', autocomplete: 'current-password', required: true });
  const pw1 = h('input', { id: 'new-password', type: 'password', autocomplete: 'new-password', required: true, minlength: '10' });
  const pw2 = h('input', { id: 'new-password-again', type: 'password', autocomplete: 'new-password', required: true });
  const err = h('p', { class: 'field-error', role: 'alert' });
  const submit = h('button', { class: 'btn btn-primary btn-block', type: 'submit' }, t('signin.changeSubmit'));
  const form = h('form', {
    novalidate: true, id: 'change-password',
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      if (pw1.value !== pw2.value) { err.textContent = t('signin.mismatch'); pw2.focus(); return; }
      submit.disabled = true;
      try {
        await api('/session/password', { method: 'PUT', json: { current: cur.value, new: pw1.value } });
        S.me = await api('/me');
        await signedIn(enter);
      } catch (ex) {
        err.textContent = ex.message;
        submit.disabled = false;
      }
    },
  },
  field(t('signin.current'), cur),
  field(t('signin.new'), pw1, { hint: t('signin.newHint') }),
  field(t('signin.again'), pw2),
  err,
  submit);
  page(switchLang, h('h1', {}, t('signin.changeTitle')), h('p', { class: 'lead' }, t('signin.changeLead')), form);
  cur.focus();
}
