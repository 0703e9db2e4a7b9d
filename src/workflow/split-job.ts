/**
 * One split of `routekit run` as a self-contained job: every router trained on each fold (grids
 * on the fold's validation part), then evaluated on the folds' pooled test prompts. A job reads
 * only its inputs (the config, the table, the embeddings, the split) and returns its result, so
 * jobs run in any order, in this thread or in worker threads (split-pool.ts), and a run's
 * results.json is the same bytes either way.
 */
import { join } from "node:path";
import { idsOf } from "../data/splits.js";
import { selectModels, type OutcomeTable } from "../data/table.js";
import { evaluateFolds, type FoldUnderTest, type RouterUnderTest, type SplitResult } from "../evaluate/evaluate.js";
import { shuffledOutcomes } from "../evaluate/null.js";
import { routerLabel, type ExperimentConfig, type SplitConfig } from "../experiments/config.js";
import type { SavedRouterManifest } from "../routers/artifact.js";
import { selectSetRows } from "../routers/common.js";
import { getRouterFactory } from "../routers/registry.js";
import type { FitReport, PredictiveRouter, PromptBatch, Router, TrainingSet } from "../routers/router.js";
import { trainRouter } from "../routers/train.js";
import type { ProgressFn } from "../util/progress.js";
import type { FoldedSplit } from "./splits.js";
import { checkParams, saveTrained, tokenMeansOf, validationPointsToSave } from "./train.js";

/** What every job of a run shares. Plain data: it is sent once to each worker thread. */
export interface SplitJobContext {
  cfg: ExperimentConfig;
  /** The real outcomes and the prompts' embeddings (null when no router reads prompts). */
  data: TrainingSet;
  embedder: SavedRouterManifest["embedder"];
  prefixes: Record<string, string>;
}

export interface SplitJob {
  splitCfg: SplitConfig;
  split: FoldedSplit;
  /** 0: the real outcomes; k >= 1: the permutation null's shuffle k (seeded `${seed}:${k}`). */
  shuffle: number;
  /** Bootstrap resamples (0 for the null's shuffles: they are the null's sample themselves). */
  bootstrap: number;
  /** Where a holdout run saves its trained routers (the real outcomes only). */
  staging?: string;
}

export interface SplitJobResult {
  result: SplitResult;
  /** Saved router directories, relative to the staging directory, in training order. */
  files: string[];
}

export interface SplitJobHooks {
  log: (line: string) => void;
  progress: (title: string) => { update: ProgressFn; stop: () => void };
}

/** Runs jobs on one context; keeps the last shuffled table, since a shuffle's jobs come together. */
export class SplitJobRunner {
  private shuffled: { k: number; table: OutcomeTable } | null = null;

  constructor(readonly ctx: SplitJobContext) {
    // A worker checks the typed specs again: it builds its routers from the same entries.
    for (const entry of ctx.cfg.routers) checkParams(entry);
  }

  private dataFor(k: number): TrainingSet {
    if (k === 0) return this.ctx.data;
    if (this.shuffled?.k !== k) this.shuffled = { k, table: shuffledOutcomes(this.ctx.data.table, `${this.ctx.cfg.seed}:${k}`) };
    return { table: this.shuffled.table, embeddings: this.ctx.data.embeddings };
  }

  /** Train entry `r` of the config on fold `f` of the job's split, and save it when the job saves routers. */
  private async trainOne(job: SplitJob, f: number, r: number, hooks: SplitJobHooks, sets: FoldSets): Promise<{ router: Router; files: string[] }> {
    const { cfg, embedder, prefixes } = this.ctx;
    const { split, splitCfg } = job;
    const part = split.folds[f];
    const entry = cfg.routers[r];
    const label = routerLabel(entry);
    const foldLabel = split.folds.length > 1 ? ` fold ${f + 1}/${split.folds.length}` : "";
    hooks.log(`${this.tagOf(job)}training ${label} on ${split.name}${foldLabel} (${part.train.length} train, ${part.validation.length} validation)`);
    const bar = hooks.progress(`train ${label}`);
    let trained;
    try {
      trained = await trainRouter(sets.train, sets.validation, { spec: entry, seed: cfg.seed, onProgress: bar.update });
    } finally {
      bar.stop();
    }
    const files: string[] = [];
    if (job.staging !== undefined && job.shuffle === 0 && cfg.evaluation.protocol !== "crossfit" && getRouterFactory(entry.type).save) {
      const rel = join("routers", split.name.replace(/[^A-Za-z0-9._-]/g, "_"), label);
      const tokenMeans = tokenMeansOf(sets.train.table, trained.router.pool);
      const { operatingPoints, record } = await validationPointsToSave(trained.router, sets.validation, cfg.seed, tokenMeans);
      await saveTrained(
        join(job.staging, rel),
        {
          ...trained,
          split: { ...splitCfg, seed: cfg.seed, name: split.name, dataset: split.dataset },
          seed: cfg.seed,
          embedder,
          prefixes,
          fittedOn: { train: idsOf(this.ctx.data.table, part.train), validation: idsOf(this.ctx.data.table, part.validation) },
          tokenMeans,
        },
        operatingPoints,
        record,
      );
      files.push(rel);
    }
    return { router: trained.router, files };
  }

  private tagOf(job: SplitJob): string {
    return job.shuffle > 0 ? `null ${job.shuffle}/${this.ctx.cfg.evaluation.nullShuffles ?? 0}: ` : "";
  }

  private foldSets(job: SplitJob, f: number): FoldSets {
    const data = this.dataFor(job.shuffle);
    const part = job.split.folds[f];
    return { train: selectSetRows(data, part.train), validation: selectSetRows(data, part.validation), test: selectSetRows(data, part.test) };
  }

  private async evaluate(job: SplitJob, folds: FoldUnderTest[], hooks: SplitJobHooks): Promise<SplitResult> {
    const { cfg } = this.ctx;
    const { split } = job;
    const tested = split.folds.reduce((a, p) => a + p.test.length, 0);
    hooks.log(`${this.tagOf(job)}evaluating ${cfg.routers.length} router(s) on ${split.name} (${tested} test prompts${split.folds.length > 1 ? `, ${split.folds.length} folds` : ""})`);
    const bar = hooks.progress(`evaluate ${split.name}`);
    try {
      return await evaluateFolds(folds, {
        seed: cfg.seed,
        bootstrap: job.bootstrap,
        lambdas: cfg.evaluation.lambdas,
        aiq: cfg.evaluation.aiq,
        operatingPoints: cfg.evaluation.operatingPoints,
        compareTo: cfg.evaluation.compareTo,
        ...(cfg.evaluation.costRange ? { costRange: cfg.evaluation.costRange } : {}),
        ...(cfg.evaluation.latencyWeights ? { latencyWeights: cfg.evaluation.latencyWeights } : {}),
        // The null's shuffles are judged on AIQ alone.
        latency: job.shuffle === 0,
        onProgress: bar.update,
      });
    } finally {
      bar.stop();
    }
  }

  /** The whole job here: every router trained on each fold, then the evaluation. */
  run(job: SplitJob, hooks: SplitJobHooks): Promise<SplitJobResult> {
    return this.evaluateTask(job, [], hooks);
  }

  /**
   * One router of one fold, trained apart from the rest of its job (split-pool.ts runs these in
   * parallel): a predictive router is returned as what evaluation reads of it, its predictions
   * on the fold's validation and test prompts; a direct router (it realises outcomes itself,
   * cheaply) is left to evaluateTask, which trains it beside the evaluation.
   */
  async trainTask(job: SplitJob, f: number, r: number, hooks: SplitJobHooks): Promise<RecordedRouting | null> {
    if (getRouterFactory(this.ctx.cfg.routers[r].type).kind !== "predictive") return null;
    const sets = this.foldSets(job, f);
    const { router, files } = await this.trainOne(job, f, r, hooks, sets);
    try {
      if (router.kind !== "predictive") throw new Error(`router type ${router.type} declared predictive but built a ${router.kind} router`);
      return {
        fold: f,
        entry: r,
        type: router.type,
        pool: router.pool.slice(),
        params: { ...router.params },
        needsEmbeddings: router.needsEmbeddings,
        needsOutcomes: router.needsOutcomes,
        expectedCosts: router.expectedCosts,
        validation: await router.predictQuality(batchOfSet(router, sets.validation)),
        test: await router.predictQuality(batchOfSet(router, sets.test)),
        ids: { validation: sets.validation.table.ids, test: sets.test.table.ids },
        files,
      };
    } finally {
      (router as { dispose?: () => void }).dispose?.();
    }
  }

  /** The job's evaluation from its trained routers' recordings (trainTask); a router not recorded (a direct one, or every one for `run`) is trained here. */
  async evaluateTask(job: SplitJob, recorded: RecordedRouting[], hooks: SplitJobHooks): Promise<SplitJobResult> {
    const { cfg } = this.ctx;
    const files: string[] = [];
    const folds: FoldUnderTest[] = [];
    try {
      for (const f of job.split.folds.keys()) {
        const sets = this.foldSets(job, f);
        const routers: RouterUnderTest[] = [];
        folds.push({ test: sets.test, validation: sets.validation, routers });
        for (const [r, entry] of cfg.routers.entries()) {
          const rec = recorded.find((x) => x.fold === f && x.entry === r);
          if (rec) {
            routers.push({ name: routerLabel(entry), router: new RecordedRouter(rec) });
            files.push(...rec.files);
          } else {
            const one = await this.trainOne(job, f, r, hooks, sets);
            routers.push({ name: routerLabel(entry), router: one.router });
            files.push(...one.files);
          }
        }
      }
      return { result: await this.evaluate(job, folds, hooks), files };
    } finally {
      disposeAll(folds);
    }
  }
}

interface FoldSets {
  train: TrainingSet;
  validation: TrainingSet;
  test: TrainingSet;
}

function disposeAll(folds: FoldUnderTest[]): void {
  for (const f of folds) for (const u of f.routers) (u.router as { dispose?: () => void }).dispose?.();
}

/** A trained predictive router as evaluation reads it: plain data, so it travels between threads. */
export interface RecordedRouting {
  fold: number;
  /** Index of the router entry in the config. */
  entry: number;
  type: string;
  pool: string[];
  params: Record<string, unknown>;
  needsEmbeddings: boolean;
  needsOutcomes: boolean;
  expectedCosts: Float64Array;
  /** q_m on the fold's validation and test prompts (prompts x pool, row-major). */
  validation: Float64Array;
  test: Float64Array;
  ids: { validation: string[]; test: string[] };
  /** Saved router directories (holdout runs). */
  files: string[];
}

/** The prompts of a set as the router's batch, as evaluation builds it (src/evaluate/evaluate.ts). */
function batchOfSet(router: Router, set: TrainingSet): PromptBatch {
  const t = set.table;
  const sub = router.needsOutcomes ? selectModels(t, router.pool) : null;
  return { ids: t.ids, texts: t.texts, evals: t.evals, embeddings: router.needsEmbeddings ? set.embeddings : null, ...(sub ? { outcomes: { scores: sub.scores, costs: sub.costs } } : {}) };
}

/**
 * Answers predictQuality from a recording, by prompt id: the same numbers the trained router
 * gave for those prompts. Asked for a prompt it did not record, it fails (never a guess).
 */
class RecordedRouter implements PredictiveRouter {
  readonly kind = "predictive" as const;
  readonly type: string;
  readonly pool: readonly string[];
  readonly params: Record<string, unknown>;
  readonly needsEmbeddings: boolean;
  readonly needsOutcomes: boolean;
  readonly expectedCosts: Float64Array;
  private readonly rows = new Map<string, { q: Float64Array; row: number }>();

  constructor(rec: RecordedRouting) {
    this.type = rec.type;
    this.pool = rec.pool;
    this.params = rec.params;
    this.needsEmbeddings = rec.needsEmbeddings;
    this.needsOutcomes = rec.needsOutcomes;
    this.expectedCosts = rec.expectedCosts;
    rec.ids.validation.forEach((id, row) => this.rows.set(id, { q: rec.validation, row }));
    rec.ids.test.forEach((id, row) => this.rows.set(id, { q: rec.test, row }));
  }

  fit(): Promise<FitReport> {
    return Promise.reject(new Error("a recorded router is already trained"));
  }

  async predictQuality(batch: PromptBatch): Promise<Float64Array> {
    const m = this.pool.length;
    const out = new Float64Array(batch.ids.length * m);
    batch.ids.forEach((id, i) => {
      const hit = this.rows.get(id);
      if (!hit) throw new Error(`recorded ${this.type} router: prompt "${id}" was not among its recorded prompts`);
      out.set(hit.q.subarray(hit.row * m, hit.row * m + m), i * m);
    });
    return out;
  }
}
