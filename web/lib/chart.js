// Charts drawn by hand as SVG (no library, nothing fetched): stacked bars
// per day, a line over time, and paired horizontal bars. Drawn with
// `titled: true`, a chart carries its title and period inside the picture,
// so a saved PNG stands on its own (on the page the card's heading says
// it); `toPng()` draws the SVG onto a canvas.

import { locale } from './i18n.js';
import { TZ } from './format.js';

const NS = 'http://www.w3.org/2000/svg';
const FONT = '"Segoe UI", "Noto Sans", Roboto, "DejaVu Sans", Arial, sans-serif';
const INK = '#17212b';
const MUTED = '#56626f';
const GRID = '#d9e0e7';

/** Distinct colours for series, in order; the rest share the last ("other"). */
export const PALETTE = ['#0b5394', '#d9822b', '#12733a', '#8e44ad', '#c0392b', '#16a3b5', '#7f8c1f', '#b8558a', '#5d6d7e'];

function el(tag, attrs = {}, ...kids) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) e.setAttribute(k, String(v));
  for (const k of kids) if (k != null) e.append(k);
  return e;
}

function text(x, y, s, attrs = {}) {
  return el('text', { x, y, fill: INK, 'font-family': FONT, 'font-size': 12, ...attrs }, String(s));
}

/** A round step for about `n` ticks up to `max`: 1, 2 or 5 × 10^k. */
export function niceStep(max, n = 5) {
  if (!(max > 0)) return 1;
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Room above the plot for the title and the period, when drawn. */
const HEAD = 50;

/** The picture with its white ground; with `titled`, the title and period on top. */
function frame(width, height, { title, subtitle, titled }) {
  const svg = el('svg', { xmlns: NS, width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, class: 'chart-svg' });
  svg.append(el('title', {}, title));
  svg.append(el('rect', { x: 0, y: 0, width, height, fill: '#ffffff' }));
  if (titled) {
    svg.append(text(12, 22, title, { 'font-size': 15, 'font-weight': 600 }));
    if (subtitle) svg.append(text(12, 40, subtitle, { fill: MUTED }));
  }
  return svg;
}

/** The y axis: grid lines and labels from 0 to the top tick; returns the scale. Counts step by whole numbers. */
function yAxis(svg, { left, top, bottom, right, max, fmt }) {
  const step = Math.max(1, niceStep(max));
  const top0 = Math.max(step, Math.ceil(max / step) * step);
  const y = (v) => bottom - (v / top0) * (bottom - top);
  for (let v = 0; v <= top0 + step / 2; v += step) {
    svg.append(el('line', { x1: left, x2: right, y1: y(v), y2: y(v), stroke: GRID, 'stroke-width': 1 }));
    svg.append(text(left - 6, y(v) + 4, fmt(v), { 'text-anchor': 'end', fill: MUTED, 'font-size': 11 }));
  }
  return y;
}

function legend(svg, items, x, y, width) {
  let cx = x;
  let cy = y;
  for (const it of items) {
    const w = 18 + Math.min(it.name.length, 28) * 6.6 + 14;
    if (cx + w > x + width && cx > x) { cx = x; cy += 18; }
    svg.append(el('rect', { x: cx, y: cy - 9, width: 11, height: 11, fill: it.color, rx: 2 }));
    svg.append(text(cx + 16, cy + 1, it.name.length > 28 ? `${it.name.slice(0, 27)}…` : it.name, { 'font-size': 11.5 }));
    cx += w;
  }
  return cy + 14;
}

function legendHeight(items, width) {
  let cx = 0;
  let rows = 1;
  for (const it of items) {
    const w = 18 + Math.min(it.name.length, 28) * 6.6 + 14;
    if (cx + w > width && cx > 0) { cx = 0; rows++; }
    cx += w;
  }
  return rows * 18 + 8;
}

/**
 * Stacked bars, one per day: `days` are YYYY-MM-DD, `series` are
 * `{name, color, values}` with one value per day.
 */
export function stackedBars({ title, subtitle, titled = false, days, series, width = 720, height = 250, fmt = (v) => v.toLocaleString(locale()), dayLabel }) {
  const head = titled ? HEAD : 0;
  height += head;
  const legendH = legendHeight(series, width - 24);
  const svg = frame(width, height + legendH, { title, subtitle, titled });
  const left = 56;
  const right = width - 12;
  const top = head + 10;
  const bottom = height - 34;
  const totals = days.map((_, i) => series.reduce((s, x) => s + (x.values[i] || 0), 0));
  const y = yAxis(svg, { left, top, bottom, right, max: Math.max(...totals, 0), fmt });
  const slot = (right - left) / Math.max(days.length, 1);
  const bar = Math.max(2, Math.min(48, slot * 0.7));
  const every = Math.max(1, Math.ceil(44 / slot));
  days.forEach((d, i) => {
    let acc = 0;
    const x = left + slot * i + (slot - bar) / 2;
    for (const s of series) {
      const v = s.values[i] || 0;
      if (!v) continue;
      const y0 = y(acc);
      const y1 = y(acc + v);
      svg.append(el('rect', { x, y: y1, width: bar, height: Math.max(0.5, y0 - y1), fill: s.color },
        el('title', {}, `${dayLabel ? dayLabel(d) : d} · ${s.name}: ${fmt(v)}`)));
      acc += v;
    }
    if (i % every === 0) svg.append(text(left + slot * i + slot / 2, bottom + 16, dayLabel ? dayLabel(d) : d, { 'text-anchor': 'middle', fill: MUTED, 'font-size': 11 }));
  });
  svg.append(el('line', { x1: left, x2: right, y1: bottom, y2: bottom, stroke: MUTED }));
  legend(svg, series, 12, height + 6, width - 24);
  svg.dataset.bars = String(days.length);
  return svg;
}

/**
 * A line over time with a band from each point's min to max: `points` are
 * `{t (ms), y, min, max}`; `yMax` fixes the top of the scale.
 */
export function timeLine({ title, subtitle, titled = false, points, yMax, width = 720, height = 230, color = '#12733a', fmt = (v) => v.toLocaleString(locale()), label }) {
  const head = titled ? HEAD : 0;
  height += head;
  const svg = frame(width, height, { title, subtitle, titled });
  const left = 56;
  const right = width - 14;
  const top = head + 10;
  const bottom = height - 34;
  const max = Math.max(yMax || 0, ...points.map((p) => p.max ?? p.y), 1);
  const y = yAxis(svg, { left, top, bottom, right, max, fmt });
  const t0 = points.length ? points[0].t : 0;
  const t1 = points.length > 1 ? points[points.length - 1].t : t0 + 1;
  const x = (t) => left + ((t - t0) / Math.max(1, t1 - t0)) * (right - left);
  if (yMax) svg.append(el('line', { x1: left, x2: right, y1: y(yMax), y2: y(yMax), stroke: MUTED, 'stroke-dasharray': '4 4' }));
  if (points.length > 1) {
    const band = points.map((p) => `${x(p.t)},${y(p.max ?? p.y)}`).concat([...points].reverse().map((p) => `${x(p.t)},${y(p.min ?? p.y)}`));
    svg.append(el('polygon', { points: band.join(' '), fill: color, 'fill-opacity': 0.15 }));
    svg.append(el('polyline', { points: points.map((p) => `${x(p.t)},${y(p.y)}`).join(' '), fill: 'none', stroke: color, 'stroke-width': 2 }));
  }
  for (const p of points.length <= 60 ? points : []) svg.append(el('circle', { cx: x(p.t), cy: y(p.y), r: 2.5, fill: color }, el('title', {}, `${label ? label(p.t) : p.t}: ${fmt(p.y)}`)));
  if (points.length === 1) svg.append(el('circle', { cx: (left + right) / 2, cy: y(points[0].y), r: 4, fill: color }));
  // Time ticks: about one per 120 px, labelled in Vietnam's time.
  const n = Math.max(2, Math.floor((right - left) / 120));
  const span = t1 - t0;
  const parts = span > 36 * 3600e3 ? { day: '2-digit', month: '2-digit' }
    : span > 10 * 60e3 ? { hour: '2-digit', minute: '2-digit' }
      : { hour: '2-digit', minute: '2-digit', second: '2-digit' };
  const fmtT = new Intl.DateTimeFormat(locale(), { timeZone: TZ, ...parts });
  if (points.length > 1) {
    let last = '';
    for (let i = 0; i <= n; i++) {
      const t = t0 + (span * i) / n;
      const s = fmtT.format(new Date(t));
      if (s === last) continue;
      last = s;
      svg.append(text(x(t), bottom + 16, s, { 'text-anchor': i === 0 ? 'start' : i === n ? 'end' : 'middle', fill: MUTED, 'font-size': 11 }));
    }
  }
  svg.append(el('line', { x1: left, x2: right, y1: bottom, y2: bottom, stroke: MUTED }));
  svg.dataset.points = String(points.length);
  return svg;
}

/**
 * Horizontal bars in pairs: for each row `{label, a, b}`, a solid bar for
 * `a` and a light one for `b` (e.g. median and slowest).
 */
export function pairedBars({ title, subtitle, titled = false, rows, names, width = 720, fmt = (v) => v, colors = ['#0b5394', '#9fc2e7'] }) {
  const head = titled ? HEAD : 0;
  const rowH = 40;
  const labelW = Math.min(260, Math.round(width * 0.36));
  const legendH = 26;
  const height = head + 10 + rows.length * rowH + 34 + legendH;
  const svg = frame(width, height, { title, subtitle, titled });
  const left = labelW + 18;
  const right = width - 70;
  const top = head + 10;
  // About 6.5 px a character at 11.5 px: cut labels to their column.
  const fit = (s) => { const n = Math.max(8, Math.floor(labelW / 6.5)); return s.length > n ? `${s.slice(0, n - 1)}…` : s; };
  const max = Math.max(1, ...rows.map((r) => Math.max(r.a || 0, r.b || 0)));
  const step = niceStep(max, 4);
  const top0 = Math.ceil(max / step) * step;
  const x = (v) => left + (v / top0) * (right - left);
  const bottom = top + rows.length * rowH;
  for (let v = 0; v <= top0 + step / 2; v += step) {
    svg.append(el('line', { x1: x(v), x2: x(v), y1: top - 4, y2: bottom, stroke: GRID }));
    svg.append(text(x(v), bottom + 16, fmt(v), { 'text-anchor': 'middle', fill: MUTED, 'font-size': 11 }));
  }
  rows.forEach((r, i) => {
    const y0 = top + i * rowH;
    // Two lines: what (the label), and when (the note), right-aligned to the bars.
    const tx = text(labelW + 8, y0 + 16, fit(r.label), { 'text-anchor': 'end', 'font-size': 11.5 });
    tx.append(el('title', {}, r.label));
    svg.append(tx);
    if (r.note) svg.append(text(labelW + 8, y0 + 31, fit(r.note), { 'text-anchor': 'end', 'font-size': 10.5, fill: MUTED }));
    if (r.b != null) svg.append(el('rect', { x: left, y: y0 + 8, width: Math.max(1, x(r.b) - left), height: 22, fill: colors[1], rx: 2 }, el('title', {}, `${names[1]}: ${fmt(r.b)}`)));
    if (r.a != null) svg.append(el('rect', { x: left, y: y0 + 13, width: Math.max(1, x(r.a) - left), height: 12, fill: colors[0], rx: 2 }, el('title', {}, `${names[0]}: ${fmt(r.a)}`)));
    const end = Math.max(r.a || 0, r.b || 0);
    svg.append(text(x(end) + 6, y0 + 23, r.b != null ? `${fmt(r.a)} / ${fmt(r.b)}` : fmt(r.a ?? 0), { fill: MUTED, 'font-size': 11 }));
  });
  legend(svg, names.map((name, i) => ({ name, color: colors[i] })), 12, height - 12, width - 24);
  svg.dataset.rows = String(rows.length);
  return svg;
}

/** The chart as PNG bytes (twice its size, on white). */
export function toPng(svg, scale = 2) {
  const w = Number(svg.getAttribute('width'));
  const h = Number(svg.getAttribute('height'));
  const xml = new XMLSerializer().serializeToString(svg);
  const img = new Image();
  return new Promise((resolve, reject) => {
    img.onload = () => {
      const canvas = document.createElement('canvas');
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(h * scale);
      const g = canvas.getContext('2d');
      g.fillStyle = '#ffffff';
      g.fillRect(0, 0, canvas.width, canvas.height);
      g.drawImage(img, 0, 0, canvas.width, canvas.height);
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG'))), 'image/png');
    };
    img.onerror = () => reject(new Error('SVG'));
    img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(xml)}`;
  });
}

/** Hands a file to the browser as a download. */
export function saveBlob(blob, file) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = file;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
