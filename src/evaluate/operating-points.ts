/**
 * A router's operating points, measured on prompts it was not fitted on: the vertices of its
 * cost-quality hull on those prompts, each as the lambda (or direct router's setting) that
 * gives it, with expected US$ per query, quality, bootstrap intervals and per-model shares.
 *
 * The evaluator chooses its "validation" operating points with the same functions
 * (validatedLambdas), so what `eval` reports is what a deployed router routes at.
 */
import { modelColumnCells, type OutcomeTable } from "../data/table.js";
import type { EmbeddingMatrix } from "../embed/embedder.js";
import { batchOfTable, poolColumns } from "../routers/common.js";
import type { PredictiveRouter, Router } from "../routers/router.js";
import { realiseChecked, routeAt } from "../routers/routing.js";
import type { OperatingPoint, OperatingPoints } from "../routers/targets.js";
import { InputError } from "../util/errors.js";
import { makeRng } from "../util/rng.js";
import { drawWeights, percentileInterval } from "./bootstrap.js";
import { compensatedMean, exactCurve, type CurvePoint } from "./curve.js";
import { nonDecreasingHull, type CostQuality } from "./hull.js";

/** Indices of the curve points that are vertices of its non-decreasing hull. */
export function hullVertexIndices(points: readonly CostQuality[]): number[] {
  const hull = nonDecreasingHull(points);
  const out: number[] = [];
  for (const h of hull) {
    const k = points.findIndex((p) => p.cost === h.cost && p.quality === h.quality);
    if (k >= 0 && !out.includes(k)) out.push(k);
  }
  return out.sort((a, b) => a - b);
}

/**
 * A lambda that reproduces exact-curve point k, or the nearest state a single lambda can: point
 * k holds for lambda in (lambda_k, lambda_k+1] (point 0 at 0 exactly). Prompts that switch at
 * the same lambda (common: KNN predictions are multiples of 1/k) give several points with one
 * lambda; those in the middle of such a run are tie states no lambda yields, so the state after
 * the whole run is used. Inside the interval take its geometric middle, so a new prompt is not
 * decided by a tie at a validation breakpoint; the last interval is open to infinity.
 */
const LAMBDA_TIE = 1e-9;

function lambdaInside(points: readonly CurvePoint[], k: number): number {
  const lo = points[k].lambda;
  let next = k + 1;
  // "Same lambda" up to rounding: breakpoints of equal ties computed from different q values
  // (3/5 - 1/5 vs 4/5 - 2/5) differ in the last bits.
  while (next < points.length && !(points[next].lambda > lo * (1 + LAMBDA_TIE))) next++;
  if (lo === 0 && next === k + 1 && k === 0) return 0;
  const hi = points[next]?.lambda;
  if (hi === undefined) return Infinity;
  return lo > 0 ? Math.sqrt(lo * hi) : hi / 2;
}

/**
 * The lambdas of a curve's hull vertices, ascending and distinct: for an exact curve, a lambda
 * inside each vertex's interval; for a grid curve, the grid lambda itself.
 */
export function validatedLambdas(points: readonly CurvePoint[], exact: boolean): number[] {
  const chosen = hullVertexIndices(points).map((k) => (exact ? lambdaInside(points, k) : points[k].lambda));
  return [...new Set(chosen)].sort((a, b) => a - b);
}

export interface MeasureOptions {
  /** Seed of the bootstrap; default 0. */
  seed?: number;
  /** Bootstrap resamples for the intervals; default 1000 (0 = none). */
  resamples?: number;
  /** Interval level; default 0.95. */
  level?: number;
  on?: OperatingPoints["on"];
}

/** One setting's per-prompt outcomes. */
interface Realised {
  lambda: number | null;
  setting: string | null;
  costs: Float64Array;
  scores: Float64Array;
  chosen: Int32Array;
}


/** A table's outcomes in the router's pool order; every cell must be present. */
export function poolOutcomes(table: OutcomeTable, pool: readonly string[]): { scores: Float64Array; costs: Float64Array } {
  const cols = poolColumns(table, pool);
  const scores = modelColumnCells(table, table.scores, cols);
  const costs = modelColumnCells(table, table.costs, cols);
  const m = pool.length;
  for (let k = 0; k < scores.length; k++) {
    if (!Number.isFinite(scores[k]) || !Number.isFinite(costs[k])) {
      const i = Math.floor(k / m);
      throw new InputError(`prompt "${table.ids[i]}" has no score or cost for "${pool[k % m]}"; operating points need every pool model's outcome`, { row: i + 1, field: pool[k % m] });
    }
  }
  return { scores, costs };
}

/**
 * The operating points of `router` on `set` (prompts with every pool model's outcome; the
 * router must not have been fitted on them). Predictive routers: the exact curve's hull
 * vertices as lambdas, each re-routed at its lambda. Direct routers: the hull vertices among
 * their settings.
 */
export async function measureOperatingPoints(router: Router, set: { table: OutcomeTable; embeddings: EmbeddingMatrix | null }, opts: MeasureOptions = {}): Promise<OperatingPoints> {
  const { table } = set;
  const n = table.ids.length;
  if (n === 0) throw new InputError("no prompts to measure operating points on");
  if (router.kind === "predictive") return (await predictedPointsOn(router, set, opts)).operatingPoints;
  const batch = batchOfTable(table, router.needsEmbeddings ? set.embeddings : null, router.pool, router.needsOutcomes);
  const settings = await realiseChecked(router, batch);
  return pointsOf(
    settings.map((x) => ({ lambda: null, setting: x.setting, costs: x.costs, scores: x.scores, chosen: x.chosen })),
    router.pool,
    n,
    opts,
  );
}

/**
 * A predictive router's operating points on `set` (see measureOperatingPoints), with the
 * predictions and pool outcomes they were measured on, for a caller that keeps them (reprice's record).
 */
export async function predictedPointsOn(
  router: PredictiveRouter,
  set: { table: OutcomeTable; embeddings: EmbeddingMatrix | null },
  opts: MeasureOptions = {},
): Promise<{ operatingPoints: OperatingPoints; q: Float64Array; outcomes: { scores: Float64Array; costs: Float64Array } }> {
  const { table } = set;
  const n = table.ids.length;
  const outcomes = poolOutcomes(table, router.pool);
  const q = await router.predictQuality(batchOfTable(table, router.needsEmbeddings ? set.embeddings : null, router.pool, router.needsOutcomes));
  if (q.length !== n * router.pool.length) throw new Error(`router ${router.type} predicted ${q.length} values for ${n} prompts x ${router.pool.length} models`);
  return { operatingPoints: predictedOperatingPoints(q, router.expectedCosts, outcomes, router.pool, opts), q, outcomes };
}

/**
 * Operating points from quality predictions of prompts the predicting models were not fitted on
 * (a held-out set, or out-of-fold predictions of a cross-fit), routed with `expectedCosts`.
 */
export function predictedOperatingPoints(
  q: Float64Array,
  expectedCosts: Float64Array,
  outcomes: { scores: Float64Array; costs: Float64Array },
  pool: readonly string[],
  opts: MeasureOptions = {},
): OperatingPoints {
  const m = pool.length;
  const n = q.length / m;
  const { scores, costs } = outcomes;
  const lambdas = validatedLambdas(exactCurve(q, expectedCosts, scores, costs, m).points, true);
  const realised = lambdas.map((lambda) => ({ lambda, setting: null, ...realiseAt(q, expectedCosts, outcomes, m, lambda) }));
  return pointsOf(realised, pool, n, opts);
}

/** Route predictions at one lambda and read each prompt's realised cost and score (outcomes in pool order). */
export function realiseAt(
  q: Float64Array,
  expectedCosts: Float64Array,
  outcomes: { scores: Float64Array; costs: Float64Array },
  m: number,
  lambda: number,
): { costs: Float64Array; scores: Float64Array; chosen: Int32Array } {
  const n = q.length / m;
  const chosen = routeAt(q, expectedCosts, m, lambda);
  const costs = new Float64Array(n);
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    costs[i] = outcomes.costs[i * m + chosen[i]];
    scores[i] = outcomes.scores[i * m + chosen[i]];
  }
  return { costs, scores, chosen };
}

function pointsOf(realised: Realised[], pool: readonly string[], n: number, opts: MeasureOptions): OperatingPoints {
  const m = pool.length;
  // Keep the hull vertices (a lambda inside a tie run can land off the hull; the hull is what a mix reaches).
  const keep = hullVertexIndices(realised.map((r) => ({ cost: compensatedMean(r.costs), quality: compensatedMean(r.scores) })));
  const kept = keep.map((k) => realised[k]);

  const resamples = opts.resamples ?? 1000;
  const level = opts.level ?? 0.95;
  const seed = opts.seed ?? 0;
  const draws = kept.map(() => ({ cost: [] as number[], quality: [] as number[] }));
  if (resamples > 0) {
    const rng = makeRng(`operating-points:${seed}`);
    const w = new Float64Array(n);
    for (let b = 0; b < resamples; b++) {
      drawWeights(rng, n, w);
      kept.forEach((r, k) => {
        let c = 0;
        let s = 0;
        for (let i = 0; i < n; i++) {
          if (w[i] === 0) continue;
          c += w[i] * r.costs[i];
          s += w[i] * r.scores[i];
        }
        draws[k].cost.push(c / n);
        draws[k].quality.push(s / n);
      });
    }
  }
  const points: OperatingPoint[] = kept.map((r, k) => {
    const counts = new Array<number>(m).fill(0);
    for (let i = 0; i < n; i++) counts[r.chosen[i]]++;
    return {
      lambda: r.lambda,
      setting: r.setting,
      cost: compensatedMean(r.costs),
      costInterval: resamples > 0 ? percentileInterval(draws[k].cost, level) : null,
      quality: compensatedMean(r.scores),
      qualityInterval: resamples > 0 ? percentileInterval(draws[k].quality, level) : null,
      shares: Object.fromEntries(pool.map((p, j) => [p, counts[j] / n])),
    };
  });
  return { on: opts.on ?? "validation", prompts: n, bootstrap: { resamples, seed, level }, points };
}
