/**
 * One split of `routekit run` as a self-contained job: every router trained on each fold (grids
 * on the fold's validation part), then evaluated on the folds' pooled test prompts. A job reads
 * only its inputs (the config, the table, the embeddings, the split) and returns its result, so
 * jobs run in any order, in this thread or in worker threads (split-pool.ts), and a run's
 * results.json is the same bytes either way.
 */
import { join } from "node:path";
import { idsOf } from "../data/splits.js";
import type { OutcomeTable } from "../data/table.js";
import { evaluateFolds, type FoldUnderTest, type RouterUnderTest, type SplitResult } from "../evaluate/evaluate.js";
import { shuffledOutcomes } from "../evaluate/null.js";
import { routerLabel, type ExperimentConfig, type SplitConfig } from "../experiments/config.js";
import type { SavedRouterManifest } from "../routers/artifact.js";
import { selectSetRows } from "../routers/common.js";
import { getRouterFactory } from "../routers/registry.js";
import type { TrainingSet } from "../routers/router.js";
import { trainRouter } from "../routers/train.js";
import type { ProgressFn } from "../util/progress.js";
import type { FoldedSplit } from "./splits.js";
import { checkParams, operatingPointsOn, saveTrained } from "./train.js";

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

  async run(job: SplitJob, hooks: SplitJobHooks): Promise<SplitJobResult> {
    const { cfg, embedder, prefixes } = this.ctx;
    const { log, progress } = hooks;
    const data = this.dataFor(job.shuffle);
    const { split, splitCfg } = job;
    const crossfit = cfg.evaluation.protocol === "crossfit";
    const shuffles = cfg.evaluation.nullShuffles ?? 0;
    const tag = job.shuffle > 0 ? `null ${job.shuffle}/${shuffles}: ` : "";
    const files: string[] = [];
    const folds: FoldUnderTest[] = [];
    try {
      for (const [f, part] of split.folds.entries()) {
        const foldLabel = split.folds.length > 1 ? ` fold ${f + 1}/${split.folds.length}` : "";
        const train = selectSetRows(data, part.train);
        const validation = selectSetRows(data, part.validation);
        const underTest: RouterUnderTest[] = [];
        folds.push({ test: selectSetRows(data, part.test), validation, routers: underTest });
        for (const entry of cfg.routers) {
          const label = routerLabel(entry);
          log(`${tag}training ${label} on ${split.name}${foldLabel} (${part.train.length} train, ${part.validation.length} validation)`);
          const bar = progress(`train ${label}`);
          let trained;
          try {
            trained = await trainRouter(train, validation, { spec: entry, seed: cfg.seed, onProgress: bar.update });
          } finally {
            bar.stop();
          }
          underTest.push({ name: label, router: trained.router });
          if (job.staging !== undefined && job.shuffle === 0 && !crossfit && getRouterFactory(entry.type).save) {
            const rel = join("routers", split.name.replace(/[^A-Za-z0-9._-]/g, "_"), label);
            await saveTrained(
              join(job.staging, rel),
              {
                ...trained,
                split: { ...splitCfg, seed: cfg.seed, name: split.name, dataset: split.dataset },
                seed: cfg.seed,
                embedder,
                prefixes,
                fittedOn: { train: idsOf(data.table, part.train), validation: idsOf(data.table, part.validation) },
              },
              await operatingPointsOn(trained.router, validation, cfg.seed),
            );
            files.push(rel);
          }
        }
      }
      const tested = split.folds.reduce((a, p) => a + p.test.length, 0);
      log(`${tag}evaluating ${cfg.routers.length} router(s) on ${split.name} (${tested} test prompts${split.folds.length > 1 ? `, ${split.folds.length} folds` : ""})`);
      const bar = progress(`evaluate ${split.name}`);
      try {
        const result = await evaluateFolds(folds, {
          seed: cfg.seed,
          bootstrap: job.bootstrap,
          lambdas: cfg.evaluation.lambdas,
          aiq: cfg.evaluation.aiq,
          operatingPoints: cfg.evaluation.operatingPoints,
          compareTo: cfg.evaluation.compareTo,
          ...(cfg.evaluation.costRange ? { costRange: cfg.evaluation.costRange } : {}),
          onProgress: bar.update,
        });
        return { result, files };
      } finally {
        bar.stop();
      }
    } finally {
      for (const f of folds) for (const u of f.routers) (u.router as { dispose?: () => void }).dispose?.();
    }
  }
}
