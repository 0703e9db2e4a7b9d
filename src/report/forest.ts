/**
 * A forest plot per split: each router's AIQ minus the Zero router's, one horizontal line per
 * router (its bootstrap interval, the estimate as a dot), best first, and a vertical line at 0:
 * the Zero router. A router beats Zero where its whole line lies right of that line (filled
 * dot). Same SVG conventions and PNG rendering (svgToPng) as the cost-quality plot in plot.ts;
 * router colours match it.
 */
import { hasAiq, type SplitEntry } from "./results.js";
import { FONT, PALETTE, esc, f, formatNumber, linearTicks, signed, textWidth, truncate } from "./plot.js";

export interface ForestOptions {
  width?: number;
  title?: string;
}


export function renderForestSvg(split: SplitEntry, opts: ForestOptions = {}): string {
  const routers = split.routers.filter((r) => r.role === "router");
  // Colours by results order, as in the cost-quality plot; rows best first, as in the table.
  const color = new Map(routers.map((r, k) => [r, PALETTE[k % PALETTE.length]]));
  const rows = routers
    .filter((r) => hasAiq(r) && r.diffToZero !== null)
    .map((r, k) => ({ r, k, diff: r.diffToZero!, iv: r.diffInterval }))
    .sort((a, b) => b.diff - a.diff || a.k - b.k);
  const oracle = split.routers.find((r) => r.role === "oracle");

  const size = 12;
  const W = opts.width ?? 960;
  const rowH = 30;
  const valueText = (d: number, iv: [number, number] | null) => (iv ? `${signed(d)} [${signed(iv[0])}, ${signed(iv[1])}]` : signed(d));
  const names = rows.map((x) => truncate(x.r.name, 36));
  const margin = {
    left: Math.max(90, Math.min(280, Math.max(0, ...names.map((n) => textWidth(n, size))) + 24)),
    right: Math.max(...rows.map((x) => textWidth(valueText(x.diff, x.iv), 11)), 120) + 28,
    top: 74,
    bottom: 96,
  };
  const ph = Math.max(1, rows.length) * rowH;
  const H = margin.top + ph + margin.bottom;
  const pw = W - margin.left - margin.right;

  // The x range: every interval and 0, padded.
  const xs = [0, ...rows.flatMap((x) => (x.iv ? [x.diff, x.iv[0], x.iv[1]] : [x.diff]))];
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  const pad = Math.max((x1 - x0) * 0.08, 1e-4);
  x0 -= pad;
  x1 += pad;
  const sx = (v: number) => margin.left + ((v - x0) / (x1 - x0)) * pw;
  const rowY = (k: number) => margin.top + rowH * (k + 0.5);

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  const level = split.bootstrap ? `${Math.round(split.bootstrap.level * 100)}% intervals` : "no intervals (no bootstrap)";
  const title = opts.title ?? `${split.dataset} (${split.split}): AIQ minus Zero router on ${split.prompts} test prompts, ${level}`;
  out.push(`<text class="title" x="${f(20)}" y="30" font-size="16" font-weight="bold" fill="#222">${esc(truncate(title, Math.floor((W - 40) / 9.6)))}</text>`);

  const ticks = linearTicks(x0, x1, 6);
  out.push(`<g class="grid" stroke="#e6e6e6" stroke-width="1">`);
  for (const v of ticks) out.push(`<line x1="${f(sx(v))}" y1="${f(margin.top)}" x2="${f(sx(v))}" y2="${f(margin.top + ph)}"/>`);
  out.push(`</g>`);
  out.push(`<g class="axes" stroke="#444" stroke-width="1" fill="none"><rect x="${f(margin.left)}" y="${f(margin.top)}" width="${f(pw)}" height="${f(ph)}"/></g>`);
  out.push(`<g class="ticks" font-size="11" fill="#444">`);
  for (const v of ticks) out.push(`<text x="${f(sx(v))}" y="${f(margin.top + ph + 16)}" text-anchor="middle">${esc(formatNumber(v))}</text>`);
  out.push(`</g>`);
  out.push(`<text class="xlabel" x="${f(margin.left + pw / 2)}" y="${f(margin.top + ph + 38)}" font-size="13" text-anchor="middle" fill="#222">AIQ minus the Zero router's AIQ (mean quality over the shared cost range)</text>`);

  // Zero: the vertical line every interval is read against.
  const zx = sx(0);
  out.push(`<line class="zero-line" x1="${f(zx)}" y1="${f(margin.top - 8)}" x2="${f(zx)}" y2="${f(margin.top + ph)}" stroke="#555" stroke-width="1.6" stroke-dasharray="6 4"/>`);
  out.push(`<text class="zero-label" x="${f(zx)}" y="${f(margin.top - 12)}" font-size="11" text-anchor="middle" fill="#555">Zero router (0)</text>`);

  if (rows.length === 0) out.push(`<text x="${f(margin.left + pw / 2)}" y="${f(rowY(0) + 4)}" font-size="12" text-anchor="middle" fill="#555">no routers evaluated</text>`);
  rows.forEach((x, k) => {
    const y = rowY(k);
    const c = color.get(x.r)!;
    const beats = x.r.beatsZero === true;
    const parts = [`<g class="forest-row" data-router="${esc(x.r.name)}">`];
    parts.push(`<text class="name" x="${f(margin.left - 10)}" y="${f(y + 4)}" font-size="${size}" text-anchor="end" fill="#222">${esc(names[k])}</text>`);
    if (x.iv) {
      const [a, b] = [sx(x.iv[0]), sx(x.iv[1])];
      parts.push(`<line class="interval" x1="${f(a)}" y1="${f(y)}" x2="${f(b)}" y2="${f(y)}" stroke="${c}" stroke-width="2.5"/>`);
      parts.push(`<line x1="${f(a)}" y1="${f(y - 6)}" x2="${f(a)}" y2="${f(y + 6)}" stroke="${c}" stroke-width="2"/>`);
      parts.push(`<line x1="${f(b)}" y1="${f(y - 6)}" x2="${f(b)}" y2="${f(y + 6)}" stroke="${c}" stroke-width="2"/>`);
    }
    // Filled: the whole interval is above 0 (beats Zero); hollow otherwise.
    parts.push(`<circle class="estimate${beats ? " beats" : ""}" cx="${f(sx(x.diff))}" cy="${f(y)}" r="5" fill="${beats ? c : "#ffffff"}" stroke="${c}" stroke-width="2"/>`);
    parts.push(`<text class="value" x="${f(margin.left + pw + 10)}" y="${f(y + 4)}" font-size="11" fill="${beats ? "#222" : "#555"}"${beats ? ` font-weight="bold"` : ""}>${esc(valueText(x.diff, x.iv))}</text>`);
    parts.push(`</g>`);
    out.push(parts.join(""));
  });

  // Key, and the Oracle for scale (usually far right of the routers: off this axis).
  const ky = margin.top + ph + 62;
  const key = [`<g class="key" font-size="11" fill="#444">`];
  key.push(`<circle cx="${f(margin.left + 6)}" cy="${f(ky - 4)}" r="5" fill="#4e79a7" stroke="#4e79a7" stroke-width="2"/>`);
  key.push(`<text x="${f(margin.left + 16)}" y="${f(ky)}">interval entirely above 0: beats Zero</text>`);
  const second = margin.left + 16 + textWidth("interval entirely above 0: beats Zero", 11) + 24;
  key.push(`<circle cx="${f(second)}" cy="${f(ky - 4)}" r="5" fill="#ffffff" stroke="#4e79a7" stroke-width="2"/>`);
  key.push(`<text x="${f(second + 10)}" y="${f(ky)}">does not</text>`);
  if (oracle && oracle.diffToZero !== null) {
    const text = `Oracle (hindsight bound): ${valueText(oracle.diffToZero, oracle.diffInterval)}`;
    key.push(`<text class="oracle-note" x="${f(margin.left)}" y="${f(ky + 18)}">${esc(text)}</text>`);
  }
  key.push(`</g>`);
  out.push(key.join(""));
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}
