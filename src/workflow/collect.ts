/**
 * `routekit collect` as one call: read the collect file and the prompts, check the outputs, then
 * either estimate (dry run: no call, the journal untouched) or collect (resuming from the
 * journal) and write the outcome table atomically. The table is written whenever the run ends
 * (done, stopped at the spend cap, or stopped by the caller), cells not answered marked missing.
 */
import { writeOutcomeTable } from "../data/arrow-io.js";
import type { OutcomeTable } from "../data/table.js";
import { checkOutputFile } from "../util/atomic.js";
import { InputError } from "../util/errors.js";
import { checkCollect, collectOutcomes, estimateCollect, type CollectEstimate, type CollectProgress, type CollectReport } from "../collect/collect.js";
import { loadCollectConfig, type CollectConfig, type ScorerConfig } from "../collect/config.js";
import { Journal } from "../collect/journal.js";
import { readPrompts, type PromptRow } from "../collect/prompts.js";
import type { CustomScorer } from "../collect/scorers.js";

export interface CollectRunOptions {
  /** The collect file's path, or a parsed config. */
  config: string | CollectConfig;
  /** The prompts file (default: the collect file's `prompts`), or the rows. */
  prompts?: string | readonly PromptRow[];
  /** Overrides the collect file's scorer; a function is a custom scorer. */
  scorer?: ScorerConfig | CustomScorer;
  /** The outcome table to write (.arrow). */
  out: string;
  /** The journal (default: `<out>.journal.jsonl`). */
  journal?: string;
  /** US$ cap on the journal's total spend; null/undefined: none. */
  maxSpend?: number | null;
  /** Keys are read from here (default process.env). */
  env?: NodeJS.ProcessEnv;
  onProgress?: (p: CollectProgress) => void;
  stop?: AbortSignal;
  /** false: no fdatasync per journal record. */
  sync?: boolean;
}

export const journalPathOf = (out: string): string => `${out}.journal.jsonl`;

async function resolveInputs(o: CollectRunOptions, requireKeys: boolean): Promise<{ config: CollectConfig; prompts: readonly PromptRow[]; promptsFile: string | null; scorer: ScorerConfig | CustomScorer; journal: string }> {
  if (typeof o.out !== "string" || o.out === "") throw new InputError("collect needs --out (the outcome table to write)");
  const config = typeof o.config === "string" ? await loadCollectConfig(o.config, { env: o.env, requireKeys }) : o.config;
  const promptsFile = typeof o.prompts === "string" ? o.prompts : o.prompts ? null : config.prompts;
  if (!o.prompts && promptsFile === null) throw new InputError("no prompts: give --prompts <file>, or `prompts:` in the collect file", { file: config.file, field: "prompts" });
  const journal = o.journal ?? journalPathOf(o.out);
  const configFile = typeof o.config === "string" ? o.config : null;
  await checkOutputFile(o.out, { inputs: [configFile, promptsFile, journal] });
  await checkOutputFile(journal, { label: "--journal", inputs: [configFile, promptsFile, o.out] });
  const prompts = promptsFile !== null ? await readPrompts(promptsFile) : (o.prompts as readonly PromptRow[]);
  const scorer = o.scorer ?? config.scorer;
  if (!scorer) throw new InputError("no scorer: give --scorer, or `scorer:` in the collect file", { file: config.file, field: "scorer" });
  return { config, prompts, promptsFile, scorer, journal };
}

/** The calls a run would make now and their estimated cost; no call, no key needed, the journal only read. */
export async function dryRunCollect(o: CollectRunOptions): Promise<CollectEstimate & { journal: string }> {
  const { config, prompts, scorer, journal } = await resolveInputs(o, false);
  checkCollect(config, prompts, scorer, o.maxSpend ?? null);
  const { records } = await Journal.read(journal);
  return { ...estimateCollect(config, prompts, records), journal };
}

export interface CollectRunResult {
  out: string;
  journal: string;
  table: OutcomeTable;
  report: CollectReport;
}

/** Collect (resuming from the journal) and write the table atomically. */
export async function runCollect(o: CollectRunOptions): Promise<CollectRunResult> {
  const { config, prompts, scorer, journal } = await resolveInputs(o, true);
  const { table, report } = await collectOutcomes({ config, prompts, scorer, journal, maxSpend: o.maxSpend ?? null, onProgress: o.onProgress, stop: o.stop, sync: o.sync });
  await writeOutcomeTable(o.out, table);
  return { out: o.out, journal, table, report };
}
