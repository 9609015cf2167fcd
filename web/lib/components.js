// Pieces every page uses: toasts, the error toast for failed requests, the
// confirm dialog, labelled form fields, badges and empty states.

import { t } from './i18n.js';
import { h, icon } from './dom.js';
import { dmyToYmd, ymdToDmy } from './format.js';

/**
 * The toasts' own place in the layout. The shell and the sign-in page put
 * it in a row of their own (never over the page), so a toast can never
 * hide a button; the same element is moved, not recreated, so toasts
 * survive a redraw.
 */
let region = null;
const MAX_TOASTS = 2;
export function toastRegion() {
  region ||= document.getElementById('toasts') || h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
  region.setAttribute('aria-label', t('toasts.label'));
  return region;
}

// An error stays until the person closes it; a confirmation goes after
// 5 s, or when the person opens another page (`clearPageToasts`).
export function toast(message, kind = 'error') {
  const box = toastRegion();
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status', 'data-born': String(Date.now()) },
    h('span', { class: 'toast-text' }, message),
    h('button', { class: 'toast-close', type: 'button', 'aria-label': t('btn.close'), onclick: () => el.remove() }, icon('x')));
  box.append(el);
  // A few at a time: the newest ones; older ones give way.
  while (box.children.length > MAX_TOASTS) box.firstChild.remove();
  if (kind !== 'error') setTimeout(() => el.remove(), 5000);
}

/**
 * On opening another page: confirmations of the page left go; one shown
 * as the navigation began (saved, then opened) stays; errors stay until
 * closed.
 */
export function clearPageToasts() {
  const now = Date.now();
  for (const el of [...toastRegion().children]) {
    if (!el.classList.contains('toast-error') && now - Number(el.dataset.born || 0) > 1000) el.remove();
  }
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

/** A dialog that only informs: one close button. */
export function infoDialog({ title, body }) {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dlg-title' },
      h('form', { method: 'dialog' },
        h('h2', { id: 'dlg-title' }, title),
        typeof body === 'string' ? h('p', {}, body) : body,
        h('div', { class: 'actions' }, h('button', { class: 'btn btn-primary', value: 'close', type: 'submit' }, t('btn.close')))));
    dlg.addEventListener('close', () => { resolve(); dlg.remove(); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/**
 * A date typed as dd/mm/yyyy (the format the whole dashboard shows), with a
 * button that opens the browser's calendar. `input.ymd()` gives YYYY-MM-DD,
 * '' when empty, or null when what is typed is not a date.
 */
export function dateInput(ymd, { readOnly = false, onChange } = {}) {
  const input = h('input', { type: 'text', value: ymdToDmy(ymd), readOnly, inputmode: 'numeric', autocomplete: 'off', placeholder: t('date.placeholder'), class: 'date-input', 'data-date': '' });
  const picker = h('input', { type: 'date', tabindex: '-1', 'aria-hidden': 'true', class: 'date-picker' });
  input.ymd = () => (input.value.trim() ? dmyToYmd(input.value) : '');
  input.setYmd = (v) => { input.value = ymdToDmy(v); input.removeAttribute('aria-invalid'); };
  const changed = () => {
    const v = input.ymd();
    if (v === null) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    onChange?.(v);
  };
  input.addEventListener('input', changed);
  picker.addEventListener('change', () => { if (picker.value) { input.setYmd(picker.value); changed(); } });
  const button = h('button', {
    type: 'button', class: 'btn btn-icon date-button', disabled: readOnly, 'aria-label': t('date.pick'), title: t('date.pick'),
    onclick: () => { picker.value = input.ymd() || ''; try { picker.showPicker(); } catch { picker.focus(); } },
  }, icon('calendar'));
  input.wrap = h('span', { class: 'date-wrap' }, input, button, picker);
  return input;
}

let fieldSeq = 0;

/** A form field: label, control, hint and an error slot, wired for screen readers. */
export function field(label, control, { hint, cls = '' } = {}) {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', `${id}-hint`);
  return h('div', { class: `field ${cls}` }, h('label', { for: id }, label), control.wrap || control, hintEl);
}

export function badge(text, kind) { return h('span', { class: `badge badge-${kind}` }, text); }

export function statusBadge(status) {
  return badge(t(`status.${status}`), status === 'approved' ? 'ok' : 'draft');
}

export function emptyState(text) { return h('p', { class: 'empty' }, text); }
