/**
 * Bootstrap over test prompts: how much of an AIQ difference is noise from which prompts
 * happened to land in the test split. Each resample draws n prompts with replacement (seeded),
 * i.e. gives prompt i a weight w_i (its count); every router's curve, hull and AIQ and the Zero
 * router's are recomputed on that same resample, so differences are paired.
 *
 * A curve is a base decision plus single-prompt changes (./curve.ts `CurveDecisions`), so its
 * points on a resample follow from running weighted sums: O(n + changes) per resample, not
 * O(n * points).
 */
import type { CurveDecisions } from "./curve.js";
import { hullInto } from "./hull.js";
import { hullIntegral, hullQualityAt } from "./metrics.js";
import { makeRng, type Rng } from "../util/rng.js";
import type { ProgressFn } from "../util/progress.js";

export type AiqMode = "shared-range" | "routerbench-code";

/**
 * AIQ differences within this are ties: the same hull summed along different paths (a router
 * whose curve is the single models' points vs the Zero router) differs by float rounding only.
 */
export const AIQ_TIE_TOLERANCE = 1e-12;

export interface BootstrapInput {
  /** Each router's curve on the full test split (all with the same n prompts). */
  readonly curves: readonly CurveDecisions[];
  /** The single models' realised outcomes, prompts x models row-major (Zero router and default cost range). */
  readonly singleScores: Float64Array;
  readonly singleCosts: Float64Array;
  readonly nModels: number;
  /** Fixed AIQ range; default: per resample, the cheapest to the dearest single model. */
  readonly costRange?: readonly [number, number];
  readonly aiqMode: AiqMode;
}

export interface BootstrapOptions {
  seed: number;
  /** Number of resamples; default 1000. */
  resamples?: number;
  /** 95% by default. */
  level?: number;
  onProgress?: ProgressFn;
  /** Keep every resample's AIQ (for tests and custom summaries). */
  keepDraws?: boolean;
}

export interface RouterInterval {
  aiq: [number, number];
  diffToZero: [number, number];
  /** Share of resamples in which the router's AIQ exceeds the Zero router's (by more than AIQ_TIE_TOLERANCE). */
  pBeatsZero: number;
}

export interface BootstrapResult {
  resamples: number;
  level: number;
  /** One per input curve, in order. */
  routers: RouterInterval[];
  zero: { aiq: [number, number] };
  /** With keepDraws: draws.routers[r][b] = AIQ of curve r on resample b; draws.zero[b]. */
  draws?: { routers: number[][]; zero: number[] };
}

/** Resample weights: n draws with replacement from n prompts, as counts. */
export function drawWeights(rng: Rng, n: number, out = new Float64Array(n)): Float64Array {
  out.fill(0);
  for (let k = 0; k < n; k++) out[Math.floor(rng() * n)] += 1;
  return out;
}

/** Quantile with linear interpolation between order statistics (R type 7, numpy's default). */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

export function percentileInterval(values: readonly number[], level: number): [number, number] {
  const s = values.slice().sort((a, b) => a - b);
  const tail = (1 - level) / 2;
  return [quantile(s, tail), quantile(s, 1 - tail)];
}

/** A curve's weighted points on one resample, written into px/py; returns the point count. */
function replay(d: CurveDecisions, w: Float64Array, total: number, px: Float64Array, py: Float64Array): number {
  let sc = 0;
  let sq = 0;
  for (let i = 0; i < d.n; i++) {
    const wi = w[i];
    if (wi !== 0) {
      sc += wi * d.baseCost[i];
      sq += wi * d.baseScore[i];
    }
  }
  px[0] = sc / total;
  py[0] = sq / total;
  let p = 0;
  const steps = d.stepEnd.length;
  for (let k = 0; k < steps; k++) {
    for (const end = d.stepEnd[k]; p < end; p++) {
      const wi = w[d.prompt[p]];
      sc += wi * d.dCost[p];
      sq += wi * d.dScore[p];
    }
    px[k + 1] = sc / total;
    py[k + 1] = sq / total;
  }
  return steps + 1;
}

export function bootstrapAiq(input: BootstrapInput, opts: BootstrapOptions): BootstrapResult {
  const B = opts.resamples ?? 1000;
  const level = opts.level ?? 0.95;
  if (!(B >= 1) || !Number.isInteger(B)) throw new Error(`resamples must be a positive integer, got ${B}`);
  const m = input.nModels;
  const n = input.singleScores.length / m;
  for (const d of input.curves) if (d.n !== n) throw new Error(`a curve covers ${d.n} prompts, the test split has ${n}`);
  const rng = makeRng(opts.seed);
  const w = new Float64Array(n);
  const maxPoints = Math.max(m, ...input.curves.map((d) => d.stepEnd.length + 1));
  const px = new Float64Array(maxPoints);
  const py = new Float64Array(maxPoints);
  const order = new Int32Array(maxPoints);
  // Each curve's hull is kept until AIQ can be taken: the parity mode's cMax depends on all of them.
  const hulls = [...input.curves.map((d) => ({ c: new Float64Array(d.stepEnd.length + 1), q: new Float64Array(d.stepEnd.length + 1), h: 0 })), { c: new Float64Array(m), q: new Float64Array(m), h: 0 }];
  const draws = input.curves.map(() => new Array<number>(B));
  const zeroDraws = new Array<number>(B);
  const singleC = new Float64Array(m);
  const singleQ = new Float64Array(m);
  for (let b = 0; b < B; b++) {
    drawWeights(rng, n, w);
    singleC.fill(0);
    singleQ.fill(0);
    for (let i = 0; i < n; i++) {
      const wi = w[i];
      if (wi === 0) continue;
      for (let j = 0; j < m; j++) {
        singleC[j] += wi * input.singleCosts[i * m + j];
        singleQ[j] += wi * input.singleScores[i * m + j];
      }
    }
    for (let j = 0; j < m; j++) {
      singleC[j] /= n;
      singleQ[j] /= n;
    }
    const zero = hulls[hulls.length - 1];
    zero.h = hullInto(singleC, singleQ, m, order, zero.c, zero.q);
    input.curves.forEach((d, r) => {
      const count = replay(d, w, n, px, py);
      hulls[r].h = hullInto(px, py, count, order, hulls[r].c, hulls[r].q);
    });
    const value = rangeAiq(input, hulls, singleC, m);
    for (let r = 0; r < input.curves.length; r++) draws[r][b] = value(hulls[r]);
    zeroDraws[b] = value(zero);
    opts.onProgress?.(b + 1, B, "bootstrap");
  }
  const result: BootstrapResult = {
    resamples: B,
    level,
    routers: draws.map((d) => {
      const diff = d.map((v, b) => v - zeroDraws[b]);
      return { aiq: percentileInterval(d, level), diffToZero: percentileInterval(diff, level), pBeatsZero: diff.filter((x) => x > AIQ_TIE_TOLERANCE).length / B };
    }),
    zero: { aiq: percentileInterval(zeroDraws, level) },
  };
  if (opts.keepDraws) result.draws = { routers: draws, zero: zeroDraws };
  return result;
}

/** The AIQ rule for one resample: shared range (fixed or from this resample's singles) or the parity mode. */
function rangeAiq(input: BootstrapInput, hulls: { c: Float64Array; q: Float64Array; h: number }[], singleC: Float64Array, m: number): (hull: { c: Float64Array; q: Float64Array; h: number }) => number {
  if (input.aiqMode === "routerbench-code") {
    let cMax = input.costRange?.[1] ?? -Infinity;
    if (!input.costRange) for (const x of hulls) if (x.h) cMax = Math.max(cMax, x.c[x.h - 1]);
    return (x) => (x.h && cMax > 0 ? hullIntegral(x.c, x.q, x.h, x.c[0], cMax) / cMax : NaN);
  }
  let lo = input.costRange?.[0] ?? Infinity;
  let hi = input.costRange?.[1] ?? -Infinity;
  if (!input.costRange) {
    for (let j = 0; j < m; j++) {
      lo = Math.min(lo, singleC[j]);
      hi = Math.max(hi, singleC[j]);
    }
  }
  return (x) => (hi > lo ? hullIntegral(x.c, x.q, x.h, lo, hi) / (hi - lo) : hi === lo ? hullQualityAt(x.c, x.q, x.h, lo) : NaN);
}
