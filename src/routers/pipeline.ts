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
import { selectRows, type OutcomeTable } from "../data/table.js";
import { makeSplits, pooledSplit, ROUTERBENCH_SPLIT, type Split, type SplitSpec } from "../data/splits.js";
import { selectEmbeddingRows, type PreparationOptions } from "../embed/embedder.js";
import { DEFAULT_EMBEDDER_SPEC, embedTexts, learnSharedPrefixes } from "../embed/index.js";
import { normalizePreparation } from "../embed/prepare.js";
import { InputError } from "../util/errors.js";
import type { ProgressFn } from "../util/progress.js";
import { loadRouter, saveRouter, type SavedRouterManifest } from "./artifact.js";
import { getRouterFactory, parseRouterSpec } from "./registry.js";
import type { FitReport, Router, TrainingSet } from "./router.js";
import { routePrompts } from "./routing.js";
import { trainRouter } from "./train.js";

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
  const rows = trainingRows(table, splitSpec, opts.dataset);
  if (rows.train.length === 0) throw new InputError(`split ${rows.name} has no training rows`);

  // Only the probe's flags matter here (does this type read prompts?); the real router is built by trainRouter.
  const type = parseRouterSpec(opts.spec).type;
  const needsEmbeddings = getRouterFactory(type).create(table.models, {}).needsEmbeddings;
  const trainTable = selectRows(table, rows.train);
  const valTable = selectRows(table, rows.validation);
  let train: TrainingSet = { table: trainTable, embeddings: null };
  let validation: TrainingSet | null = rows.validation.length ? { table: valTable, embeddings: null } : null;
  let embedder: SavedRouterManifest["embedder"] = null;
  let prefixes: Record<string, string> = {};
  if (needsEmbeddings) {
    const spec = opts.embedder ?? DEFAULT_EMBEDDER_SPEC;
    const preparation = normalizePreparation(opts.preparation);
    // Shared prefixes are learned on the training rows only, then stripped alike everywhere.
    prefixes = preparation.stripSharedPrefix ? learnSharedPrefixes(trainTable.texts, trainTable.evals, preparation) : {};
    const both = [...rows.train, ...rows.validation];
    const sub = selectRows(table, both);
    const { matrix } = await embedTexts(sub.texts, sub.evals, {
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
  return { router, report, split, embedder, prefixes, rows };
}

/** trainOnTable, then save the router directory atomically. */
export async function trainAndSave(table: OutcomeTable, out: string, opts: TrainOnTableOptions): Promise<TrainOnTableResult> {
  const result = await trainOnTable(table, opts);
  await saveRouter(result.router, out, {
    embedder: result.embedder,
    split: result.split,
    seed: opts.seed ?? ROUTERBENCH_SPLIT.seed,
    fit: result.report,
    prefixes: result.prefixes,
  });
  return result;
}

export interface RoutedPrompt {
  id: string;
  model: string;
  /** Predicted quality of every pool model. */
  quality: Record<string, number>;
}

/**
 * Load a saved router and route new prompts at lambda. Routers that need outcomes are refused.
 * `evals` (each prompt's eval when known, else null) reaches the router as `batch.evals`; only
 * task-aware routers (task-prior) read it.
 */
export async function routeWithSavedRouter(
  dir: string,
  prompts: { ids: string[]; texts: string[]; evals?: (string | null)[] },
  lambda: number,
  opts: { cacheDir?: string | false; onProgress?: ProgressFn } = {},
): Promise<{ routed: RoutedPrompt[]; manifest: SavedRouterManifest; router: Router }> {
  const { router, manifest } = await loadRouter(dir);
  if (router.kind !== "predictive" || router.needsOutcomes) {
    throw new InputError(`router type ${router.type} needs the realised outcomes of the prompts it routes (it is a baseline for evaluation), so it cannot route new prompts`, { file: dir });
  }
  let embeddings = null;
  if (router.needsEmbeddings) {
    const e = manifest.embedder;
    if (!e) throw new InputError("the router reads embeddings but router.json names no embedder", { file: dir });
    const { matrix } = await embedTexts(prompts.texts, null, {
      spec: e.spec,
      preparation: e.preparation,
      prefixes: manifest.prefixes ?? {},
      cacheDir: opts.cacheDir,
      onProgress: opts.onProgress,
    });
    if (matrix.embedderId !== e.id) {
      throw new InputError(`the router was trained on embeddings from ${e.id}, but "${e.spec}" now gives ${matrix.embedderId}; retrain the router`, { file: dir });
    }
    embeddings = matrix;
  }
  if (prompts.evals && prompts.evals.length !== prompts.ids.length) throw new Error(`${prompts.evals.length} evals for ${prompts.ids.length} prompts`);
  const batch = { ids: prompts.ids, texts: prompts.texts, ...(prompts.evals ? { evals: prompts.evals } : {}), embeddings };
  const { chosen, quality } = await routePrompts(router, batch, lambda);
  const m = router.pool.length;
  const routed = prompts.ids.map((id, i) => ({
    id,
    model: router.pool[chosen[i]],
    quality: Object.fromEntries(router.pool.map((p, j) => [p, quality[i * m + j]])),
  }));
  return { routed, manifest, router };
}
