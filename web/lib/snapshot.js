// "What the sign really shows": asks a panel's controller for a snapshot
// of its glass and shows it beside the frame the server sent.

import { t } from './i18n.js';
import { fmtTime } from './format.js';
import { clear, h } from './dom.js';
import { api, enc, fetchImage } from './api.js';

const WAIT_MS = 15000;
const POLL_MS = 500;

/** A <details> for a tile: opening it asks the controller for a snapshot. */
export function snapshotBox(p) {
  const body = h('div', { class: 'snapshot-body' });
  const box = h('details', { class: 'snapshot', 'data-snapshot-of': p.id },
    h('summary', {}, t('snap.show')), body);
  box.addEventListener('toggle', () => { if (box.open) load(p, body); });
  return box;
}

/**
 * A tile redrawn by a live event (an ack, the snapshot's own arrival)
 * keeps its open snapshot box: the box in `from`, if open, takes the
 * place of the closed one in `to`, with what it shows or is loading.
 */
export function keepSnapshot(from, to) {
  const open = from.querySelector('details.snapshot[open]');
  const fresh = open && to.querySelector('details.snapshot');
  if (fresh) fresh.replaceWith(open);
}

/**
 * The open snapshot boxes under `root` (the wall), each with the district
 * section it sits in: a full redraw of the wall puts them back with
 * [restoreSnapshots], with what they show or are still loading.
 */
export function openSnapshots(root) {
  return [...root.querySelectorAll('details.snapshot[open]')]
    .map((box) => ({ box, district: box.closest('[data-district]')?.dataset.district ?? '' }));
}

/**
 * Each kept box takes the place of its panel's fresh (closed) box under
 * `root`: in the same district when that is still shown, else in the
 * panel's first tile. A panel no longer shown loses its box.
 */
export function restoreSnapshots(root, kept) {
  for (const { box, district } of kept) {
    const of = `details.snapshot[data-snapshot-of="${CSS.escape(box.dataset.snapshotOf)}"]:not([open])`;
    const fresh = root.querySelector(`[data-district="${CSS.escape(district)}"] ${of}`) || root.querySelector(of);
    if (fresh) fresh.replaceWith(box);
  }
}

async function load(p, body) {
  clear(body).append(h('p', { class: 'muted' }, t('snap.asking')));
  const id = enc(p.id);
  try {
    const asked = await api(`/panels/${id}/snapshot`, { method: 'POST' });
    const since = Date.parse(asked.requested_at);
    const deadline = Date.now() + WAIT_MS;
    let snap = null;
    while (Date.now() < deadline) {
      try {
        const s = await api(`/panels/${id}/snapshot`);
        if (Date.parse(s.received_at) >= since) { snap = s; break; }
      } catch (e) { if (e.status !== 404) throw e; }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    if (!snap) { clear(body).append(h('p', { class: 'confirm confirm-lost' }, t('snap.noAnswer'))); return; }
    const [glass, sent] = await Promise.all([
      fetchImage(`/panels/${id}/snapshot.png?t=${enc(snap.received_at)}`),
      fetchImage(`/panels/${id}/frame.png?t=${enc(snap.sent_seq ?? '')}`).catch(() => null),
    ]);
    const same = snap.sent_seq != null && snap.seq === snap.sent_seq;
    clear(body).append(
      h('div', { class: 'snapshot-pair' },
        h('figure', {},
          sent ? h('img', { src: sent.url, alt: t('snap.sentAlt', { name: p.name }), class: 'pixelated' }) : h('div', { class: 'screen-empty' }, t('wall.noFrame')),
          h('figcaption', {}, t('snap.sent', { seq: snap.sent_seq ?? '—' }))),
        h('figure', {},
          h('img', { src: glass.url, alt: t('snap.glassAlt', { name: p.name }), class: 'pixelated', 'data-seq': snap.seq }),
          h('figcaption', {}, t(snap.blank ? 'snap.glassDark' : 'snap.glass', { seq: snap.seq, t: fmtTime(snap.received_at) })))),
      h('p', { class: `confirm ${same ? 'confirm-shown' : 'confirm-waiting'}` },
        t(same ? 'snap.same' : snap.seq_was_sent ? 'snap.older' : 'snap.unknown')));
  } catch (e) {
    clear(body).append(h('p', { class: 'confirm confirm-lost' }, e.message || String(e)));
  }
}
