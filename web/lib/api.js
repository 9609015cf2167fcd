// The API client: every request goes to /api/v1 on the same origin with the
// bearer token, or (signed in with a password) with the session cookie and,
// on every change, the session's CSRF token; errors become `ApiError`s with the server's sentence; a 401
// ends the session (the shell says how, through `whenSessionEnds`). What the
// page asks for by itself (polling, the event stream) goes with `background`:
// the header `X-Bangtin-Background: 1` tells the server it is not the
// person's doing, so it does not keep an unattended tab signed in. Also the
// loaders that refresh the shared lists in `S`.

import { t, lang } from './i18n.js';
import { S } from './state.js';
import { setGroupNames } from './format.js';

class ApiError extends Error {
  constructor(status, code, message, body = null) {
    super(message);
    this.status = status;
    this.code = code;
    // The whole error body: some errors name what they are about (e.g. the
    // campaigns that use a message).
    this.body = body;
  }
}

/** The header that marks a request the page made by itself. */
export const BACKGROUND = { 'X-Bangtin-Background': '1' };

export async function api(path, { method = 'GET', json, body, headers = {}, accept, signal, raw = false, quiet401 = false, background = false } = {}) {
  // The server writes its sentences (errors, cron descriptions) in the
  // language the dashboard shows.
  const hd = { 'Accept-Language': lang, ...(background ? BACKGROUND : {}), ...headers };
  if (S.token) hd.Authorization = `Bearer ${S.token}`;
  else if (S.csrf && method !== 'GET' && method !== 'HEAD') hd['X-CSRF-Token'] = S.csrf;
  let payload = body;
  if (json !== undefined) {
    hd['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  }
  if (accept) hd.Accept = accept;
  let res;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers: hd, body: payload, signal, cache: 'no-store', credentials: 'same-origin' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', t('err.network'));
  }
  if (res.status === 401 && !quiet401) {
    const code = await errorCode(res);
    sessionEnded(code);
    throw new ApiError(401, code || 'unauthorized', t('err.session'));
  }
  if (!res.ok) {
    let code = 'http';
    let msg = '';
    let j = null;
    try {
      j = await res.json();
      code = j.error || code;
      msg = j.message || '';
    } catch { /* not JSON */ }
    throw new ApiError(res.status, code, msg || t('err.http', { status: res.status }), j);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  const ct = res.headers.get('content-type') || '';
  return ct.includes('json') ? res.json() : res.text();
}

export const enc = encodeURIComponent;

// The loaders take `background` when the page, not its person, asks.
export async function loadPanels(background = false) {
  const [panels, groups] = await Promise.all([api('/panels', { background }), api('/groups', { background }).catch(() => null)]);
  S.panels = panels;
  S.panels.sort((a, b) => a.name.localeCompare(b.name, 'vi'));
  if (groups) setGroupNames(groups);
  return S.panels;
}
export async function loadMessages(background = false) { S.messages = await api('/messages', { background }); return S.messages; }
export async function loadCampaigns(background = false) { S.campaigns = await api('/campaigns', { background }); return S.campaigns; }

export async function loadAlertsQuiet(background = false) {
  try { S.alerts = await api('/alerts', { background }); } catch { S.alerts = S.alerts || []; }
}

/** Uploads a file as an image asset; its file name becomes the image's name. */
export function uploadImage(file) {
  return api('/assets', { method: 'POST', body: file, headers: { 'Content-Type': file.type, 'X-Filename': encodeURIComponent(file.name) } });
}

/** Fetches an image with the bearer token and returns an object URL plus headers. */
export async function fetchImage(path, { method = 'GET', json, signal, background = false } = {}) {
  const res = await api(path, { method, json, signal, background, raw: true, accept: 'image/png' });
  const blob = await res.blob();
  return { url: URL.createObjectURL(blob), headers: res.headers };
}

/** The `error` code of a refusal's JSON body, if it has one (read from a copy). */
export async function errorCode(res) {
  try { return (await res.clone().json()).error || ''; } catch { return ''; }
}

let onSessionEnd = () => {};

/** Says what to do when the server no longer accepts the token. */
export function whenSessionEnds(fn) { onSessionEnd = fn; }

/**
 * The token or session was refused (401): sign out and tell the person why;
 * `code` is the server's error code (`session_idle`: nobody used the page
 * for the idle time, said on the sign-in page itself).
 */
export function sessionEnded(code = '') {
  if (code === 'session_idle') onSessionEnd(t('err.sessionIdle'), 'error', true);
  else onSessionEnd(t('err.session'));
}
