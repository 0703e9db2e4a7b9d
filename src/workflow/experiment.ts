/**
 * `routekit run`: one experiment config, end to end: data -> embeddings -> per split: train
 * every router (hyperparameters on validation only) -> save it -> evaluate on test -> report.
 * The whole output directory is built in a staging place and moved into position at the end,
 * so a failed or interrupted run never leaves a half-written report over a good one.
 */
import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { readOutcomeTable } from "../data/arrow-io.js";
import { importFiles, type ImportFormat } from "../data/importers/index.js";
import { splitSpecOf } from "../data/splits.js";
import { completeRows, selectModels, selectRows, type OutcomeTable } from "../data/table.js";
import { defaultCacheDir } from "../embed/paths.js";
import type { SplitResult } from "../evaluate/evaluate.js";
import { experimentToYaml, type ExperimentConfig, type SplitConfig } from "../experiments/config.js";
import { versions } from "../experiments/versions.js";
import { makeResults, splitEntry, type Results } from "../report/index.js";
import { REPORT_MARKER, writeReportFiles } from "../report/write.js";
import type { SavedRouterManifest } from "../routers/artifact.js";
import { customRouterTypes, getRouterFactory } from "../routers/registry.js";
import type { TrainingSet } from "../routers/router.js";
import { checkOutputDir, writeDirAtomic, writeFileAtomic, type OutputDirOptions } from "../util/atomic.js";
import { InputError } from "../util/errors.js";
import type { ProgressFn } from "../util/progress.js";
import { embedRows } from "./embed.js";
import { foldsOf, splitsOf, type FoldedSplit } from "./splits.js";
import type { SplitJob } from "./split-job.js";
import { defaultRunWorkers, runSplitJobs } from "./split-pool.js";
import { checkParams } from "./train.js";

export interface RunHooks {
  /** One line per stage ("embedding 2000 prompts", "training knn on arc-challenge"). */
  log?: (line: string) => void;
  /** A progress callback for a long stage. */
  progress?: (title: string) => { update: ProgressFn; stop: () => void };
}

export interface RunOptions extends RunHooks {
  /** Overrides the config's `output` (default runs/<name>). */
  outDir?: string;
  cacheDir?: string;
  /**
   * Worker threads for the split jobs (default: one per core; 1 runs them in this thread).
   * Results do not depend on it. With a router type registered by the caller (registerRouter),
   * the jobs stay in this thread: worker threads know only routekit's own types.
   */
  workers?: number;
}

export interface SplitRun {
  /** e.g. "arc-challenge" (in-distribution) or "ood:arc-challenge". */
  name: string;
  dataset: string;
  kind: SplitConfig["kind"];
  /** One router for all datasets' traffic (an in-distribution split with pooled: true). */
  pooled: boolean;
  /** Rows in each part (cross-fitted: train and validation of the first fold; test over every fold). */
  train: number;
  validation: number;
  test: number;
  result: SplitResult;
}

export interface RunResult {
  outDir: string;
  splits: SplitRun[];
  /** Paths written, relative to outDir. */
  files: string[];
  /** What results.json holds. */
  results: Results;
}

async function loadData(cfg: ExperimentConfig, log: (s: string) => void): Promise<OutcomeTable> {
  let table: OutcomeTable;
  if (cfg.data.table !== undefined) {
    table = await readOutcomeTable(cfg.data.table);
  } else {
    const imp = cfg.data.import!;
    const prices = imp.prices ? await readPrices(imp.prices) : undefined;
    const { table: t, report } = await importFiles(imp.files, { format: imp.format as ImportFormat | undefined, prices });
    log(`imported ${report.prompts} prompts x ${report.models.length} models from ${imp.files.length} file(s)`);
    table = t;
  }
  if (cfg.data.datasets) {
    const known = new Set(table.datasets);
    const missing = cfg.data.datasets.filter((d) => !known.has(d));
    if (missing.length) throw new InputError(`unknown dataset(s) ${missing.join(", ")}; the table has ${[...known].join(", ")}`, { field: "data.datasets" });
    const want = new Set(cfg.data.datasets);
    table = selectRows(table, table.datasets.flatMap((d, i) => (want.has(d) ? [i] : [])));
  }
  if (cfg.data.models) table = selectModels(table, cfg.data.models);
  const complete = completeRows(table);
  if (complete.length < table.ids.length) {
    log(`left out ${table.ids.length - complete.length} prompt(s) with a missing score or cost`);
    table = selectRows(table, complete);
  }
  return table;
}

async function readPrices(file: string): Promise<Record<string, { input: number; output: number }>> {
  try {
    return JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new InputError(`cannot read prices: ${(err as Error).message}`, { file });
  }
}

export async function runExperiment(cfg: ExperimentConfig, opts: RunOptions = {}): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  const progress = opts.progress ?? (() => ({ update: () => {}, stop: () => {} }));
  const outDir = opts.outDir ?? cfg.output ?? join("runs", cfg.name);
  const started = Date.now();
  // The output folder is replaced whole at the end: refuse now, before any work, one that is or
  // holds an input (the table, imported files, prices, the embedding cache) or other people's files.
  const output: OutputDirOptions = {
    label: opts.outDir === undefined && cfg.output !== undefined ? "output (config)" : "--out",
    inputs: [cfg.data.table, ...(cfg.data.import?.files ?? []), cfg.data.import?.prices, opts.cacheDir ?? defaultCacheDir()],
    marker: REPORT_MARKER,
  };
  await checkOutputDir(outDir, output);

  // Fail on an unknown router type or bad parameter now, before the data is read or embedded. A
  // config entry is a typed router spec (type, params, grid): trained as it is, never re-parsed.
  for (const entry of cfg.routers) checkParams(entry);

  const table = await loadData(cfg, log);
  log(`data: ${table.ids.length} prompts x ${table.models.length} models, datasets ${[...new Set(table.datasets)].join(", ")}`);

  // Every prompt is embedded once, for all splits and routers.
  let all: TrainingSet = { table, embeddings: null };
  let embedder: SavedRouterManifest["embedder"] = null;
  let prefixes: Record<string, string> = {};
  if (cfg.routers.some((r) => getRouterFactory(r.type).needsEmbeddings)) {
    log(`embedding ${table.ids.length} prompts with ${cfg.embedder.spec}`);
    const bar = progress("embed");
    try {
      const embedded = await embedRows(table, {
        spec: cfg.embedder.spec,
        preparation: cfg.embedder.preparation,
        cacheDir: opts.cacheDir,
        threads: cfg.embedder.threads,
        onProgress: bar.update,
      });
      ({ embedder, prefixes } = embedded);
      all = { table, embeddings: embedded.matrix };
      const { stats } = embedded;
      log(`embeddings: ${stats.cacheHits} from cache, ${stats.computed} computed in ${stats.seconds.toFixed(1)} s`);
    } finally {
      bar.stop();
    }
  }

  const crossfit = cfg.evaluation.protocol === "crossfit";
  const splits = cfg.splits.flatMap((s) => {
    const spec = splitSpecOf({ ...s, seed: cfg.seed });
    const pooled = s.kind === "in-distribution" && s.pooled;
    const folded: FoldedSplit[] = crossfit ? foldsOf(table, spec, cfg.evaluation.folds, { pooled }) : splitsOf(table, spec, { pooled }).map((x) => ({ name: x.name, dataset: x.dataset, folds: [x] }));
    return folded.map((split) => ({ cfg: s, split }));
  });
  if (crossfit) log(`cross-fitting: ${cfg.evaluation.folds} folds per in-distribution split, every prompt tested once; routers are not saved (train one for deployment with routekit train)`);

  const runs: SplitRun[] = [];
  const files: string[] = [];
  let results: Results | undefined;

  await writeDirAtomic(outDir, async (staging) => {
    // The real outcomes' jobs, then the permutation null's: the same splits, folds and routers on
    // outcomes shuffled among each dataset's prompts (the embeddings are the prompts', unchanged).
    // Point figures only for the shuffles: they are the null's sample themselves.
    const shuffles = cfg.evaluation.nullShuffles ?? 0;
    const jobs: SplitJob[] = [];
    for (let k = 0; k <= shuffles; k++) {
      for (const { cfg: splitCfg, split } of splits) jobs.push({ splitCfg, split, shuffle: k, bootstrap: k === 0 ? cfg.evaluation.bootstrap : 0, ...(k === 0 ? { staging } : {}) });
    }
    // A router type registered by the caller exists in this thread only: such a run stays here.
    const custom = customRouterTypes();
    if (custom.length && (opts.workers ?? 2) > 1) log(`router type(s) ${custom.join(", ")} registered in this thread: the splits run here, one after another`);
    const workers = custom.length ? 1 : (opts.workers ?? defaultRunWorkers());
    const done = await runSplitJobs({ cfg, data: all, embedder, prefixes }, jobs, { workers, log, progress, overall: progress });
    for (const [j, { cfg: splitCfg, split }] of splits.entries()) {
      files.push(...done[j].files);
      runs.push({
        name: split.name,
        dataset: split.dataset,
        kind: splitCfg.kind,
        pooled: splitCfg.kind === "in-distribution" && splitCfg.pooled,
        train: split.folds[0].train.length,
        validation: split.folds[0].validation.length,
        test: split.folds.reduce((a, p) => a + p.test.length, 0),
        result: done[j].result,
      });
    }
    const draws: SplitResult[][] = splits.map((_, j) => Array.from({ length: shuffles }, (_, k) => done[(k + 1) * splits.length + j].result));
    const entries = runs.map((r, j) => {
      // Same split labels as `routekit eval`: the kind in-distribution, the split name out of it.
      return splitEntry(r.dataset, r.kind === "in-distribution" ? (r.pooled ? "pooled" : r.kind) : r.name, r.result, { maxPoints: cfg.evaluation.maxPoints, nullDraws: draws[j] });
    });
    results = makeResults(
      entries,
      cfg as unknown as Record<string, unknown>,
      await versions(),
    );
    const written = await writeReportFiles(staging, results, { logCost: cfg.evaluation.logCost, title: `routekit: ${cfg.name}` });
    for (const p of [written.results, written.report, ...written.plots.flatMap((x) => [x.svg, x.png])]) files.push(relative(staging, p));
    await writeFileAtomic(join(staging, "config.resolved.yaml"), experimentToYaml(cfg));
    // Timings and versions live apart from results.json, which must be byte-identical on a rerun.
    await writeFileAtomic(join(staging, "run.json"), `${JSON.stringify({ config: cfg.name, seconds: (Date.now() - started) / 1000, versions: await versions() }, null, 2)}\n`);
    files.push("config.resolved.yaml", "run.json");
  }, output);
  return { outDir, splits: runs, files, results: results! };
}
