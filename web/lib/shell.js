// The frame around the pages (header, navigation, language switch), signing
// out, and start-up: a token kept in this tab signs in again on reload.

import { lang, t, toggleLang } from './i18n.js';
import { clear, h, icon, logo } from './dom.js';
import { toast, toastRegion } from './components.js';
import { S, forgetAll } from './state.js';
import { api, loadCampaigns, loadMessages, loadPanels, whenSessionEnds } from './api.js';
import { setLive, startEvents, stopEvents } from './events.js';
import { redraw, route, routeAfresh, runCleanups, setRoutes, visibleRoutes } from './router.js';
import { renderSignIn } from '../pages/signin.js';
import { notifyButton, stopNotifications } from './notify.js';

function renderShell() {
  const app = clear(document.getElementById('app'));
  document.documentElement.lang = lang;
  document.title = t('app.title');
  // An admin may do everything; listing every role would only add noise.
  const roles = S.me.roles.includes('admin') ? t('role.admin') : S.me.roles.map((r) => t(`role.${r}`)).join(' · ');
  app.append(
    h('a', { class: 'skip', href: '#main', onclick: (e) => { e.preventDefault(); document.getElementById('main').focus(); } }, t('skip')),
    h('header', { class: 'topbar' },
      h('div', { class: 'brand' }, logo(), h('div', {}, h('div', { class: 'brand-name' }, t('app.title')), h('div', { class: 'brand-sub' }, t('app.subtitle')))),
      h('div', { class: 'topbar-right' },
        h('span', { id: 'live', class: `live live-${S.live}`, role: 'status' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), h('span', { class: 'live-text' }, '')),
        notifyButton(),
        h('div', { class: 'who' }, h('span', { class: 'who-name', 'data-testid': 'me' }, S.me.display_name || S.me.name), h('span', { class: 'who-roles' }, roles)),
        h('button', { class: 'btn btn-ghost btn-small', type: 'button', lang: lang === 'vi' ? 'en' : 'vi', 'aria-label': t('lang.switchLabel'), onclick: switchLang }, t('lang.switch')),
        h('button', { class: 'btn btn-ghost btn-small', type: 'button', id: 'signout', onclick: () => signOut(t('signedOut'), 'info') }, icon('signout'), h('span', {}, t('signout'))))),
    // On a phone one row: the emergency alerts, the page open now and a
    // menu button that unfolds the other links (never sideways scrolling).
    h('nav', { class: 'nav', 'aria-label': t('nav.label') },
      h('button', {
        type: 'button', class: 'btn btn-ghost btn-small nav-toggle', 'aria-expanded': 'false', 'aria-controls': 'nav-list',
        onclick: (e) => {
          const nav = e.currentTarget.closest('.nav');
          const open = nav.classList.toggle('open');
          e.currentTarget.setAttribute('aria-expanded', String(open));
        },
      }, icon('menu'), h('span', {}, t('nav.menu'))),
      h('ul', { id: 'nav-list' }, visibleRoutes().map((r) =>
        h('li', { class: r.path === 'alerts' ? 'nav-key' : '' }, h('a', { href: `#/${r.path}`, 'data-route': r.path, class: r.path === 'alerts' ? 'nav-alert' : '' }, icon(r.icon), h('span', {}, t(r.label))))))),
    h('div', { id: 'alarm-banner', class: 'alarm-banner', role: 'alert', hidden: true }),
    toastRegion(),
    h('main', { id: 'main', class: 'main', tabindex: '-1' }));
  setLive(S.live === 'off' ? 'connecting' : S.live);
}

/** Redraws everything in the other language; an unsaved form stays as it was. */
function switchLang() {
  toggleLang();
  if (S.me) { renderShell(); redraw(); } else signIn();
}

/** Said on the sign-in page until the next sign-in (why the session ended). */
let notice = '';

function signOut(message, kind = 'error', onSignInPage = false) {
  const wasIn = !!(S.token || S.csrf);
  // A password session ends on the server too (the cookie is cleared).
  if (S.csrf) api('/session', { method: 'DELETE', quiet401: true }).catch(() => {});
  sessionStorage.removeItem('bangtin.token');
  stopEvents();
  stopNotifications();
  runCleanups();
  // Nothing the previous person loaded stays in memory.
  forgetAll();
  if (onSignInPage) notice = message;
  signIn();
  if (wasIn && message && !onSignInPage) toast(message, kind);
}

export async function boot(table) {
  setRoutes(table);
  whenSessionEnds(signOut);
  window.addEventListener('hashchange', () => route());
  window.addEventListener('beforeunload', (e) => { if (S.dirty) { e.preventDefault(); e.returnValue = ''; } });
  if (S.token) {
    try {
      S.me = await api('/me', { quiet401: true });
    } catch (e) {
      S.token = null;
      sessionStorage.removeItem('bangtin.token');
    }
  } else {
    // Signed in with a password before this reload: the cookie is still
    // there; the session tells its CSRF token.
    try {
      const s = await api('/session', { quiet401: true });
      S.csrf = s.csrf;
      S.me = await api('/me', { quiet401: true });
      if (S.me.must_change_password) { S.me = null; renderSignIn({ enter, switchLang, change: true }); return; }
    } catch (e) {
      S.csrf = null;
      S.me = null;
      if (e.code === 'session_idle') notice = t('err.sessionIdle');
    }
  }
  if (S.me) await enter();
  else signIn();
}

async function enter() {
  notice = '';
  renderShell();
  // Names for messages and campaigns are needed on several pages.
  await Promise.allSettled([loadPanels(), loadMessages(), loadCampaigns(), loadSettings()]);
  startEvents();
  routeAfresh();
}

function signIn() { renderSignIn({ enter, switchLang, notice }); }

/** Whether the server lets a message's last editor approve it (`GET /me` says). */
async function loadSettings() {
  S.selfApproval = S.me?.allow_self_approval === true;
}
