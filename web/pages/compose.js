// The composer: write or edit a message, upload its picture, approve it,
// with live previews beside the form.

import { t } from '../lib/i18n.js';
import { fmtBytes, fmtDateTime, fmtSpan } from '../lib/format.js';
import { clear, h, icon } from '../lib/dom.js';
import { confirmDialog, fail, field, infoDialog, statusBadge, toast } from '../lib/components.js';
import { S, can } from '../lib/state.js';
import { api, enc, loadCampaigns, loadMessages, loadPanels, uploadImage } from '../lib/api.js';
import { go, keepOnRedraw, keptState, onCleanup } from '../lib/router.js';
import { approveButton } from './approval.js';
import { LONG_PAGES, makeLivePreview, makeSavedPreview } from './previews.js';

const MAX_TEXT = 4000;

/** An RFC 3339 instant as a `datetime-local` value in Vietnam time (UTC+7, no DST). */
function toLocalInput(iso) {
  if (!iso) return '';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? '' : new Date(ms + 7 * 3600e3).toISOString().slice(0, 16);
}

export async function viewCompose(main, id, ctx) {
  const isNew = id === 'new';
  await Promise.all([loadPanels().catch(() => {}), loadCampaigns().catch(() => {})]);
  let msg = null;
  if (!isNew) {
    try { msg = await api(`/messages/${enc(id)}`); } catch (e) {
      if (e.status === 404) { clear(main).append(h('div', { class: 'page' }, h('p', { class: 'error-box' }, t('compose.notFound')), h('a', { class: 'btn', href: '#/messages' }, t('btn.back')))); return; }
      throw e;
    }
  }
  if (!ctx.alive()) return;
  const editable = can('editor');
  document.title = `${isNew ? t('compose.new') : msg.title} · ${t('app.title')}`;

  // Form state. Colours are null until the author picks one (panel default).
  const base = {
    title: msg?.title || '',
    text: msg?.text || '',
    image: msg?.image || null,
    imageInfo: null,
    color: msg?.style?.color || null,
    background: msg?.style?.background || null,
    align: msg?.style?.align || 'center',
    fit: msg?.style?.fit || 'contain',
    caption: msg?.style?.caption || 'below',
    validFrom: toLocalInput(msg?.valid_from),
    validUntil: toLocalInput(msg?.valid_until),
  };
  const st = { ...base };
  const body = (f = st) => {
    const style = { align: f.align };
    if (f.color) style.color = f.color;
    if (f.background) style.background = f.background;
    if (f.image) { style.fit = f.fit; style.caption = f.caption; }
    const b = { title: f.title.trim(), style };
    if (f.text.trim()) b.text = f.text;
    if (f.image) b.image = f.image;
    if (f.validFrom) b.valid_from = `${f.validFrom}:00+07:00`;
    if (f.validUntil) b.valid_until = `${f.validUntil}:00+07:00`;
    return b;
  };
  const saved = JSON.stringify(body(base));
  // A redraw in place (the language switch) hands back what was typed.
  const kept = keptState();
  if (kept) { Object.assign(st, kept); S.dirty = JSON.stringify(body()) !== saved; }
  keepOnRedraw(() => ({ ...st }));
  const markDirty = () => { S.dirty = JSON.stringify(body()) !== saved; syncButtons(); };

  // --- controls
  const title = h('input', { type: 'text', name: 'title', value: st.title, maxlength: '200', required: true, readOnly: !editable, autocomplete: 'off' });
  const text = h('textarea', { name: 'text', rows: '6', lang: 'vi', readOnly: !editable, spellcheck: 'false' });
  text.value = st.text;
  const counter = h('span', { class: 'char-count' });
  const updCounter = () => {
    const n = [...text.value].length;
    counter.textContent = t('f.chars', { n, max: MAX_TEXT });
    counter.classList.toggle('over', n > MAX_TEXT);
  };
  updCounter();
  const validInput = (key, id) => {
    const el = h('input', { type: 'datetime-local', id, name: id, value: st[key], readOnly: !editable });
    el.addEventListener('input', () => { st[key] = el.value; changed(); });
    return el;
  };
  const validBox = h('div', { class: 'field' },
    h('div', { class: 'valid-grid' },
      field(t('f.validFrom'), validInput('validFrom', 'valid-from')),
      field(t('f.validUntil'), validInput('validUntil', 'valid-until'))),
    h('p', { class: 'hint' }, t('f.validHint')));

  const imageBox = h('div', { class: 'image-box' });
  // One thumbnail at a time: its object URL is let go when it is replaced,
  // removed, or the page is left.
  let thumbUrl = null;
  const dropThumb = () => { if (thumbUrl) URL.revokeObjectURL(thumbUrl); thumbUrl = null; };
  onCleanup(dropThumb);
  const fileInput = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/gif,image/webp', class: 'visually-hidden', id: 'image-file', tabindex: '-1' });
  let imageGen = 0;
  const renderImage = async () => {
    const gen = ++imageGen;
    clear(imageBox);
    dropThumb();
    if (st.image && !st.imageInfo) {
      // A saved message names its image by hash: look up its name and size.
      try { st.imageInfo = (await api('/assets')).find((a) => a.id === st.image) || null; } catch { /* shown without them */ }
      if (gen !== imageGen || !ctx.alive()) return;
    }
    if (st.image) {
      const thumb = h('div', { class: 'thumb' });
      imageBox.append(h('div', { class: 'image-set' }, thumb,
        h('div', { class: 'image-meta' },
          h('p', { class: 'image-name' }, st.imageInfo?.name || t('media.unnamed')),
          st.imageInfo ? h('p', { class: 'muted small' }, t('f.imageInfo', { w: st.imageInfo.width, h: st.imageInfo.height, size: fmtBytes(st.imageInfo.bytes) })) : null,
          editable ? h('button', { type: 'button', class: 'btn btn-small', onclick: () => { st.image = null; st.imageInfo = null; renderImage(); renderStyleExtras(); changed(); } }, icon('x'), t('f.removeImage')) : null)));
      try {
        const r = await api(`/assets/${enc(st.image)}`, { raw: true });
        const blob = await r.blob();
        if (gen !== imageGen || !ctx.alive()) return;
        thumbUrl = URL.createObjectURL(blob);
        thumb.append(h('img', { src: thumbUrl, alt: t('f.thumbAlt') }));
      } catch { /* thumbnail is a nicety */ }
    } else if (editable) {
      const drop = h('label', { class: 'drop', for: 'image-file', tabindex: '0',
        onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } } },
      icon('image', 'icon icon-lg'),
      h('span', {}, t('f.drop'), ' ', h('u', {}, t('f.pick'))),
      h('span', { class: 'hint' }, t('f.imageTypes')));
      for (const ev of ['dragenter', 'dragover']) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add('drag'); });
      for (const ev of ['dragleave', 'drop']) drop.addEventListener(ev, () => drop.classList.remove('drag'));
      drop.addEventListener('drop', (e) => { e.preventDefault(); const f = e.dataTransfer.files[0]; if (f) upload(f); });
      imageBox.append(drop);
    } else {
      imageBox.append(h('p', { class: 'muted' }, t('none')));
    }
  };
  const upload = async (file) => {
    if (!/^image\/(png|jpeg|gif|webp)$/.test(file.type)) { toast(t('f.badType')); return; }
    clear(imageBox).append(h('p', { class: 'muted' }, t('f.uploading')));
    try {
      const a = await uploadImage(file);
      st.image = a.id;
      st.imageInfo = a;
      toast(t('f.uploaded'), 'ok');
    } catch (e) { fail(e); }
    renderImage();
    renderStyleExtras();
    changed();
  };
  fileInput.addEventListener('change', () => { if (fileInput.files[0]) upload(fileInput.files[0]); fileInput.value = ''; });

  const colorControl = (key, label, fallback) => {
    const input = h('input', { type: 'color', value: st[key] || fallback, disabled: !editable, 'aria-label': label });
    const state = h('span', { class: 'color-state' });
    const reset = h('button', { type: 'button', class: 'btn btn-link btn-small', disabled: !editable }, t('f.default'));
    const sync = () => { state.textContent = st[key] ? st[key] : t('f.defaultColor'); reset.hidden = !st[key]; };
    input.addEventListener('input', () => { st[key] = input.value; sync(); changed(); });
    reset.addEventListener('click', () => { st[key] = null; input.value = fallback; sync(); changed(); });
    sync();
    return h('div', { class: 'field' }, h('span', { class: 'label' }, label), h('div', { class: 'color-row' }, input, state, reset));
  };

  const alignGroup = h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': t('f.align') });
  const renderAlign = () => {
    clear(alignGroup);
    for (const a of ['left', 'center', 'right']) {
      alignGroup.append(h('button', { type: 'button', role: 'radio', class: 'seg', 'aria-checked': String(st.align === a), disabled: !editable,
        onclick: () => { st.align = a; renderAlign(); changed(); } }, t(`align.${a}`)));
    }
  };
  renderAlign();
  const select = (key, options) => {
    const s = h('select', { disabled: !editable }, options.map((o) => h('option', { value: o, selected: st[key] === o }, t(`${key}.${o}`))));
    s.addEventListener('change', () => { st[key] = s.value; changed(); });
    return s;
  };
  const extras = h('div', { class: 'style-extras' });
  const renderStyleExtras = () => {
    clear(extras);
    if (!st.image) return;
    extras.append(field(t('f.fit'), select('fit', ['contain', 'cover', 'stretch'])), field(t('f.caption'), select('caption', ['below', 'above', 'over'])));
  };
  renderStyleExtras();

  title.addEventListener('input', () => { st.title = title.value; changed(); });
  text.addEventListener('input', () => { st.text = text.value; updCounter(); changed(); });

  // --- too many pages: said beside the text, naming each kind of sign
  const longBox = h('div', { class: 'long-warning', id: 'long-warning', role: 'alert', hidden: true });
  // Reading time is judged by the shortest page time of the campaigns that
  // play this message, else the 8 seconds a page gets by default.
  const dwellFor = () => {
    const ds = msg ? S.campaigns.flatMap((c) => (c.messages || []).filter((m) => m.id === msg.id).map((m) => m.dwell_s)) : [];
    return ds.length ? Math.min(...ds) : 8;
  };
  function showLong(list) {
    clear(longBox);
    longBox.hidden = !list.length;
    if (!list.length) return;
    longBox.append(h('p', { class: 'long-lead' }, icon('warn'), h('strong', {}, t('long.title'))),
      h('ul', {}, list.map((x) => h('li', { 'data-profile': x.key },
        t('long.item', { sign: x.sign, panels: x.panels, pages: x.pages, time: fmtSpan(x.pages * x.dwell), dwell: x.dwell })))),
      h('p', { class: 'hint' }, t('long.how', { max: LONG_PAGES })));
  }

  // --- status and actions
  const meta = h('div', { class: 'meta-box' });
  const actions = h('div', { class: 'form-actions' });
  const saveLabel = isNew || msg?.status === 'draft' ? t('btn.save') : t('btn.saveChanges');
  const saveBtn = h('button', { type: 'submit', class: 'btn btn-primary', id: 'save-message' }, saveLabel);
  const renderMeta = () => {
    clear(meta);
    if (!msg) return;
    meta.append(
      h('div', { class: 'meta-row' }, h('span', { class: 'label' }, t('meta.status')), statusBadge(msg.status)),
      h('p', {}, t('meta.editedBy', { who: msg.updated_by, when: fmtDateTime(msg.updated_at) })),
      msg.approved_by && msg.status === 'approved'
        ? h('p', {}, t('meta.approvedBy', { who: msg.approved_by, when: fmtDateTime(msg.approved_at) }))
        : h('p', { class: 'muted' }, t('meta.notApproved')));
    if (msg.status === 'approved' && editable) meta.append(h('p', { class: 'notice' }, icon('warn'), t('compose.approvedBanner')));
    if (msg.rejection) {
      const r = msg.rejection;
      meta.append(h('div', { class: 'notice rejection-box', id: 'rejection-note', role: 'status' }, icon('warn'),
        h('div', {}, h('p', {}, t('compose.rejectedBanner', { who: r.by, n: r.version, when: fmtDateTime(r.at) })),
          h('blockquote', { 'data-testid': 'rejection-comment' }, r.comment),
          editable ? h('p', {}, t('compose.rejectedHow')) : null)));
    }
  };
  const syncButtons = () => {
    clear(actions);
    if (editable) actions.append(saveBtn);
    if (msg && can('approver') && msg.status === 'draft') actions.append(approveButton(msg, reloadMsg, { dirty: S.dirty }));
    if (msg && editable) actions.append(h('button', { type: 'button', class: 'btn btn-danger-ghost', onclick: del }, t('btn.delete')));
    actions.append(h('a', { class: 'btn btn-ghost', href: '#/messages' }, t('btn.back')));
  };
  const reloadMsg = async () => {
    msg = await api(`/messages/${enc(msg.id)}`);
    renderMeta();
    syncButtons();
    savedPreview.refresh();
  };
  const inUse = (users) => infoDialog({
    title: t('compose.inUseTitle'),
    body: h('div', { class: 'in-use' },
      h('p', {}, t('compose.inUse', { title: msg.title, n: users.length })),
      h('ul', {}, users.map((c) => h('li', {}, h('a', { href: `#/campaigns/${enc(c.id)}`, onclick: (ev) => ev.target.closest('dialog')?.close() }, c.name)))),
      h('p', { class: 'muted' }, t('compose.inUseHow'))),
  });
  const del = async () => {
    // A message a campaign lists cannot be deleted: name the campaigns
    // first instead of offering a delete that will fail.
    try { await loadCampaigns(); } catch (e) { fail(e); return; }
    const users = S.campaigns.filter((c) => (c.messages || []).some((m) => m.id === msg.id));
    if (users.length) { await inUse(users); return; }
    const ok = await confirmDialog({ title: t('compose.deleteTitle'), body: t('compose.deleteConfirm', { title: msg.title }), ok: t('btn.delete'), danger: true });
    if (!ok) return;
    try {
      await api(`/messages/${enc(msg.id)}`, { method: 'DELETE' });
      toast(t('compose.deleted'), 'ok');
      S.dirty = false;
      await loadMessages();
      go('#/messages');
    } catch (e) {
      // A campaign took it up meanwhile: the server names the campaigns.
      if (e.status === 409 && Array.isArray(e.body?.campaigns)) await inUse(e.body.campaigns); else fail(e);
    }
  };
  const formErr = h('p', { class: 'field-error', role: 'alert' });
  const form = h('form', {
    class: 'card compose-form', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      formErr.textContent = '';
      const b = body();
      if (!b.title) { formErr.textContent = t('compose.needTitle'); title.focus(); return; }
      if (!b.text && !b.image) { formErr.textContent = t('compose.needContent'); text.focus(); return; }
      if (msg?.status === 'approved') {
        const ok = await confirmDialog({ title: t('compose.approvedWarnTitle'), body: t('compose.approvedWarn'), ok: t('btn.saveChanges') });
        if (!ok) return;
      }
      saveBtn.disabled = true;
      saveBtn.textContent = t('btn.saving');
      try {
        const res = isNew ? await api('/messages', { method: 'POST', json: b }) : await api(`/messages/${enc(msg.id)}`, { method: 'PUT', json: b });
        toast(t('compose.saved'), 'ok');
        S.dirty = false;
        await loadMessages().catch(() => {});
        go(`#/messages/${enc(res.id || msg.id)}`);
      } catch (ex) {
        formErr.textContent = ex.message;
        saveBtn.disabled = false;
        saveBtn.textContent = saveLabel;
      }
    },
  },
  field(t('f.title'), title, { hint: t('f.titleHint') }),
  h('div', { class: 'field' },
    h('div', { class: 'label-row' }, h('label', { for: 'msg-text' }, t('f.text')), counter),
    Object.assign(text, { id: 'msg-text' }),
    h('p', { class: 'hint' }, t('f.textHint')),
    longBox),
  h('div', { class: 'field' }, h('span', { class: 'label' }, t('f.image')), imageBox, fileInput),
  validBox,
  h('fieldset', { class: 'style-set' },
    h('legend', {}, t('f.style')),
    h('div', { class: 'style-grid' },
      colorControl('color', t('f.color'), '#ffb000'),
      colorControl('background', t('f.background'), '#000000'),
      h('div', { class: 'field' }, h('span', { class: 'label' }, t('f.align')), alignGroup)),
    extras),
  formErr,
  actions);

  // --- previews
  const livePreview = editable ? makeLivePreview(body, { dwell: dwellFor, onPages: showLong }) : null;
  const savedPreview = makeSavedPreview(() => msg);
  const changed = () => { markDirty(); livePreview?.schedule(); };

  clear(main).append(h('div', { class: 'page' },
    h('nav', { class: 'crumbs', 'aria-label': t('crumbs') }, h('a', { href: '#/messages' }, t('msg.title')), ' / ', h('span', {}, isNew ? t('compose.new') : msg.title)),
    h('div', { class: 'page-head' }, h('h1', {}, isNew ? t('compose.new') : editable ? t('compose.edit') : t('compose.view'))),
    h('div', { class: 'compose' },
      h('div', { class: 'compose-left' }, meta, form),
      h('div', { class: 'compose-right' }, livePreview?.el, msg ? savedPreview.el : null))));
  renderMeta();
  syncButtons();
  renderImage();
  livePreview?.schedule(0);
  if (msg) savedPreview.refresh();
  if (editable && isNew) title.focus();
}
