// The campaign form: playlist, targets, all-day or cron timing, priority.

import { t } from '../lib/i18n.js';
import { TZ, addDays, fmtDateTime, prettyGroup, todayVN } from '../lib/format.js';
import { clear, debounce, h, icon } from '../lib/dom.js';
import { confirmDialog, dateInput, fail, field, statusBadge, toast } from '../lib/components.js';
import { S, allGroups, can, panelsFor, provinceWide } from '../lib/state.js';
import { api, enc, loadCampaigns, loadMessages, loadPanels } from '../lib/api.js';
import { go, keepOnRedraw, keptState, onCleanup } from '../lib/router.js';
import { makeTimeline } from './timeline.js';

export async function viewCampaignForm(main, id, ctx) {
  const isNew = id === 'new';
  await Promise.all([loadMessages(), loadPanels()]);
  let camp = null;
  if (!isNew) {
    try { camp = await api(`/campaigns/${enc(id)}`); } catch (e) {
      if (e.status === 404) { clear(main).append(h('div', { class: 'page' }, h('p', { class: 'error-box' }, t('camp.notFound')), h('a', { class: 'btn', href: '#/campaigns' }, t('btn.back')))); return; }
      throw e;
    }
  }
  if (!ctx.alive()) return;
  const editable = can('scheduler');
  document.title = `${isNew ? t('camp.new') : camp.name} · ${t('app.title')}`;
  const today = todayVN();
  const st = {
    name: camp?.name || '',
    items: (camp?.messages || []).map((m) => ({ id: m.id, dwell: String(m.dwell_s) })),
    targets: new Set(camp?.targets || []),
    mode: camp?.cron ? 'cron' : 'days',
    cron: camp?.cron || '0 7 * * 1-5',
    durValue: camp?.duration_s ? (camp.duration_s % 3600 === 0 ? camp.duration_s / 3600 : Math.round(camp.duration_s / 60)) : 60,
    durUnit: camp?.duration_s && camp.duration_s % 3600 === 0 ? 'hour' : 'min',
    // A new campaign runs for a week from today; a saved one keeps its own
    // dates, and one without an end stays open-ended.
    start: isNew ? today : camp?.start || '',
    end: isNew ? addDays(today, 6) : camp?.end || '',
    noEnd: !isNew && !camp?.end,
    // Numbers as typed: checked (and explained) on save, never sent as 0.
    priority: String(camp?.priority ?? 10),
    tz: camp?.tz || TZ,
  };
  const kept = keptState();
  if (kept) Object.assign(st, kept, { targets: new Set(kept.targets), items: kept.items.map((x) => ({ ...x })) });
  keepOnRedraw(() => ({ ...st, targets: [...st.targets], items: st.items.map((x) => ({ ...x })) }));
  const ro = !editable;
  const dirty = () => { S.dirty = true; };
  if (kept) dirty();

  const name = h('input', { type: 'text', value: st.name, required: true, readOnly: ro, maxlength: '200', autocomplete: 'off', id: 'camp-name' });
  name.addEventListener('input', () => { st.name = name.value; name.removeAttribute('aria-invalid'); dirty(); });

  // Playlist
  const itemsBox = h('div', { class: 'playlist' });
  const renderItems = () => {
    clear(itemsBox);
    if (!st.items.length) itemsBox.append(h('p', { class: 'muted' }, t('cf.noMessages')));
    st.items.forEach((it, i) => {
      const sel = h('select', { disabled: ro, 'aria-label': `${t('cf.message')} ${i + 1}` },
        h('option', { value: '' }, t('cf.chooseMessage')),
        S.messages.map((m) => h('option', { value: m.id, selected: m.id === it.id }, `${m.title} (${t(`status.${m.status}`)})`)));
      sel.addEventListener('change', () => { it.id = sel.value; dirty(); renderItems(); });
      const dwell = h('input', { type: 'number', min: '1', max: '86400', value: it.dwell, readOnly: ro, class: 'num-input', 'aria-label': `${t('cf.dwell')} ${i + 1}`, 'data-dwell': i });
      dwell.addEventListener('input', () => { it.dwell = dwell.value; dwell.removeAttribute('aria-invalid'); dirty(); });
      const m = S.messages.find((x) => x.id === it.id);
      itemsBox.append(h('div', { class: 'playlist-row' },
        h('span', { class: 'playlist-no' }, i + 1),
        h('div', { class: 'grow' }, sel, m ? h('div', { class: 'row-sub' }, statusBadge(m.status), m.status === 'draft' ? h('span', { class: 'muted' }, ` ${t('cf.draftNote')}`) : null) : null),
        h('label', { class: 'dwell' }, dwell, h('span', { class: 'muted' }, t('cf.dwell'))),
        ro ? null : h('div', { class: 'row-buttons' },
          h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('cf.up'), disabled: i === 0, onclick: () => { [st.items[i - 1], st.items[i]] = [st.items[i], st.items[i - 1]]; dirty(); renderItems(); } }, icon('up')),
          h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('cf.down'), disabled: i === st.items.length - 1, onclick: () => { [st.items[i + 1], st.items[i]] = [st.items[i], st.items[i + 1]]; dirty(); renderItems(); } }, icon('down')),
          h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': t('cf.remove'), onclick: () => { st.items.splice(i, 1); dirty(); renderItems(); } }, icon('x')))));
    });
    if (!ro) itemsBox.append(h('button', { type: 'button', class: 'btn btn-small', id: 'add-item', onclick: () => { st.items.push({ id: '', dwell: '10' }); dirty(); renderItems(); itemsBox.querySelectorAll('select')[st.items.length - 1]?.focus(); } }, icon('plus'), t('cf.addMessage')));
  };
  renderItems();

  // Targets
  const targetsBox = h('div', { class: 'targets' });
  const renderTargets = () => {
    clear(targetsBox);
    const all = st.targets.has('all');
    const cb = (value, label, extra) => {
      const input = h('input', { type: 'checkbox', value, checked: st.targets.has(value), disabled: ro || (all && value !== 'all') });
      input.addEventListener('change', () => { if (input.checked) st.targets.add(value); else st.targets.delete(value); dirty(); renderTargets(); });
      return h('label', { class: 'check' }, input, h('span', {}, label), extra ? h('span', { class: 'muted check-extra' }, extra) : null);
    };
    if (provinceWide()) targetsBox.append(cb('all', t('cf.all'), ` (${S.panels.length})`));
    const groups = allGroups();
    if (groups.length) targetsBox.append(h('fieldset', { class: 'sub' }, h('legend', {}, t('cf.groups')),
      h('div', { class: 'check-grid' }, groups.map((g) => cb(`group:${g}`, prettyGroup(g), ` (${S.panels.filter((p) => p.groups?.includes(g)).length})`)))));
    targetsBox.append(h('fieldset', { class: 'sub' }, h('legend', {}, t('cf.panels')),
      h('div', { class: 'check-grid check-grid-panels' }, S.panels.map((p) => cb(p.id, p.name, p.id)))));
  };
  renderTargets();

  // Timing
  const cronInput = h('input', { type: 'text', value: st.cron, class: 'mono', readOnly: ro, spellcheck: 'false', autocomplete: 'off' });
  const explain = h('div', { class: 'cron-explain', 'aria-live': 'polite' });
  const tzInput = h('input', { type: 'text', value: st.tz, readOnly: ro, list: 'tz-list', autocomplete: 'off' });
  let explainCtrl = null;
  const doExplain = async () => {
    explainCtrl?.abort();
    const c = new AbortController();
    explainCtrl = c;
    if (!st.cron.trim()) { clear(explain); return; }
    clear(explain).append(h('span', { class: 'muted' }, t('cf.explaining')));
    try {
      const r = await api('/cron/explain', { method: 'POST', json: { cron: st.cron.trim(), tz: st.tz.trim() || TZ }, signal: c.signal });
      if (explainCtrl !== c) return;
      clear(explain).append(h('p', { class: 'cron-desc' }, icon('check'), r.description),
        r.next?.length ? h('p', { class: 'muted' }, `${t('cf.next')}: `, r.next.slice(0, 5).map(fmtDateTime).join(' · ')) : null);
      cronInput.removeAttribute('aria-invalid');
    } catch (e) {
      if (e.name === 'AbortError' || explainCtrl !== c) return;
      clear(explain).append(h('p', { class: 'field-error' }, e.message));
      cronInput.setAttribute('aria-invalid', 'true');
    }
  };
  const explainSoon = debounce(doExplain, 350);
  onCleanup(() => { explainSoon.cancel(); explainCtrl?.abort(); });
  cronInput.addEventListener('input', () => { st.cron = cronInput.value; dirty(); explainSoon(); });
  tzInput.addEventListener('input', () => { st.tz = tzInput.value; dirty(); if (st.mode === 'cron') explainSoon(); });
  const presets = h('div', { class: 'presets' }, h('span', { class: 'muted' }, `${t('cf.presets')}:`),
    [['preset.weekday7', '0 7 * * 1-5'], ['preset.daily6', '0 6 * * *'], ['preset.hourly', '0 * * * *'], ['preset.weekend', '0 8 * * 6,0']].map(([k, v]) =>
      h('button', { type: 'button', class: 'btn btn-chip', disabled: ro, onclick: () => { st.cron = v; cronInput.value = v; dirty(); doExplain(); } }, t(k))));
  const durValue = h('input', { type: 'number', min: '1', value: st.durValue, readOnly: ro, class: 'num-input', 'aria-label': t('cf.duration') });
  const durUnit = h('select', { disabled: ro, 'aria-label': t('cf.duration') }, ['min', 'hour'].map((u) => h('option', { value: u, selected: st.durUnit === u }, t(`unit.${u}`))));
  durValue.addEventListener('input', () => { st.durValue = parseInt(durValue.value, 10) || 0; dirty(); });
  durUnit.addEventListener('change', () => { st.durUnit = durUnit.value; dirty(); });
  const startIn = dateInput(st.start, { readOnly: ro, onChange: (v) => { st.start = v ?? startIn.value; dirty(); } });
  const endIn = dateInput(st.noEnd ? '' : st.end, { readOnly: ro || st.noEnd, onChange: (v) => { st.end = v ?? endIn.value; dirty(); } });
  startIn.id = 'camp-start';
  endIn.id = 'camp-end';
  const noEnd = h('input', { type: 'checkbox', checked: st.noEnd, disabled: ro, id: 'camp-no-end' });
  noEnd.addEventListener('change', () => {
    st.noEnd = noEnd.checked;
    endIn.readOnly = st.noEnd;
    endIn.wrap.querySelector('button').disabled = st.noEnd;
    if (st.noEnd) endIn.setYmd(''); else if (!st.end) { st.end = addDays(st.start || today, 6); endIn.setYmd(st.end); }
    dirty();
  });

  const cronPart = h('div', { class: 'timing-part' },
    field(t('cf.cron'), cronInput, { hint: t('cf.cronHint') }), explain, presets,
    h('div', { class: 'field' }, h('span', { class: 'label' }, t('cf.duration')), h('div', { class: 'inline' }, durValue, durUnit)));
  // The dates bound both kinds of timing: all-day windows, or the days a cron may fire on.
  const datesHint = h('p', { class: 'hint dates-hint' });
  const daysPart = h('div', { class: 'timing-part' },
    h('div', { class: 'inline-fields' }, field(t('cf.start'), startIn, { hint: t('date.hint') }), field(t('cf.end'), endIn, { hint: t('date.hint') })),
    h('label', { class: 'check' }, noEnd, h('span', {}, t('cf.noEnd'))),
    datesHint);
  const modeRadios = h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': t('cf.timing') });
  const renderMode = () => {
    clear(modeRadios);
    for (const m of ['days', 'cron']) {
      modeRadios.append(h('button', { type: 'button', role: 'radio', class: 'seg', 'aria-checked': String(st.mode === m), disabled: ro, 'data-mode': m,
        onclick: () => { st.mode = m; dirty(); renderMode(); } }, t(`cf.mode.${m}`)));
    }
    cronPart.hidden = st.mode !== 'cron';
    datesHint.textContent = st.mode === 'cron' ? t('cf.datesCron') : t('cf.datesDays');
    if (st.mode === 'cron') doExplain();
  };

  const priority = h('input', { type: 'number', value: st.priority, readOnly: ro, class: 'num-input', step: '1', id: 'camp-priority' });
  priority.addEventListener('input', () => { st.priority = priority.value; priority.removeAttribute('aria-invalid'); dirty(); });

  const formErr = h('p', { class: 'field-error', role: 'alert' });
  const saveBtn = h('button', { type: 'submit', class: 'btn btn-primary', id: 'save-campaign' }, isNew ? t('btn.create') : t('btn.saveChanges'));
  const timeline = makeTimeline(() => panelsFor(camp?.targets || []));

  const whole = (v) => (/^\s*-?\d+\s*$/.test(String(v)) ? parseInt(v, 10) : NaN);
  const toBody = () => {
    const b = {
      name: st.name.trim(),
      messages: st.items.filter((x) => x.id).map((x) => ({ id: x.id, dwell_s: whole(x.dwell) })),
      targets: [...st.targets],
      priority: whole(st.priority),
      tz: st.tz.trim() || TZ,
    };
    if (b.targets.includes('all')) b.targets = ['all'];
    if (st.mode === 'cron') {
      b.cron = st.cron.trim();
      b.duration_s = st.durValue * (st.durUnit === 'hour' ? 3600 : 60);
    }
    if (st.start) b.start = st.start;
    if (!st.noEnd && st.end) b.end = st.end;
    return b;
  };
  /** The first thing that stops the form from saving, as [sentence, control to fix], or null. */
  const problem = (b) => {
    if (!b.name) return [t('cf.needName'), name];
    if (!b.messages.length) return [t('cf.needMessages'), itemsBox.querySelector('select, button')];
    const bad = st.items.findIndex((x) => x.id && !(whole(x.dwell) >= 1 && whole(x.dwell) <= 86400));
    if (bad >= 0) return [t('cf.badDwell', { n: bad + 1 }), itemsBox.querySelector(`[data-dwell="${bad}"]`)];
    if (!b.targets.length) return [t('cf.needTargets'), targetsBox.querySelector('input')];
    if (startIn.ymd() === null) return [t('cf.badDate', { what: t('cf.start') }), startIn];
    if (!st.noEnd && endIn.ymd() === null) return [t('cf.badDate', { what: t('cf.end') }), endIn];
    if (st.mode === 'days' && !st.noEnd && !b.end) return [t('cf.needEnd'), endIn];
    if (b.start && b.end && b.end < b.start) return [t('cf.badDates'), endIn];
    if (st.mode === 'cron' && (!b.cron || !b.duration_s)) return [t('cf.needCron'), cronInput];
    if (!Number.isFinite(b.priority)) return [t('cf.badPriority'), priority];
    return null;
  };
  const form = h('form', {
    class: 'card', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      formErr.textContent = '';
      const b = toBody();
      const bad = problem(b);
      if (bad) {
        formErr.textContent = bad[0];
        bad[1]?.setAttribute('aria-invalid', 'true');
        bad[1]?.focus();
        return;
      }
      saveBtn.disabled = true;
      try {
        const res = isNew ? await api('/campaigns', { method: 'POST', json: b }) : await api(`/campaigns/${enc(camp.id)}`, { method: 'PUT', json: b });
        toast(t('camp.saved'), 'ok');
        S.dirty = false;
        await loadCampaigns().catch(() => {});
        go(`#/campaigns/${enc(res?.id || camp.id)}`);
      } catch (ex) {
        formErr.textContent = ex.message;
      } finally { saveBtn.disabled = false; }
    },
  },
  field(t('cf.name'), name),
  h('fieldset', {}, h('legend', {}, t('cf.messages')), itemsBox),
  h('fieldset', {}, h('legend', {}, t('cf.targets')), targetsBox),
  h('fieldset', {}, h('legend', {}, t('cf.timing')), modeRadios, daysPart, cronPart),
  h('div', { class: 'inline-fields' },
    field(t('cf.priority'), priority, { hint: t('cf.priorityHint') }),
    field(t('cf.tz'), tzInput)),
  h('datalist', { id: 'tz-list' }, ['Asia/Ho_Chi_Minh', 'Asia/Bangkok', 'UTC'].map((z) => h('option', { value: z }))),
  formErr,
  h('div', { class: 'form-actions' },
    editable ? saveBtn : null,
    editable && camp ? h('button', {
      type: 'button', class: 'btn btn-danger-ghost',
      onclick: async () => {
        if (!await confirmDialog({ title: t('camp.deleteTitle'), body: t('camp.deleteConfirm', { name: camp.name }), ok: t('btn.delete'), danger: true })) return;
        try { await api(`/campaigns/${enc(camp.id)}`, { method: 'DELETE' }); toast(t('camp.deleted'), 'ok'); S.dirty = false; go('#/campaigns'); } catch (ex) { fail(ex); }
      },
    }, t('btn.delete')) : null,
    h('a', { class: 'btn btn-ghost', href: '#/campaigns' }, t('btn.back'))));

  clear(main).append(h('div', { class: 'page' },
    h('nav', { class: 'crumbs', 'aria-label': t('crumbs') }, h('a', { href: '#/campaigns' }, t('camp.title')), ' / ', h('span', {}, isNew ? t('camp.new') : camp.name)),
    h('div', { class: 'page-head' }, h('h1', {}, isNew ? t('camp.new') : editable ? t('camp.edit') : t('camp.view'))),
    form,
    camp ? timeline.el : null));
  renderMode();
  if (camp) timeline.refresh();
  if (isNew && editable) name.focus();
}
