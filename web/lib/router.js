// Hash routing: `#/name/arg…` picks a route from the table `app.js` hands to
// `setRoutes`, runs the previous page's clean-ups, guards unsaved changes
// and renders the page into <main>.

import { t } from './i18n.js';
import { clear, h, icon } from './dom.js';
import { clearPageToasts, fail } from './components.js';
import { S } from './state.js';

let routes = [];
let cleanups = [];
let routeGen = 0;
let lastHash = '';

/** The route table: `{path, label, icon, show, view}` in navigation order. */
export function setRoutes(table) { routes = table; }

/** The routes the signed-in person may open, for the navigation. */
export function visibleRoutes() { return routes.filter((r) => r.show()); }

export function onCleanup(fn) { cleanups.push(fn); }

export function runCleanups() {
  keeper = null;
  for (const fn of cleanups.splice(0)) { try { fn(); } catch { /* ignore */ } }
}

// A page with a form in progress says how to keep it (`keepOnRedraw`);
// redrawing the page in place (the language switch) hands it back through
// `keptState`, so nothing typed is lost.
let keeper = null;
let kept = null;

export function keepOnRedraw(fn) { keeper = fn; }

/** What the page kept before it was redrawn in place, once; null otherwise. */
export function keptState() {
  const k = kept;
  kept = null;
  return k && k.hash === location.hash ? k.data : null;
}

/** Draws the open page again (e.g. in another language), keeping its unsaved form. */
export function redraw() {
  kept = keeper ? { hash: location.hash, data: keeper() } : null;
  routeAfresh();
}

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || 'wall', args: parts.slice(1) };
}

export function go(hash) {
  if (location.hash === hash) route(true);
  else location.hash = hash;
}

export async function route(force = false) {
  if (!S.me) return;
  if (!force && location.hash === lastHash) return;
  if (S.dirty && lastHash && location.hash !== lastHash) {
    if (!window.confirm(t('leave.confirm'))) {
      history.replaceState(null, '', lastHash);
      return;
    }
  }
  S.dirty = false;
  if (lastHash && lastHash !== location.hash) clearPageToasts();
  lastHash = location.hash;
  runCleanups();
  const { name, args } = parseHash();
  let r = routes.find((x) => x.path === name);
  const denied = r && !r.show() ? r : null;
  if (!r || denied) r = denied ? null : routes[0];
  // A link followed: the phone's menu folds up again.
  const nav = document.querySelector('.nav');
  if (nav) { nav.classList.remove('open'); nav.querySelector('.nav-toggle')?.setAttribute('aria-expanded', 'false'); }
  for (const a of document.querySelectorAll('.nav a')) {
    if (r && a.dataset.route === r.path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = document.getElementById('main');
  const gen = ++routeGen;
  if (denied) {
    noAccess(main, denied);
    document.getElementById('app').removeAttribute('aria-busy');
    return;
  }
  clear(main).append(h('p', { class: 'loading' }, t('loading')));
  const ctx = { alive: () => gen === routeGen, main };
  try {
    await r.view(main, args, ctx);
  } catch (e) {
    if (gen !== routeGen) return;
    fail(e);
    if (!main.querySelector('.page')) {
      clear(main).append(h('div', { class: 'page' }, h('p', { class: 'error-box' }, e.message || t('err.load')),
        h('button', { class: 'btn', type: 'button', onclick: () => route(true) }, t('retry'))));
    }
  }
  document.getElementById('app').removeAttribute('aria-busy');
}

/** A page the person's roles do not open: say so, and which role it needs. */
function noAccess(main, r) {
  document.title = `${t('noAccess.title')} · ${t('app.title')}`;
  clear(main).append(h('div', { class: 'page', 'data-page': 'no-access' },
    h('div', { class: 'page-head' }, h('h1', {}, t('noAccess.title'))),
    h('div', { class: 'card no-access' },
      h('p', { class: 'confirm-big' }, icon('lock'), t('noAccess.body', { page: t(r.label), role: t(`role.${r.need}`) })),
      h('p', {}, t('noAccess.ask', { name: S.me.name, role: t(`role.${r.need}`) })),
      h('a', { class: 'btn btn-primary', href: `#/${routes[0].path}` }, t('noAccess.back', { page: t(routes[0].label) })))));
}

/** Renders the page for the current hash as if it had just been opened. */
export function routeAfresh() {
  lastHash = '';
  route(true);
}
