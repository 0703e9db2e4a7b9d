/**
 * The train and route commands as library functions: split a table, embed the rows a router
 * needs, train (grid on validation), save; and load a saved router, embed new prompts the way
 * its training prompts were embedded, route.
 *
 * Which rows train a router: the table is split by makeSplits (per dataset, seeded).
 *  - `dataset` given: that dataset's split (in-distribution: its train/validation parts;
 *    out-of-distribution: the other datasets' rows, the dataset itself being the test part).
 *  - no `dataset`, in-distribution: all datasets pooled: the union of every dataset's train part
 *    and of every validation part; each dataset's test part stays held out.
 *  - no `dataset`, out-of-distribution: refused (which dataset is left out must be said).
 * Test rows are never embedded, fitted on or looked at here.
 */
import { completeRows, selectModels, selectRows, type OutcomeTable } from "../data/table.js";
import { idsOf, makeSplits, splitKey, pooledSplit, ROUTERBENCH_SPLIT, type Split, type SplitSpec } from "../data/splits.js";
import { selectEmbeddingRows, type EmbeddingMatrix, type PreparationOptions } from "../embed/embedder.js";
import { DEFAULT_EMBEDDER_SPEC, embedTexts, learnSharedPrefixes } from "../embed/index.js";
import { normalizePreparation } from "../embed/prepare.js";
import { measureOperatingPoints, poolOutcomes, predictedOperatingPoints } from "../evaluate/operating-points.js";
import { InputError } from "../util/errors.js";
import type { ProgressFn } from "../util/progress.js";
import { join } from "node:path";
import { copyRouterWith, loadRouter, MANIFEST_FILE, operatingPointsOf, readFittedPrompts, saveRouter, type SavedRouterManifest } from "./artifact.js";
import { getRouterFactory, parseRouterSpec } from "./registry.js";
import type { FitReport, PredictiveRouter, Router, TrainingSet } from "./router.js";
import { chooseTarget, type OperatingPoints, type RoutingTarget, type TargetChoice } from "./targets.js";
import { embedForRouter, routable } from "../workflow/session.js";
import { gridPoints, trainRouter } from "./train.js";

export interface TrainOnTableOptions {
  spec: string;
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
  /** Progress of the embedding step and of fitting (MLP epochs, grid points), by stage label. */
  onProgress?: (stage: "embed" | "fit", done: number, total: number, label?: string) => void;
}

export interface TrainOnTableResult {
  router: Router;
  report: FitReport;
  split: Record<string, unknown>;
  embedder: SavedRouterManifest["embedder"];
  prefixes: Record<string, string>;
  rows: { train: number[]; validation: number[]; test: number[] };
  /** The validation rows (with embeddings when the router reads them), or null when there are none. */
  validation: TrainingSet | null;
  /** The training then validation rows, with their embeddings (null for routers that do not read prompts): what the router saw. */
  fitted: TrainingSet;
}

/**
 * Refuse, before any data is read or embedded, what cannot be trained for routing: unknown
 * types, evaluation baselines that need the prompts' outcomes, and bad parameters (every grid
 * point is built once, which runs the type's own parameter checks).
 */
export function checkTrainable(spec: string): void {
  const parsed = parseRouterSpec(spec);
  const factory = getRouterFactory(parsed.type);
  if (factory.needsOutcomes) {
    throw new InputError(
      `router type ${parsed.type} is an evaluation baseline: it needs the realised outcomes of the prompts it routes, so it cannot route new prompts; evaluate it with \`routekit eval --routers ${parsed.type}\``,
      { field: "--router" },
    );
  }
  checkParams(spec);
}

/** Build the router at each grid point of `spec` (on a dummy pool) so that a bad parameter fails now, not after embedding. */
export function checkParams(spec: string): void {
  const parsed = parseRouterSpec(spec);
  const factory = getRouterFactory(parsed.type);
  for (const point of gridPoints(parsed.grid)) {
    const r = factory.create(["a", "b"], { ...parsed.params, ...point });
    (r as { dispose?: () => void }).dispose?.();
  }
}

/** The train/validation/test rows of the table that a router should be trained on (see above). */
export function trainingRows(table: OutcomeTable, spec: SplitSpec, dataset?: string): { name: string; train: number[]; validation: number[]; test: number[] } {
  const splits: Split[] = makeSplits(table, spec);
  if (dataset !== undefined) {
    const s = splits.find((x) => x.dataset === dataset);
    if (!s) throw new InputError(`no dataset "${dataset}" in the table (has: ${[...new Set(table.datasets)].sort().join(", ")})`, { field: "dataset" });
    return s;
  }
  if (spec.kind === "out-of-distribution") throw new InputError("an out-of-distribution split needs --dataset: the dataset to leave out for testing");
  return pooledSplit(table, splits);
}

export async function trainOnTable(table: OutcomeTable, opts: TrainOnTableOptions): Promise<TrainOnTableResult> {
  const seed = opts.seed ?? ROUTERBENCH_SPLIT.seed;
  const progress = opts.onProgress ?? (() => {});
  const kind = opts.split ?? "in-distribution";
  const validationFraction = opts.validationFraction ?? ROUTERBENCH_SPLIT.validationFraction;
  const splitSpec: SplitSpec =
    kind === "in-distribution"
      ? { kind, testFraction: opts.testFraction ?? (ROUTERBENCH_SPLIT as { testFraction: number }).testFraction, validationFraction, seed }
      : { kind, validationFraction, seed };
  checkParams(opts.spec);
  const rows = trainingRows(table, splitSpec, opts.dataset);
  if (rows.train.length === 0) throw new InputError(`split ${rows.name} has no training rows`);
  const needsEmbeddings = getRouterFactory(parseRouterSpec(opts.spec).type).needsEmbeddings;
  const trainTable = selectRows(table, rows.train);
  const valTable = selectRows(table, rows.validation);
  let train: TrainingSet = { table: trainTable, embeddings: null };
  let validation: TrainingSet | null = rows.validation.length ? { table: valTable, embeddings: null } : null;
  let embedder: SavedRouterManifest["embedder"] = null;
  let prefixes: Record<string, string> = {};
  const both = [...rows.train, ...rows.validation];
  let fitted: TrainingSet = { table: selectRows(table, both), embeddings: null };
  if (needsEmbeddings) {
    const spec = opts.embedder ?? DEFAULT_EMBEDDER_SPEC;
    const preparation = normalizePreparation(opts.preparation);
    // Shared prefixes are learned on the training rows only, then stripped alike everywhere.
    prefixes = preparation.stripSharedPrefix ? learnSharedPrefixes(trainTable.texts, trainTable.evals, preparation) : {};
    const { matrix } = await embedTexts(fitted.table.texts, fitted.table.evals, {
      spec,
      preparation,
      prefixes,
      cacheDir: opts.cacheDir,
      onProgress: (d, t, l) => progress("embed", d, t, l),
    });
    const nt = rows.train.length;
    train = { table: trainTable, embeddings: selectEmbeddingRows(matrix, Array.from({ length: nt }, (_, i) => i)) };
    if (validation) validation = { table: valTable, embeddings: selectEmbeddingRows(matrix, Array.from({ length: rows.validation.length }, (_, i) => nt + i)) };
    embedder = { id: matrix.embedderId, spec, preparation };
    fitted = { table: fitted.table, embeddings: matrix };
  }
  const { router, report } = await trainRouter(train, validation, { spec: opts.spec, seed, onProgress: (d, t, l) => progress("fit", d, t, l) });
  const split = {
    ...splitSpec,
    dataset: opts.dataset ?? "all",
    name: rows.name,
    trainRows: rows.train.length,
    validationRows: rows.validation.length,
    testRows: rows.test.length,
  };
  return { router, report, split, embedder, prefixes, rows, validation, fitted };
}

/**
 * A router's operating points on a set it was not fitted on (rows missing an outcome left
 * out); null when no complete row is left. Seeded by `seed` for the bootstrap intervals.
 */
export async function operatingPointsOn(router: Router, set: TrainingSet | null, seed: number, on: OperatingPoints["on"] = "validation"): Promise<OperatingPoints | null> {
  if (!set) return null;
  const keep = completeRows(set.table);
  if (keep.length === 0) return null;
  const sub = keep.length === set.table.ids.length ? set : { table: selectRows(set.table, keep), embeddings: set.embeddings ? selectEmbeddingRows(set.embeddings, keep) : null };
  return measureOperatingPoints(router, sub, { seed, on });
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
  const keep = completeRows(fitted.table);
  const table = selectRows(fitted.table, keep);
  const n = table.ids.length;
  if (n < 2 * folds) return null;
  const embeddings = router.needsEmbeddings ? selectEmbeddingRows(fitted.embeddings!, keep) : null;
  const fold = foldOf(table.ids, seed, folds);
  const factory = getRouterFactory(router.type);
  const m = router.pool.length;
  const q = new Float64Array(n * m);
  for (let k = 0; k < folds; k++) {
    const inFold = [...fold.keys()].filter((i) => fold[i] === k);
    const rest = [...fold.keys()].filter((i) => fold[i] !== k);
    const sub = (rows: number[]): TrainingSet => ({ table: selectRows(table, rows), embeddings: embeddings ? selectEmbeddingRows(embeddings, rows) : null });
    const r = factory.create(router.pool, { ...router.params });
    try {
      await r.fit(sub(rest));
      const part = sub(inFold);
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

export interface TrainAndSaveResult extends TrainOnTableResult {
  operatingPoints: OperatingPoints | null;
}

/** trainOnTable, measure its operating points (on the validation rows by default), then save the router directory atomically. */
export async function trainAndSave(table: OutcomeTable, out: string, opts: TrainOnTableOptions): Promise<TrainAndSaveResult> {
  checkTrainable(opts.spec);
  const result = await trainOnTable(table, opts);
  const seed = opts.seed ?? ROUTERBENCH_SPLIT.seed;
  const crossfit = opts.pointsOn === "crossfit" || !result.validation;
  const operatingPoints = crossfit ? await crossFittedOperatingPoints(result.router, result.fitted, seed) : await operatingPointsOn(result.router, result.validation, seed);
  await saveRouter(result.router, out, {
    embedder: result.embedder,
    split: result.split,
    seed,
    fit: result.report,
    prefixes: result.prefixes,
    fittedOn: { train: idsOf(table, result.rows.train), validation: idsOf(table, result.rows.validation) },
    operatingPoints,
  });
  return { ...result, operatingPoints };
}

/** How many of `ids` a saved router was fitted (train) or tuned (validation) on. */
export async function fittedOverlap(dir: string, manifest: SavedRouterManifest, ids: readonly string[]): Promise<{ train: number; validation: number; total: number }> {
  const seen = await readFittedPrompts(dir, manifest);
  let train = 0;
  let validation = 0;
  for (const id of ids) {
    if (seen.train.has(id)) train++;
    else if (seen.validation.has(id)) validation++;
  }
  return { train, validation, total: train + validation };
}

/** The one-line refusal to judge or calibrate a router on prompts it has seen. */
export function overlapError(dir: string, overlap: { train: number; validation: number; total: number }, of: number, what: string): InputError {
  return new InputError(
    `this router was fitted or tuned on ${overlap.total} of the ${of} ${what} (${overlap.train} training, ${overlap.validation} validation); use prompts it has not seen, or pass --allow-overlap`,
    { file: join(dir, MANIFEST_FILE) },
  );
}

export interface CalibrateOptions {
  /** The copy to write (replaced atomically). */
  out: string;
  /** Recorded in the copy as its default target (what `route` uses when not told). */
  target?: RoutingTarget;
  allowOverlap?: boolean;
  seed?: number;
  cacheDir?: string | false;
  onProgress?: ProgressFn;
}

/**
 * Recompute a saved router's operating points on a user's own held-out traffic (every row of
 * `table` with all the pool's outcomes), and write them, with an optional default target, into
 * a copy of the router. Prompts the router was fitted or tuned on are refused unless allowed.
 */
export async function calibrateSavedRouter(
  dir: string,
  table: OutcomeTable,
  opts: CalibrateOptions,
): Promise<{ manifest: SavedRouterManifest; operatingPoints: OperatingPoints; choice: TargetChoice | null; overlap: number; prompts: number }> {
  const { router: loaded, manifest } = await loadRouter(dir);
  const router = routable(dir, loaded);
  for (const model of router.pool) {
    if (!table.models.includes(model)) throw new InputError(`the router routes to "${model}", which the table lacks (it has: ${table.models.join(", ")})`, { field: "models" });
  }
  // Rows with every pool model's outcome (models outside the pool may be missing).
  const pooled = selectRows(table, completeRows(selectModels(table, router.pool)));
  if (pooled.ids.length === 0) throw new InputError("no prompt in the table has every pool model's score and cost");
  const overlap = await fittedOverlap(dir, manifest, pooled.ids);
  if (overlap.total > 0 && !opts.allowOverlap) throw overlapError(dir, overlap, pooled.ids.length, "calibration prompts");
  const embeddings = await embedForRouter(dir, router, manifest, { texts: pooled.texts, evals: pooled.evals }, opts);
  const seed = opts.seed ?? 0;
  const operatingPoints = await measureOperatingPoints(router, { table: pooled, embeddings }, { seed, on: "calibration" });
  const choice = opts.target ? chooseTarget(operatingPoints, opts.target, router.pool) : null;
  const written = await copyRouterWith(dir, opts.out, { operatingPoints, ...(opts.target ? { defaultTarget: opts.target } : {}) });
  return { manifest: written, operatingPoints, choice, overlap: overlap.total, prompts: pooled.ids.length };
}
