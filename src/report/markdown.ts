/**
 * report.md: one section per evaluated split, a table of routers best AIQ first (with the
 * Zero router, best single model and Oracle as reference rows), and the split's plot.
 */
import { hasAiq, type Results, type RouterEntry, type SplitEntry } from "./results.js";
import { escapeCell as esc, formatNumber, signed } from "./plot.js";
import { renderSummaryMarkdown, splitWarnings } from "./summary.js";
import { renderLatencySection } from "./latency.js";

/** File name stem of a split's plot (plots/<stem>.svg|png; its forest plot plots/<stem>-forest.svg|png). */
export function plotStem(split: { dataset: string; split: string }): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "x";
  return `${clean(split.dataset)}--${clean(split.split)}`;
}

/** File name stem of a split's forest plot of AIQ minus Zero. */
export function forestStem(split: { dataset: string; split: string }): string {
  return `${plotStem(split)}-forest`;
}

const num = (v: number | null, digits = 4) => (v === null ? "–" : v.toFixed(digits));
const usd = (v: number | null) => (v === null ? "never" : `$${formatNumber(v)}`);
const iv = (v: [number, number] | null, digits = 4) => (v ? ` [${v[0].toFixed(digits)}, ${v[1].toFixed(digits)}]` : "");

/**
 * Table rows in report order: best AIQ first (equal AIQ keeps results order), then the rows
 * without an AIQ (the best single model), which get no rank.
 */
export function reportOrder(split: SplitEntry): RouterEntry[] {
  const ranked = split.routers.map((r, k) => ({ r, k })).filter((x) => x.r.aiq !== null);
  ranked.sort((a, b) => b.r.aiq! - a.r.aiq! || a.k - b.k);
  return [...ranked.map((x) => x.r), ...split.routers.filter((r) => r.aiq === null)];
}

function beats(r: RouterEntry): string {
  if (r.role === "zero" || r.role === "best-single") return "—";
  if (r.beatsZero === null) return "n/a";
  return r.beatsZero ? "**yes**" : "no";
}

function displayName(r: RouterEntry): string {
  if (r.role !== "router") return `*${esc(r.name)}*`;
  // The hyperparameters actually used (a grid's choice on validation), when the name hides them.
  const params = Object.entries(r.params)
    .filter(([k, v]) => !r.name.includes(`${k}=${String(v)}`) || r.name.includes("|"))
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
  return params.length ? `${esc(r.name)} (${esc(params.join(", "))})` : esc(r.name);
}

export function renderSplitSection(split: SplitEntry, opts: { plotsDir?: string; heading?: number } = {}): string {
  const h = "#".repeat(opts.heading ?? 2);
  const lines: string[] = [];
  lines.push(`${h} ${split.dataset} — ${split.split}`, "");
  const dropped = split.droppedIncomplete ? ` (${split.droppedIncomplete} more left out: missing outcomes)` : "";
  const range =
    split.aiqMode === "shared-range"
      ? split.costRange[0] === split.costRange[1]
        ? `every model costs ${usd(split.costRange[0])} per query, so cost cannot separate routers: AIQ = each hull's quality at that cost`
        : `AIQ = mean hull quality over the shared cost range ${usd(split.costRange[0])} – ${usd(split.costRange[1])} per query`
      : `AIQ in the RouterBench reference code's variant (from each router's cheapest point, divided by ${usd(split.costRange[1])})`;
  const boot = split.bootstrap
    ? `${Math.round(split.bootstrap.level * 100)}% intervals from ${split.bootstrap.resamples} bootstrap resamples of the test prompts (seed ${split.bootstrap.seed})`
    : "no bootstrap (no intervals)";
  const lambdas = split.lambdas === "exact" ? "exact curve (every lambda breakpoint)" : split.lambdas === "routerbench" ? "RouterBench's 32-value lambda grid" : `a ${split.lambdas.length}-value lambda grid`;
  const points =
    split.folds !== undefined
      ? `cross-fitted over ${split.folds} folds: every prompt tested once, by routers trained without it, whose grids and operating points were chosen on their own fold's validation part (at least ${split.validationPrompts} prompts)`
      : split.operatingPoints === "validation"
      ? `each router's operating points (its hull's lambdas or settings) chosen on ${split.validationPrompts} validation prompts, then evaluated on test`
      : "each router's operating points chosen on the test prompts themselves (RouterBench's way: optimistic, see above)";
  lines.push(`${split.prompts} test prompts${dropped}; ${range}; ${boot}; ${lambdas}; ${points}. Best single model: ${split.bestSingle}.`, "");
  for (const o of split.overlap ?? []) {
    lines.push(`> **Warning:** ${o.router} was fitted or tuned on ${o.prompts} of these ${split.prompts} test prompts (evaluated with --allow-overlap): its figures here are optimistic.`, "");
  }
  for (const w of splitWarnings(split)) lines.push(`> **Warning:** ${w[0].toUpperCase()}${w.slice(1)}`, "");
  if (split.compareTo) {
    lines.push(`The last column is each row's AIQ minus ${split.compareTo}'s on the same resamples; **bold** when its whole interval is above 0 (the row beats ${split.compareTo}).`, "");
  }
  const twoModel = split.routers.some((r) => r.twoModel);
  const header = ["Rank", "Router", "AIQ", "vs Zero", "Beats Zero?", "Max quality (at cost)", "Quality at best single's cost", "Cost to match best single"];
  if (twoModel) header.push("APGR", "CPT(50%)", "CPT(80%)");
  if (split.compareTo) header.push(`vs ${split.compareTo}`);
  lines.push(`| ${header.join(" | ")} |`, `|${header.map((_, k) => (k < 2 ? "---" : "---:")).join("|")}|`);
  let rank = 0;
  for (const r of reportOrder(split)) {
    const cells = [
      // Only rows with an AIQ are ranked.
      hasAiq(r) ? String(++rank) : "—",
      displayName(r),
      // One point has no curve over the cost range: show where it stands, not an AIQ of ~0.
      !hasAiq(r) ? `— (one point)` : `${num(r.aiq)}${iv(r.aiqInterval)}`,
      r.diffToZero === null || !hasAiq(r) ? "—" : `${signed(r.diffToZero)}${iv(r.diffInterval)}`,
      beats(r),
      `${num(r.maxQuality.quality)} (${usd(r.maxQuality.cost)})`,
      num(r.qualityAtBestSingleCost),
      usd(r.costToMatchBestSingle),
    ];
    if (twoModel) {
      const t = r.twoModel;
      cells.push(t ? num(t.apgr, 3) : "", t ? num(t.cpt50, 3) : "", t ? num(t.cpt80, 3) : "");
    }
    if (split.compareTo) {
      const v = hasAiq(r) ? r.vsReference : null;
      const text = v ? `${signed(v.diff)}${iv(v.interval)}` : "—";
      cells.push(v?.better ? `**${text}**` : text);
    }
    lines.push(`| ${cells.join(" | ")} |`);
  }
  lines.push("");
  lines.push(...nullTable(split));
  lines.push(`Single models (mean cost per query, mean quality): ${split.singles.map((s) => `${s.model} ${usd(s.cost)} / ${s.quality.toFixed(3)}`).join("; ")}.`, "");
  if (opts.plotsDir !== undefined) {
    const stem = plotStem(split);
    lines.push(`![${split.dataset} ${split.split}: quality vs cost](${opts.plotsDir}/${stem}.png)`, "", `([SVG](${opts.plotsDir}/${stem}.svg))`, "");
    if (split.routers.some((r) => r.role === "router")) {
      const forest = forestStem(split);
      lines.push(
        `Each router's AIQ minus the Zero router's${split.bootstrap ? ` with its ${Math.round(split.bootstrap.level * 100)}% interval` : ""}; the vertical line at 0 is the Zero router:`,
        "",
        `![${split.dataset} ${split.split}: AIQ minus Zero per router](${opts.plotsDir}/${forest}.png)`,
        "",
        `([SVG](${opts.plotsDir}/${forest}.svg))`,
        "",
      );
    }
  }
  if (split.latency) lines.push(renderLatencySection(split, { ...(opts.plotsDir !== undefined ? { plotsDir: opts.plotsDir } : {}), heading: opts.heading ?? 2, stem: plotStem(split) }));
  return lines.join("\n");
}

/**
 * The permutation null of a split's routers (evaluation.nullShuffles): what each router's AIQ
 * minus Zero (and minus the compareTo router) comes to on shuffled outcomes, and how often the
 * shuffles reached the real figure. Nothing when the run had no shuffles.
 */
function nullTable(split: SplitEntry): string[] {
  const rows = split.routers.filter((r) => r.null);
  if (rows.length === 0) return [];
  const n = rows[0].null!.shuffles;
  const range = (xs: readonly number[]) => `${signed(Math.min(...xs))} … ${signed(Math.max(...xs))}`;
  const withRef = split.compareTo !== null && rows.some((r) => r.null!.vsReference);
  const out = [
    `Permutation null: the same folds, routers and grids on ${n} shuffle${n === 1 ? "" : "s"} of the outcomes among each dataset's prompts (the text then says nothing about the outcomes; the task still does). *p* is (1 + shuffles reaching the real figure) / (1 + ${n}): a gain is real only where *p* is small, whatever its interval says (a hull climbs on noise, and the bootstrap does not see it: docs/FINDINGS.md, finding 6).`,
    "",
  ];
  const header = ["Router", "vs Zero", "on shuffles (min … max)", "p (beats Zero)"];
  if (withRef) header.push(`vs ${split.compareTo}`, "on shuffles", "p (two-sided)");
  out.push(`| ${header.join(" | ")} |`, `|${header.map((_, k) => (k < 1 ? "---" : "---:")).join("|")}|`);
  for (const r of rows) {
    const z = r.null!;
    const cells = [esc(r.name), signed(r.diffToZero!), range(z.diffToZero), num(z.pBeatsZero, 3)];
    if (withRef) cells.push(z.vsReference && r.vsReference ? signed(r.vsReference.diff) : "—", z.vsReference ? range(z.vsReference.diffs) : "—", z.vsReference ? num(z.vsReference.p, 3) : "—");
    out.push(`| ${cells.join(" | ")} |`);
  }
  out.push("");
  return out;
}

export const HOW_TO_READ = [
  "How to read this report. Each router's *curve* is its mean cost and mean quality per test prompt at every willingness to pay lambda (it routes each prompt to argmax lambda * predicted quality - expected cost); its *hull* is the non-decreasing convex hull of those points, what mixing its settings at random can reach.",
  "The *Zero router* is that hull for the single models themselves: mixing models at random with no look at the prompt. A router is only worth something where its hull lies above the Zero router's.",
  "*AIQ* is the hull's mean quality over one cost range shared by every row (by default the cheapest to the dearest single model), counting 0 where a router cannot spend that little and staying flat right of its last point. The best single model is one point, usually the dearest, so it has no AIQ of its own: its row shows where it stands (its quality and cost), with no rank and no comparison.",
  "A router's *operating points* (which lambdas, or which settings of a cascade, make up its hull) are chosen on the validation rows and only those are evaluated on test, as a user would deploy it. Choosing them on the test rows instead (RouterBench's way) lets a curve of hundreds of points climb on test noise: a router with no signal at all then appears to beat the Zero router.",
  "Intervals come from resampling the test prompts with replacement and recomputing every curve, hull and AIQ on each resample; *Beats Zero?* says yes only when the whole interval of the router's AIQ minus the Zero router's is above 0.",
  "The *Oracle* (the best model for each prompt, known in hindsight) is an upper reference no router can reach.",
].join(" ");

export function renderReport(results: Results, opts: { plotsDir?: string; title?: string } = {}): string {
  const parts = [`# ${opts.title ?? "routekit evaluation"}`, "", HOW_TO_READ, "", renderSummaryMarkdown(results.splits)];
  for (const s of results.splits) parts.push(renderSplitSection(s, opts));
  const v = Object.entries(results.versions)
    .map(([k, x]) => `${k} ${x}`)
    .join(", ");
  parts.push(`Figures in \`results.json\` (schema: docs/results-schema.md). Versions: ${v}.`, "");
  return parts.join("\n");
}
