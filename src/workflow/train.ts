/**
 * Training a router on a table, as `routekit train` does (and `eval` for each router spec):
 * choose the split's rows, embed the rows the router reads, train (grid on validation), measure
 * its operating points, save.
 *
 * Which rows train a router: the table is split by makeSplits (per dataset, seeded).
 *  - `dataset` given: that dataset's split (in-distribution: its train/validation parts;
 *    out-of-distribution: the other datasets' rows, the dataset itself being the test part).
 *  - no `dataset`, in-distribution: all datasets pooled: the union of every dataset's train part
 *    and of every validation part; each dataset's test part stays held out.
 *  - no `dataset`, out-of-distribution: refused (which dataset is left out must be said).
 * Test rows are never embedded, fitted on or looked at here.
 */
import { completeRows, modelColumnCells, selectRows, type OutcomeTable } from "../data/table.js";
import { idsOf, splitKey, splitSpecOf, type Split, type SplitSpec } from "../data/splits.js";
import type { PreparationOptions } from "../embed/embedder.js";
import { DEFAULT_EMBEDDER_SPEC } from "../embed/registry.js";
import { measureOperatingPoints, poolOutcomes, predictedOperatingPoints, predictedPointsOn } from "../evaluate/operating-points.js";
import { saveRouter, type RepricingRecord, type SavedRouterManifest, type SaveMeta } from "../routers/artifact.js";
import { poolColumns, selectSetRows } from "../routers/common.js";
import { getRouterFactory, toRouterSpec, type RouterSpec } from "../routers/registry.js";
import type { PredictiveRouter, Router, TrainingSet } from "../routers/router.js";
import type { OperatingPoints } from "../routers/targets.js";
import { gridPoints, specParameters, trainRouter, type TrainedRouter } from "../routers/train.js";
import { InputError } from "../util/errors.js";
import { embedRows } from "./embed.js";
import { splitsOf } from "./splits.js";

export interface TrainOnTableOptions {
  /** The router to train; a spec string (`knn:k=5|10`) is parsed once here, for library callers. */
  spec: RouterSpec | string;
  seed?: number;
  embedder?: string;
  preparation?: Partial<PreparationOptions>;
  dataset?: string;
  split?: "in-distribution" | "out-of-distribution";
  validationFraction?: number;
  testFraction?: number;
  cacheDir?: string | false;
  /**
   * Where trainAndSave measures the router's operating points: "validation" (default), the
   * trained router itself on the validation rows; or "crossfit", out-of-fold predictions over
   * the training and validation rows (more prompts, but other models' lambdas: see
   * crossFittedOperatingPoints and `npm run bench -- budget`). Without validation rows, crossfit.
   */
  pointsOn?: "validation" | "crossfit";
  /** Train on these rows (e.g. one cross-fitting fold's) instead of the split's (dataset, split and fractions then only label it). */
  rows?: Split;
  /** Progress of the embedding step and of fitting (MLP epochs, grid points), by stage label. */
  onProgress?: (stage: "embed" | "fit", done: number, total: number, label?: string) => void;
}

/** A router trained on one split, with what its saved manifest records (see saveTrained). */
export interface TrainedOnSplit extends TrainedRouter {
  split: Record<string, unknown>;
  seed: number;
  embedder: SavedRouterManifest["embedder"];
  prefixes: Record<string, string>;
  /** The ids of the prompts it was fitted (train) and tuned (validation) on. */
  fittedOn: SaveMeta["fittedOn"];
  /** Each pool model's mean input/output tokens on the training rows (NaN where unknown), for `reprice`; absent: none recorded. */
  tokenMeans?: { input: Float64Array; output: Float64Array } | null;
}

export interface TrainOnTableResult extends TrainedOnSplit {
  rows: { train: number[]; validation: number[]; test: number[] };
  /** The validation rows (with embeddings when the router reads them), or null when there are none. */
  validation: TrainingSet | null;
  /** The training then validation rows, with their embeddings (null for routers that do not read prompts): what the router saw. */
  fitted: TrainingSet;
}

/**
 * Refuse, before any data is read or embedded, what cannot be trained for routing: unknown
 * types, evaluation baselines that need the prompts' outcomes, and bad parameters (see checkParams).
 */
export function checkTrainable(spec: RouterSpec | string): void {
  const parsed = toRouterSpec(spec);
  const factory = getRouterFactory(parsed.type);
  if (factory.needsOutcomes) {
    throw new InputError(
      `router type ${parsed.type} is an evaluation baseline: it needs the realised outcomes of the prompts it routes, so it cannot route new prompts; evaluate it with \`routekit eval --routers ${parsed.type}\``,
      { field: "--router" },
    );
  }
  checkParams(parsed);
}

/**
 * Build the router at each grid point of `spec` (on a dummy pool), which runs the type's own
 * parameter checks, so that an unknown type or a bad parameter fails now, not after embedding.
 */
export function checkParams(spec: RouterSpec | string): void {
  const parsed = toRouterSpec(spec);
  const factory = getRouterFactory(parsed.type);
  const { params, grid } = specParameters(parsed);
  for (const point of gridPoints(grid)) {
    const r = factory.create(["a", "b"], { ...params, ...point });
    (r as { dispose?: () => void }).dispose?.();
  }
}

/** The train/validation/test rows of the table that a router should be trained on (see above). */
export function trainingRows(table: OutcomeTable, spec: SplitSpec, dataset?: string): Split {
  return splitsOf(table, spec, { dataset, pooled: true })[0];
}

/** 0, 1, ..., n - 1 shifted by `from`: the rows of one part of a set that lists its parts in turn. */
export function rowRange(from: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

export async function trainOnTable(table: OutcomeTable, opts: TrainOnTableOptions): Promise<TrainOnTableResult> {
  const spec = toRouterSpec(opts.spec);
  const progress = opts.onProgress ?? (() => {});
  const splitSpec = splitSpecOf({ kind: opts.split, testFraction: opts.testFraction, validationFraction: opts.validationFraction, seed: opts.seed });
  const seed = splitSpec.seed;
  checkParams(spec);
  const rows = opts.rows ?? trainingRows(table, splitSpec, opts.dataset);
  if (rows.train.length === 0) throw new InputError(`split ${rows.name} has no training rows`);
  // The training then validation rows, embedded in one pass when the router reads prompts.
  let fitted: TrainingSet = { table: selectRows(table, [...rows.train, ...rows.validation]), embeddings: null };
  let embedder: SavedRouterManifest["embedder"] = null;
  let prefixes: Record<string, string> = {};
  if (getRouterFactory(spec.type).needsEmbeddings) {
    // Shared prefixes are learned on the training rows only, then stripped alike everywhere.
    const embedded = await embedRows(fitted.table, {
      spec: opts.embedder ?? DEFAULT_EMBEDDER_SPEC,
      preparation: opts.preparation,
      learnOn: selectRows(table, rows.train),
      cacheDir: opts.cacheDir,
      onProgress: (d, t, l) => progress("embed", d, t, l),
    });
    fitted = { table: fitted.table, embeddings: embedded.matrix };
    embedder = embedded.embedder;
    prefixes = embedded.prefixes;
  }
  const nt = rows.train.length;
  const train = selectSetRows(fitted, rowRange(0, nt));
  const validation = rows.validation.length ? selectSetRows(fitted, rowRange(nt, rows.validation.length)) : null;
  const { router, report, expectedLatencies } = await trainRouter(train, validation, { spec, seed, onProgress: (d, t, l) => progress("fit", d, t, l) });
  const split = {
    ...splitSpec,
    dataset: opts.dataset ?? "all",
    name: rows.name,
    trainRows: rows.train.length,
    validationRows: rows.validation.length,
    testRows: rows.test.length,
  };
  const fittedOn = { train: idsOf(table, rows.train), validation: idsOf(table, rows.validation) };
  const tokenMeans = tokenMeansOf(train.table, router.pool);
  return { router, report, expectedLatencies, tokenMeans, split, seed, embedder, prefixes, fittedOn, rows, validation, fitted };
}

/**
 * Each pool model's mean input and output tokens per call over the table's complete rows (the
 * rows expectedCostsOf averages costs over, summed in the same order), NaN for a model with a
 * row without token counts; null when the table has none.
 */
export function tokenMeansOf(table: OutcomeTable, pool: readonly string[]): { input: Float64Array; output: Float64Array } | null {
  if (!table.inputTokens || !table.outputTokens) return null;
  const rows = completeRows(table);
  if (rows.length === 0) return null;
  const cols = poolColumns(table, pool);
  const m0 = table.models.length;
  const mean = (values: Float64Array) =>
    Float64Array.from(cols, (col) => {
      let sum = 0;
      for (const i of rows) sum += values[i * m0 + col];
      return sum / rows.length; // NaN when any row lacks the count
    });
  return { input: mean(table.inputTokens), output: mean(table.outputTokens) };
}

/**
 * A predictive router's operating points on the validation rows (as operatingPointsOn measures
 * them, from one prediction pass) with what `reprice` needs to measure them again at other
 * prices: the rows' predictions, scores and token counts (RepricingRecord). Null points when no
 * complete row is left.
 */
export async function validationPointsWithRecord(router: PredictiveRouter, set: TrainingSet, seed: number): Promise<{ operatingPoints: OperatingPoints | null; record: RepricingRecord | null }> {
  const sub = completeSet(set);
  if (!sub) return { operatingPoints: null, record: null };
  const { table } = sub;
  const { operatingPoints, q, outcomes } = await predictedPointsOn(router, sub, { seed, on: "validation" });
  const cols = poolColumns(table, router.pool);
  const tokens = (t: Float64Array | undefined) => (t ? modelColumnCells(table, t, cols) : new Float64Array(q.length).fill(NaN));
  const record = { q: Float64Array.from(q), scores: outcomes.scores, inputTokens: tokens(table.inputTokens), outputTokens: tokens(table.outputTokens) };
  return { operatingPoints, record };
}

/**
 * What a saved router records from its validation rows: its operating points and, for a
 * predictive router trained on a table with token counts, what `reprice` needs
 * (validationPointsWithRecord; without token counts there is nothing to reprice, and router.json
 * says so by the record's absence). `train` and `run` both save through this.
 */
export async function validationPointsToSave(
  router: Router,
  validation: TrainingSet | null,
  seed: number,
  tokenMeans: { input: Float64Array; output: Float64Array } | null,
): Promise<{ operatingPoints: OperatingPoints | null; record: RepricingRecord | null }> {
  if (!validation || router.kind !== "predictive") return { operatingPoints: await operatingPointsOn(router, validation, seed), record: null };
  const { operatingPoints, record } = await validationPointsWithRecord(router, validation, seed);
  const priced = tokenMeans !== null && tokenMeans.input.some((x, j) => Number.isFinite(x) && Number.isFinite(tokenMeans.output[j]));
  return { operatingPoints, record: priced ? record : null };
}

/** The set's rows with every outcome known (the set itself when all are), or null when none is. */
function completeSet(set: TrainingSet): TrainingSet | null {
  const keep = completeRows(set.table);
  if (keep.length === 0) return null;
  return keep.length === set.table.ids.length ? set : selectSetRows(set, keep);
}

/**
 * A router's operating points on a set it was not fitted on (rows missing an outcome left
 * out); null when no complete row is left. Seeded by `seed` for the bootstrap intervals.
 */
export async function operatingPointsOn(router: Router, set: TrainingSet | null, seed: number, on: OperatingPoints["on"] = "validation"): Promise<OperatingPoints | null> {
  const sub = set && completeSet(set);
  return sub ? measureOperatingPoints(router, sub, { seed, on }) : null;
}

/** Folds of the cross-fit that measures a trained router's operating points. */
export const OPERATING_POINT_FOLDS = 5;

/**
 * Operating points from out-of-fold predictions over the training and validation rows: the
 * rows are dealt into K folds by a keyed hash of their ids; for each fold, a router of the same
 * type and the chosen hyperparameters is fitted on the other folds and predicts the fold. Every
 * prompt is then predicted by a model that never saw it, and the points are measured on all of
 * them: ten times the prompts of the validation part. Routing uses the final router's expected
 * costs, as deployment will. The catch: the lambdas come from the fold models' predictions, and
 * the final router's differ; where whole groups of prompts switch model at one lambda
 * (task-prior), a lambda can land on the other side of a switch for the final router. Measured
 * (`npm run bench -- budget`, BENCHMARKS.md), this beats validation-only points on the bundled
 * data for linear and knn and loses elsewhere, so it is an option, not the default.
 */
export async function crossFittedOperatingPoints(router: Router, fitted: TrainingSet, seed: number, folds = OPERATING_POINT_FOLDS): Promise<OperatingPoints | null> {
  if (router.kind !== "predictive") return null;
  const complete = selectSetRows({ table: fitted.table, embeddings: router.needsEmbeddings ? fitted.embeddings : null }, completeRows(fitted.table));
  const { table } = complete;
  const n = table.ids.length;
  if (n < 2 * folds) return null;
  const fold = foldOf(table.ids, seed, folds);
  const factory = getRouterFactory(router.type);
  const m = router.pool.length;
  const q = new Float64Array(n * m);
  for (let k = 0; k < folds; k++) {
    const inFold = [...fold.keys()].filter((i) => fold[i] === k);
    const rest = [...fold.keys()].filter((i) => fold[i] !== k);
    const r = factory.create(router.pool, { ...router.params });
    try {
      await r.fit(selectSetRows(complete, rest));
      const part = selectSetRows(complete, inFold);
      const pq = await (r as PredictiveRouter).predictQuality({ ids: part.table.ids, texts: part.table.texts, evals: part.table.evals, embeddings: part.embeddings });
      inFold.forEach((row, i) => q.set(pq.subarray(i * m, i * m + m), row * m));
    } finally {
      (r as { dispose?: () => void }).dispose?.();
    }
  }
  return predictedOperatingPoints(q, router.expectedCosts, poolOutcomes(table, router.pool), router.pool, { seed, on: "crossfit" });
}

/** Fold of each id: rank by a keyed hash, deal round-robin (fold sizes differ by at most one). */
function foldOf(ids: readonly string[], seed: number, folds: number): Int32Array {
  const order = ids.map((id, i) => ({ i, k: splitKey(seed, "operating-point-folds", id) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  const out = new Int32Array(ids.length);
  order.forEach((x, r) => (out[x.i] = r % folds));
  return out;
}

/**
 * Save a trained router with everything its manifest records: the split, seed, fit report,
 * embedder and prefixes, the prompts it was fitted and tuned on, and its operating points.
 * `train` and `run` both save through here, so their router directories are alike.
 */
export function saveTrained(dir: string, trained: TrainedOnSplit, operatingPoints: OperatingPoints | null, repricing: RepricingRecord | null = null): Promise<void> {
  return saveRouter(trained.router, dir, {
    embedder: trained.embedder,
    split: trained.split,
    seed: trained.seed,
    fit: trained.report,
    prefixes: trained.prefixes,
    fittedOn: trained.fittedOn,
    operatingPoints,
    expectedLatencies: trained.expectedLatencies,
    tokenMeans: trained.tokenMeans ?? null,
    repricing,
  });
}

export interface TrainAndSaveResult extends TrainOnTableResult {
  operatingPoints: OperatingPoints | null;
}

/** trainOnTable, measure its operating points (on the validation rows by default), then save the router directory atomically. */
export async function trainAndSave(table: OutcomeTable, out: string, opts: TrainOnTableOptions): Promise<TrainAndSaveResult> {
  const spec = toRouterSpec(opts.spec);
  checkTrainable(spec);
  const result = await trainOnTable(table, { ...opts, spec });
  const crossfit = opts.pointsOn === "crossfit" || !result.validation;
  const { operatingPoints, record } = crossfit
    ? { operatingPoints: await crossFittedOperatingPoints(result.router, result.fitted, result.seed), record: null }
    : await validationPointsToSave(result.router, result.validation, result.seed, result.tokenMeans ?? null);
  await saveTrained(out, result, operatingPoints, record);
  return { ...result, operatingPoints };
}
