// Fleet alarms: the banner above every page while any incident is open,
// the alarm list (acknowledge, with who and when) and, for admins, the
// settings (thresholds, quiet hours, digest, webhook, e-mail).
// Every string of this page is in lib/i18n.js, under `alm.`.

import { t } from '../lib/i18n.js';
import { clear, h, icon } from '../lib/dom.js';
import { emptyState, fail, field, toast } from '../lib/components.js';
import { fmtDateTime, fmtDuration } from '../lib/format.js';
import { S, can } from '../lib/state.js';
import { api } from '../lib/api.js';

function tr(key, vars) { return t(`alm.${key}`, vars); }

const POLL_MS = 10000;
let polling = null;

/** Keeps the banner above every page up to date while someone is signed in. */
export function watchAlarms() {
  if (polling) return;
  const tick = async () => {
    if (S.me) {
      try { showBanner((await api('/alarms?closed=0', { background: true })).open); } catch { /* the next tick tries again */ }
    } else showBanner([]);
  };
  polling = setInterval(tick, POLL_MS);
  window.addEventListener('hashchange', tick);
  tick();
}

function showBanner(open) {
  const box = document.getElementById('alarm-banner');
  if (!box) return;
  const panels = [...new Set(open.map((i) => i.panel))];
  box.hidden = panels.length === 0;
  if (box.hidden) { clear(box); return; }
  const names = open.slice(0, 3).map((i) => `${i.panel_name} (${tr(`kind.${i.kind}`).toLowerCase()})`).join(', ');
  clear(box).append(icon('alerts'),
    h('span', { class: 'alarm-banner-text' }, h('strong', {}, tr('banner', { n: panels.length })), ': ', names, open.length > 3 ? '…' : ''),
    h('a', { href: '#/alarms', class: 'alarm-banner-link' }, tr('bannerLink')));
}

function lastedOf(i) {
  const end = i.recovered_at ? new Date(i.recovered_at) : new Date();
  return fmtDuration(Math.max(0, Math.round((end - new Date(i.since)) / 1000)));
}

function incidentRow(i, reload) {
  const ack = i.acked_by
    ? h('span', { class: 'muted' }, tr('acked', { who: i.acked_by, when: fmtDateTime(i.acked_at) }))
    : can('operator') && i.recovered_at == null
      ? h('button', {
        class: 'btn btn-small', type: 'button',
        onclick: async () => {
          try {
            await api(`/alarms/${i.id}/acknowledge`, { method: 'POST' });
            toast(tr('ackDone', { name: i.panel_name }), 'ok');
            reload();
          } catch (e) { fail(e); }
        },
      }, icon('check'), tr('ack'))
      : '';
  return h('tr', { 'data-alarm': String(i.id) },
    h('td', {}, h('strong', {}, i.panel_name), h('div', { class: 'muted mono' }, i.panel)),
    h('td', {}, h('span', { class: `badge badge-${i.kind === 'offline' ? 'danger' : 'warn'}` }, tr(`kind.${i.kind}`)),
      i.urgent ? [' ', h('span', { class: 'badge badge-alert' }, tr('urgent'))] : '',
      i.held ? h('div', { class: 'muted' }, tr('held')) : ''),
    h('td', {}, fmtDateTime(i.since)),
    h('td', {}, lastedOf(i), i.recovered_at ? h('div', { class: 'muted' }, i.removed ? tr('removed') : `${tr('recovered')} ${fmtDateTime(i.recovered_at)}`) : ''),
    h('td', {}, ack));
}

function incidentTable(items, reload) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
    h('thead', {}, h('tr', {}, ['panel', 'kind', 'since', 'lasted', 'ack'].map((k) => h('th', { scope: 'col' }, tr(k))))),
    h('tbody', {}, items.map((i) => incidentRow(i, reload)))));
}

export async function viewAlarms(main, _args, ctx) {
  document.title = tr('title');
  const page = h('div', { class: 'page', 'data-page': 'alarms' });
  const reload = async () => {
    const list = await api('/alarms');
    if (!ctx.alive()) return;
    showBanner(list.open);
    clear(listBox).append(
      h('section', { class: 'card' }, h('h2', {}, tr('open'), ` (${list.open.length})`),
        list.open.length ? incidentTable(list.open, reload) : emptyState(tr('none'))),
      h('section', { class: 'card' }, h('h2', {}, tr('closed')),
        list.closed.length ? incidentTable(list.closed, reload) : emptyState(tr('noneClosed'))));
  };
  const listBox = h('div', { class: 'stack' });
  page.append(h('div', { class: 'page-head' }, h('h1', {}, tr('title'))), listBox);
  await reload();
  if (!ctx.alive()) return;
  if (can('admin')) page.append(await settingsForm());
  clear(main).append(page);
}

async function settingsForm() {
  const view = await api('/alarms/config');
  const c = view.config;
  const num = (v) => h('input', { type: 'number', min: '1', step: '1', value: String(v), class: 'narrow' });
  const text = (v, attrs = {}) => h('input', { type: 'text', value: v ?? '', ...attrs });
  const minutes = (s) => Math.max(1, Math.round(s / 60));
  const f = {
    offline: num(minutes(c.offline_after_s)),
    unconfirmed: num(minutes(c.unconfirmed_after_s)),
    recover: num(minutes(c.recover_after_s)),
    quietStart: text(c.quiet_hours?.start, { placeholder: '22:00', class: 'narrow' }),
    quietEnd: text(c.quiet_hours?.end, { placeholder: '06:00', class: 'narrow' }),
    digest: text(c.digest_at, { class: 'narrow' }),
    hook: text(c.webhook?.url, { type: 'url', placeholder: 'https://' }),
    secret: h('input', { type: 'password', autocomplete: 'new-password', placeholder: view.webhook_secret_set ? tr('secretSet') : '' }),
    host: text(c.email?.host),
    port: num(c.email?.port ?? 587),
    security: h('select', {}, ['starttls', 'tls', 'none'].map((v) => h('option', { value: v, selected: (c.email?.security ?? 'starttls') === v }, v.toUpperCase()))),
    user: text(c.email?.username, { autocomplete: 'off' }),
    password: h('input', { type: 'password', autocomplete: 'new-password', placeholder: view.email_password_set ? tr('secretSet') : '' }),
    from: text(c.email?.from),
    to: h('textarea', { rows: '3' }, (c.email?.to ?? []).join('\n')),
    mailLang: h('select', {}, [['vi', 'Tiếng Việt'], ['en', 'English']].map(([v, l]) => h('option', { value: v, selected: (c.email?.language ?? 'vi') === v }, l))),
  };
  const err = h('p', { class: 'field-error', role: 'alert' });
  const build = () => {
    const body = {
      offline_after_s: Number(f.offline.value) * 60,
      unconfirmed_after_s: Number(f.unconfirmed.value) * 60,
      recover_after_s: Number(f.recover.value) * 60,
      groups: c.groups,
      panels: c.panels,
      digest_at: f.digest.value.trim(),
    };
    if (f.quietStart.value.trim() && f.quietEnd.value.trim()) body.quiet_hours = { start: f.quietStart.value.trim(), end: f.quietEnd.value.trim() };
    if (f.hook.value.trim()) {
      body.webhook = { url: f.hook.value.trim() };
      if (f.secret.value) body.webhook.secret = f.secret.value;
    }
    if (f.host.value.trim()) {
      body.email = {
        host: f.host.value.trim(), port: Number(f.port.value), security: f.security.value,
        from: f.from.value.trim(), to: f.to.value.split('\n').map((x) => x.trim()).filter(Boolean), language: f.mailLang.value,
      };
      if (f.user.value.trim()) body.email.username = f.user.value.trim();
      if (f.password.value) body.email.password = f.password.value;
      if (c.email?.ca_file) body.email.ca_file = c.email.ca_file;
    }
    return body;
  };
  return h('form', {
    class: 'card', 'data-testid': 'alarm-settings', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      try {
        await api('/alarms/config', { method: 'PUT', json: build() });
        f.secret.value = ''; f.password.value = '';
        toast(tr('saved'), 'ok');
      } catch (ex) { err.textContent = ex.message; }
    },
  },
  h('h2', {}, tr('settings')),
  view.problem ? h('p', { class: 'error-box' }, tr('problem', { problem: view.problem })) : '',
  h('div', { class: 'inline-fields' },
    field(tr('offlineAfter'), f.offline), field(tr('unconfirmedAfter'), f.unconfirmed),
    field(tr('recoverAfter'), f.recover, { hint: tr('recoverHint') })),
  h('div', { class: 'inline-fields' },
    field(tr('quietStart'), f.quietStart), field(tr('quietEnd'), f.quietEnd, { hint: tr('quietHint') }), field(tr('digestAt'), f.digest)),
  h('div', { class: 'inline-fields' }, field(tr('webhookUrl'), f.hook), field(tr('webhookSecret'), f.secret)),
  h('div', { class: 'inline-fields' }, field(tr('smtpHost'), f.host), field(tr('smtpPort'), f.port), field(tr('smtpSecurity'), f.security)),
  h('div', { class: 'inline-fields' }, field(tr('smtpUser'), f.user), field(tr('smtpPassword'), f.password)),
  h('div', { class: 'inline-fields' }, field(tr('from'), f.from), field(tr('to'), f.to), field(tr('mailLang'), f.mailLang)),
  err,
  h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, tr('save'))));
}
