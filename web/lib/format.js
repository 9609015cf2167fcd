// Dates, times, durations and sizes as a person reads them, in Vietnam's
// time zone and the chosen language.

import { lang, locale, t } from './i18n.js';

export const TZ = 'Asia/Ho_Chi_Minh';

export function fmtDateTime(iso) {
  if (!iso) return t('none');
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  return new Intl.DateTimeFormat(locale(), { timeZone: TZ, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' }).format(d);
}

export function fmtTime(iso) {
  if (!iso) return t('none');
  return new Intl.DateTimeFormat(locale(), { timeZone: TZ, hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
}

export function fmtDate(ymd) {
  if (!ymd) return t('none');
  const [y, m, d] = ymd.split('-').map(Number);
  return new Intl.DateTimeFormat(locale(), { timeZone: 'UTC', day: '2-digit', month: '2-digit', year: 'numeric' }).format(new Date(Date.UTC(y, m - 1, d)));
}

export function relTime(iso) {
  if (!iso) return t('none');
  const diff = (new Date(iso).getTime() - Date.now()) / 1000;
  const rtf = new Intl.RelativeTimeFormat(lang === 'vi' ? 'vi' : 'en', { numeric: 'auto' });
  const a = Math.abs(diff);
  if (a < 45) return t('time.justNow');
  if (a < 3600) return rtf.format(Math.round(diff / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(diff / 3600), 'hour');
  return rtf.format(Math.round(diff / 86400), 'day');
}

export function fmtDuration(s) {
  if (s == null) return t('none');
  if (s % 3600 === 0) return `${s / 3600} ${t('unit.hour')}`;
  if (s % 60 === 0) return `${s / 60} ${t('unit.min')}`;
  return `${s} s`;
}

export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Today's date in Vietnam as YYYY-MM-DD. */
export function todayVN(offsetDays = 0) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  return new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit' }).format(d);
}

export function addDays(ymd, n) {
  const [y, m, d] = ymd.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
}

/** Midnight at the start of a Vietnamese date, as RFC 3339 with +07:00. */
export function vnMidnight(ymd) { return `${ymd}T00:00:00+07:00`; }

/** Group ids are slugs ("hai-chau"); show them as words ("Hai Chau"). */
// Groups' display names ("Thành phố Vinh" for tp-vinh), from GET /groups.
const groupNames = new Map();

/** Remembers the display names of `list` ([{id, name}]). */
export function setGroupNames(list) {
  groupNames.clear();
  for (const g of list) groupNames.set(g.id, g.name);
}

/** What people read for a group: its display name, else its id as words. */
export function prettyGroup(g) {
  return groupNames.get(g) || String(g).split('-').filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join(' ');
}

/** `s` folded for search: lower case, Vietnamese marks dropped, đ as d. */
export function fold(s) {
  return String(s ?? '').toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/đ/g, 'd');
}

/** Whether `hay` contains `needle`, ignoring case and diacritics ("son tra" finds "Sơn Trà"). */
export function matches(hay, needle) {
  return fold(hay).includes(fold(needle));
}

/** A stable, readable colour per campaign id. */
function hueOf(s) {
  let x = 0;
  for (const c of String(s)) x = (x * 31 + c.codePointAt(0)) >>> 0;
  return (x * 137) % 360;
}

export function campaignColor(id) { return `hsl(${hueOf(id)} 55% 42%)`; }

export function seenText(iso) { return iso ? t('wall.lastSeen', { when: relTime(iso) }) : t('wall.neverSeen'); }

/** The first `max` characters of `text`, cut at a word boundary, with "…" when cut. */
export function snippet(text, max = 90) {
  const s = String(text || '').replace(/\s+/g, ' ').trim();
  const chars = [...s];
  if (chars.length <= max) return s;
  const head = chars.slice(0, max + 1).join('');
  const cut = head.lastIndexOf(' ');
  const words = (cut > max / 2 ? head.slice(0, cut) : chars.slice(0, max).join('')).replace(/[\s,.;:!?–-]+$/u, '');
  return `${words}…`;
}

/** YYYY-MM-DD → dd/mm/yyyy, the way dates are written in Vietnam (and shown here in both languages). */
export function ymdToDmy(ymd) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd || '');
  return m ? `${m[3]}/${m[2]}/${m[1]}` : '';
}

/** dd/mm/yyyy (also d/m/yyyy, with '.' or '-') → YYYY-MM-DD, or null if it is not a real date. */
export function dmyToYmd(text) {
  const m = /^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$/.exec(text || '');
  if (!m) return null;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const dt = new Date(Date.UTC(y, mo - 1, d));
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== mo - 1 || dt.getUTCDate() !== d) return null;
  return dt.toISOString().slice(0, 10);
}

/** Seconds as "17 phút 44 giây" / "17 min 44 s". */
export function fmtSpan(s) {
  const m = Math.floor(s / 60);
  const r = Math.round(s % 60);
  if (!m) return t('span.s', { s: r });
  return r ? t('span.ms', { m, s: r }) : t('span.m', { m });
}
