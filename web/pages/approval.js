// The approve button, in the message list, the composer and the approval
// desk (desk.js). The last editor may not approve (four eyes) unless
// the server allows self-approval (`allow_self_approval` in GET /me): the
// button is disabled, with the reason, when it does not.

import { t } from '../lib/i18n.js';
import { h, icon } from '../lib/dom.js';
import { fail, toast } from '../lib/components.js';
import { S } from '../lib/state.js';
import { api, enc, loadMessages } from '../lib/api.js';

export function approveButton(m, onDone, { dirty = false } = {}) {
  const self = m.updated_by === S.me.name;
  const blocked = self && S.selfApproval === false;
  const note = blocked ? t('fourEyes') : dirty ? t('compose.saveFirst') : null;
  const btn = h('button', {
    type: 'button', class: 'btn btn-approve', disabled: blocked || dirty, 'data-action': 'approve',
    title: note, 'aria-describedby': note ? `ap-${m.id}` : null,
    onclick: async () => {
      btn.disabled = true;
      try {
        await api(`/messages/${enc(m.id)}/approve`, { method: 'POST' });
        toast(t('compose.approved'), 'ok');
        await loadMessages();
        onDone?.();
      } catch (e) {
        if (e.code === 'four_eyes') { S.selfApproval = false; toast(t('fourEyes.refused')); onDone?.(); } else fail(e);
        btn.disabled = false;
      }
    },
  }, icon('check'), t('btn.approve'));
  return h('span', { class: 'approve-wrap' }, btn, note ? h('span', { class: 'approve-note', id: `ap-${m.id}` }, note) : null);
}
