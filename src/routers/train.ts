/**
 * Fitting a router from a spec, with hyperparameters chosen on the validation split only: this
 * function is never given test rows, so it cannot look at them.
 *
 * The figure that chooses is the validation MSE of predicted against realised scores (missing
 * scores skipped): a proper scoring rule for q_m(x), the one thing the routing rule consumes, and
 * it is the same for every predictive router. Lower wins; ties go to the earlier grid point.
 * The report also gives, per candidate, that MSE, and for the chosen router the validation
 * mean score and cost when routing at lambda = Infinity (each prompt to its best predicted model).
 */
import { validateTable } from "../data/table.js";
import { InputError } from "../util/errors.js";
import { noProgress, type ProgressFn } from "../util/progress.js";
import { batchOfTable, expectedLatenciesOf, maskedMse, poolScores } from "./common.js";
import { getRouterFactory, toRouterSpec, type RouterSpec } from "./registry.js";
import type { FitReport, Router, TrainingSet } from "./router.js";
import { routePrompts } from "./routing.js";

export interface TrainOptions {
  /** The router to train; a spec string (`knn:k=5|10`) is parsed once here, for library callers. */
  spec: RouterSpec | string;
  seed: number;
  onProgress?: ProgressFn;
}

export interface TrainedRouter {
  router: Router;
  report: FitReport;
  /** l_m: each pool model's mean total latency (s) on the training rows (NaN where unknown), or null when the table has none. */
  expectedLatencies: Float64Array | null;
}

/** Every combination of the grid's values, in spec order (the first key varies slowest). */
export function gridPoints(grid: Record<string, unknown[]>): Record<string, unknown>[] {
  let points: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) points = points.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  return points;
}

/**
 * A spec's fixed parameters and the grid it searches. A one-value grid entry is a fixed value,
 * as "k=5" is in a spec string (so a config's `grid: {k: [5]}` trains as `params: {k: 5}`); a
 * parameter given both ways, or a grid entry with no value, is refused.
 */
export function specParameters(spec: RouterSpec): { params: Record<string, unknown>; grid: Record<string, unknown[]> } {
  const params: Record<string, unknown> = { ...spec.params };
  const grid: Record<string, unknown[]> = {};
  for (const [key, values] of Object.entries(spec.grid)) {
    if (key in spec.params) throw new InputError(`router ${spec.type}: "${key}" is given both as a fixed value and as a grid`, { field: key });
    if (values.length === 0) throw new InputError(`router ${spec.type}: the grid of "${key}" lists no values`, { field: key });
    if (values.length === 1) params[key] = values[0];
    else grid[key] = values;
  }
  return { params, grid };
}

function label(point: Record<string, unknown>): string {
  return Object.entries(point)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(",");
}

/** Validation figures of a fitted predictive router; {} for direct routers (nothing to predict). */
export async function validationFigures(router: Router, validation: TrainingSet): Promise<Record<string, number>> {
  if (router.kind !== "predictive" || validation.table.ids.length === 0) return {};
  const batch = batchOfTable(validation.table, router.needsEmbeddings ? validation.embeddings : null, router.pool, router.needsOutcomes);
  const { chosen, quality } = await routePrompts(router, batch, Infinity);
  const actual = poolScores(validation.table, router.pool);
  const cols = router.pool.map((p) => validation.table.models.indexOf(p));
  const m0 = validation.table.models.length;
  // Prompts whose chosen outcome is missing are left out of the mean (they have no realised value).
  let score = 0;
  let cost = 0;
  let count = 0;
  for (let i = 0; i < chosen.length; i++) {
    const s = validation.table.scores[i * m0 + cols[chosen[i]]];
    const c = validation.table.costs[i * m0 + cols[chosen[i]]];
    if (Number.isNaN(s) || Number.isNaN(c)) continue;
    score += s;
    cost += c;
    count++;
  }
  return { mse: maskedMse(quality, actual), scoreAtMaxLambda: score / count, costAtMaxLambda: cost / count };
}

function dispose(r: Router): void {
  (r as { dispose?: () => void }).dispose?.();
}

export async function trainRouter(train: TrainingSet, validation: TrainingSet | null, opts: TrainOptions): Promise<TrainedRouter> {
  // A library caller's table may be inconsistent (10 texts for 30 ids): one clear error, not a TypeError mid-fit.
  validateTable(train.table, "training set");
  if (validation) validateTable(validation.table, "validation set");
  const start = performance.now();
  const spec = toRouterSpec(opts.spec);
  const factory = getRouterFactory(spec.type);
  const given = specParameters(spec);
  const params = given.params;
  if (factory.seeded && params.seed === undefined) params.seed = opts.seed;
  const hasValidation = validation !== null && validation.table.ids.length > 0;
  if (!hasValidation && Object.keys(given.grid).length > 0) {
    throw new InputError(`router ${spec.type} gives a grid over ${Object.keys(given.grid).join(", ")}, which is searched on validation rows, and there are none`);
  }
  // The type's default grid applies only to parameters the spec leaves open, and only with validation rows.
  const grid: Record<string, unknown[]> = {};
  if (hasValidation) for (const [k, v] of Object.entries(factory.defaultGrid ?? {})) if (!(k in params)) grid[k] = v;
  Object.assign(grid, given.grid);
  const points = gridPoints(grid);
  const progress = opts.onProgress ?? noProgress;
  const pool = train.table.models.slice();

  let best: { router: Router; figures: Record<string, number>; fit: FitReport; point: Record<string, unknown> } | null = null;
  const perCandidate: Record<string, number> = {};
  for (const [c, point] of points.entries()) {
    const router = factory.create(pool, { ...params, ...point });
    const tag = points.length > 1 ? `${c + 1}/${points.length} ${label(point)}` : "";
    if ("onProgress" in router) {
      (router as { onProgress?: ProgressFn }).onProgress = (done, total, l) => progress(done, total, [tag, l].filter(Boolean).join(": "));
    }
    const fit = await router.fit(train, hasValidation ? validation! : undefined);
    const figures = hasValidation ? await validationFigures(router, validation!) : {};
    if (points.length > 1) {
      if (figures.mse === undefined) throw new InputError(`router ${spec.type} has no validation figure to choose its grid by`);
      perCandidate[`mse[${label(point)}]`] = figures.mse;
    }
    progress(c + 1, points.length, tag || spec.type);
    if (!best || (figures.mse ?? Infinity) < (best.figures.mse ?? Infinity)) {
      if (best) dispose(best.router);
      best = { router, figures, fit, point };
    } else {
      dispose(router);
    }
  }
  const chosen = best!;
  return {
    router: chosen.router,
    expectedLatencies: expectedLatenciesOf(train.table, chosen.router.pool),
    report: {
      chosen: { ...chosen.router.params },
      validation: { ...chosen.fit.validation, ...chosen.figures, ...perCandidate },
      seconds: (performance.now() - start) / 1000,
    },
  };
}
