import type { Command } from "commander";
import { SCORER_TYPES, type ScorerConfig } from "../collect/config.js";
import type { CollectEstimate, CollectReport } from "../collect/collect.js";
import { InputError } from "../util/errors.js";
import { progressReporter } from "../util/progress.js";
import { dryRunCollect, journalPathOf, runCollect } from "../workflow/collect.js";
import { formatTable, printJson } from "./output.js";

interface CollectCliOptions {
  out: string;
  prompts?: string;
  scorer?: string;
  journal?: string;
  maxSpend?: string;
  dryRun?: boolean;
  sync: boolean;
  json?: boolean;
  quiet?: boolean;
}

const SCORER_HELP = "exact | normalized | numeric[:tolerance=<x>] | choice[:letters=ABCD] | regex:<pattern> (the judge is set in the collect file)";

/** A --scorer string as a scorer spec (the judge needs its endpoint, so only the file sets it). */
export function parseScorerOption(s: string): ScorerConfig {
  const field = "--scorer";
  const colon = s.indexOf(":");
  const type = colon < 0 ? s : s.slice(0, colon);
  const rest = colon < 0 ? "" : s.slice(colon + 1);
  const kv = (allowed: string): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const part of rest.split(",").filter(Boolean)) {
      const [k, v] = part.split("=");
      if (k !== allowed || v === undefined) throw new InputError(`"${part}": expected ${allowed}=<value>`, { field });
      out[k] = v;
    }
    return out;
  };
  switch (type) {
    case "exact":
    case "normalized":
      if (rest) throw new InputError(`the ${type} scorer takes no parameters`, { field });
      return { type };
    case "numeric": {
      const t = kv("tolerance").tolerance;
      const tolerance = t === undefined ? 1e-6 : Number(t);
      if (!(tolerance >= 0)) throw new InputError(`tolerance must be a non-negative number, not "${t}"`, { field });
      return { type, tolerance };
    }
    case "choice": {
      const letters = kv("letters").letters ?? "ABCDE";
      if (!/^[A-Z]{2,26}$/.test(letters)) throw new InputError(`letters must be capital letters, e.g. ABCD, not "${letters}"`, { field });
      return { type, letters };
    }
    case "regex":
      if (!rest) throw new InputError("regex:<pattern> needs a pattern", { field });
      try {
        new RegExp(rest);
      } catch (err) {
        throw new InputError(`not a valid regular expression: ${(err as Error).message}`, { field });
      }
      return { type, pattern: rest, applyToReference: false };
    case "judge":
      throw new InputError("the judge needs its endpoint, price and rubric: set `scorer: {type: judge, ...}` in the collect file", { field });
    default:
      throw new InputError(`unknown scorer "${type}"; one of: ${SCORER_TYPES.join(", ")}`, { field });
  }
}

const usd = (v: number) => (Number.isFinite(v) ? `$${v < 0.01 && v > 0 ? v.toPrecision(3) : v.toFixed(4)}` : "unbounded (no max_tokens)");

function dryRunText(e: CollectEstimate & { journal: string }): string {
  const rows = e.perModel.map((m) => [m.model, m.calls, m.inputTokens, m.maxOutputTokens ?? "-", usd(m.low), usd(m.high)]);
  return [
    `dry run: ${e.cells} cells, ${e.done} already in the journal (${e.journal}), ${e.calls} calls to make; nothing was called`,
    formatTable(["model", "calls", "est. input tokens", "max_tokens", "US$ low", "US$ high"], rows),
    `estimated cost: ${usd(e.low)} - ${usd(e.high)} (low: prompts at 4 characters a token, no output; high: every byte a token, and max_tokens of output)`,
    ...(e.judgeCalls ? [`judge: ${e.judgeCalls} calls, ${usd(e.judgeLow)} - ${usd(e.judgeHigh)} (recorded apart from the models' costs)`] : []),
    ...(e.spent > 0 ? [`already spent (journal): ${usd(e.spent)}`] : []),
  ].join("\n");
}

function reportText(out: string, journal: string, r: CollectReport): string {
  const lines = [
    `collected ${r.cells} cells (${r.prompts} prompts x ${r.models.length} models) -> ${out}`,
    `calls this run: ${r.called}; answered in earlier runs (journal): ${r.resumed}`,
    `missing scores: ${r.missing} (failed: ${r.failures.length}, not called: ${r.notCalled})`,
    `spent: ${usd(r.modelSpent)} on the models; ${usd(r.judgeSpent)} on the judge (apart: not in the table's costs); journal totals`,
  ];
  if (r.stoppedBy === "max-spend") lines.push(`stopped at the spend cap (--max-spend): ${r.notCalled} cells not called; rerun with a higher cap to go on`);
  if (r.stoppedBy === "stop") lines.push(`stopped on request: ${r.notCalled} cells not called; rerun to go on`);
  if (r.estimatedTokens) lines.push(`token counts estimated (the answer had no usage): ${r.estimatedTokens} cells`);
  if (r.tornJournalBytes) lines.push(`journal: dropped a torn last line (${r.tornJournalBytes} bytes) left by a killed run`);
  for (const f of r.failures.slice(0, 10)) lines.push(`  ${f.prompt} x ${f.model} (${f.stage}): ${f.error}`);
  if (r.failures.length > 10) lines.push(`  ... ${r.failures.length - 10} more (--json lists all)`);
  lines.push(`journal: ${journal}`);
  return lines.join("\n");
}

export function register(program: Command): void {
  program
    .command("collect")
    .description(
      "Collect outcomes from live models: send every prompt to every model of the collect file (OpenAI-compatible chat completions), " +
        "score the answers and write an outcome table (.arrow, responses kept) that info, embed, train and run read. " +
        "Every answer is journaled as it arrives: rerun the same command after a kill and only the cells not yet answered are called.",
    )
    .argument("<collect-file>", "YAML or JSON: models (baseUrl, model, apiKeyEnv, price per 1M tokens, options), scorer, limits, retry; optionally prompts")
    .requiredOption("--out <file.arrow>", "the outcome table to write (atomically, also when the run stops early: cells not answered are missing)")
    .option("--prompts <file>", "prompts: JSON Lines, CSV or Parquet with text (or prompt), optional id, dataset, eval, reference (default: the collect file's prompts)")
    .option("--scorer <spec>", `${SCORER_HELP} (default: the collect file's scorer)`)
    .option("--journal <file>", "the append-only journal of calls (default: <out>.journal.jsonl)")
    .option("--max-spend <usd>", "stop before the journal's total spend could pass this many US$ (calls in flight counted at their worst case; needs max_tokens)")
    .option("--dry-run", "print the number of calls and the estimated cost range, and call nothing")
    .option("--no-sync", "do not fdatasync the journal after each record (a killed process still loses nothing written; a power cut may)")
    .option("--json", "print the report (or the dry run's estimate) as JSON")
    .option("--quiet", "no progress output")
    .addHelpText("after", `\nProgress (stderr): cells done, US$ spent so far, ETA. Ctrl-C stops starting calls, lets the calls in flight finish, and writes the table; rerun to go on.`)
    .action(async (file: string, o: CollectCliOptions) => {
      const scorer = o.scorer !== undefined ? parseScorerOption(o.scorer) : undefined;
      let maxSpend: number | null = null;
      if (o.maxSpend !== undefined) {
        maxSpend = Number(o.maxSpend);
        if (o.maxSpend.trim() === "" || !(Number.isFinite(maxSpend) && maxSpend >= 0)) throw new InputError(`expected a non-negative number of US$, got "${o.maxSpend}"`, { field: "--max-spend" });
      }
      const common = { config: file, prompts: o.prompts, scorer, out: o.out, journal: o.journal ?? journalPathOf(o.out), maxSpend };
      if (o.dryRun) {
        const e = await dryRunCollect(common);
        if (o.json) printJson({ dryRun: true, ...e, high: Number.isFinite(e.high) ? e.high : null });
        else process.stdout.write(`${dryRunText(e)}\n`);
        return;
      }
      const stop = new AbortController();
      const onSigint = () => {
        process.stderr.write("collect: stopping: no new calls; the calls in flight finish, then the table is written (Ctrl-C again to quit now)\n");
        stop.abort();
        process.off("SIGINT", onSigint);
      };
      process.on("SIGINT", onSigint);
      const bar = progressReporter("collect", { quiet: o.quiet || o.json });
      let result;
      try {
        result = await runCollect({ ...common, sync: o.sync, stop: stop.signal, onProgress: (p) => bar.update(p.done, p.total, `$${p.spent.toFixed(4)} spent`) });
      } finally {
        bar.stop();
        process.off("SIGINT", onSigint);
      }
      if (o.json) printJson({ out: result.out, journal: result.journal, ...result.report });
      else process.stdout.write(`${reportText(result.out, result.journal, result.report)}\n`);
    });
}
