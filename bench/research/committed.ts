/**
 * "Committed" evaluation: a router's settings (lambdas) and the Zero router's mixing vertices
 * are fixed from TRAINING data only; on the test split each fixed setting is a fixed policy and
 * the curve is the straight line through them (no hull taken on test outcomes). Taking the NDCH
 * of hundreds of test points instead lets a router pick up favourable noise: a router trained on
 * shuffled outcomes "beats" Zero that way (see docs/FINDINGS.md).
 */
import { exactCurve } from "../../src/evaluate/curve.js";
import { nonDecreasingHull } from "../../src/evaluate/hull.js";
import { drawWeights, quantile } from "../../src/evaluate/bootstrap.js";
import { routeAt } from "../../src/routers/routing.js";
import { makeRng } from "../../src/util/rng.js";

/**
 * The settings a router commits to on training data: lambda 0 (everything to the cheapest
 * model), a lambda inside the interval of each NDCH vertex of its curve on out-of-fold training
 * predictions, and lambda = Infinity (each prompt to its best predicted model; out-of-fold
 * predictions can make the all-best point a mixture that the hull then misses).
 */
export function committedLambdas(qOof: Float64Array, expectedCosts: Float64Array, S: Float64Array, C: Float64Array, m: number): number[] {
  const pts = exactCurve(qOof, expectedCosts, S, C, m).points;
  const inside = nonDecreasingHull(pts).map((h) => {
    const k = pts.findIndex((p) => p.cost === h.cost && p.quality === h.quality);
    const lo = pts[k].lambda;
    const hi = k + 1 < pts.length ? pts[k + 1].lambda : Infinity;
    if (hi === Infinity) return lo === 0 ? Infinity : lo * 2;
    return lo === 0 ? hi / 2 : Math.sqrt(lo * hi);
  });
  return [...new Set([0, ...inside, Infinity])].sort((a, b) => a - b);
}

export function committedChoices(q: Float64Array, expectedCosts: Float64Array, m: number, lambdas: number[]): Int32Array[] {
  return lambdas.map((l) => routeAt(q, expectedCosts, m, l));
}

/** Mean of the piecewise-linear curve through the points over [lo, hi] (flat beyond its ends). */
function lineAverage(c: number[], q: number[], lo: number, hi: number): number {
  const order = c.map((_, i) => i).sort((a, b) => c[a] - c[b]);
  const xs = order.map((i) => c[i]);
  const ys = order.map((i) => q[i]);
  const f = (x: number) => {
    if (x <= xs[0]) return ys[0];
    if (x >= xs[xs.length - 1]) return ys[ys.length - 1];
    let k = 0;
    while (xs[k + 1] < x) k++;
    const t = (x - xs[k]) / (xs[k + 1] - xs[k] || 1);
    return ys[k] + t * (ys[k + 1] - ys[k]);
  };
  const knots = [lo, ...xs.filter((x) => x > lo && x < hi), hi];
  let s = 0;
  for (let k = 0; k + 1 < knots.length; k++) s += ((f(knots[k]) + f(knots[k + 1])) / 2) * (knots[k + 1] - knots[k]);
  return s / (hi - lo);
}

export interface CommittedResult {
  aiq: number;
  zero: number;
  diff: number;
  ci: [number, number];
  pBeatsZero: number;
  points: number;
  /** AIQ - Zero on each resample, in resample order (to pool folds resample by resample). */
  draws: number[];
}

/** Committed AIQ of the router minus the Zero router's, with a paired, seeded bootstrap over test prompts. */
export function committedEval(choices: Int32Array[], zeroModels: number[], S: Float64Array, C: Float64Array, m: number, resamples = 1000, seed = 0): CommittedResult {
  const n = S.length / m;
  const compute = (w: Float64Array) => {
    let tot = 0;
    for (let i = 0; i < n; i++) tot += w[i];
    const sc = new Float64Array(m);
    const sq = new Float64Array(m);
    for (let i = 0; i < n; i++) {
      if (!w[i]) continue;
      for (let j = 0; j < m; j++) {
        sc[j] += w[i] * C[i * m + j];
        sq[j] += w[i] * S[i * m + j];
      }
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = 0; j < m; j++) {
      lo = Math.min(lo, sc[j] / tot);
      hi = Math.max(hi, sc[j] / tot);
    }
    const rc: number[] = [];
    const rq: number[] = [];
    for (const ch of choices) {
      let a = 0;
      let b = 0;
      for (let i = 0; i < n; i++) {
        if (!w[i]) continue;
        a += w[i] * C[i * m + ch[i]];
        b += w[i] * S[i * m + ch[i]];
      }
      rc.push(a / tot);
      rq.push(b / tot);
    }
    return {
      r: lineAverage(rc, rq, lo, hi),
      z: lineAverage(
        zeroModels.map((j) => sc[j] / tot),
        zeroModels.map((j) => sq[j] / tot),
        lo,
        hi,
      ),
    };
  };
  const full = compute(new Float64Array(n).fill(1));
  const rng = makeRng(seed);
  const w = new Float64Array(n);
  const diffs: number[] = [];
  for (let b = 0; b < resamples; b++) {
    drawWeights(rng, n, w);
    const x = compute(w);
    diffs.push(x.r - x.z);
  }
  const draws = diffs.slice();
  diffs.sort((a, b) => a - b);
  return {
    draws,
    aiq: full.r,
    zero: full.z,
    diff: full.r - full.z,
    ci: [quantile(diffs, 0.025), quantile(diffs, 0.975)],
    pBeatsZero: diffs.filter((x) => x > 0).length / resamples,
    points: choices.length,
  };
}

/** The Zero router's committed vertices: the models on the NDCH of the training means. */
export function zeroVertices(trainCost: Float64Array, trainQuality: Float64Array): number[] {
  const pts = Array.from(trainCost, (c, j) => ({ cost: c, quality: trainQuality[j] }));
  return nonDecreasingHull(pts).map((h) => pts.findIndex((p) => p.cost === h.cost && p.quality === h.quality));
}
