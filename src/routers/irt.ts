/**
 * IRT router: the score matrix's main structure is that a hard prompt is hard for every model.
 * Training fits a two-parameter logistic item-response model to the prompts x models scores,
 *
 *   P(model m answers prompt i) = sigmoid(a_m * theta_i + b_m),   theta_i ~ N(0, 1),
 *
 * by marginal maximum likelihood (fractional scores are soft labels; missing scores are
 * skipped), giving each training prompt a posterior mean "easiness" theta_i that pools the
 * evidence of all pool models. That latent is regressed on the prompt embedding (ridge,
 * penalty `alpha`) instead of fitting each model's noisy 0/1 scores separately. How well the
 * embedding predicts the latent is measured out of fold on the training rows (`folds`), and
 * for a new prompt
 *
 *   q_m(x) = E[ sigmoid(a_m * theta + b_m) ],  theta ~ N(theta_hat(x), predictive variance)
 *
 * where the predictive variance is the out-of-fold residual variance plus the latents' own
 * posterior variance. When the embedding carries no information about difficulty, theta_hat is
 * the prior mean and the variance the prior's, so q_m(x) is model m's mean score and the router
 * routes like the single models on the Zero router's hull instead of chasing noise.
 * `uncertainty=false` plugs theta_hat in directly (the plain IRT prediction) for comparison.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../util/errors.js";
import { makeRng, shuffled } from "../util/rng.js";
import { readFloat64, readJson, writeFloats } from "./binary.js";
import { checkKnownParams, expectedCostsOf, nonNegative, poolScores, positiveInt, requireEmbeddings } from "./common.js";
import type { RouterFactory } from "./registry.js";
import type { FitReport, PredictiveRouter, PromptBatch, Router, RouterManifest, TrainingSet } from "./router.js";

const KNOWN = ["alpha", "folds", "iterations", "uncertainty", "seed"];
/** One latent: the item-response model's single "easiness" dimension. */
const K = 1;

/** Everything a fitted IRT router needs to predict (and what its directory stores). */
export interface IrtModel {
  /** Embedding dimension d. */
  readonly dimension: number;
  /** Discrimination a_m, one per pool model. */
  readonly discrimination: Float64Array;
  /** Offset b_m, one per pool model. */
  readonly offset: Float64Array;
  /** Ridge weights embedding -> latent, d. */
  readonly weights: Float64Array;
  readonly intercept: number;
  /** Variance of the latent around its prediction (out of fold, plus posterior variance). */
  readonly predictiveVariance: number;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Solve A x = b in place for a small symmetric positive definite A (n x n, row-major). */
function solveSpd(A: Float64Array, n: number, rhs: Float64Array, k = 1): Float64Array {
  const L = Float64Array.from(A);
  for (let j = 0; j < n; j++) {
    let s = L[j * n + j];
    for (let p = 0; p < j; p++) s -= L[j * n + p] * L[j * n + p];
    const d = Math.sqrt(Math.max(s, 1e-12));
    L[j * n + j] = d;
    for (let i = j + 1; i < n; i++) {
      let t = L[i * n + j];
      for (let p = 0; p < j; p++) t -= L[i * n + p] * L[j * n + p];
      L[i * n + j] = t / d;
    }
  }
  const x = Float64Array.from(rhs);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      let t = x[i * k + c];
      for (let p = 0; p < i; p++) t -= L[i * n + p] * x[p * k + c];
      x[i * k + c] = t / L[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let t = x[i * k + c];
      for (let p = i + 1; p < n; p++) t -= L[p * n + i] * x[p * k + c];
      x[i * k + c] = t / L[i * n + i];
    }
  }
  return x;
}

const clampStep = (s: number): number => Math.max(-2, Math.min(2, s));

/** The latent's grid for marginal likelihood and quadrature: N(0, 1) on [-6, 6], step 0.25. */
const NODES = (() => {
  const z: number[] = [];
  const w: number[] = [];
  for (let t = -6; t <= 6 + 1e-9; t += 0.25) {
    z.push(t);
    w.push(Math.exp(-0.5 * t * t));
  }
  const s = w.reduce((u, v) => u + v, 0);
  return { z: Float64Array.from(z), w: Float64Array.from(w, (v) => v / s), logW: Float64Array.from(w, (v) => Math.log(v / s)) };
})();

/** log sigmoid(z) and log(1 - sigmoid(z)), stable for large |z|. */
const logSig = (z: number): number => (z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z)));

export interface ItemResponseFit {
  /** Per model: discrimination a_m and offset b_m. */
  discrimination: Float64Array;
  offset: Float64Array;
  /** Per prompt: posterior mean of the latent (EAP) and its posterior variance. */
  latent: Float64Array;
  posteriorVariance: Float64Array;
}

/**
 * Marginal maximum likelihood (EM over a fixed quadrature grid, the latent integrated out
 * under its N(0, 1) prior) of the two-parameter logistic model; scores n x m, soft labels in
 * [0, 1], NaN = missing. Integrating the latent out, instead of fitting one latent per prompt
 * jointly with the models, keeps the discriminations unbiased when a prompt has few scores
 * (a joint fit lets each prompt's latent mirror its own few answers).
 */
export function fitItemResponse(scores: Float64Array, n: number, m: number, iterations: number): ItemResponseFit {
  const T = NODES.z.length;
  const a = new Float64Array(m).fill(1);
  const b = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    let s = 0;
    let c = 0;
    for (let i = 0; i < n; i++) {
      const y = scores[i * m + j];
      if (!Number.isNaN(y)) {
        s += y;
        c++;
      }
    }
    const p = Math.min(0.98, Math.max(0.02, c ? s / c : 0.5));
    b[j] = Math.log(p / (1 - p));
  }
  const post = new Float64Array(n * T);
  const logL = new Float64Array(T);
  const lp = new Float64Array(m * T);
  const lq = new Float64Array(m * T);
  const right = new Float64Array(m * T);
  const seen = new Float64Array(m * T);
  // Weak priors (a ~ N(1, 2^2), b ~ N(0, 4^2)) keep a model that is always right or always wrong finite.
  const precA = 1 / 4;
  const precB = 1 / 16;
  const eStep = () => {
    for (let j = 0; j < m; j++) {
      for (let t = 0; t < T; t++) {
        const z = a[j] * NODES.z[t] + b[j];
        lp[j * T + t] = logSig(z);
        lq[j * T + t] = logSig(-z);
      }
    }
    for (let i = 0; i < n; i++) {
      logL.set(NODES.logW);
      for (let j = 0; j < m; j++) {
        const y = scores[i * m + j];
        if (Number.isNaN(y)) continue;
        for (let t = 0; t < T; t++) logL[t] += y * lp[j * T + t] + (1 - y) * lq[j * T + t];
      }
      let max = -Infinity;
      for (let t = 0; t < T; t++) max = Math.max(max, logL[t]);
      let sum = 0;
      for (let t = 0; t < T; t++) {
        const v = Math.exp(logL[t] - max);
        post[i * T + t] = v;
        sum += v;
      }
      for (let t = 0; t < T; t++) post[i * T + t] /= sum;
    }
  };
  for (let it = 0; it < iterations; it++) {
    eStep();
    right.fill(0);
    seen.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        const y = scores[i * m + j];
        if (Number.isNaN(y)) continue;
        for (let t = 0; t < T; t++) {
          const w = post[i * T + t];
          right[j * T + t] += w * y;
          seen[j * T + t] += w;
        }
      }
    }
    // M-step: a few Newton steps of each model's expected-data logistic regression on the grid.
    for (let j = 0; j < m; j++) {
      for (let step = 0; step < 3; step++) {
        let ga = -precA * (a[j] - 1);
        let gb = -precB * b[j];
        let haa = precA;
        let hab = 0;
        let hbb = precB;
        for (let t = 0; t < T; t++) {
          const N = seen[j * T + t];
          if (N === 0) continue;
          const z = NODES.z[t];
          const p = sigmoid(a[j] * z + b[j]);
          const r = right[j * T + t] - N * p;
          const w = N * p * (1 - p);
          ga += r * z;
          gb += r;
          haa += w * z * z;
          hab += w * z;
          hbb += w;
        }
        const det = haa * hbb - hab * hab;
        if (!(det > 0)) break;
        a[j] += clampStep((hbb * ga - hab * gb) / det);
        b[j] += clampStep((haa * gb - hab * ga) / det);
      }
    }
  }
  eStep();
  const latent = new Float64Array(n);
  const posteriorVariance = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let mean = 0;
    let sq = 0;
    for (let t = 0; t < T; t++) {
      mean += post[i * T + t] * NODES.z[t];
      sq += post[i * T + t] * NODES.z[t] * NODES.z[t];
    }
    latent[i] = mean;
    posteriorVariance[i] = Math.max(0, sq - mean * mean);
  }
  return { discrimination: a, offset: b, latent, posteriorVariance };
}

/** Uncentred moments of a set of rows: sum x x', sum x, sum x y', sum y, count. */
interface Moments {
  xx: Float64Array;
  x: Float64Array;
  xy: Float64Array;
  y: Float64Array;
  n: number;
}

function momentsOf(emb: Float32Array, d: number, target: Float64Array, K: number, rows: readonly number[]): Moments {
  const mo: Moments = { xx: new Float64Array(d * d), x: new Float64Array(d), xy: new Float64Array(d * K), y: new Float64Array(K), n: rows.length };
  for (const i of rows) {
    const base = i * d;
    for (let p = 0; p < d; p++) {
      const xp = emb[base + p];
      mo.x[p] += xp;
      if (xp === 0) continue;
      const row = p * d;
      for (let q = p; q < d; q++) mo.xx[row + q] += xp * emb[base + q];
      for (let k = 0; k < K; k++) mo.xy[p * K + k] += xp * target[i * K + k];
    }
    for (let k = 0; k < K; k++) mo.y[k] += target[i * K + k];
  }
  return mo;
}

function minus(a: Moments, b: Moments): Moments {
  const sub = (u: Float64Array, v: Float64Array) => u.map((x, i) => x - v[i]);
  return { xx: sub(a.xx, b.xx), x: sub(a.x, b.x), xy: sub(a.xy, b.xy), y: sub(a.y, b.y), n: a.n - b.n };
}

/** Ridge (intercept unpenalised) from moments: returns weights d x K and intercepts K. */
function ridgeFromMoments(mo: Moments, d: number, K: number, alpha: number): { weights: Float64Array; intercept: Float64Array } {
  const n = mo.n;
  const G = new Float64Array(d * d);
  for (let p = 0; p < d; p++) {
    for (let q = p; q < d; q++) {
      const v = mo.xx[p * d + q] - (mo.x[p] * mo.x[q]) / n;
      G[p * d + q] = v;
      G[q * d + p] = v;
    }
    G[p * d + p] += alpha;
  }
  const rhs = new Float64Array(d * K);
  for (let p = 0; p < d; p++) for (let k = 0; k < K; k++) rhs[p * K + k] = mo.xy[p * K + k] - (mo.x[p] * mo.y[k]) / n;
  const weights = solveSpd(G, d, rhs, K);
  const intercept = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    let s = mo.y[k] / n;
    for (let p = 0; p < d; p++) s -= (mo.x[p] / n) * weights[p * K + k];
    intercept[k] = s;
  }
  return { weights, intercept };
}

function predictLatent(emb: Float32Array, d: number, rows: number, weights: Float64Array, intercept: Float64Array, K: number): Float64Array {
  const out = new Float64Array(rows * K);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < K; k++) {
      let s = intercept[k];
      for (let p = 0; p < d; p++) s += emb[i * d + p] * weights[p * K + k];
      out[i * K + k] = s;
    }
  }
  return out;
}

/** E[sigmoid(mean + sd * Z)], Z ~ N(0, 1), on the quadrature grid (trapezoid: spectrally accurate here). */
export function expectedSigmoid(mean: number, sd: number): number {
  if (!(sd > 0)) return sigmoid(mean);
  let e = 0;
  for (let t = 0; t < NODES.z.length; t++) e += NODES.w[t] * sigmoid(mean + sd * NODES.z[t]);
  return e;
}

/** Everything a fit computes before alpha enters: the item-response model, the fold rows and their moments. */
interface AlphaFreeFit {
  n: number;
  d: number;
  emb: Float32Array;
  irt: ItemResponseFit;
  foldRows: number[][];
  foldMoments: Moments[];
  total: Moments;
}

/**
 * Memo of alphaFreeFit per training set (its table and embeddings, by identity; both are never
 * mutated) and per (pool, iterations, folds, seed). Why: trainRouter fits one router per grid
 * point on the same training set, and only the ridge solves depend on alpha; the EM fit and the
 * d x d moments were 3/4 of an IRT grid's time, done once per alpha (profile of a cross-fitted
 * run of experiments/routerbench-subset.yaml: 61 of 86 s). The values are the same computations,
 * so results are bitwise those of fitting each alpha from scratch.
 */
const alphaFreeMemo = new WeakMap<object, WeakMap<object, Map<string, AlphaFreeFit>>>();

function alphaFreeFit(train: TrainingSet, pool: readonly string[], iterations: number, folds: number, seed: number): AlphaFreeFit {
  const n0 = train.table.ids.length;
  const e = requireEmbeddings(train, "irt", n0);
  const key = JSON.stringify([pool, iterations, folds, seed]);
  let byEmbeddings = alphaFreeMemo.get(train.table);
  if (!byEmbeddings) alphaFreeMemo.set(train.table, (byEmbeddings = new WeakMap()));
  let byKey = byEmbeddings.get(e);
  if (!byKey) byEmbeddings.set(e, (byKey = new Map()));
  const hit = byKey.get(key);
  if (hit) return hit;

  const m = pool.length;
  const all = poolScores(train.table, pool);
  // Rows without a single score say nothing about difficulty.
  const rows: number[] = [];
  for (let i = 0; i < n0; i++) {
    for (let j = 0; j < m; j++) {
      if (!Number.isNaN(all[i * m + j])) {
        rows.push(i);
        break;
      }
    }
  }
  const n = rows.length;
  if (n < folds) throw new InputError(`irt: ${n} training rows with scores, need at least folds=${folds}`);
  const d = e.dimension;
  const scores = new Float64Array(n * m);
  const emb = new Float32Array(n * d);
  rows.forEach((r, i) => {
    scores.set(all.subarray(r * m, r * m + m), i * m);
    emb.set(e.data.subarray(r * d, r * d + d), i * d);
  });
  const irt = fitItemResponse(scores, n, m, iterations);

  // Out-of-fold residual variance of the latent; each fold's fit is the total moments minus the fold's.
  const order = shuffled(
    Array.from({ length: n }, (_, i) => i),
    makeRng(`irt:${seed}`),
  );
  const foldRows: number[][] = Array.from({ length: folds }, () => []);
  order.forEach((i, k) => foldRows[k % folds].push(i));
  const foldMoments = foldRows.map((fr) => momentsOf(emb, d, irt.latent, K, fr));
  const total = foldMoments.reduce((acc, mo) => ({
    xx: acc.xx.map((v, i) => v + mo.xx[i]),
    x: acc.x.map((v, i) => v + mo.x[i]),
    xy: acc.xy.map((v, i) => v + mo.xy[i]),
    y: acc.y.map((v, i) => v + mo.y[i]),
    n: acc.n + mo.n,
  }));
  const fit: AlphaFreeFit = { n, d, emb, irt, foldRows, foldMoments, total };
  byKey.set(key, fit);
  return fit;
}

export class IrtRouter implements PredictiveRouter {
  readonly type = "irt";
  readonly kind = "predictive" as const;
  readonly needsEmbeddings = true;
  readonly needsOutcomes = false;
  readonly params: Record<string, unknown>;
  readonly alpha: number;
  readonly folds: number;
  readonly iterations: number;
  readonly uncertainty: boolean;
  readonly seed: number;
  expectedCosts: Float64Array;
  model: IrtModel | null = null;

  constructor(
    readonly pool: readonly string[],
    params: Record<string, unknown>,
  ) {
    checkKnownParams("irt", params, KNOWN);
    this.alpha = nonNegative(params, "alpha", 100);
    this.folds = positiveInt(params, "folds", 5);
    if (this.folds < 2) throw new InputError(`irt folds must be at least 2, got ${this.folds}`, { field: "folds" });
    this.iterations = positiveInt(params, "iterations", 50);
    const u = params.uncertainty ?? true;
    if (typeof u !== "boolean") throw new InputError(`irt uncertainty must be true or false, got ${JSON.stringify(u)}`, { field: "uncertainty" });
    this.uncertainty = u;
    const seed = params.seed ?? 0;
    if (typeof seed !== "number" || !Number.isInteger(seed)) throw new InputError(`irt seed must be an integer, got ${JSON.stringify(seed)}`, { field: "seed" });
    this.seed = seed;
    this.params = { alpha: this.alpha, folds: this.folds, iterations: this.iterations, uncertainty: this.uncertainty, seed: this.seed };
    this.expectedCosts = new Float64Array(pool.length);
  }

  async fit(train: TrainingSet): Promise<FitReport> {
    const start = performance.now();
    const { n, d, emb, irt, foldRows, foldMoments, total } = alphaFreeFit(train, this.pool, this.iterations, this.folds, this.seed);
    this.expectedCosts = expectedCostsOf(train.table, this.pool);
    let residual = 0;
    for (let f = 0; f < this.folds; f++) {
      const fr = foldRows[f];
      if (fr.length === 0) continue;
      const fit = ridgeFromMoments(minus(total, foldMoments[f]), d, K, this.alpha);
      const held = new Float32Array(fr.length * d);
      fr.forEach((i, k) => held.set(emb.subarray(i * d, i * d + d), k * d));
      const pred = predictLatent(held, d, fr.length, fit.weights, fit.intercept, K);
      fr.forEach((i, r) => (residual += (irt.latent[i] - pred[r]) ** 2 / n));
    }
    let spread = 0;
    let posterior = 0;
    const mean = total.y[0] / n;
    for (let i = 0; i < n; i++) {
      spread += (irt.latent[i] - mean) ** 2 / n;
      posterior += irt.posteriorVariance[i] / n;
    }
    const { weights, intercept } = ridgeFromMoments(total, d, K, this.alpha);
    this.model = {
      dimension: d,
      // Copies: the memoised fit is shared by every alpha of the grid.
      discrimination: Float64Array.from(irt.discrimination),
      offset: Float64Array.from(irt.offset),
      weights,
      intercept: intercept[0],
      predictiveVariance: residual + posterior,
    };
    return {
      chosen: { ...this.params },
      // Share of the latents' spread the embedding explains out of fold (<= 0: none).
      validation: { latentR2OutOfFold: spread > 0 ? 1 - residual / spread : 0, latentPosteriorVariance: posterior },
      seconds: (performance.now() - start) / 1000,
    };
  }

  async predictQuality(batch: PromptBatch): Promise<Float64Array> {
    const model = this.model;
    if (!model) throw new Error("irt: predictQuality before fit");
    const q = requireEmbeddings(batch, "irt", batch.ids.length);
    if (q.dimension !== model.dimension) {
      throw new InputError(`irt: prompts are embedded in ${q.dimension} dimensions, the router was trained on ${model.dimension}`);
    }
    const m = this.pool.length;
    const latent = predictLatent(q.data, q.dimension, q.rows, model.weights, Float64Array.of(model.intercept), K);
    const sd = Float64Array.from(model.discrimination, (a) => (this.uncertainty ? Math.abs(a) * Math.sqrt(model.predictiveVariance) : 0));
    const out = new Float64Array(q.rows * m);
    for (let i = 0; i < q.rows; i++) {
      for (let j = 0; j < m; j++) out[i * m + j] = expectedSigmoid(model.discrimination[j] * latent[i] + model.offset[j], sd[j]);
    }
    return out;
  }
}

interface IrtShape {
  dimension: number;
  discrimination: number[];
  offset: number[];
  intercept: number;
  predictiveVariance: number;
}

export const irtFactory: RouterFactory = {
  type: "irt",
  needsEmbeddings: true,
  needsOutcomes: false,
  kind: "predictive",
  describe: "item-response router: one difficulty latent per prompt (all models' scores pooled), regressed on the embedding; q_m = E[sigmoid(a_m theta + b_m)] (alpha, folds, iterations, uncertainty)",
  defaultGrid: { alpha: [1, 10, 100, 1000] },
  seeded: true,
  create: (pool, params) => new IrtRouter(pool, params),
  async save(router: Router, dir: string): Promise<string[]> {
    const r = router as IrtRouter;
    const mo = r.model;
    if (!mo) throw new Error("irt: save before fit");
    const shape: IrtShape = {
      dimension: mo.dimension,
      discrimination: Array.from(mo.discrimination),
      offset: Array.from(mo.offset),
      intercept: mo.intercept,
      predictiveVariance: mo.predictiveVariance,
    };
    await writeFile(join(dir, "irt.json"), JSON.stringify(shape));
    return ["irt.json", await writeFloats(dir, "weights.f64", mo.weights)];
  },
  async load(dir: string, manifest: RouterManifest): Promise<Router> {
    const r = new IrtRouter(
      manifest.pool.map((p) => p.model),
      manifest.params,
    );
    r.expectedCosts = Float64Array.from(manifest.pool, (p) => p.expectedCost);
    const s = await readJson<IrtShape>(dir, "irt.json");
    const m = r.pool.length;
    if (s.discrimination?.length !== m || s.offset?.length !== m || !Number.isInteger(s.dimension) || typeof s.intercept !== "number" || typeof s.predictiveVariance !== "number") {
      throw new InputError(`${join(dir, "irt.json")}: does not describe an irt router over the manifest's ${m} models`);
    }
    r.model = {
      dimension: s.dimension,
      discrimination: Float64Array.from(s.discrimination),
      offset: Float64Array.from(s.offset),
      intercept: s.intercept,
      predictiveVariance: s.predictiveVariance,
      weights: await readFloat64(dir, "weights.f64", s.dimension),
    };
    return r;
  },
};
