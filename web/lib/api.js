// The API client: every request goes to /api/v1 on the same origin with the
// bearer token, or (signed in with a password) with the session cookie and,
// on every change, the session's CSRF token; errors become `ApiError`s with the server's sentence; a 401
// ends the session (the shell says how, through `whenSessionEnds`). Also the
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

export async function api(path, { method = 'GET', json, body, headers = {}, accept, signal, raw = false, quiet401 = false } = {}) {
  // The server writes its sentences (errors, cron descriptions) in the
  // language the dashboard shows.
  const hd = { 'Accept-Language': lang, ...headers };
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
    sessionEnded();
    throw new ApiError(401, 'unauthorized', t('err.session'));
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

export async function loadPanels() {
  const [panels, groups] = await Promise.all([api('/panels'), api('/groups').catch(() => null)]);
  S.panels = panels;
  S.panels.sort((a, b) => a.name.localeCompare(b.name, 'vi'));
  if (groups) setGroupNames(groups);
  return S.panels;
}
export async function loadMessages() { S.messages = await api('/messages'); return S.messages; }
export async function loadCampaigns() { S.campaigns = await api('/campaigns'); return S.campaigns; }

export async function loadAlertsQuiet() {
  try { S.alerts = await api('/alerts'); } catch { S.alerts = S.alerts || []; }
}

/** Uploads a file as an image asset; its file name becomes the image's name. */
export function uploadImage(file) {
  return api('/assets', { method: 'POST', body: file, headers: { 'Content-Type': file.type, 'X-Filename': encodeURIComponent(file.name) } });
}

/** Fetches an image with the bearer token and returns an object URL plus headers. */
export async function fetchImage(path, { method = 'GET', json, signal } = {}) {
  const res = await api(path, { method, json, signal, raw: true, accept: 'image/png' });
  const blob = await res.blob();
  return { url: URL.createObjectURL(blob), headers: res.headers };
}

let onSessionEnd = () => {};

/** Says what to do when the server no longer accepts the token. */
export function whenSessionEnds(fn) { onSessionEnd = fn; }

/** The token was refused (401): sign out and tell the person why. */
export function sessionEnded() { onSessionEnd(t('err.session')); }
