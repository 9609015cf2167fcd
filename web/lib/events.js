// Live events: the server-sent-event stream read by hand (EventSource cannot
// send an Authorization header), with back-off, merged into `S.now`. The
// panel wall listens through `wallHooks`.

import { t } from './i18n.js';
import { debounce } from './dom.js';
import { S } from './state.js';
import { BACKGROUND, errorCode, loadAlertsQuiet, loadCampaigns, loadMessages, sessionEnded } from './api.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let eventsGen = 0;
let eventsCtrl = null;

/** The panel wall's listeners: `update(panelId)` and `resync()`, set while it is open. */
export const wallHooks = {};

export function setLive(state) {
  S.live = state;
  const el = document.getElementById('live');
  if (!el) return;
  el.className = `live live-${state}`;
  el.querySelector('.live-text').textContent = t(`live.${state === 'on' ? 'on' : state === 'retry' ? 'retry' : 'connecting'}`);
}

export function startEvents() {
  const gen = ++eventsGen;
  eventsCtrl?.abort();
  (async () => {
    let delay = 1000;
    let first = true;
    while (gen === eventsGen && (S.token || S.csrf)) {
      const ctrl = new AbortController();
      eventsCtrl = ctrl;
      setLive(first ? 'connecting' : 'retry');
      try {
        const res = await fetch('/api/v1/events', {
          headers: { ...BACKGROUND, Accept: 'text/event-stream', ...(S.token ? { Authorization: `Bearer ${S.token}` } : {}) },
          credentials: 'same-origin',
          signal: ctrl.signal,
          cache: 'no-store',
        });
        if (res.status === 401) { sessionEnded(await errorCode(res)); return; }
        if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
        setLive('on');
        if (!first) onReconnect();
        first = false;
        delay = 1000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          buf = buf.replace(/\r\n/g, '\n');
          let idx;
          while ((idx = buf.indexOf('\n\n')) >= 0) {
            dispatchEvent(buf.slice(0, idx));
            buf = buf.slice(idx + 2);
          }
        }
      } catch (e) {
        if (ctrl.signal.aborted || gen !== eventsGen) return;
      }
      if (gen !== eventsGen) return;
      first = false;
      setLive('retry');
      await sleep(delay + Math.random() * 400);
      delay = Math.min(delay * 2, 30000);
    }
  })();
}

export function stopEvents() {
  eventsGen++;
  eventsCtrl?.abort();
  eventsCtrl = null;
}

function dispatchEvent(block) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const f = i < 0 ? line : line.slice(0, i);
    let v = i < 0 ? '' : line.slice(i + 1);
    if (v.startsWith(' ')) v = v.slice(1);
    if (f === 'event') name = v;
    else if (f === 'data') data.push(v);
  }
  if (!data.length) return;
  let obj;
  try { obj = JSON.parse(data.join('\n')); } catch { return; }
  if (name === 'panel') onPanelEvent(obj);
}

function onPanelEvent(ev) {
  const p = S.panels.find((x) => x.id === ev.id);
  if (p) {
    if ('online' in ev) p.online = ev.online;
    if ('last_seen' in ev) p.last_seen = ev.last_seen;
  }
  const prev = S.now[ev.id] || {};
  const next = { ...prev };
  for (const k of ['seq', 'message', 'campaign', 'alert', 'since', 'until', 'acked_seq', 'acked_at']) if (k in ev) next[k] = ev[k];
  // Events carry no `since`; a new seq means a new frame went out just now.
  if (!('since' in ev) && ev.seq !== prev.seq) next.since = new Date().toISOString();
  S.now[ev.id] = next;
  wallHooks.update?.(ev.id);
  // A message, campaign or alert we have not seen yet: fetch names, then redraw.
  const unknown = (ev.message && !S.messages.some((m) => m.id === ev.message))
    || (ev.campaign && !S.campaigns.some((c) => c.id === ev.campaign))
    || (ev.alert && !S.alerts.some((a) => a.id === ev.alert));
  if (unknown) refreshNames(ev.id);
}

const namesPending = new Set();
const refreshNamesSoon = debounce(async () => {
  await Promise.allSettled([loadMessages(true), loadCampaigns(true), loadAlertsQuiet(true)]);
  for (const id of namesPending) wallHooks.update?.(id);
  namesPending.clear();
}, 250);
function refreshNames(panelId) { namesPending.add(panelId); refreshNamesSoon(); }

function onReconnect() { wallHooks.resync?.(); }
