// bangtin dashboard: native ES modules, no framework, no build step. The
// server embeds the web/ folder and serves each file; the dashboard talks
// only to /api/v1 on the same origin.
//
// This entry holds the route table (one page module per route) and starts
// the shell. Shared code lives in lib/: i18n.js (strings), format.js
// (dates, sizes), dom.js (building elements), components.js (toasts,
// dialogs, fields), state.js (what is loaded), api.js (the API client),
// events.js (live events), router.js (hash routing), shell.js (header,
// navigation, sign-out, start-up).

import { can } from './lib/state.js';
import { boot } from './lib/shell.js';
import { viewWall } from './pages/wall.js';
import { viewMessages } from './pages/messages.js';
import { viewCampaigns } from './pages/campaigns.js';
import { viewCalendar } from './pages/calendar.js';
import { viewAlerts } from './pages/alerts.js';
import { viewInbox } from './pages/inbox.js';
import { viewReports } from './pages/reports.js';
import { viewMedia } from './pages/media.js';
import { viewAdmin } from './pages/admin.js';
import { viewAlarms, watchAlarms } from './pages/alarms.js';
import { viewDesk } from './pages/desk.js';

const ROUTES = [
  { path: 'wall', label: 'nav.wall', icon: 'wall', show: () => true, view: viewWall },
  { path: 'messages', label: 'nav.messages', icon: 'messages', show: () => true, view: viewMessages },
  { path: 'desk', label: 'nav.desk', icon: 'check', need: 'approver', show: () => can('approver'), view: viewDesk },
  { path: 'media', label: 'nav.media', icon: 'image', show: () => true, view: viewMedia },
  { path: 'campaigns', label: 'nav.campaigns', icon: 'campaigns', show: () => true, view: viewCampaigns },
  { path: 'calendar', label: 'nav.calendar', icon: 'calendar', show: () => true, view: viewCalendar },
  { path: 'alerts', label: 'nav.alerts', icon: 'alerts', need: 'operator', show: () => can('operator'), view: viewAlerts },
  { path: 'alarms', label: 'nav.alarms', icon: 'warn', show: () => true, view: viewAlarms },
  { path: 'inbox', label: 'nav.inbox', icon: 'inbox', show: () => true, view: viewInbox },
  { path: 'reports', label: 'nav.reports', icon: 'reports', show: () => true, view: viewReports },
  { path: 'admin', label: 'nav.admin', icon: 'admin', need: 'admin', show: () => can('admin'), view: viewAdmin },
];

boot(ROUTES);
watchAlarms();
