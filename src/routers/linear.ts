/**
 * Linear router: one ridge regression per pool model, closed form. All models share the same
 * design matrix, so X'X + alpha*I is formed and Cholesky-factored once per alpha and solved
 * for every model's target at once. Intercepts are not penalised (X and y are centred).
 * Rows missing any pool model's score are left out, so every model sees the same rows.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../util/errors.js";
import { readFloat64, readJson, writeFloats } from "./binary.js";
import { checkKnownParams, expectedCostsOf, nonNegative, poolScores, requireEmbeddings } from "./common.js";
import type { RouterFactory } from "./registry.js";
import type { FitReport, PredictiveRouter, PromptBatch, Router, RouterManifest, TrainingSet } from "./router.js";

interface Moments {
  rows: number;
  d: number;
  m: number;
  xMean: Float64Array;
  yMean: Float64Array;
  /** Centred X'X, d x d. */
  gram: Float64Array;
  /** Centred X'Y, d x m. */
  xty: Float64Array;
}

/** A grid over alpha refits on the same rows: the d x d moments are computed once per training set. */
const momentCache = new WeakMap<Float32Array, { pool: string; moments: Moments }>();

function moments(x: Float32Array, d: number, y: Float64Array, m: number): Moments {
  const n0 = x.length / d;
  const keep: number[] = [];
  for (let i = 0; i < n0; i++) {
    let ok = true;
    for (let c = 0; c < m && ok; c++) ok = Number.isFinite(y[i * m + c]);
    if (ok) keep.push(i);
  }
  const n = keep.length;
  if (n === 0) throw new InputError("linear: no training row has every pool model's score");
  const xMean = new Float64Array(d);
  const yMean = new Float64Array(m);
  for (const i of keep) {
    for (let a = 0; a < d; a++) xMean[a] += x[i * d + a];
    for (let c = 0; c < m; c++) yMean[c] += y[i * m + c];
  }
  for (let a = 0; a < d; a++) xMean[a] /= n;
  for (let c = 0; c < m; c++) yMean[c] /= n;
  // X'X and X'Y together, as the upper part of the Gram matrix of [Xc | Yc] (centred). Rows are
  // taken in chunks stored column by column, so each dot product streams two short contiguous
  // columns from L1 cache; four columns per pass reuse each load of column a four times.
  const w = d + m;
  const aug = new Float64Array(w * w);
  const CH = 512;
  const chunk = new Float64Array(w * CH);
  for (let s = 0; s < n; s += CH) {
    const len = Math.min(CH, n - s);
    for (let r = 0; r < len; r++) {
      const i = keep[s + r];
      for (let a = 0; a < d; a++) chunk[a * CH + r] = x[i * d + a] - xMean[a];
      for (let c = 0; c < m; c++) chunk[(d + c) * CH + r] = y[i * m + c] - yMean[c];
    }
    for (let a = 0; a < d; a++) {
      const ao = a * CH;
      let b = a;
      for (; b + 3 < w; b += 4) {
        const o0 = b * CH;
        const o1 = o0 + CH;
        const o2 = o1 + CH;
        const o3 = o2 + CH;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let r = 0; r < len; r++) {
          const v = chunk[ao + r];
          s0 += v * chunk[o0 + r];
          s1 += v * chunk[o1 + r];
          s2 += v * chunk[o2 + r];
          s3 += v * chunk[o3 + r];
        }
        aug[a * w + b] += s0;
        aug[a * w + b + 1] += s1;
        aug[a * w + b + 2] += s2;
        aug[a * w + b + 3] += s3;
      }
      for (; b < w; b++) {
        const ob = b * CH;
        let s0 = 0;
        for (let r = 0; r < len; r++) s0 += chunk[ao + r] * chunk[ob + r];
        aug[a * w + b] += s0;
      }
    }
  }
  const gram = new Float64Array(d * d);
  const xty = new Float64Array(d * m);
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) gram[a * d + b] = gram[b * d + a] = aug[a * w + b];
    for (let c = 0; c < m; c++) xty[a * m + c] = aug[a * w + d + c];
  }
  return { rows: n, d, m, xMean, yMean, gram, xty };
}

/** Solve (G + alpha I) W = B by Cholesky; returns W (d x m). */
export function ridgeSolve(gram: Float64Array, rhs: Float64Array, d: number, m: number, alpha: number): Float64Array {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = gram[i * d + j] + (i === j ? alpha : 0);
      for (let t = 0; t < j; t++) s -= L[i * d + t] * L[j * d + t];
      if (i === j) {
        if (!(s > 0)) throw new InputError(`linear: X'X + alpha I is not positive definite (alpha=${alpha}); use a larger alpha`);
        L[i * d + i] = Math.sqrt(s);
      } else {
        L[i * d + j] = s / L[j * d + j];
      }
    }
  }
  const w = Float64Array.from(rhs);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < d; i++) {
      let s = w[i * m + c];
      for (let t = 0; t < i; t++) s -= L[i * d + t] * w[t * m + c];
      w[i * m + c] = s / L[i * d + i];
    }
    for (let i = d - 1; i >= 0; i--) {
      let s = w[i * m + c];
      for (let t = i + 1; t < d; t++) s -= L[t * d + i] * w[t * m + c];
      w[i * m + c] = s / L[i * d + i];
    }
  }
  return w;
}

export class LinearRouter implements PredictiveRouter {
  readonly type = "linear";
  readonly kind = "predictive" as const;
  readonly needsEmbeddings = true;
  readonly needsOutcomes = false;
  readonly params: Record<string, unknown>;
  readonly alpha: number;
  expectedCosts: Float64Array;
  dimension = 0;
  /** (dimension + 1) x pool: row 0 the intercepts, then the coefficients. */
  coefficients: Float64Array | null = null;

  constructor(
    readonly pool: readonly string[],
    params: Record<string, unknown>,
  ) {
    checkKnownParams("linear", params, ["alpha"]);
    this.alpha = nonNegative(params, "alpha", 1);
    this.params = { alpha: this.alpha };
    this.expectedCosts = new Float64Array(pool.length);
  }

  async fit(train: TrainingSet): Promise<FitReport> {
    const start = performance.now();
    const n = train.table.ids.length;
    const e = requireEmbeddings(train, "linear", n);
    const m = this.pool.length;
    this.expectedCosts = expectedCostsOf(train.table, this.pool);
    const key = this.pool.join("\u0000");
    let cached = momentCache.get(e.data);
    if (!cached || cached.pool !== key) {
      cached = { pool: key, moments: moments(e.data, e.dimension, poolScores(train.table, this.pool), m) };
      momentCache.set(e.data, cached);
    }
    const mo = cached.moments;
    const d = mo.d;
    const w = ridgeSolve(mo.gram, mo.xty, d, m, this.alpha);
    const coef = new Float64Array((d + 1) * m);
    for (let c = 0; c < m; c++) {
      let b = mo.yMean[c];
      for (let a = 0; a < d; a++) b -= mo.xMean[a] * w[a * m + c];
      coef[c] = b;
    }
    coef.set(w, m);
    this.dimension = d;
    this.coefficients = coef;
    return { chosen: { ...this.params }, validation: {}, seconds: (performance.now() - start) / 1000 };
  }

  async predictQuality(batch: PromptBatch): Promise<Float64Array> {
    const coef = this.coefficients;
    if (!coef) throw new Error("linear: predictQuality before fit");
    const e = requireEmbeddings(batch, "linear", batch.ids.length);
    const d = this.dimension;
    if (e.dimension !== d) throw new InputError(`linear: prompts are embedded in ${e.dimension} dimensions, the router was trained on ${d}`);
    const m = this.pool.length;
    const out = new Float64Array(e.rows * m);
    for (let i = 0; i < e.rows; i++) {
      for (let c = 0; c < m; c++) out[i * m + c] = coef[c];
      for (let a = 0; a < d; a++) {
        const xa = e.data[i * d + a];
        const row = (a + 1) * m;
        for (let c = 0; c < m; c++) out[i * m + c] += xa * coef[row + c];
      }
    }
    return out;
  }
}

export const linearFactory: RouterFactory = {
  type: "linear",
  needsEmbeddings: true,
  needsOutcomes: false,
  kind: "predictive",
  describe: "ridge regression per model, closed form (alpha)",
  defaultGrid: { alpha: [0.1, 1, 10, 100] },
  create: (pool, params) => new LinearRouter(pool, params),
  async save(router: Router, dir: string): Promise<string[]> {
    const r = router as LinearRouter;
    if (!r.coefficients) throw new Error("linear: save before fit");
    await writeFile(join(dir, "linear.json"), JSON.stringify({ dimension: r.dimension }));
    return ["linear.json", await writeFloats(dir, "coefficients.f64", r.coefficients)];
  },
  async load(dir: string, manifest: RouterManifest): Promise<Router> {
    const r = new LinearRouter(manifest.pool.map((p) => p.model), manifest.params);
    r.expectedCosts = Float64Array.from(manifest.pool, (p) => p.expectedCost);
    const { dimension } = await readJson<{ dimension: number }>(dir, "linear.json");
    r.dimension = dimension;
    r.coefficients = await readFloat64(dir, "coefficients.f64", (dimension + 1) * r.pool.length);
    return r;
  },
};
