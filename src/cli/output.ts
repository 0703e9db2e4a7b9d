/** Shared output helpers for commands: JSON to stdout, tables for people. */
import { hasAiq, type SplitEntry } from "../report/results.js";
import { reportOrder } from "../report/markdown.js";
import { formatSummaryCell, splitWarnings, summaryTable } from "../report/summary.js";

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain aligned text table (first column left-aligned, the rest right-aligned). */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, j) => Math.max(...cells.map((r) => (r[j] ?? "").length)));
  const line = (r: string[]) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join("  ");
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

const fixed4 = (v: number) => v.toFixed(4);
const signed4 = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(4)}`;
const range4 = (v: [number, number] | null) => (v ? `[${fixed4(v[0])}, ${fixed4(v[1])}]` : "-");

/** One split's rows as `eval --json` and `run --json` print them, best AIQ first. */
export function splitSummary(s: SplitEntry) {
  return {
    dataset: s.dataset,
    split: s.split,
    prompts: s.prompts,
    costRange: s.costRange,
    operatingPoints: s.operatingPoints,
    compareTo: s.compareTo,
    routers: reportOrder(s).map((r) => ({ name: r.name, role: r.role, aiq: r.aiq, aiqInterval: r.aiqInterval, diffToZero: r.diffToZero, diffInterval: r.diffInterval, beatsZero: r.beatsZero, vsReference: r.vsReference })),
    warnings: splitWarnings(s),
  };
}

/** One split's table for the terminal (the report.md table, narrowed to what decides). */
export function formatSplitTable(s: SplitEntry): string {
  const rows = reportOrder(s).map((r) => {
    const vs = r.vsReference ? [`${signed4(r.vsReference.diff)} ${range4(r.vsReference.interval)}`] : s.compareTo ? ["-"] : [];
    // The best single model is one point: it has no AIQ of its own (see the report).
    if (!hasAiq(r)) return [r.name, "-", `point ${r.maxQuality.quality.toFixed(3)} @ $${r.maxQuality.cost.toPrecision(2)}`, "-", "", "-", ...(s.compareTo ? ["-"] : [])];
    return [
      r.name,
      fixed4(r.aiq!),
      range4(r.aiqInterval),
      r.diffToZero === null ? "-" : signed4(r.diffToZero),
      range4(r.diffInterval),
      r.role === "zero" ? "-" : r.beatsZero === null ? "n/a" : r.beatsZero ? "yes" : "no",
      ...vs,
    ];
  });
  const header = ["router", "AIQ", "95% interval", "AIQ - Zero", "95% interval", "beats Zero", ...(s.compareTo ? [`vs ${s.compareTo} [95%]`] : [])];
  return `${s.dataset} (${s.split}), ${s.prompts} test prompts\n${formatTable(header, rows)}`;
}

/** A split's warnings (too few test or validation prompts), one "warning:" line each; "" without any. */
export function formatSplitWarnings(s: SplitEntry): string {
  return splitWarnings(s)
    .map((w) => `warning: ${s.dataset} (${s.split}): ${w}`)
    .join("\n");
}

/** Width the terminal summary keeps within when the terminal's is unknown (output piped). */
export const SUMMARY_WIDTH = 120;

/**
 * The router x split summary of report.md in plain text: AIQ minus Zero with its interval,
 * `*` where the whole interval is above 0 (the router beats Zero on that split). Wider than
 * `width`, the split columns go in blocks one under the other, each with the router column.
 */
export function formatSummaryTable(splits: readonly SplitEntry[], opts: { width?: number } = {}): string {
  const t = summaryTable(splits);
  if (t.rows.length === 0) return "Summary: no routers evaluated.";
  const level = t.level === null ? "no intervals" : `${Math.round(t.level * 100)}% interval`;
  const names = t.rows.map((r) => r.name);
  const columns = t.splits.map((label, j) => ({ label, cells: t.rows.map((r) => `${formatSummaryCell(r.cells[j], "-")}${r.cells[j]?.beats ? " *" : "  "}`) }));
  const widthOf = (c: { label: string; cells: string[] }) => Math.max(c.label.length, ...c.cells.map((x) => x.length));
  const width = opts.width ?? SUMMARY_WIDTH;
  const nameWidth = Math.max("router".length, ...names.map((n) => n.length));
  const blocks: (typeof columns)[] = [];
  let used = 0;
  for (const c of columns) {
    const w = widthOf(c) + 2;
    if (blocks.length === 0 || used + w > width) {
      blocks.push([]);
      used = nameWidth;
    }
    blocks.at(-1)!.push(c);
    used += w;
  }
  const lines = [`Summary: AIQ - Zero router per split [${level}]; * = whole interval above 0 (beats Zero)`];
  blocks.forEach((b, k) => {
    if (k > 0) lines.push("");
    const table = formatTable(["router", ...b.map((c) => c.label)], names.map((n, i) => [n, ...b.map((c) => c.cells[i])]));
    lines.push(...table.split("\n").map((l) => l.trimEnd()));
  });
  if (t.warned.length) lines.push(`Too few prompts to trust: ${t.warned.map((w) => w.split).join(", ")} (see the warnings above).`);
  return lines.join("\n");
}
