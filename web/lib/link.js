// A panel's transport (bangtin's MQTT controller, a Huidu card, an HD2020
// card) and the health of the sign's connection, for the wall and the
// panel list: the wall tells a technician whether a sign is really on
// bangtin's frame.

import { t } from './i18n.js';
import { h } from './dom.js';

/** One line: transport, card id, and the last error while disconnected. */
export function linkLine(p) {
  const kind = p.transport?.kind || 'mqtt';
  const l = p.link || {};
  const name = [t(`link.${kind}`), p.transport?.device_id].filter(Boolean).join(' · ');
  const err = !l.connected && l.last_error ? l.last_error : null;
  return h('p', {
    class: `tile-link${err ? ' tile-link-error' : ''}`,
    'data-transport': kind,
    'data-connected': String(!!l.connected),
    title: l.last_error || '',
  }, name, err ? ` — ${t('link.error', { why: err })}` : '');
}
