/**
 * One cost-quality plot per evaluated split, as a small hand-written SVG (no browser, no
 * charting runtime) and a PNG rendered from it by resvg with a font shipped as an npm package,
 * so text renders the same on machines without system fonts.
 *
 * Content: single models as labelled grey points, the Zero router (their hull) dashed, each
 * router's hull as a coloured line with its raw points faint, the Oracle point and its hull
 * (dotted: the hindsight bound), axes with ticks and labels, and a legend outside the plot
 * area so it never covers data.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Resvg } from "@resvg/resvg-js";
import type { SplitEntry } from "./results.js";

export interface PlotOptions {
  /** Log-scale cost axis (points with cost <= 0 are left out). */
  logCost?: boolean;
  width?: number;
  height?: number;
  title?: string;
  /** The x axis's quantity (default: mean cost per query in US$; the latency plot: seconds). */
  xLabel?: string;
}

export const FONT = "DejaVu Sans, Verdana, Arial, sans-serif";
/** Tableau 10: distinguishable, and readable for the common colour-vision deficiencies. */
export const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#17becf"];
const LEGEND_WIDTH = 240;

export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** Fixed precision keeps the SVG small and byte-stable. */
/** A difference with its sign and 4 decimals (AIQ minus Zero and the like), for tables and plots alike. */
export const signed = (v: number) => `${v >= 0 ? "+" : "-"}${Math.abs(v).toFixed(4)}`;
/** Text for a markdown table cell: a "|" would end the cell. */
export const escapeCell = (x: string) => x.replace(/\|/g, "\\|");
export const f = (x: number) => (Math.round(x * 100) / 100).toString();

/** Approximate text width for DejaVu Sans (average advance ~0.6 em): enough for layout. */
export const textWidth = (s: string, size: number) => s.length * size * 0.6;

export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

export function formatNumber(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) {
    const [mant, exp] = v.toExponential(1).split("e");
    const m = mant.replace(/\.0$/, "");
    return `${m}e${Number(exp)}`;
  }
  return Number(v.toPrecision(3)).toString();
}

function niceStep(span: number, count: number): number {
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const r = raw / mag;
  return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

export function linearTicks(lo: number, hi: number, count = 6): number[] {
  const step = niceStep(hi - lo, count);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  const mults = b - a <= 3 ? [1, 2, 5] : [1];
  for (let e = a; e <= b; e++) for (const m of mults) {
    const v = Number((m * 10 ** e).toPrecision(12));
    if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
  }
  return out;
}

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
const overlaps = (a: Box, b: Box) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

export function renderPlotSvg(split: SplitEntry, opts: PlotOptions = {}): string {
  const W = opts.width ?? 960;
  const H = opts.height ?? 600;
  const log = opts.logCost ?? false;
  const margin = { left: 78, right: LEGEND_WIDTH + 20, top: 54, bottom: 64 };
  const pw = W - margin.left - margin.right;
  const ph = H - margin.top - margin.bottom;
  const keep = (c: number) => !log || c > 0;

  const routers = split.routers.filter((r) => r.role === "router");
  const zero = split.routers.find((r) => r.role === "zero");
  const oracle = split.routers.find((r) => r.role === "oracle");
  const xs: number[] = [];
  const ys: number[] = [];
  const note = (p: { cost: number; quality: number }) => {
    if (!keep(p.cost)) return;
    xs.push(p.cost);
    ys.push(p.quality);
  };
  split.singles.forEach(note);
  oracle?.hull.forEach(note);
  for (const r of routers) {
    r.points.forEach(note);
    r.hull.forEach(note);
  }
  if (xs.length === 0) xs.push(log ? 1e-6 : 0, log ? 1e-3 : 1);
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  let y0 = Math.min(...ys, 1);
  let y1 = Math.max(...ys, 0);
  if (log) {
    const l0 = Math.log10(x0);
    const l1 = Math.log10(x1);
    const pad = Math.max((l1 - l0) * 0.06, 0.05);
    x0 = 10 ** (l0 - pad);
    x1 = 10 ** (l1 + pad);
  } else {
    const pad = Math.max((x1 - x0) * 0.06, Math.abs(x1) * 0.05, 1e-12);
    x0 = Math.max(0, x0 - pad);
    x1 += pad;
  }
  const ypad = Math.max((y1 - y0) * 0.06, 0.01);
  y0 = Math.max(0, y0 - ypad);
  y1 = Math.min(1, y1 + ypad);
  if (y1 <= y0) y1 = y0 + 0.1;

  const sx = (c: number) => margin.left + (log ? (Math.log10(c) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0)) : (c - x0) / (x1 - x0)) * pw;
  const sy = (q: number) => margin.top + (1 - (q - y0) / (y1 - y0)) * ph;
  const inside = (c: number, q: number) => keep(c) && c >= x0 && c <= x1 && q >= y0 && q <= y1;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  const title = opts.title ?? `${split.dataset} (${split.split}): quality vs cost on ${split.prompts} test prompts`;
  out.push(`<text class="title" x="${f(margin.left)}" y="30" font-size="16" font-weight="bold" fill="#222">${esc(truncate(title, Math.floor((W - margin.left - 20) / 9.6)))}</text>`);

  // Grid, ticks and axes.
  const xt = log ? logTicks(x0, x1) : linearTicks(x0, x1);
  const yt = linearTicks(y0, y1, 6);
  out.push(`<g class="grid" stroke="#e6e6e6" stroke-width="1">`);
  for (const v of xt) out.push(`<line x1="${f(sx(v))}" y1="${f(margin.top)}" x2="${f(sx(v))}" y2="${f(margin.top + ph)}"/>`);
  for (const v of yt) out.push(`<line x1="${f(margin.left)}" y1="${f(sy(v))}" x2="${f(margin.left + pw)}" y2="${f(sy(v))}"/>`);
  out.push(`</g>`);
  out.push(`<g class="axes" stroke="#444" stroke-width="1" fill="none"><rect x="${f(margin.left)}" y="${f(margin.top)}" width="${f(pw)}" height="${f(ph)}"/></g>`);
  out.push(`<g class="ticks" font-size="11" fill="#444">`);
  for (const v of xt) out.push(`<text x="${f(sx(v))}" y="${f(margin.top + ph + 16)}" text-anchor="middle">${esc(formatNumber(v))}</text>`);
  for (const v of yt) out.push(`<text x="${f(margin.left - 6)}" y="${f(sy(v) + 4)}" text-anchor="end">${esc(formatNumber(v))}</text>`);
  out.push(`</g>`);
  out.push(`<text class="xlabel" x="${f(margin.left + pw / 2)}" y="${f(H - 18)}" font-size="13" text-anchor="middle" fill="#222">${esc(opts.xLabel ?? "mean cost per query (US$)")}${log ? ", log scale" : ""}</text>`);
  out.push(`<text class="ylabel" transform="translate(20 ${f(margin.top + ph / 2)}) rotate(-90)" font-size="13" text-anchor="middle" fill="#222">mean quality (score)</text>`);

  out.push(`<defs><clipPath id="plot-area"><rect x="${f(margin.left)}" y="${f(margin.top)}" width="${f(pw)}" height="${f(ph)}"/></clipPath></defs>`);
  out.push(`<g clip-path="url(#plot-area)">`);
  // A hull segment is a mixture, linear in cost: on a log axis it is a curve, so sample it.
  const densify = (pts: { cost: number; quality: number }[]) => {
    const kept = pts.filter((p) => keep(p.cost));
    if (!log) return kept;
    const outPts: { cost: number; quality: number }[] = [];
    kept.forEach((p, k) => {
      if (k > 0) {
        const a = kept[k - 1];
        const steps = Math.min(64, Math.ceil(Math.hypot(sx(p.cost) - sx(a.cost), sy(p.quality) - sy(a.quality)) / 4));
        for (let t = 1; t < steps; t++) outPts.push({ cost: a.cost + ((p.cost - a.cost) * t) / steps, quality: a.quality + ((p.quality - a.quality) * t) / steps });
      }
      outPts.push(p);
    });
    return outPts;
  };
  // Pixel polylines of every drawn line, so labels can keep off them.
  const lines: { x: number; y: number }[][] = [];
  const path = (pts: { cost: number; quality: number }[]) => {
    const px = densify(pts).map((p) => ({ x: sx(p.cost), y: sy(p.quality) }));
    lines.push(px);
    return px.map((p, k) => `${k ? "L" : "M"}${f(p.x)} ${f(p.y)}`).join(" ");
  };
  // A hull is flat to the right of its last point: draw that to the axis end, as AIQ counts it.
  const extended = (h: { cost: number; quality: number }[]) => (h.length && h[h.length - 1].cost < x1 ? [...h, { cost: x1, quality: h[h.length - 1].quality }] : h);

  if (oracle && oracle.hull.length > 1) out.push(`<path class="oracle-hull" d="${path(extended(oracle.hull))}" fill="none" stroke="#000" stroke-width="1.2" stroke-dasharray="1.5 3"/>`);
  if (zero) out.push(`<path class="zero" d="${path(extended(zero.hull))}" fill="none" stroke="#555" stroke-width="1.6" stroke-dasharray="6 4"/>`);
  routers.forEach((r, k) => {
    const color = PALETTE[k % PALETTE.length];
    // Raw points, faint, at most one per pixel.
    const seen = new Set<string>();
    const dots: string[] = [];
    for (const p of r.points) {
      if (!inside(p.cost, p.quality)) continue;
      const px = Math.round(sx(p.cost));
      const py = Math.round(sy(p.quality));
      const key = `${px},${py}`;
      if (seen.has(key)) continue;
      seen.add(key);
      dots.push(`<circle cx="${px}" cy="${py}" r="1.6"/>`);
    }
    out.push(`<g class="raw-points" data-router="${esc(r.name)}" fill="${color}" fill-opacity="0.25">${dots.join("")}</g>`);
    out.push(`<path class="hull" data-router="${esc(r.name)}" d="${path(extended(r.hull))}" fill="none" stroke="${color}" stroke-width="2.2"/>`);
  });
  out.push(`</g>`);

  // Labelled markers: single models and the Oracle. Labels go where they overlap nothing.
  const taken: Box[] = [{ x: W - margin.right, y: 0, w: margin.right, h: H }];
  const markers: { x: number; y: number; label: string; kind: "single" | "oracle" }[] = [];
  for (const s of split.singles) if (inside(s.cost, s.quality)) markers.push({ x: sx(s.cost), y: sy(s.quality), label: s.model + (s.model === split.bestSingle ? " (best)" : ""), kind: "single" });
  if (oracle) {
    // The Oracle proper: each prompt's best model, the top of its hull.
    const p = oracle.maxQuality;
    if (inside(p.cost, p.quality)) markers.push({ x: sx(p.cost), y: sy(p.quality), label: "Oracle", kind: "oracle" });
  }
  for (const m of markers) taken.push({ x: m.x - 5, y: m.y - 5, w: 10, h: 10 });
  // Lines go into a coarse occupancy grid (curves can have thousands of vertices; labels are few).
  const CELL = 4;
  const gw = Math.ceil(W / CELL);
  const gh = Math.ceil(H / CELL);
  const grid = new Uint8Array(gw * gh);
  const mark = (x: number, y: number) => {
    const cx = Math.floor(x / CELL);
    const cy = Math.floor(y / CELL);
    if (cx >= 0 && cx < gw && cy >= 0 && cy < gh) grid[cy * gw + cx] = 1;
  };
  for (const line of lines) {
    for (let k = 1; k < line.length; k++) {
      const a = line[k - 1];
      const b = line[k];
      const steps = Math.max(1, Math.ceil(Math.hypot(b.x - a.x, b.y - a.y) / (CELL / 2)));
      for (let t = 0; t <= steps; t++) mark(a.x + ((b.x - a.x) * t) / steps, a.y + ((b.y - a.y) * t) / steps);
    }
  }
  const onLine = (b: Box) => {
    for (let cy = Math.max(0, Math.floor(b.y / CELL)); cy <= Math.min(gh - 1, Math.floor((b.y + b.h) / CELL)); cy++) {
      for (let cx = Math.max(0, Math.floor(b.x / CELL)); cx <= Math.min(gw - 1, Math.floor((b.x + b.w) / CELL)); cx++) if (grid[cy * gw + cx]) return true;
    }
    return false;
  };
  const clashes = (b: Box) => taken.filter((t) => overlaps(t, b)).length + (onLine(b) ? 1 : 0);
  const size = 11;
  const placed: string[] = [];
  // Leftmost markers first: their labels have the fewest free sides near the axis.
  for (const m of markers.slice().sort((a, b) => a.x - b.x || a.y - b.y)) {
    const label = truncate(m.label, 34);
    const w = textWidth(label, size);
    const h = size + 2;
    const cands: { dx: number; dy: number; anchor: "start" | "end" | "middle"; ring: number }[] = [];
    for (let ring = 0; ring < 6; ring++) {
      const off = 7 + ring * 8;
      const d = Math.round(off * 0.75);
      cands.push(
        { dx: off, dy: 4, anchor: "start", ring },
        { dx: -off, dy: 4, anchor: "end", ring },
        { dx: 0, dy: -off, anchor: "middle", ring },
        { dx: 0, dy: off + size, anchor: "middle", ring },
        { dx: d, dy: -d, anchor: "start", ring },
        { dx: d, dy: d + size, anchor: "start", ring },
        { dx: -d, dy: -d, anchor: "end", ring },
        { dx: -d, dy: d + size, anchor: "end", ring },
      );
    }
    const boxOf = (c: (typeof cands)[number]): Box => ({ x: c.anchor === "start" ? m.x + c.dx : c.anchor === "end" ? m.x + c.dx - w : m.x - w / 2, y: m.y + c.dy - size, w, h });
    const fits = (b: Box) => b.x >= margin.left + 2 && b.x + b.w <= margin.left + pw - 2 && b.y >= margin.top + 2 && b.y + b.h <= margin.top + ph - 2;
    let best = cands.find((c) => fits(boxOf(c)) && !onLine(boxOf(c)) && !taken.some((t) => overlaps(t, boxOf(c))));
    // Nowhere free: the in-bounds spot with the fewest clashes (first such in preference order).
    if (!best) {
      let fewest = Infinity;
      for (const c of cands) {
        if (!fits(boxOf(c))) continue;
        const k = clashes(boxOf(c));
        if (k < fewest) {
          fewest = k;
          best = c;
        }
      }
    }
    best ??= cands[0];
    const box = boxOf(best);
    taken.push(box);
    const color = m.kind === "oracle" ? "#000" : "#333";
    // Far from its marker, a label gets a leader line so it is not read as a neighbour's.
    if (best.ring >= 2) {
      const tx = Math.min(Math.max(m.x, box.x), box.x + box.w);
      const ty = Math.min(Math.max(m.y, box.y), box.y + box.h);
      placed.push(`<line class="leader" x1="${f(m.x)}" y1="${f(m.y)}" x2="${f(tx)}" y2="${f(ty)}" stroke="#999" stroke-width="0.8"/>`);
    }
    // A white halo keeps labels legible over lines.
    placed.push(`<text class="label ${m.kind}-label" x="${f(m.x + best.dx)}" y="${f(m.y + best.dy)}" text-anchor="${best.anchor}" font-size="${size}" fill="${color}" stroke="#fff" stroke-width="3" paint-order="stroke">${esc(label)}</text>`);
  }
  out.push(`<g class="singles">`);
  for (const m of markers) if (m.kind === "single") out.push(`<circle class="single" cx="${f(m.x)}" cy="${f(m.y)}" r="4.5" fill="#8c8c8c" stroke="#333" stroke-width="1"/>`);
  out.push(`</g>`);
  for (const m of markers) {
    if (m.kind !== "oracle") continue;
    const r = 7;
    out.push(`<path class="oracle" d="M${f(m.x)} ${f(m.y - r)} L${f(m.x + r)} ${f(m.y)} L${f(m.x)} ${f(m.y + r)} L${f(m.x - r)} ${f(m.y)} Z" fill="#000" stroke="#fff" stroke-width="1"/>`);
  }
  out.push(`<g class="labels">${placed.join("")}</g>`);

  // Legend, right of the plot area. A line drawn exactly under a later one (same hull) cannot be
  // seen: its entry says which line hides it.
  const drawn = [
    ...(oracle && oracle.hull.length > 1 ? [{ name: "the Oracle hull", hull: oracle.hull, entry: oracle }] : []),
    ...(zero ? [{ name: "the Zero router", hull: zero.hull, entry: zero }] : []),
    ...routers.map((r) => ({ name: r.name, hull: r.hull, entry: r })),
  ];
  const under = hiddenUnder(drawn);
  const hidden = new Map([...under].map(([i, j]) => [drawn[i].entry, drawn[j].name]));
  const lx = W - margin.right + 16;
  let ly = margin.top + 8;
  const items: string[] = [];
  const row = (symbol: string, text: string, hiddenBy?: string) => {
    items.push(`${symbol}<text x="${f(lx + 30)}" y="${f(ly + 4)}" font-size="12" fill="#222">${esc(truncate(text, 28))}</text>`);
    ly += 20;
    if (hiddenBy === undefined) return;
    items.push(`<text class="hidden-note" x="${f(lx + 30)}" y="${f(ly)}" font-size="10.5" font-style="italic" fill="#555">hidden under ${esc(truncate(hiddenBy, 17))}</text>`);
    ly += 16;
  };
  const aiqText = (v: number | null) => (v === null ? "–" : v.toFixed(3));
  items.push(`<text x="${f(lx)}" y="${f(ly + 4)}" font-size="12" font-weight="bold" fill="#222">hull (AIQ)</text>`);
  ly += 22;
  routers.forEach((r, k) => {
    const color = PALETTE[k % PALETTE.length];
    row(`<line x1="${f(lx)}" y1="${f(ly)}" x2="${f(lx + 22)}" y2="${f(ly)}" stroke="${color}" stroke-width="2.5"/>`, `${r.name} (${aiqText(r.aiq)})`, hidden.get(r));
  });
  if (zero) row(`<line x1="${f(lx)}" y1="${f(ly)}" x2="${f(lx + 22)}" y2="${f(ly)}" stroke="#555" stroke-width="1.6" stroke-dasharray="6 4"/>`, `Zero router (${aiqText(zero.aiq)})`, hidden.get(zero));
  row(`<circle cx="${f(lx + 11)}" cy="${f(ly)}" r="4.5" fill="#8c8c8c" stroke="#333"/>`, "single model");
  if (oracle) row(`<path d="M${f(lx + 11)} ${f(ly - 6)} L${f(lx + 17)} ${f(ly)} L${f(lx + 11)} ${f(ly + 6)} L${f(lx + 5)} ${f(ly)} Z" fill="#000"/>`, "Oracle");
  if (oracle && oracle.hull.length > 1) row(`<line x1="${f(lx)}" y1="${f(ly)}" x2="${f(lx + 22)}" y2="${f(ly)}" stroke="#000" stroke-width="1.2" stroke-dasharray="1.5 3"/>`, `Oracle hull (${aiqText(oracle.aiq)})`, hidden.get(oracle));
  if (routers.length) row(`<circle cx="${f(lx + 11)}" cy="${f(ly)}" r="2" fill="#4e79a7" fill-opacity="0.4"/>`, "router settings (raw)");
  out.push(`<g class="legend">${items.join("")}</g>`);
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}

/**
 * Lines given in drawing order (later ones on top): for each line whose hull is identical to a
 * later one's (the same points), the index of the last such line, the one that hides it.
 */
export function hiddenUnder(lines: readonly { hull: readonly { cost: number; quality: number }[] }[]): Map<number, number> {
  const keys = lines.map((l) => l.hull.map((p) => `${p.cost}|${p.quality}`).join(";"));
  const out = new Map<number, number>();
  keys.forEach((key, i) => {
    const j = keys.lastIndexOf(key);
    if (j > i) out.set(i, j);
  });
  return out;
}

let fontPath: string | undefined;
/** The TTF shipped by the dejavu-fonts-ttf package. */
export function plotFontFile(): string {
  fontPath ??= join(dirname(createRequire(import.meta.url).resolve("dejavu-fonts-ttf/package.json")), "ttf", "DejaVuSans.ttf");
  return fontPath;
}

/** Render an SVG to PNG at `scale` x its size, with the shipped font only (no system fonts: same pixels everywhere). */
export function svgToPng(svg: string, scale = 1.5): Uint8Array {
  const resvg = new Resvg(svg, {
    fitTo: { mode: "zoom", value: scale },
    font: { loadSystemFonts: false, fontFiles: [plotFontFile()], defaultFontFamily: "DejaVu Sans", sansSerifFamily: "DejaVu Sans" },
    background: "#ffffff",
  });
  return new Uint8Array(resvg.render().asPng());
}
