/**
 * IRT router: the score matrix's main structure is that a hard prompt is hard for every model.
 * Training fits an item-response model to the prompts x models scores,
 *
 *   P(model m answers prompt i) = sigmoid(a_m . theta_i + b_m),
 *
 * with one latent "easiness" theta_i per training prompt (`dims` components, N(0, I) prior),
 * and per model a discrimination a_m and an offset b_m (fractional scores are soft labels;
 * missing scores are skipped). The latent is then regressed on the prompt embedding (ridge,
 * penalty `alpha`), pooling the evidence of all pool models into one target instead of
 * fitting each model's noisy 0/1 scores separately. How well the embedding predicts the
 * latent is measured out of fold on the training rows (`folds`), and for a new prompt
 *
 *   q_m(x) = E[ sigmoid(a_m . theta + b_m) ],  theta ~ N(theta_hat(x), residual variance)
 *
 * so when the embedding carries no information about difficulty the residual variance is the
 * latent's whole spread and q_m(x) falls back to model m's mean score: the router then routes
 * like the best single models (the Zero router's vertices) instead of chasing noise.
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

const KNOWN = ["dims", "alpha", "folds", "iterations", "uncertainty", "seed"];

/** Everything a fitted IRT router needs to predict (and what its directory stores). */
export interface IrtModel {
  /** Latent dimensions K. */
  readonly dims: number;
  /** Embedding dimension d. */
  readonly dimension: number;
  /** Discriminations, pool x K. */
  readonly discrimination: Float64Array;
  /** Offsets, one per pool model. */
  readonly offset: Float64Array;
  /** Ridge weights embedding -> latent, d x K. */
  readonly weights: Float64Array;
  /** Ridge intercepts, K. */
  readonly intercept: Float64Array;
  /** Out-of-fold variance of latent - predicted latent, K. */
  readonly residualVariance: Float64Array;
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

/**
 * Joint MAP fit of the item-response model by alternating Newton steps (each prompt's latent
 * given the models, then each model's (a, b) given the latents). scores: n x m, NaN = missing.
 */
export function fitItemResponse(
  scores: Float64Array,
  n: number,
  m: number,
  dims: number,
  iterations: number,
  rng: () => number,
): { theta: Float64Array; discrimination: Float64Array; offset: Float64Array } {
  const K = dims;
  const theta = new Float64Array(n * K);
  const a = new Float64Array(m * K);
  const b = new Float64Array(m);
  // Start: latent 0 from each prompt's mean score (so "high = easy"), offsets from model means.
  for (let i = 0; i < n; i++) {
    let s = 0;
    let c = 0;
    for (let j = 0; j < m; j++) {
      const y = scores[i * m + j];
      if (!Number.isNaN(y)) {
        s += y;
        c++;
      }
    }
    theta[i * K] = c ? (s / c - 0.5) * 3 : 0;
    for (let k = 1; k < K; k++) theta[i * K + k] = (rng() - 0.5) * 0.2;
  }
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
    a[j * K] = 1;
    for (let k = 1; k < K; k++) a[j * K + k] = (rng() - 0.5) * 0.2;
  }
  // Weak priors keep every parameter finite even for a model that is always right or always wrong.
  const priorA = 0.01 * n;
  const priorB = 0.01;
  const P = K + 1;
  const g = new Float64Array(P);
  const H = new Float64Array(P * P);
  const f = new Float64Array(P);
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < n; i++) {
      g.fill(0);
      H.fill(0);
      for (let k = 0; k < K; k++) {
        g[k] = -theta[i * K + k];
        H[k * K + k] = 1;
      }
      for (let j = 0; j < m; j++) {
        const y = scores[i * m + j];
        if (Number.isNaN(y)) continue;
        let z = b[j];
        for (let k = 0; k < K; k++) z += a[j * K + k] * theta[i * K + k];
        const p = sigmoid(z);
        const w = p * (1 - p);
        for (let k = 0; k < K; k++) {
          g[k] += (y - p) * a[j * K + k];
          for (let l = 0; l < K; l++) H[k * K + l] += w * a[j * K + k] * a[j * K + l];
        }
      }
      const step = solveSpd(H.subarray(0, K * K), K, g.subarray(0, K));
      for (let k = 0; k < K; k++) theta[i * K + k] += clampStep(step[k]);
    }
    for (let j = 0; j < m; j++) {
      g.fill(0);
      H.fill(0);
      for (let k = 0; k < K; k++) {
        g[k] = -priorA * a[j * K + k];
        H[k * P + k] = priorA;
      }
      g[K] = -priorB * b[j];
      H[K * P + K] = priorB;
      for (let i = 0; i < n; i++) {
        const y = scores[i * m + j];
        if (Number.isNaN(y)) continue;
        for (let k = 0; k < K; k++) f[k] = theta[i * K + k];
        f[K] = 1;
        let z = b[j];
        for (let k = 0; k < K; k++) z += a[j * K + k] * f[k];
        const p = sigmoid(z);
        const w = p * (1 - p);
        for (let u = 0; u < P; u++) {
          g[u] += (y - p) * f[u];
          for (let v = 0; v < P; v++) H[u * P + v] += w * f[u] * f[v];
        }
      }
      const step = solveSpd(H, P, g);
      for (let k = 0; k < K; k++) a[j * K + k] += clampStep(step[k]);
      b[j] += clampStep(step[K]);
    }
  }
  return { theta, discrimination: a, offset: b };
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

/** Standard-normal quadrature on a fine uniform grid (trapezoid rule is spectrally accurate here). */
const QUAD = (() => {
  const z: number[] = [];
  const w: number[] = [];
  for (let t = -6; t <= 6 + 1e-9; t += 0.25) {
    z.push(t);
    w.push(Math.exp(-0.5 * t * t));
  }
  const s = w.reduce((u, v) => u + v, 0);
  return { z: Float64Array.from(z), w: Float64Array.from(w, (v) => v / s) };
})();

/** E[sigmoid(mean + sd * Z)], Z ~ N(0, 1). */
export function expectedSigmoid(mean: number, sd: number): number {
  if (!(sd > 0)) return sigmoid(mean);
  let e = 0;
  for (let t = 0; t < QUAD.z.length; t++) e += QUAD.w[t] * sigmoid(mean + sd * QUAD.z[t]);
  return e;
}

export class IrtRouter implements PredictiveRouter {
  readonly type = "irt";
  readonly kind = "predictive" as const;
  readonly needsEmbeddings = true;
  readonly needsOutcomes = false;
  readonly params: Record<string, unknown>;
  readonly dims: number;
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
    this.dims = positiveInt(params, "dims", 1);
    if (this.dims > 8) throw new InputError(`irt dims must be at most 8, got ${this.dims}`, { field: "dims" });
    this.alpha = nonNegative(params, "alpha", 100);
    this.folds = positiveInt(params, "folds", 5);
    if (this.folds < 2) throw new InputError(`irt folds must be at least 2, got ${this.folds}`, { field: "folds" });
    this.iterations = positiveInt(params, "iterations", 60);
    const u = params.uncertainty ?? true;
    if (typeof u !== "boolean") throw new InputError(`irt uncertainty must be true or false, got ${JSON.stringify(u)}`, { field: "uncertainty" });
    this.uncertainty = u;
    const seed = params.seed ?? 0;
    if (typeof seed !== "number" || !Number.isInteger(seed)) throw new InputError(`irt seed must be an integer, got ${JSON.stringify(seed)}`, { field: "seed" });
    this.seed = seed;
    this.params = { dims: this.dims, alpha: this.alpha, folds: this.folds, iterations: this.iterations, uncertainty: this.uncertainty, seed: this.seed };
    this.expectedCosts = new Float64Array(pool.length);
  }

  async fit(train: TrainingSet): Promise<FitReport> {
    const start = performance.now();
    const n0 = train.table.ids.length;
    const e = requireEmbeddings(train, "irt", n0);
    const m = this.pool.length;
    const all = poolScores(train.table, this.pool);
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
    if (n < this.folds) throw new InputError(`irt: ${n} training rows with scores, need at least folds=${this.folds}`);
    this.expectedCosts = expectedCostsOf(train.table, this.pool);
    const K = this.dims;
    const d = e.dimension;
    const scores = new Float64Array(n * m);
    const emb = new Float32Array(n * d);
    rows.forEach((r, i) => {
      scores.set(all.subarray(r * m, r * m + m), i * m);
      emb.set(e.data.subarray(r * d, r * d + d), i * d);
    });
    const rng = makeRng(`irt:${this.seed}`);
    const irt = fitItemResponse(scores, n, m, K, this.iterations, rng);

    // Out-of-fold residual variance of the latent: fold moments are subtracted from the total.
    const order = shuffled(
      Array.from({ length: n }, (_, i) => i),
      rng,
    );
    const foldRows: number[][] = Array.from({ length: this.folds }, () => []);
    order.forEach((i, k) => foldRows[k % this.folds].push(i));
    const foldMoments = foldRows.map((fr) => momentsOf(emb, d, irt.theta, K, fr));
    const total = foldMoments.reduce((acc, mo) => ({
      xx: acc.xx.map((v, i) => v + mo.xx[i]),
      x: acc.x.map((v, i) => v + mo.x[i]),
      xy: acc.xy.map((v, i) => v + mo.xy[i]),
      y: acc.y.map((v, i) => v + mo.y[i]),
      n: acc.n + mo.n,
    }));
    const residualVariance = new Float64Array(K);
    const latentVariance = new Float64Array(K);
    for (let f = 0; f < this.folds; f++) {
      const fr = foldRows[f];
      if (fr.length === 0) continue;
      const { weights, intercept } = ridgeFromMoments(minus(total, foldMoments[f]), d, K, this.alpha);
      const held = new Float32Array(fr.length * d);
      fr.forEach((i, k) => held.set(emb.subarray(i * d, i * d + d), k * d));
      const pred = predictLatent(held, d, fr.length, weights, intercept, K);
      fr.forEach((i, r) => {
        for (let k = 0; k < K; k++) residualVariance[k] += (irt.theta[i * K + k] - pred[r * K + k]) ** 2 / n;
      });
    }
    for (let k = 0; k < K; k++) {
      const mean = total.y[k] / n;
      for (let i = 0; i < n; i++) latentVariance[k] += (irt.theta[i * K + k] - mean) ** 2 / n;
    }
    const { weights, intercept } = ridgeFromMoments(total, d, K, this.alpha);
    this.model = { dims: K, dimension: d, discrimination: irt.discrimination, offset: irt.offset, weights, intercept, residualVariance };
    const validation: Record<string, number> = {};
    // Share of the latent's variance the embedding explains out of fold (<= 0: none).
    for (let k = 0; k < K; k++) validation[K === 1 ? "latentR2OutOfFold" : `latentR2OutOfFold${k + 1}`] = latentVariance[k] > 0 ? 1 - residualVariance[k] / latentVariance[k] : 0;
    return { chosen: { ...this.params }, validation, seconds: (performance.now() - start) / 1000 };
  }

  async predictQuality(batch: PromptBatch): Promise<Float64Array> {
    const model = this.model;
    if (!model) throw new Error("irt: predictQuality before fit");
    const q = requireEmbeddings(batch, "irt", batch.ids.length);
    if (q.dimension !== model.dimension) {
      throw new InputError(`irt: prompts are embedded in ${q.dimension} dimensions, the router was trained on ${model.dimension}`);
    }
    const K = model.dims;
    const m = this.pool.length;
    const latent = predictLatent(q.data, q.dimension, q.rows, model.weights, model.intercept, K);
    const sd = new Float64Array(m);
    for (let j = 0; j < m; j++) {
      let v = 0;
      for (let k = 0; k < K; k++) v += model.discrimination[j * K + k] ** 2 * model.residualVariance[k];
      sd[j] = this.uncertainty ? Math.sqrt(v) : 0;
    }
    const out = new Float64Array(q.rows * m);
    for (let i = 0; i < q.rows; i++) {
      for (let j = 0; j < m; j++) {
        let z = model.offset[j];
        for (let k = 0; k < K; k++) z += model.discrimination[j * K + k] * latent[i * K + k];
        out[i * m + j] = expectedSigmoid(z, sd[j]);
      }
    }
    return out;
  }
}

interface IrtShape {
  dims: number;
  dimension: number;
  discrimination: number[];
  offset: number[];
  intercept: number[];
  residualVariance: number[];
}

export const irtFactory: RouterFactory = {
  type: "irt",
  kind: "predictive",
  describe: "item-response router: per-prompt difficulty latent regressed on the embedding, q_m = E[sigmoid(a_m theta + b_m)] (dims, alpha, folds, iterations, uncertainty)",
  defaultGrid: { alpha: [1, 10, 100, 1000] },
  seeded: true,
  create: (pool, params) => new IrtRouter(pool, params),
  async save(router: Router, dir: string): Promise<string[]> {
    const r = router as IrtRouter;
    const mo = r.model;
    if (!mo) throw new Error("irt: save before fit");
    const shape: IrtShape = {
      dims: mo.dims,
      dimension: mo.dimension,
      discrimination: Array.from(mo.discrimination),
      offset: Array.from(mo.offset),
      intercept: Array.from(mo.intercept),
      residualVariance: Array.from(mo.residualVariance),
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
    if (s.dims !== r.dims || s.discrimination.length !== m * s.dims || s.offset.length !== m || s.intercept.length !== s.dims || s.residualVariance.length !== s.dims) {
      throw new InputError(`${join(dir, "irt.json")}: shapes do not match the manifest (${m} models, ${r.dims} dims)`);
    }
    r.model = {
      dims: s.dims,
      dimension: s.dimension,
      discrimination: Float64Array.from(s.discrimination),
      offset: Float64Array.from(s.offset),
      intercept: Float64Array.from(s.intercept),
      residualVariance: Float64Array.from(s.residualVariance),
      weights: await readFloat64(dir, "weights.f64", s.dimension * s.dims),
    };
    return r;
  },
};
