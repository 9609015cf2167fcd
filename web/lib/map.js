// A map drawn in SVG from what bangtin knows: the panels' locations and a
// warning's polygons and circles. It needs no internet; when the server
// names a tile URL (`map_tiles` in cap.json) the tiles are laid under it.
// Web Mercator, fitted to what is drawn.

import { t } from './i18n.js';

const NS = 'http://www.w3.org/2000/svg';
const TILE = 256;

function el(name, attrs = {}, ...kids) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) if (v != null) e.setAttribute(k, String(v));
  for (const k of kids) if (k) e.append(k);
  return e;
}

/** Web Mercator of a point, in world units (0–1 on each axis). */
function project(lat, lon) {
  const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
  return [(lon + 180) / 360, 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)];
}

/** The points of a circle of `km` around a centre, as a ring. */
function circleRing(c, km) {
  const pts = [];
  for (let i = 0; i <= 48; i += 1) {
    const a = (i / 48) * 2 * Math.PI;
    const dLat = (km / 111.2) * Math.cos(a);
    const dLon = (km / (111.2 * Math.cos((c.lat * Math.PI) / 180))) * Math.sin(a);
    pts.push({ lat: c.lat + dLat, lon: c.lon + dLon });
  }
  return pts;
}

/**
 * An SVG map. `panels`: [{id, name, location, state}] where `state` is a
 * CSS class suffix (inside, outside, alert, campaign, blank, offline);
 * `areas`: CAP areas ({polygons, circles}); `tiles`: a URL with {z}/{x}/{y}
 * or null. `label(p)` gives a panel's tooltip. Returns the element and
 * how many panels had no location (and so are not drawn).
 */
export function drawMap({ panels, areas = [], tiles = null, width = 640, height = 420, label = (p) => p.name, title = '' }) {
  const shapes = [];
  for (const a of areas) {
    for (const ring of a.polygons || []) shapes.push({ kind: 'polygon', ring });
    for (const c of a.circles || []) shapes.push({ kind: 'circle', ring: circleRing(c.center, c.radius_km) });
  }
  const located = panels.filter((p) => p.location);
  const pts = [...located.map((p) => p.location), ...shapes.flatMap((s) => s.ring)].map((p) => project(p.lat, p.lon));
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, class: 'map', role: 'img', 'aria-label': title, width: '100%' });
  svg.append(el('rect', { x: 0, y: 0, width, height, class: 'map-bg' }));
  if (!pts.length) return { svg, unplaced: panels.length - located.length };
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of pts) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); }
  // At least about 2 km across, and a margin around what is drawn.
  const minSpan = 2 / 40075;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const span = Math.max(x1 - x0, (y1 - y0) * (width / height), minSpan) * 1.15;
  const scale = width / span;
  const toX = (x) => (x - cx) * scale + width / 2;
  const toY = (y) => (y - cy) * scale + height / 2;
  if (tiles) {
    const z = Math.max(0, Math.min(18, Math.floor(Math.log2(scale / TILE))));
    const n = 2 ** z;
    const size = (1 / n) * scale;
    const g = el('g', { class: 'map-tiles' });
    const tx0 = Math.floor((cx - width / 2 / scale) * n);
    const tx1 = Math.floor((cx + width / 2 / scale) * n);
    const ty0 = Math.floor((cy - height / 2 / scale) * n);
    const ty1 = Math.floor((cy + height / 2 / scale) * n);
    for (let tx = tx0; tx <= tx1; tx += 1) {
      for (let ty = Math.max(0, ty0); ty <= Math.min(n - 1, ty1); ty += 1) {
        const href = tiles.replace('{z}', z).replace('{x}', ((tx % n) + n) % n).replace('{y}', ty);
        g.append(el('image', { href, x: toX(tx / n), y: toY(ty / n), width: size + 0.5, height: size + 0.5 }));
      }
    }
    svg.append(g);
  }
  for (const s of shapes) {
    const d = s.ring.map((p, i) => { const [x, y] = project(p.lat, p.lon); return `${i ? 'L' : 'M'}${toX(x).toFixed(1)},${toY(y).toFixed(1)}`; }).join(' ');
    svg.append(el('path', { d: `${d} Z`, class: `map-area map-${s.kind}` }));
  }
  for (const p of located) {
    const [x, y] = project(p.location.lat, p.location.lon);
    svg.append(el('circle', { cx: toX(x).toFixed(1), cy: toY(y).toFixed(1), r: 6, class: `map-panel map-${p.state}`, 'data-panel': p.id },
      el('title', {}, document.createTextNode(label(p)))));
  }
  // A scale bar: how many km 80 px are, at the map's latitude.
  const lat = (Math.atan(Math.sinh(Math.PI * (1 - 2 * cy))) * 180) / Math.PI;
  const km = (80 / scale) * 40075 * Math.cos((lat * Math.PI) / 180);
  svg.append(el('g', { class: 'map-scale' },
    el('line', { x1: 12, y1: height - 14, x2: 92, y2: height - 14 }),
    el('text', { x: 12, y: height - 20 }, document.createTextNode(km >= 1 ? `${km.toFixed(km < 10 ? 1 : 0)} km` : `${Math.round(km * 1000)} m`))));
  return { svg, unplaced: panels.length - located.length };
}

/**
 * The panel wall's map: every located panel coloured by what it shows now
 * (`now`: panel id → the `/now` state): an alert, a campaign, blank, or
 * offline.
 */
export function wallMap(box, panels, now) {
  const state = (p) => {
    if (!p.online && p.last_seen) return 'offline';
    const n = now?.[p.id];
    if (n?.alert) return 'alert';
    if (n && !n.blank && (n.message || n.campaign)) return 'campaign';
    return 'blank';
  };
  const words = { alert: 'wall.mapAlert', campaign: 'wall.mapPlaying', blank: 'wall.mapBlank', offline: 'wall.mapOffline' };
  const { svg, unplaced } = drawMap({
    panels: panels.map((p) => ({ ...p, state: state(p) })), title: t('wall.mapTitle'),
    label: (p) => `${p.name} (${p.id}) – ${t(words[state(p)])}`,
  });
  box.replaceChildren(svg, legend(words, unplaced));
}

function legend(words, unplaced) {
  const p = document.createElement('p');
  p.className = 'map-legend muted small';
  for (const [k, key] of Object.entries(words)) {
    const dot = document.createElement('span');
    dot.className = `dot dot-${k}`;
    p.append(dot, t(key), ' ');
  }
  if (unplaced) p.append(` · ${t('cap.unplaced', { n: unplaced })}`);
  return p;
}
