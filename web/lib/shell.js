// The frame around the pages (header, navigation, language switch), signing
// out, and start-up: a token kept in this tab signs in again on reload.

import { lang, t, toggleLang } from './i18n.js';
import { clear, h, icon, logo } from './dom.js';
import { toast } from './components.js';
import { S } from './state.js';
import { api, loadCampaigns, loadMessages, loadPanels, whenSessionEnds } from './api.js';
import { setLive, startEvents, stopEvents } from './events.js';
import { route, routeAfresh, runCleanups, setRoutes, visibleRoutes } from './router.js';
import { renderSignIn } from '../pages/signin.js';

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
        h('div', { class: 'who' }, h('span', { class: 'who-name', 'data-testid': 'me' }, S.me.name), h('span', { class: 'who-roles' }, roles)),
        h('button', { class: 'btn btn-ghost btn-small', type: 'button', lang: lang === 'vi' ? 'en' : 'vi', 'aria-label': t('lang.switchLabel'), onclick: switchLang }, t('lang.switch')),
        h('button', { class: 'btn btn-ghost btn-small', type: 'button', id: 'signout', onclick: () => signOut(t('signedOut'), 'info') }, icon('signout'), h('span', {}, t('signout'))))),
    h('nav', { class: 'nav', 'aria-label': t('nav.label') },
      h('ul', {}, visibleRoutes().map((r) =>
        h('li', {}, h('a', { href: `#/${r.path}`, 'data-route': r.path, class: r.path === 'alerts' ? 'nav-alert' : '' }, icon(r.icon), h('span', {}, t(r.label))))))),
    h('main', { id: 'main', class: 'main', tabindex: '-1' }));
  setLive(S.live === 'off' ? 'connecting' : S.live);
}

function switchLang() {
  toggleLang();
  if (S.me) { renderShell(); route(true); } else signIn();
}

function signOut(message, kind = 'error') {
  const wasIn = !!S.token;
  S.token = null;
  S.me = null;
  S.dirty = false;
  sessionStorage.removeItem('bangtin.token');
  stopEvents();
  runCleanups();
  for (const f of Object.values(S.frames)) if (f.url) URL.revokeObjectURL(f.url);
  S.frames = {};
  S.now = {};
  signIn();
  if (wasIn && message) toast(message, kind);
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
  }
  if (S.me) await enter();
  else signIn();
}

async function enter() {
  renderShell();
  // Names for messages and campaigns are needed on several pages.
  await Promise.allSettled([loadPanels(), loadMessages(), loadCampaigns()]);
  startEvents();
  routeAfresh();
}

function signIn() { renderSignIn({ enter, switchLang }); }
