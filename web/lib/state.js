// What the dashboard knows: the token, who is signed in, the panels,
// messages, campaigns and alerts last loaded, and each panel's "now" and
// frame. Also the names and target descriptions the pages show.

import { t } from './i18n.js';
import { prettyGroup } from './format.js';

export const S = {
  token: sessionStorage.getItem('bangtin.token'),
  csrf: null,         // signed in with a password: the session's CSRF token (the cookie is HttpOnly)
  me: null,
  panels: [],
  messages: [],
  campaigns: [],
  alerts: [],
  now: {},            // panel id → `now` object (merged with live events), with `acked_seq`/`acked_at`
  frames: {},         // panel id → {seq, url, missing, done, prevUrl}
  selfApproval: false, // the server lets a last editor approve (GET /me)
  live: 'off',
  dirty: false,
};

/** Forgets everything the previous person loaded (sign-out). */
export function forgetAll() {
  for (const f of Object.values(S.frames)) {
    if (f.url) URL.revokeObjectURL(f.url);
    if (f.prevUrl) URL.revokeObjectURL(f.prevUrl);
  }
  Object.assign(S, { token: null, csrf: null, me: null, panels: [], messages: [], campaigns: [], alerts: [], now: {}, frames: {}, selfApproval: false, dirty: false });
}

/** Whether someone is signed in, with a token or a password. */
export function signedIn() { return !!(S.token || S.csrf); }

export function can(role) {
  const r = S.me?.roles || [];
  return r.includes('admin') || r.includes(role);
}

function uniq(xs) { return [...new Set(xs)]; }

/** The groups of the panels loaded; for someone whose roles hold for some
 * districts only (`scope`), only those: the server refuses the rest. */
export function allGroups() {
  const scope = S.me?.scope;
  return uniq(S.panels.flatMap((p) => p.groups || []))
    .filter((g) => !scope || scope.includes(g))
    .sort((a, b) => prettyGroup(a).localeCompare(prettyGroup(b), 'vi'));
}

/** Whether the signed-in person may aim at "all panels" (province-wide). */
export function provinceWide() { return !S.me?.scope; }

export function messageTitle(id) { return S.messages.find((m) => m.id === id)?.title || id; }
export function campaignName(id) { return S.campaigns.find((c) => c.id === id)?.name || id; }
export function panelName(id) { return S.panels.find((p) => p.id === id)?.name || id; }

/** Panels a list of targets ("all", "group:X", panel id) reaches. */
export function panelsFor(targets) {
  return S.panels.filter((p) => targets.some((tg) => tg === 'all'
    || (tg.startsWith('group:') && (p.groups || []).includes(tg.slice(6)))
    || tg === p.id));
}

export function describeTargets(targets) {
  return targets.map((tg) => (tg === 'all' ? t('cf.all') : tg.startsWith('group:') ? prettyGroup(tg.slice(6)) : panelName(tg))).join(', ');
}
