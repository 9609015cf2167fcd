// Pieces every page uses: toasts, the error toast for failed requests, the
// confirm dialog, labelled form fields, badges and empty states.

import { t } from './i18n.js';
import { h, icon } from './dom.js';

export function toast(message, kind = 'error') {
  const box = document.getElementById('toasts');
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', { class: 'toast-text' }, message),
    h('button', { class: 'toast-close', type: 'button', 'aria-label': t('btn.close'), onclick: () => el.remove() }, icon('x')));
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 9000 : 5000);
}

/** Shows an API error unless it was a cancelled request or a 401 (handled by the sign-out). */
export function fail(e) {
  if (!e || e.name === 'AbortError' || e.status === 401) return;
  toast(e.message || String(e), 'error');
}

/**
 * A modal dialog. Resolves true when confirmed. `danger` paints the confirm
 * button red; `body` may be a string or a node.
 */
export function confirmDialog({ title, body, ok = t('btn.confirm'), danger = false }) {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: `dialog${danger ? ' dialog-danger' : ''}`, 'aria-labelledby': 'dlg-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dlg-title' }, title),
        typeof body === 'string' ? h('p', {}, body) : body,
        h('div', { class: 'actions' },
          h('button', { class: 'btn', value: 'cancel', type: 'submit' }, t('btn.cancel')),
          h('button', { class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, value: 'ok', type: 'submit', 'data-role': 'confirm' }, ok))));
    dlg.addEventListener('close', () => { resolve(dlg.returnValue === 'ok'); dlg.remove(); });
    document.body.append(dlg);
    dlg.showModal();
    dlg.querySelector('[value=cancel]').focus();
  });
}

let fieldSeq = 0;

/** A form field: label, control, hint and an error slot, wired for screen readers. */
export function field(label, control, { hint, cls = '' } = {}) {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', { class: `field ${cls}` }, h('label', { for: id }, label), control, hintEl);
}

export function badge(text, kind) { return h('span', { class: `badge badge-${kind}` }, text); }

export function statusBadge(status) {
  return badge(t(`status.${status}`), status === 'approved' ? 'ok' : 'draft');
}

export function emptyState(text) { return h('p', { class: 'empty' }, text); }
