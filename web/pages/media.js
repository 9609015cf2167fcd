// The media library: every uploaded image as a card with its picture, name,
// size, who uploaded it when, and the messages that use it; upload, rename,
// and delete (refused, with the messages named, while one uses it).

import { t } from '../lib/i18n.js';
import { fmtBytes, fmtDateTime } from '../lib/format.js';
import { clear, h, icon } from '../lib/dom.js';
import { confirmDialog, emptyState, fail, field, infoDialog, toast } from '../lib/components.js';
import { can } from '../lib/state.js';
import { api, enc, uploadImage } from '../lib/api.js';
import { onCleanup } from '../lib/router.js';

const TYPES = /^image\/(png|jpeg|gif|webp)$/;
/** Pictures fetched at once (each is the original file). */
const PARALLEL = 4;

export async function viewMedia(main, _args, ctx) {
  document.title = `${t('media.title')} · ${t('app.title')}`;
  const editable = can('editor');
  const grid = h('div', { class: 'media-grid', id: 'media-grid' });
  const counter = h('p', { class: 'counter', 'aria-live': 'polite' });
  const urls = new Map();
  onCleanup(() => { for (const u of urls.values()) URL.revokeObjectURL(u); urls.clear(); });
  let assets = [];

  // Pictures are fetched a few at a time (they need the token, so no plain <img src>).
  const queue = [];
  let running = 0;
  const pump = () => {
    while (running < PARALLEL && queue.length) {
      const [id, img] = queue.shift();
      running++;
      api(`/assets/${enc(id)}`, { raw: true })
        .then((r) => r.blob())
        .then((b) => {
          if (!ctx.alive()) return;
          if (!urls.has(id)) urls.set(id, URL.createObjectURL(b));
          img.src = urls.get(id);
        })
        .catch(() => img.closest('.media-thumb')?.classList.add('media-thumb-missing'))
        .finally(() => { running--; pump(); });
    }
  };
  const thumb = (a) => {
    const img = h('img', { alt: a.name || t('media.unnamed'), loading: 'lazy', decoding: 'async' });
    if (urls.has(a.id)) img.src = urls.get(a.id);
    else { queue.push([a.id, img]); pump(); }
    return h('div', { class: 'media-thumb' }, img);
  };

  const rename = async (a) => {
    const input = h('input', { type: 'text', value: a.name || '', maxlength: '200', id: 'media-name', required: true });
    const ok = await confirmDialog({ title: t('media.renameTitle'), body: field(t('media.name'), input), ok: t('btn.save') });
    if (!ok) return;
    const name = input.value.trim();
    if (!name) { toast(t('media.nameEmpty')); return; }
    try {
      await api(`/assets/${enc(a.id)}`, { method: 'PATCH', json: { name } });
      toast(t('media.renamed'), 'ok');
      await load();
    } catch (e) { fail(e); }
  };

  const inUse = (a, users) => infoDialog({
    title: t('media.inUseTitle'),
    body: h('div', { class: 'in-use' },
      h('p', {}, t('media.inUse', { name: a.name || t('media.unnamed'), n: users.length })),
      h('ul', {}, users.map((m) => h('li', {}, h('a', { href: `#/messages/${enc(m.id)}`, onclick: (e) => e.target.closest('dialog')?.close() }, m.title)))),
      h('p', { class: 'muted' }, t('media.inUseHow'))),
  });

  const remove = async (a) => {
    if (a.used_by.length) { await inUse(a, a.used_by); return; }
    const ok = await confirmDialog({ title: t('media.deleteTitle'), body: t('media.deleteConfirm', { name: a.name || t('media.unnamed') }), ok: t('btn.delete'), danger: true });
    if (!ok) return;
    try {
      await api(`/assets/${enc(a.id)}`, { method: 'DELETE' });
      toast(t('media.deleted'), 'ok');
      await load();
    } catch (e) {
      // Someone used it meanwhile: the server names the messages.
      if (e.status === 409 && Array.isArray(e.body?.messages)) { await inUse(a, e.body.messages); await load(); } else fail(e);
    }
  };

  const card = (a) => h('article', { class: 'media-card', 'data-asset': a.id },
    thumb(a),
    h('div', { class: 'media-body' },
      h('h3', { class: 'media-name', title: a.name || '' }, a.name || h('span', { class: 'muted' }, t('media.unnamed'))),
      h('p', { class: 'muted small media-facts' }, `${a.width}×${a.height} px · ${fmtBytes(a.bytes)} · ${a.content_type.replace('image/', '').toUpperCase()}`),
      h('p', { class: 'muted small' }, t('media.uploaded', { who: a.uploaded_by, when: fmtDateTime(a.uploaded_at) })),
      h('div', { class: 'media-used' }, a.used_by.length
        ? [h('span', { class: 'small' }, t('media.usedBy', { n: a.used_by.length })), h('ul', {}, a.used_by.map((m) => h('li', {}, h('a', { href: `#/messages/${enc(m.id)}` }, m.title))))]
        : h('span', { class: 'small muted' }, t('media.unused'))),
      editable ? h('div', { class: 'media-actions' },
        h('button', { type: 'button', class: 'btn btn-small', 'data-action': 'rename', onclick: () => rename(a) }, t('media.rename')),
        h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'data-action': 'delete', onclick: () => remove(a) }, t('btn.delete'))) : null));

  const render = () => {
    clear(grid);
    counter.textContent = t('media.count', { n: assets.length });
    if (!assets.length) { grid.append(emptyState(t('media.empty'))); return; }
    grid.append(...assets.map(card));
  };
  const load = async () => {
    assets = await api('/assets');
    if (ctx.alive()) render();
  };

  const fileInput = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/gif,image/webp', multiple: true, class: 'visually-hidden', id: 'media-file', tabindex: '-1' });
  const upload = async (files) => {
    const list = [...files];
    if (!list.length) return;
    let done = 0;
    for (const f of list) {
      if (!TYPES.test(f.type)) { toast(t('f.badType')); continue; }
      try { await uploadImage(f); done++; } catch (e) { fail(e); }
    }
    if (done) toast(t('media.uploadedN', { n: done }), 'ok');
    await load();
  };
  fileInput.addEventListener('change', () => { upload(fileInput.files); fileInput.value = ''; });
  const uploadBtn = editable ? h('label', { class: 'btn btn-primary', for: 'media-file', tabindex: '0', id: 'media-upload',
    onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } } }, icon('plus'), t('media.upload')) : null;
  if (editable) {
    for (const ev of ['dragenter', 'dragover']) grid.addEventListener(ev, (e) => { e.preventDefault(); grid.classList.add('drag'); });
    for (const ev of ['dragleave', 'drop']) grid.addEventListener(ev, () => grid.classList.remove('drag'));
    grid.addEventListener('drop', (e) => { e.preventDefault(); upload(e.dataTransfer.files); });
  }

  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' },
      h('div', {}, h('h1', {}, t('media.title')), h('p', { class: 'lead' }, t('media.lead'))),
      h('div', { class: 'page-actions' }, counter, uploadBtn, fileInput)),
    grid));
  await load();
}
