/**
 * The latency part of a split's report (results.json's split.latency, src/evaluate/latency.ts):
 * the quality-latency judgement (table and plot, drawn by the cost plot's code with seconds on
 * the x axis), the latency term's sweep, each operating point's mean and p95 latency, and the
 * single models' latencies.
 */
import { hasAiq, type RouterEntry, type SplitEntry } from "./results.js";
import { escapeCell as esc, formatNumber, signed } from "./plot.js";

/** File name stem of a split's quality-latency plot. */
export function latencyPlotStem(stem: string): string {
  return `${stem}-latency`;
}

/** The split's latency judgement shaped as a cost split (seconds for cost), for the plot code. */
export function latencyView(split: SplitEntry): SplitEntry | null {
  const l = split.latency;
  if (!l) return null;
  return {
    ...split,
    singles: l.singles.map((s) => ({ model: s.model, cost: s.meanSeconds, quality: s.quality })),
    costRange: [l.latencyRange[0], l.latencyRange[1]],
    aiqMode: "shared-range",
    compareTo: split.compareTo,
    routers: l.routers,
  };
}

export const LATENCY_AXIS = "mean latency per query (s)";

const secs = (v: number) => `${formatNumber(Number(v.toPrecision(3)))} s`;
const iv = (v: [number, number] | null, fmt: (x: number) => string) => (v ? ` [${fmt(v[0])}, ${fmt(v[1])}]` : "");
const q3 = (v: number) => v.toFixed(3);
const usd = (v: number) => `$${formatNumber(v)}`;

function pointLabel(p: { lambda: number | "Infinity" | null; setting?: string }): string {
  if (p.lambda !== null) return `λ=${p.lambda === "Infinity" ? "∞" : formatNumber(Number(p.lambda.toPrecision(3)))}`;
  return p.setting !== undefined ? esc(p.setting) : "—";
}

function beats(r: RouterEntry): string {
  if (r.role === "zero" || r.role === "best-single") return "—";
  if (r.beatsZero === null) return "n/a";
  return r.beatsZero ? "**yes**" : "no";
}

/** report.md's latency subsection of a split; "" when the split has no latencies. */
export function renderLatencySection(split: SplitEntry, opts: { plotsDir?: string; heading: number; stem: string }): string {
  const l = split.latency;
  if (!l) return "";
  const h = "#".repeat(opts.heading + 1);
  const lines: string[] = [`${h} Latency`, ""];
  const from = l.expectedFrom === "validation" ? "the validation rows" : "the test rows themselves (operating points on test)";
  lines.push(
    `Each router routed again with each model's expected latency (its mean total latency on ${from}) in place of its cost: argmax lambda * predicted quality - expected seconds, operating points chosen as for cost. ` +
      `*Latency AIQ* is the hull's mean quality over the fastest to slowest single model's mean latency (${secs(l.latencyRange[0])} – ${secs(l.latencyRange[1])}); the Zero router is the single models' latency hull. Latencies are each test prompt's realised total latency from the data.`,
    "",
  );
  const header = ["Router", "Latency AIQ", "vs Zero", "Beats Zero?", "Max quality (at mean latency)"];
  lines.push(`| ${header.join(" | ")} |`, `|${header.map((_, k) => (k < 1 ? "---" : "---:")).join("|")}|`);
  const ranked = l.routers.filter(hasAiq).sort((a, b) => b.aiq! - a.aiq!);
  for (const r of [...ranked, ...l.routers.filter((r) => !hasAiq(r))]) {
    const name = r.role === "router" ? esc(r.name) : `*${esc(r.name)}*`;
    const aiq = hasAiq(r) ? `${r.aiq!.toFixed(4)}${iv(r.aiqInterval, (x) => x.toFixed(4))}` : "— (one point)";
    const diff = r.diffToZero === null || !hasAiq(r) ? "—" : `${signed(r.diffToZero)}${iv(r.diffInterval, (x) => x.toFixed(4))}`;
    lines.push(`| ${[name, aiq, diff, beats(r), `${q3(r.maxQuality.quality)} (${secs(r.maxQuality.cost)})`].join(" | ")} |`);
  }
  lines.push("");
  if (opts.plotsDir !== undefined) {
    const stem = latencyPlotStem(opts.stem);
    lines.push(`![${split.dataset} ${split.split}: quality vs latency](${opts.plotsDir}/${stem}.png)`, "", `([SVG](${opts.plotsDir}/${stem}.svg))`, "");
  }
  for (const w of l.sweeps) {
    const lambdas = [...new Set(w.lambdas.map((x) => formatNumber(Number(x.toPrecision(3)))))].join(", ");
    lines.push(
      `**${esc(w.name)} with a latency price.** At the cost operating point chosen on validation nearest the best single model's cost (lambda ${lambdas}), routed by argmax lambda * q - cost - mu * expected seconds:`,
      "",
      "| mu (US$ per s) | Mean latency | p95 latency | Quality | Cost per query |",
      "|---:|---:|---:|---:|---:|",
    );
    for (const p of w.points) {
      lines.push(
        `| ${formatNumber(Number(p.mu.toPrecision(3)))} | ${secs(p.meanSeconds)}${iv(p.meanInterval, secs)} | ${secs(p.p95Seconds)}${iv(p.p95Interval, secs)} | ${q3(p.quality)}${iv(p.qualityInterval, q3)} | ${usd(p.cost)}${iv(p.costInterval, usd)} |`,
      );
    }
    lines.push("");
  }
  const withPoints = split.routers.filter((r) => r.latency?.length);
  if (withPoints.length) {
    lines.push(`Latency of each operating point on the cost curves (mean with its bootstrap interval; p95 with its order-statistic interval):`, "");
    lines.push("| Router | Point | Cost per query | Quality | Mean latency | p95 latency |", "|---|---|---:|---:|---:|---:|");
    for (const r of withPoints) {
      for (const p of r.latency!) {
        lines.push(`| ${esc(r.name)} | ${pointLabel(p)} | ${usd(p.cost)} | ${q3(p.quality)} | ${secs(p.meanSeconds)}${iv(p.meanInterval, secs)} | ${secs(p.p95Seconds)}${iv(p.p95Interval, secs)} |`);
      }
    }
    lines.push("");
  }
  lines.push(`Single models (mean / p95 latency, quality): ${l.singles.map((s) => `${s.model} ${secs(s.meanSeconds)} / ${secs(s.p95Seconds)}, ${q3(s.quality)}`).join("; ")}.`, "");
  return lines.join("\n");
}
