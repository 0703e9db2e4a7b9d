/**
 * Latency in the judgement, three ways, all on the same decisions the cost judgement made:
 *
 * 1. Every operating point's mean and p95 latency (seconds per query, the total latency of the
 *    model each prompt was routed to), with intervals: the mean's from the bootstrap over test
 *    prompts, the p95's from order statistics (distribution-free; a bootstrap of a quantile
 *    costs a sort per resample and point, and is itself poor for tail quantiles).
 * 2. Quality against latency as quality against cost is judged: each router routes by
 *    argmax lambda * q - l with its expected latencies l as the "price", operating points chosen
 *    on validation rows in seconds, and the whole cost judgement (hull, Zero router = the single
 *    models' latency hull, AIQ over the fastest to slowest single model, bootstrap intervals)
 *    runs with seconds in place of dollars. The "latency AIQ" is that AIQ: mean quality over the
 *    latency range, higher is better.
 * 3. The latency term of the routing rule at work: each predictive router at one cost operating
 *    point (chosen on validation: the lambda whose validation cost is nearest the best single
 *    model's) routed by argmax lambda * q - c - mu * l for growing mu (US$ per second), with
 *    cost, quality, mean and p95 latency and their intervals at each mu.
 *
 * Expected latencies (what routing sees) are each model's mean on the validation rows, never on
 * the test rows (on the test rows only when operating points are chosen on test, RouterBench's
 * way). Realised latencies (what is judged) are the test rows'. A split is judged on latency only
 * when every test and validation cell it judges has a latency: a partly missing latency is
 * never read as 0.
 */
import type { OutcomeTable } from "../data/table.js";
import { routeAt } from "../routers/routing.js";
import { makeRng } from "../util/rng.js";
import { drawWeights, percentileInterval } from "./bootstrap.js";
import { Sum, compensatedMean, directCurve, exactCurve, type Curve, type CurveDecisions } from "./curve.js";
import { assembleFolds, type FoldRouting, type Routed } from "./folds.js";
import { hullVertexIndices, realiseAt, validatedLambdas } from "./operating-points.js";

/** p of the tail quantile reported beside the mean. */
export const LATENCY_QUANTILE = 0.95;
/**
 * The latency sweep's prices, as shares r of the chosen lambda per second of the pool's latency
 * spread: mu = r * lambda / (slowest - fastest expected latency). r = 1 prices going from the
 * fastest to the slowest model as one whole unit of quality; r = 0 is the router without the term.
 */
export const LATENCY_SWEEP_SHARES: readonly number[] = Object.freeze([0, 0.01, 0.03, 0.1, 0.3, 1, 3]);

export interface LatencyFigures {
  /** Mean total latency per query, seconds. */
  meanSeconds: number;
  meanInterval: [number, number] | null;
  /** The p95 (nearest rank) of the per-query latencies, seconds. */
  p95Seconds: number;
  p95Interval: [number, number] | null;
}

/** One operating point's latency: `point` indexes the row's curve points. */
export interface PointLatency extends LatencyFigures {
  point: number;
}

export interface SweepPoint extends LatencyFigures {
  /** US$ per second of waiting. */
  mu: number;
  cost: number;
  costInterval: [number, number] | null;
  quality: number;
  qualityInterval: [number, number] | null;
}

export interface LatencySweep {
  name: string;
  /** The cost operating point each fold routes at (chosen on that fold's validation rows). */
  lambdas: number[];
  /** The pool's expected latencies (s) the rule used: the first fold's. */
  expectedSeconds: number[];
  points: SweepPoint[];
}

/** ms -> s, cell by cell. */
export function secondsOf(ms: Float64Array): Float64Array {
  return Float64Array.from(ms, (x) => x / 1000);
}

/** True when every cell has a finite latency. */
export function latencyComplete(t: OutcomeTable): boolean {
  const l = t.totalLatencyMs;
  if (!l) return false;
  for (let k = 0; k < l.length; k++) if (!Number.isFinite(l[k])) return false;
  return true;
}

/** Each column's mean of n x m cells. */
function columnMeans(cells: Float64Array, m: number): Float64Array {
  const n = cells.length / m;
  const out = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    const s = new Sum();
    for (let i = 0; i < n; i++) s.add(cells[i * m + j]);
    out[j] = s.value / n;
  }
  return out;
}

/** Each pool model's expected latency (s): its mean on a fold's validation rows, what routing sees. */
function expectedSecondsOn(validation: OutcomeTable, m: number): Float64Array {
  return columnMeans(secondsOf(validation.totalLatencyMs!), m);
}

/** Outcomes with latency seconds in place of costs (the currency the latency judgement routes in). */
function inSeconds(sub: OutcomeTable): OutcomeTable {
  return { ...sub, costs: secondsOf(sub.totalLatencyMs!) };
}

/** A direct router's settings with each prompt's realised latency (s) in place of its cost. */
function settingsInSeconds<T extends { chosen: Int32Array; costs: Float64Array }>(settings: readonly T[], sub: OutcomeTable): T[] {
  const m = sub.models.length;
  const lat = sub.totalLatencyMs!;
  return settings.map((s) => ({ ...s, costs: Float64Array.from(s.chosen, (j, i) => lat[i * m + j] / 1000) }));
}

/**
 * One fold's routing re-chosen in seconds: the same predictions (or settings), latency in place
 * of cost, operating points chosen on the validation rows' latency curve.
 */
export function foldInSeconds(part: FoldRouting): FoldRouting {
  if (part.kind === "predictive") {
    const vSub = inSeconds(part.validation.sub);
    const expected = expectedSecondsOn(part.validation.sub, part.m);
    const vPoints = exactCurve(part.validation.q, expected, vSub.scores, vSub.costs, part.m).points;
    return { ...part, expectedCosts: expected, sub: inSeconds(part.sub), lambdas: validatedLambdas(vPoints, true), validation: { q: part.validation.q, sub: vSub } };
  }
  if (part.kind === "direct") {
    const vSettings = settingsInSeconds(part.validation.settings, part.validation.sub);
    const vPoints = directCurve(vSettings).points;
    const chosen = hullVertexIndices(vPoints)
      .map((k) => ({ setting: vSettings[k].setting, cost: vPoints[k].cost }))
      .sort((a, b) => a.cost - b.cost);
    return { ...part, settings: settingsInSeconds(part.settings, part.sub), chosen, sub: inSeconds(part.sub), validation: { settings: vSettings, sub: part.validation.sub } };
  }
  const sub = inSeconds(part.sub);
  const m = sub.models.length;
  if (part.source.kind === "predictive") {
    // Operating points on test: the expected latencies are the test rows' too (RouterBench's way, stated in results).
    return { ...part, sub, curve: exactCurve(part.source.q, columnMeans(sub.costs, m), sub.scores, sub.costs, m) };
  }
  return { ...part, sub, curve: directCurve(settingsInSeconds(part.source.settings, part.sub)) };
}

/** A router's folds judged in seconds (see foldInSeconds), joined as the cost judgement joins them. */
export function routedInSeconds(parts: readonly FoldRouting[]): Routed {
  return assembleFolds(parts.map(foldInSeconds));
}

/** Quantile of the standard normal (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) => (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * The p-quantile (nearest rank) of `values` and its distribution-free interval: the order
 * statistics whose ranks bound n*p within z standard deviations of the binomial(n, p) count
 * (the normal approximation; exact enough from a few dozen prompts, and it never claims more
 * than the data: the interval is two observed latencies).
 */
export function quantileWithInterval(values: Float64Array, p: number, level: number | null): { value: number; interval: [number, number] | null } {
  const s = Float64Array.from(values).sort();
  const n = s.length;
  const value = s[Math.max(0, Math.ceil(p * n) - 1)];
  if (level === null) return { value, interval: null };
  const z = normalQuantile(1 - (1 - level) / 2);
  const sd = Math.sqrt(n * p * (1 - p));
  const lo = Math.max(0, Math.floor(n * p - z * sd) - 1);
  const hi = Math.min(n - 1, Math.ceil(n * p + z * sd) - 1);
  return { value, interval: [s[lo], s[hi]] };
}

/** The latency-side view of one curve: per-prompt latency at point 0, and each change's delta. */
interface LatencyReplay {
  base: Float64Array;
  delta: Float64Array;
  decisions: CurveDecisions;
  /** Curve points to measure, ascending. */
  points: number[];
}

function replayOf(curve: Curve, cellsMs: Float64Array, m: number, points: number[]): LatencyReplay {
  const d = curve.decisions;
  const base = Float64Array.from(d.baseModel, (j, i) => cellsMs[i * m + j] / 1000);
  const delta = Float64Array.from(d.prompt, (i, p) => (cellsMs[i * m + d.toModel[p]] - cellsMs[i * m + d.fromModel[p]]) / 1000);
  return { base, delta, decisions: d, points };
}

/** Each prompt's latency (s) at every measured point (one pass over the changes). */
function latenciesAt(r: LatencyReplay, cellsMs: Float64Array, m: number): Float64Array[] {
  const d = r.decisions;
  const chosen = Int32Array.from(d.baseModel);
  const out: Float64Array[] = [];
  let p = 0;
  let want = 0;
  const snap = () => out.push(Float64Array.from(chosen, (j, i) => cellsMs[i * m + j] / 1000));
  if (r.points[want] === 0) {
    snap();
    want++;
  }
  for (let k = 0; k < d.stepEnd.length && want < r.points.length; k++) {
    for (const end = d.stepEnd[k]; p < end; p++) chosen[d.prompt[p]] = d.toModel[p];
    if (r.points[want] === k + 1) {
      snap();
      want++;
    }
  }
  return out;
}

export interface PointLatencyInput {
  curve: Curve;
  /** Latency cells (ms) the curve's decisions index, prompts x m. */
  cellsMs: Float64Array;
  m: number;
  /** Curve points to measure. */
  points: number[];
}

/**
 * Mean and p95 latency at the given points of each curve (all over the same n prompts). The
 * mean's interval comes from `resamples` bootstrap draws shared by every curve and point, each
 * replayed along the curve's changes (O(n + changes) per curve and draw, as ./bootstrap.ts does
 * for cost and quality); the p95's from order statistics.
 */
export function pointLatencies(inputs: readonly PointLatencyInput[], opts: { seed: number; resamples: number; level: number }): PointLatency[][] {
  const replays = inputs.map((x) => replayOf(x.curve, x.cellsMs, x.m, [...new Set(x.points)].sort((a, b) => a - b)));
  const out = replays.map((r, k) => {
    const values = latenciesAt(r, inputs[k].cellsMs, inputs[k].m);
    return r.points.map((point, t): PointLatency => {
      const q = quantileWithInterval(values[t], LATENCY_QUANTILE, opts.resamples > 0 ? opts.level : null);
      return { point, meanSeconds: compensatedMean(values[t]), meanInterval: null, p95Seconds: q.value, p95Interval: q.interval };
    });
  });
  if (opts.resamples > 0 && replays.length > 0) {
    const n = replays[0].decisions.n;
    const draws = replays.map((r) => r.points.map(() => new Array<number>(opts.resamples)));
    const rng = makeRng(`latency:${opts.seed}`);
    const w = new Float64Array(n);
    for (let b = 0; b < opts.resamples; b++) {
      drawWeights(rng, n, w);
      replays.forEach((r, k) => {
        const d = r.decisions;
        let sum = 0;
        for (let i = 0; i < n; i++) if (w[i] !== 0) sum += w[i] * r.base[i];
        let want = 0;
        if (r.points[0] === 0) draws[k][want++][b] = sum / n;
        let p = 0;
        for (let s = 0; s < d.stepEnd.length && want < r.points.length; s++) {
          for (const end = d.stepEnd[s]; p < end; p++) sum += w[d.prompt[p]] * r.delta[p];
          if (r.points[want] === s + 1) draws[k][want++][b] = sum / n;
        }
      });
    }
    out.forEach((pts, k) => pts.forEach((x, t) => (x.meanInterval = percentileInterval(draws[k][t], opts.level))));
  }
  return out;
}

/**
 * The cost operating point a sweep holds fixed, on one fold's validation rows: among the
 * validated lambdas (finite, > 0: at 0 or Infinity the rule does not weigh cost against quality,
 * so a latency price would mean nothing or everything), the one whose validation cost is nearest
 * the best single model's validation cost (the most quality at validation; ties: cheaper).
 */
function sweepLambda(part: Extract<FoldRouting, { kind: "predictive" }>): number | null {
  const { q, sub } = part.validation;
  const m = part.m;
  const means = columnMeans(sub.scores, m);
  const costs = columnMeans(sub.costs, m);
  let best = 0;
  for (let j = 1; j < m; j++) if (means[j] > means[best] || (means[j] === means[best] && costs[j] < costs[best])) best = j;
  let pick: number | null = null;
  let gap = Infinity;
  for (const lambda of part.lambdas) {
    if (!(lambda > 0 && Number.isFinite(lambda))) continue;
    const g = Math.abs(compensatedMean(realiseAt(q, part.expectedCosts, sub, m, lambda).costs) - costs[best]);
    if (g < gap) {
      gap = g;
      pick = lambda;
    }
  }
  return pick;
}

/**
 * The latency term at work for one predictive router (see the file comment, 3): null when a
 * fold has no finite validated lambda, or the pool's models all have the same expected latency.
 * `mus` overrides the default prices (LATENCY_SWEEP_SHARES scaled by the first fold).
 */
export function latencySweep(parts: readonly FoldRouting[], opts: { seed: number; resamples: number; level: number; mus?: readonly number[] }): LatencySweep | null {
  if (!parts.every((p) => p.kind === "predictive")) return null;
  const folds = parts as Extract<FoldRouting, { kind: "predictive" }>[];
  const lambdas = folds.map(sweepLambda);
  if (lambdas.some((l) => l === null)) return null;
  const expected = folds.map((f) => expectedSecondsOn(f.validation.sub, f.m));
  const spread = Math.max(...expected[0]) - Math.min(...expected[0]);
  if (!(spread > 0) && !opts.mus) return null;
  const mus = opts.mus ? [...opts.mus] : LATENCY_SWEEP_SHARES.map((r) => (r * lambdas[0]!) / spread);
  const n = folds.reduce((a, f) => a + f.q.length / f.m, 0);
  const settings = mus.map((mu) => {
    const cost = new Float64Array(n);
    const score = new Float64Array(n);
    const seconds = new Float64Array(n);
    let at = 0;
    folds.forEach((f, k) => {
      const chosen = routeAt(f.q, f.expectedCosts, f.m, lambdas[k]!, { seconds: expected[k], weight: mu });
      const lat = f.sub.totalLatencyMs!;
      chosen.forEach((j, i) => {
        cost[at] = f.sub.costs[i * f.m + j];
        score[at] = f.sub.scores[i * f.m + j];
        seconds[at] = lat[i * f.m + j] / 1000;
        at++;
      });
    });
    return { cost, score, seconds };
  });
  const intervals = settings.map(() => ({ cost: [] as number[], quality: [] as number[], seconds: [] as number[] }));
  if (opts.resamples > 0) {
    const rng = makeRng(`latency-sweep:${opts.seed}`);
    const w = new Float64Array(n);
    for (let b = 0; b < opts.resamples; b++) {
      drawWeights(rng, n, w);
      settings.forEach((s, k) => {
        let c = 0;
        let q = 0;
        let l = 0;
        for (let i = 0; i < n; i++) {
          const wi = w[i];
          if (wi === 0) continue;
          c += wi * s.cost[i];
          q += wi * s.score[i];
          l += wi * s.seconds[i];
        }
        intervals[k].cost.push(c / n);
        intervals[k].quality.push(q / n);
        intervals[k].seconds.push(l / n);
      });
    }
  }
  const iv = (draws: number[]) => (opts.resamples > 0 ? percentileInterval(draws, opts.level) : null);
  return {
    name: folds[0].base.name,
    lambdas: lambdas as number[],
    expectedSeconds: Array.from(expected[0]),
    points: settings.map((s, k) => {
      const p95 = quantileWithInterval(s.seconds, LATENCY_QUANTILE, opts.resamples > 0 ? opts.level : null);
      return {
        mu: mus[k],
        cost: compensatedMean(s.cost),
        costInterval: iv(intervals[k].cost),
        quality: compensatedMean(s.score),
        qualityInterval: iv(intervals[k].quality),
        meanSeconds: compensatedMean(s.seconds),
        meanInterval: iv(intervals[k].seconds),
        p95Seconds: p95.value,
        p95Interval: p95.interval,
      };
    }),
  };
}
