// Administration: the panels, added and edited in a dialog.

import { t } from '../lib/i18n.js';
import { prettyGroup, seenText } from '../lib/format.js';
import { clear, h, icon } from '../lib/dom.js';
import { badge, confirmDialog, emptyState, fail, field, toast } from '../lib/components.js';
import { S } from '../lib/state.js';
import { api, enc, loadPanels } from '../lib/api.js';

const FORMATS = ['mono1', 'rgb565', 'rgb888', 'png'];

export async function adminPanels(box, ctx) {
  await loadPanels();
  if (!ctx.alive()) return;
  const render = () => {
    clear(box).append(
      h('div', { class: 'card-head' }, h('p', { class: 'muted' }, t('wall.panels', { n: S.panels.length })),
        h('button', { type: 'button', class: 'btn btn-primary', onclick: () => panelDialog(null, render) }, icon('plus'), t('p.add'))),
      S.panels.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['p.id', 'p.name', 'p.size', 'p.format', 'p.groups', 'p.status', 'msg.col.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, S.panels.map((p) => h('tr', { 'data-panel': p.id },
          h('td', {}, h('code', {}, p.id)),
          h('td', {}, p.name),
          h('td', { class: 'nowrap' }, `${p.width}×${p.height}`),
          h('td', {}, p.format, p.format === 'mono1' ? h('span', { class: 'swatch', style: { background: p.color || '#ff2000' } }) : null),
          h('td', {}, (p.groups || []).map((g) => h('span', { class: 'chip' }, prettyGroup(g)))),
          h('td', {}, p.online ? badge(t('wall.online'), 'ok') : badge(t('wall.offline'), 'off'), h('div', { class: 'row-sub' }, seenText(p.last_seen))),
          h('td', { class: 'actions-cell' },
            h('button', { type: 'button', class: 'btn btn-small', onclick: () => panelDialog(p, render) }, t('btn.edit')),
            h('button', {
              type: 'button', class: 'btn btn-small btn-danger-ghost',
              onclick: async () => {
                if (!await confirmDialog({ title: t('p.deleteTitle'), body: t('p.deleteConfirm', { name: p.name, id: p.id }), ok: t('btn.delete'), danger: true })) return;
                try { await api(`/panels/${enc(p.id)}`, { method: 'DELETE' }); toast(t('p.deleted'), 'ok'); await loadPanels(); render(); } catch (e) { fail(e); }
              },
            }, t('btn.delete'))))))))
        : emptyState(t('wall.noPanels')));
  };
  render();
}

function panelDialog(p, done) {
  const id = h('input', { type: 'text', value: p?.id || '', readOnly: !!p, required: true, pattern: '[a-z0-9][a-z0-9-]{0,63}', class: 'mono', autocomplete: 'off' });
  const name = h('input', { type: 'text', value: p?.name || '', required: true, autocomplete: 'off' });
  const width = h('input', { type: 'number', min: '8', max: '1024', value: p?.width || 128, class: 'num-input' });
  const height = h('input', { type: 'number', min: '8', max: '1024', value: p?.height || 32, class: 'num-input' });
  const format = h('select', { id: 'panel-format' }, FORMATS.map((f) => h('option', { value: f, selected: (p?.format || 'mono1') === f }, t(`fmt.${f}`))));
  const groups = h('input', { type: 'text', value: (p?.groups || []).join(', '), autocomplete: 'off' });
  // The LED colour means something only for single-colour (mono1) panels:
  // asked, and sent, only for them.
  const color = h('input', { type: 'color', value: p?.color || '#ff2000', id: 'panel-color' });
  const colorField = field(t('p.color'), color, { hint: t('p.colorHint') });
  const syncColor = () => { colorField.hidden = format.value !== 'mono1'; };
  format.addEventListener('change', syncColor);
  syncColor();
  const err = h('p', { class: 'field-error', role: 'alert' });
  const dlg = h('dialog', { class: 'dialog dialog-wide', 'aria-labelledby': 'pd-title' });
  const form = h('form', {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      const b = {
        id: id.value.trim(),
        name: name.value.trim(),
        width: parseInt(width.value, 10),
        height: parseInt(height.value, 10),
        format: format.value,
        groups: groups.value.split(',').map((x) => x.trim()).filter(Boolean),
      };
      if (format.value === 'mono1') b.color = color.value;
      if (p?.brightness) b.brightness = p.brightness;
      try {
        if (p) await api(`/panels/${enc(p.id)}`, { method: 'PUT', json: b });
        else await api('/panels', { method: 'POST', json: b });
        toast(t('p.saved'), 'ok');
        dlg.close();
        await loadPanels();
        done();
      } catch (ex) { err.textContent = ex.message; }
    },
  },
  h('h2', { id: 'pd-title' }, p ? t('p.edit', { id: p.id }) : t('p.new')),
  h('div', { class: 'form-grid' },
    field(t('p.id'), id, { hint: t('p.idHint') }),
    field(t('p.name'), name),
    field(t('p.width'), width),
    field(t('p.height'), height),
    field(t('p.format'), format),
    colorField,
    field(t('p.groups'), groups, { hint: t('p.groupsHint'), cls: 'span-2' })),
  err,
  h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'btn', onclick: () => dlg.close() }, t('btn.cancel')),
    h('button', { type: 'submit', class: 'btn btn-primary' }, p ? t('btn.saveChanges') : t('btn.create'))));
  dlg.append(form);
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  (p ? name : id).focus();
}
