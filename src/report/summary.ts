/**
 * What a reader needs before the per-split sections: a router x split table of AIQ minus Zero
 * (does any router beat mixing models at random, and where?), and warnings for splits too
 * small for their figures to mean much. report.md and the terminal (run, eval) both build on
 * these, so the two always say the same thing.
 */
import { hasAiq, type RouterEntry, type SplitEntry } from "./results.js";
import { escapeCell as esc, signed } from "./plot.js";

/** Fewer test prompts than this: a split's bootstrap intervals are too wide to separate routers. */
export const MIN_TEST_PROMPTS = 100;
/** Fewer validation prompts than this: operating points chosen on them are unreliable. */
export const MIN_VALIDATION_PROMPTS = 50;

/** A split's column label in summaries: `dataset/split`. */
export function splitLabel(s: { dataset: string; split: string }): string {
  return `${s.dataset}/${s.split}`;
}

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  const k = Math.floor(s.length / 2);
  return s.length % 2 ? s[k] : (s[k - 1] + s[k]) / 2;
};

/**
 * Warnings for a split whose figures rest on too few prompts, one sentence each saying why it
 * matters (no markup: the caller adds "> **Warning:**" or "warning:").
 */
export function splitWarnings(split: SplitEntry): string[] {
  const out: string[] = [];
  if (split.prompts < MIN_TEST_PROMPTS) {
    const widths = split.routers.filter((r) => r.role === "router" && r.diffInterval).map((r) => r.diffInterval![1] - r.diffInterval![0]);
    const width = widths.length ? ` (the routers' AIQ - Zero intervals are ${median(widths).toFixed(4)} wide, median)` : "";
    // Cross-fitting tests every prompt of the split instead of its test part (about 2x narrower
    // intervals on the RouterBench subset, docs/FINDINGS.md); out-of-distribution splits already do.
    const more = split.folds === undefined && !split.split.startsWith("ood:") ? "; cross-fitting (evaluation.protocol: crossfit, eval --protocol crossfit) tests every prompt of the split" : "";
    out.push(`only ${split.prompts} test prompts (fewer than ${MIN_TEST_PROMPTS}): intervals this wide cannot separate routers from Zero or from each other${width}${more}.`);
  }
  if (split.operatingPoints === "validation" && split.validationPrompts < MIN_VALIDATION_PROMPTS) {
    out.push(
      `operating points chosen on only ${split.validationPrompts} validation prompts (fewer than ${MIN_VALIDATION_PROMPTS}): hull vertices picked on so few prompts need not be good ones on test, so figures may land below Zero.`,
    );
  }
  return out;
}

/** One cell of the summary: a router's AIQ minus Zero on one split. */
export interface SummaryCell {
  diff: number;
  interval: [number, number] | null;
  /** The whole interval is above 0 (beatsZero). */
  beats: boolean;
  /** Permutation p of the difference (evaluation.nullShuffles); absent without shuffles. */
  nullP?: number;
}

export interface SummaryRow {
  name: string;
  role: "router" | "oracle";
  /** One per split, in results order; null where the router was not evaluated on that split. */
  cells: (SummaryCell | null)[];
}

export interface SummaryTable {
  /** Column labels, `dataset/split`, in results order. */
  splits: string[];
  /** Routers (role "router") in order of first appearance, then the Oracle for reference. */
  rows: SummaryRow[];
  /** The bootstrap level of the intervals (the first split's with a bootstrap), or null without any. */
  level: number | null;
  /** Splits with warnings (splitWarnings), by label. */
  warned: { split: string; prompts: number; validationPrompts: number; operatingPoints: SplitEntry["operatingPoints"] }[];
}

const cellOf = (r: RouterEntry): SummaryCell | null =>
  hasAiq(r) && r.diffToZero !== null ? { diff: r.diffToZero, interval: r.diffInterval, beats: r.beatsZero === true, ...(r.null ? { nullP: r.null.pBeatsZero } : {}) } : null;

export function summaryTable(splits: readonly SplitEntry[]): SummaryTable {
  const names: string[] = [];
  for (const s of splits) for (const r of s.routers) if (r.role === "router" && !names.includes(r.name)) names.push(r.name);
  const rows: SummaryRow[] = names.map((name) => ({
    name,
    role: "router",
    cells: splits.map((s) => {
      const r = s.routers.find((x) => x.role === "router" && x.name === name);
      return r ? cellOf(r) : null;
    }),
  }));
  if (splits.some((s) => s.routers.some((r) => r.role === "oracle"))) {
    rows.push({
      name: "Oracle",
      role: "oracle",
      cells: splits.map((s) => {
        const r = s.routers.find((x) => x.role === "oracle");
        return r ? cellOf(r) : null;
      }),
    });
  }
  return {
    splits: splits.map(splitLabel),
    rows,
    level: splits.find((s) => s.bootstrap)?.bootstrap?.level ?? null,
    warned: splits
      .filter((s) => splitWarnings(s).length > 0)
      .map((s) => ({ split: splitLabel(s), prompts: s.prompts, validationPrompts: s.validationPrompts, operatingPoints: s.operatingPoints })),
  };
}


/** A cell as text: "+0.0123 [-0.0010, +0.0250]"; "—" (markdown) or "-" (plain) where there is none. */
export function formatSummaryCell(c: SummaryCell | null, none = "—"): string {
  if (!c) return none;
  const p = c.nullP === undefined ? "" : ` p=${c.nullP.toFixed(2)}`;
  return `${c.interval ? `${signed(c.diff)} [${signed(c.interval[0])}, ${signed(c.interval[1])}]` : signed(c.diff)}${p}`;
}

const levelText = (level: number | null) => (level === null ? "" : `${Math.round(level * 100)}% `);

/** The summary as a report.md section (heading, one paragraph, the table, a note on small splits). */
export function renderSummaryMarkdown(splits: readonly SplitEntry[], opts: { heading?: number } = {}): string {
  const t = summaryTable(splits);
  const h = "#".repeat(opts.heading ?? 2);
  const lines = [`${h} Summary: AIQ minus Zero on every split`, ""];
  if (t.rows.length === 0) return [...lines, "No routers were evaluated.", ""].join("\n");
  lines.push(
    `Each cell is a router's AIQ minus the Zero router's on that split's test prompts${t.level === null ? " (no bootstrap: no intervals)" : `, with its ${levelText(t.level)}bootstrap interval`}; **bold** where the whole interval is above 0, i.e. the router beats mixing models at random there; a dash where the router was not evaluated on the split. The Oracle row is the hindsight bound, for scale. The sections below give every figure.${t.rows.some((r) => r.cells.some((c) => c?.nullP !== undefined)) ? " *p* is the permutation p-value over the run's outcome shuffles (see each section's null table): trust a gain whose p is small too." : ""}`,
    "",
  );
  lines.push(`| Router | ${t.splits.map(esc).join(" | ")} |`, `|---|${t.splits.map(() => "---:").join("|")}|`);
  for (const r of t.rows) {
    const name = r.role === "oracle" ? `*${esc(r.name)}*` : esc(r.name);
    lines.push(`| ${name} | ${r.cells.map((c) => (c?.beats ? `**${formatSummaryCell(c)}**` : formatSummaryCell(c))).join(" | ")} |`);
  }
  lines.push("");
  if (t.warned.length) {
    const which = t.warned.map((w) => `${esc(w.split)} (${w.prompts} test${w.operatingPoints === "validation" ? `, ${w.validationPrompts} validation` : ""} prompts)`).join("; ");
    lines.push(`Too few prompts to trust these columns (see the warnings in their sections): ${which}.`, "");
  }
  return lines.join("\n");
}
