// Administration: the tabs for panels, groups, users and tokens, and the
// audit trail.

import { t } from '../lib/i18n.js';
import { clear, h } from '../lib/dom.js';
import { adminAudit } from './admin-audit.js';
import { adminGroups } from './groups.js';
import { adminPanels } from './admin-panels.js';
import { adminTokens } from './admin-tokens.js';
import { adminUsers } from './admin-users.js';

export async function viewAdmin(main, args, ctx) {
  document.title = `${t('adm.title')} · ${t('app.title')}`;
  const TABS = ['panels', 'groups', 'users', 'tokens', 'audit'];
  const tab = TABS.includes(args[0]) ? args[0] : 'panels';
  const body = h('div');
  clear(main).append(h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, t('adm.title'))),
    h('nav', { class: 'tabs', 'aria-label': t('adm.title') }, TABS.map((k) =>
      h('a', { href: `#/admin/${k}`, class: 'tab', 'aria-current': k === tab ? 'page' : null }, t(`adm.${k}`)))),
    body));
  if (tab === 'panels') await adminPanels(body, ctx);
  else if (tab === 'groups') await adminGroups(body, ctx);
  else if (tab === 'users') await adminUsers(body, ctx);
  else if (tab === 'tokens') await adminTokens(body, ctx);
  else await adminAudit(body, ctx);
}
