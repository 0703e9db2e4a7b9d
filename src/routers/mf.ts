/**
 * Matrix-factorisation router: RouteLLM's strongest router, adapted to predict each pool model's
 * quality (RouteLLM learns a pairwise strong-vs-weak win rate; routekit's routing rule needs
 * q_m(x) for every model). A prompt embedding x (D numbers) is projected to a d-dimensional
 * latent by a learnt linear map P, each pool model has a learnt embedding v_m in that latent
 * space and a bias b_m, and
 *
 *   q_m(x) = sigmoid( v_m . (P x) + b_m )
 *
 * i.e. a rank-d bilinear form x' (P' V) + b through a sigmoid. Choices, and why:
 *  - No separate head vector w as in RouteLLM's w . ((P x) * v_m): w * v_m is just another
 *    model vector, so w adds no expressiveness, only a redundant scale for the optimiser to chase.
 *  - The per-model bias b_m carries the model's mean quality (RouteLLM's pairwise target does not
 *    need it: a model-only term cancels in a comparison). It is initialised at the logit of the
 *    model's mean training score, so training starts from the per-model-mean predictor and the
 *    bilinear term only has to learn how quality moves with the prompt.
 *  - Loss: cross-entropy with soft labels over the observed (prompt, model) cells (missing
 *    scores are skipped; rows with none are left out). Like squared error it is minimised by the
 *    conditional mean, so it fits the same q_m, but its gradient through the sigmoid is
 *    (q - y), which does not vanish when the sigmoid saturates. Scores must lie in [0, 1].
 *    Validation (early stopping here, the grid in trainRouter) uses MSE, as for every router.
 *  - Regularisation: (l2 / 2) (|P|^2 + |V|^2) is added to the mean loss (biases unpenalised). On
 *    a factorised W = P'V that penalty is, at its minimum over the factorisations, l2 times W's
 *    nuclear norm: a convex low-rank prior on the D x m interaction, so `dim` can be generous and
 *    l2 sets the effective rank. It is a coupled penalty (added to the gradient before Adam) so
 *    that it is a property of the objective, not of the optimiser's step count.
 *  - Adam on shuffled mini-batches, in plain typed-array loops (no TensorFlow: the model is two
 *    small matrices, and plain loops in a fixed order are bitwise reproducible for a seed; about
 *    2.3 s per epoch on one core for 30,000 prompts x 512 dimensions at dim=64). With validation rows, training stops when the validation MSE has not improved for
 *    `patience` epochs and the best epoch's weights are kept; without them, all `epochs` run.
 *  - Initialisation is seeded (src/util/rng.ts): P and V small and random (zero would be a saddle
 *    point: neither factor gets a gradient), P scaled by the training embeddings' RMS norm so the
 *    latent's scale does not depend on how an embedder normalises its vectors.
 *  - P is stored d x D (row k: latent coordinate k's weights), so each latent coordinate is one
 *    contiguous dot product with the prompt; see `latents` for the blocking that makes it fast.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../util/errors.js";
import type { ProgressFn } from "../util/progress.js";
import { makeRng, normal, shuffled } from "../util/rng.js";
import { readFloat64, readJson, writeFloats } from "./binary.js";
import { checkKnownParams, expectedCostsOf, maskedMse, nonNegative, poolScores, positiveInt, requireEmbeddings } from "./common.js";
import type { RouterFactory } from "./registry.js";
import type { FitReport, PredictiveRouter, PromptBatch, Router, RouterManifest, TrainingSet } from "./router.js";

const KNOWN = ["dim", "epochs", "patience", "batchSize", "learningRate", "l2", "seed"];
// Defaults (dim 64, l2 1e-4, learningRate 3e-3, batchSize 128, patience 5) were the best or tied
// on the bundled data's validation rows (hash embedder); l2 >= 3e-3 there shrinks the interaction
// to nothing (the per-model mean), hence the default grid's l2 values 1e-4 and 1e-3.
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;
/** Initial scale of the interaction v_m . (P x): small, so q starts near each model's mean. */
const INIT_SCALE = 0.1;

/** A fitted factorisation: everything predictQuality needs, and what the router directory stores. */
export interface MfWeights {
  /** D: the prompt embedding's dimension. */
  readonly inputDimension: number;
  /** d: the latent dimension (the `dim` parameter). */
  readonly dim: number;
  /** P, d x D row-major (row k: the weights of latent coordinate k). */
  readonly projection: Float64Array;
  /** V, pool x d row-major: one embedding per pool model. */
  readonly modelEmbeddings: Float64Array;
  /** b, one per pool model. */
  readonly biases: Float64Array;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/**
 * H = X P' for `count` rows of x (rows `rowOf(0..count-1)`), H count x d. Four rows at a time
 * share each load of P's row, with the sums in locals: in plain JS that is ~3x faster than one
 * row at a time (the latent's accumulators no longer go through memory on every term).
 */
function latents(P: Float64Array, D: number, d: number, x: Float32Array, bases: Int32Array, count: number, H: Float64Array): void {
  let r = 0;
  for (; r + 3 < count; r += 4) {
    const b0 = bases[r];
    const b1 = bases[r + 1];
    const b2 = bases[r + 2];
    const b3 = bases[r + 3];
    for (let k = 0; k < d; k++) {
      const pk = k * D;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let j = 0; j < D; j++) {
        const p = P[pk + j];
        s0 += p * x[b0 + j];
        s1 += p * x[b1 + j];
        s2 += p * x[b2 + j];
        s3 += p * x[b3 + j];
      }
      H[r * d + k] = s0;
      H[(r + 1) * d + k] = s1;
      H[(r + 2) * d + k] = s2;
      H[(r + 3) * d + k] = s3;
    }
  }
  for (; r < count; r++) {
    const b0 = bases[r];
    for (let k = 0; k < d; k++) {
      const pk = k * D;
      let s0 = 0;
      for (let j = 0; j < D; j++) s0 += P[pk + j] * x[b0 + j];
      H[r * d + k] = s0;
    }
  }
}

/** gP += GH' X for `count` rows (gP d x D, GH count x d): four rows per pass over gP's row. */
function projectionGradient(gP: Float64Array, D: number, d: number, x: Float32Array, bases: Int32Array, count: number, GH: Float64Array): void {
  for (let k = 0; k < d; k++) {
    const pk = k * D;
    let r = 0;
    for (; r + 3 < count; r += 4) {
      const a0 = GH[r * d + k];
      const a1 = GH[(r + 1) * d + k];
      const a2 = GH[(r + 2) * d + k];
      const a3 = GH[(r + 3) * d + k];
      const b0 = bases[r];
      const b1 = bases[r + 1];
      const b2 = bases[r + 2];
      const b3 = bases[r + 3];
      for (let j = 0; j < D; j++) gP[pk + j] += a0 * x[b0 + j] + a1 * x[b1 + j] + a2 * x[b2 + j] + a3 * x[b3 + j];
    }
    for (; r < count; r++) {
      const a0 = GH[r * d + k];
      const b0 = bases[r];
      for (let j = 0; j < D; j++) gP[pk + j] += a0 * x[b0 + j];
    }
  }
}

/** Rows predicted per block: bounds the scratch memory of a large batch. */
const PREDICT_BLOCK = 256;

/** q (rows x m) for the rows of x. */
function predictRows(w: MfWeights, x: Float32Array, rows: number, m: number, out: Float64Array): void {
  const { inputDimension: D, dim: d, projection: P, modelEmbeddings: V, biases: b } = w;
  const H = new Float64Array(PREDICT_BLOCK * d);
  const bases = new Int32Array(PREDICT_BLOCK);
  for (let s = 0; s < rows; s += PREDICT_BLOCK) {
    const count = Math.min(PREDICT_BLOCK, rows - s);
    for (let r = 0; r < count; r++) bases[r] = (s + r) * D;
    latents(P, D, d, x, bases, count, H);
    for (let r = 0; r < count; r++) {
      for (let c = 0; c < m; c++) {
        let z = b[c];
        const vc = c * d;
        const hr = r * d;
        for (let k = 0; k < d; k++) z += V[vc + k] * H[hr + k];
        out[(s + r) * m + c] = sigmoid(z);
      }
    }
  }
}

/** The three parts of one flat parameter vector [P | V | b], as views (no copies). */
function viewsOf(theta: Float64Array, D: number, d: number, m: number): MfWeights {
  return {
    inputDimension: D,
    dim: d,
    projection: theta.subarray(0, d * D),
    modelEmbeddings: theta.subarray(D * d, D * d + m * d),
    biases: theta.subarray(D * d + m * d, D * d + m * d + m),
  };
}

export class MfRouter implements PredictiveRouter {
  readonly type = "mf";
  readonly kind = "predictive" as const;
  readonly needsEmbeddings = true;
  readonly needsOutcomes = false;
  readonly params: Record<string, unknown>;
  readonly dim: number;
  readonly epochs: number;
  readonly patience: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly l2: number;
  readonly seed: number;
  expectedCosts: Float64Array;
  weights: MfWeights | null = null;
  /** Set by trainRouter: called once per epoch. */
  onProgress: ProgressFn | undefined = undefined;
  /** After fit: epochs run, and the epoch whose weights were kept. */
  trainedEpochs = 0;
  bestEpoch = 0;

  constructor(
    readonly pool: readonly string[],
    params: Record<string, unknown>,
  ) {
    checkKnownParams("mf", params, KNOWN);
    this.dim = positiveInt(params, "dim", 64);
    this.epochs = positiveInt(params, "epochs", 100);
    this.patience = positiveInt(params, "patience", 5);
    this.batchSize = positiveInt(params, "batchSize", 128);
    this.learningRate = nonNegative(params, "learningRate", 3e-3);
    if (this.learningRate === 0) throw new InputError("learningRate must be a positive number, got 0", { field: "learningRate" });
    this.l2 = nonNegative(params, "l2", 1e-4);
    const seed = params.seed ?? 0;
    if (typeof seed !== "number" || !Number.isInteger(seed)) throw new InputError(`mf seed must be an integer, got ${JSON.stringify(seed)}`, { field: "seed" });
    this.seed = seed;
    this.params = {
      dim: this.dim,
      epochs: this.epochs,
      patience: this.patience,
      batchSize: this.batchSize,
      learningRate: this.learningRate,
      l2: this.l2,
      seed,
    };
    this.expectedCosts = new Float64Array(pool.length);
  }

  async fit(train: TrainingSet, validation?: TrainingSet): Promise<FitReport> {
    const start = performance.now();
    const n = train.table.ids.length;
    const e = requireEmbeddings(train, "mf", n);
    const m = this.pool.length;
    const D = e.dimension;
    const d = this.dim;
    const x = e.data;
    const Y = poolScores(train.table, this.pool);
    this.expectedCosts = expectedCostsOf(train.table, this.pool);

    // Rows with at least one score; the model's mean score (for its bias); scores in [0, 1].
    const rows: number[] = [];
    const sums = new Float64Array(m);
    const counts = new Float64Array(m);
    for (let i = 0; i < n; i++) {
      let any = false;
      for (let c = 0; c < m; c++) {
        const y = Y[i * m + c];
        if (Number.isNaN(y)) continue;
        if (!(y >= 0 && y <= 1)) {
          throw new InputError(`mf predicts scores in [0, 1] through a sigmoid; prompt "${train.table.ids[i]}" has ${y} for model "${this.pool[c]}"`, { field: "score" });
        }
        sums[c] += y;
        counts[c]++;
        any = true;
      }
      if (any) rows.push(i);
    }
    if (rows.length === 0) throw new InputError("mf: no training row has a score");
    let sqNorm = 0;
    for (const i of rows) for (let j = 0; j < D; j++) sqNorm += x[i * D + j] ** 2;
    const rms = Math.sqrt(sqNorm / rows.length) || 1;

    let val: { x: Float32Array; rows: number; y: Float64Array; pred: Float64Array } | null = null;
    if (validation && validation.table.ids.length > 0) {
      const ve = requireEmbeddings(validation, "mf", validation.table.ids.length);
      if (ve.dimension !== D) throw new InputError(`mf: validation embeddings have ${ve.dimension} dimensions, training ${D}`);
      val = { x: ve.data, rows: ve.rows, y: poolScores(validation.table, this.pool), pred: new Float64Array(ve.rows * m) };
    }

    // Parameters [P | V | b] in one vector, so Adam is one loop; the three parts are views of it.
    const nPV = D * d + m * d;
    const size = nPV + m;
    const theta = new Float64Array(size);
    const rng = makeRng(`mf:${this.seed}`);
    // |P x| ~ 1 for a typical training row, and v_m . (P x) ~ INIT_SCALE.
    const sP = 1 / (rms * Math.sqrt(d));
    const sV = INIT_SCALE;
    for (let i = 0; i < D * d; i++) theta[i] = normal(rng) * sP;
    for (let i = D * d; i < nPV; i++) theta[i] = normal(rng) * sV;
    for (let c = 0; c < m; c++) {
      const p = Math.min(0.99, Math.max(0.01, counts[c] ? sums[c] / counts[c] : 0.5));
      theta[nPV + c] = Math.log(p / (1 - p));
    }
    const w = viewsOf(theta, D, d, m);
    const grad = new Float64Array(size);
    const g = viewsOf(grad, D, d, m);
    const mom1 = new Float64Array(size);
    const mom2 = new Float64Array(size);
    const B = this.batchSize;
    const H = new Float64Array(B * d);
    const GH = new Float64Array(B * d);
    const bases = new Int32Array(B);

    let best = Infinity;
    let bestTheta: Float64Array | null = null;
    let sinceBest = 0;
    let step = 0;
    this.trainedEpochs = 0;
    this.bestEpoch = 0;
    for (let epoch = 1; epoch <= this.epochs; epoch++) {
      this.trainedEpochs = epoch;
      const order = shuffled(rows, rng);
      let lossSum = 0;
      let cellSum = 0;
      for (let s = 0; s < order.length; s += B) {
        const count = Math.min(B, order.length - s);
        let cells = 0;
        for (let r = 0; r < count; r++) {
          const i = order[s + r];
          bases[r] = i * D;
          for (let c = 0; c < m; c++) if (!Number.isNaN(Y[i * m + c])) cells++;
        }
        // Every row in `rows` has a score, so cells > 0: the batch's mean loss over its cells.
        const inv = 1 / cells;
        grad.fill(0);
        GH.fill(0, 0, count * d);
        latents(w.projection, D, d, x, bases, count, H);
        for (let r = 0; r < count; r++) {
          const i = order[s + r];
          const hr = r * d;
          for (let c = 0; c < m; c++) {
            const y = Y[i * m + c];
            if (Number.isNaN(y)) continue;
            const vc = c * d;
            let z = w.biases[c];
            for (let k = 0; k < d; k++) z += w.modelEmbeddings[vc + k] * H[hr + k];
            // Cross-entropy with soft label y: softplus(z) - y z; its derivative in z is q - y.
            lossSum += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - y * z;
            const dz = (sigmoid(z) - y) * inv;
            g.biases[c] += dz;
            for (let k = 0; k < d; k++) {
              g.modelEmbeddings[vc + k] += dz * H[hr + k];
              GH[hr + k] += dz * w.modelEmbeddings[vc + k];
            }
          }
        }
        projectionGradient(g.projection, D, d, x, bases, count, GH);
        cellSum += cells;
        step++;
        const lr = (this.learningRate * Math.sqrt(1 - BETA2 ** step)) / (1 - BETA1 ** step);
        for (let p = 0; p < size; p++) {
          const gp = p < nPV ? grad[p] + this.l2 * theta[p] : grad[p];
          mom1[p] = BETA1 * mom1[p] + (1 - BETA1) * gp;
          mom2[p] = BETA2 * mom2[p] + (1 - BETA2) * gp * gp;
          theta[p] -= (lr * mom1[p]) / (Math.sqrt(mom2[p]) + EPSILON);
        }
      }
      if (!val) {
        this.onProgress?.(epoch, this.epochs, `training cross-entropy ${(lossSum / cellSum).toFixed(5)}`);
        continue;
      }
      predictRows(w, val.x, val.rows, m, val.pred);
      // The figure trainRouter chooses the grid by, computed the same way.
      const mse = maskedMse(val.pred, val.y);
      this.onProgress?.(epoch, this.epochs, `validation mse ${mse.toFixed(5)}`);
      // A validation split with no score at all gives NaN: nothing to stop on, so train on.
      if (Number.isNaN(mse)) continue;
      if (mse < best - 1e-7) {
        best = mse;
        this.bestEpoch = epoch;
        sinceBest = 0;
        bestTheta = Float64Array.from(theta);
      } else if (++sinceBest >= this.patience) {
        break;
      }
    }
    if (!bestTheta) this.bestEpoch = this.trainedEpochs;
    this.weights = viewsOf(bestTheta ?? theta, D, d, m);
    return {
      chosen: { ...this.params },
      validation: bestTheta ? { mse: best } : {},
      seconds: (performance.now() - start) / 1000,
    };
  }

  async predictQuality(batch: PromptBatch): Promise<Float64Array> {
    const w = this.weights;
    if (!w) throw new Error("mf: predictQuality before fit");
    const e = requireEmbeddings(batch, "mf", batch.ids.length);
    if (e.dimension !== w.inputDimension) throw new InputError(`mf: prompts are embedded in ${e.dimension} dimensions, the router was trained on ${w.inputDimension}`);
    const out = new Float64Array(e.rows * this.pool.length);
    predictRows(w, e.data, e.rows, this.pool.length, out);
    return out;
  }
}

interface MfShape {
  inputDimension: number;
  trainedEpochs: number;
  bestEpoch: number;
}

export const mfFactory: RouterFactory = {
  type: "mf",
  needsEmbeddings: true,
  needsOutcomes: false,
  kind: "predictive",
  describe: "matrix factorisation (RouteLLM): q_m = sigmoid(v_m . P x + b_m), Adam, early stopping on validation (dim, epochs, patience, batchSize, learningRate, l2, seed)",
  defaultGrid: { dim: [16, 64], l2: [1e-4, 1e-3] },
  seeded: true,
  create: (pool, params) => new MfRouter(pool, params),
  async save(router: Router, dir: string): Promise<string[]> {
    const r = router as MfRouter;
    const w = r.weights;
    if (!w) throw new Error("mf: save before fit");
    const shape: MfShape = { inputDimension: w.inputDimension, trainedEpochs: r.trainedEpochs, bestEpoch: r.bestEpoch };
    await writeFile(join(dir, "mf.json"), JSON.stringify(shape));
    return [
      "mf.json",
      await writeFloats(dir, "projection.f64", w.projection),
      await writeFloats(dir, "model-embeddings.f64", w.modelEmbeddings),
      await writeFloats(dir, "biases.f64", w.biases),
    ];
  },
  async load(dir: string, manifest: RouterManifest): Promise<Router> {
    const r = new MfRouter(
      manifest.pool.map((p) => p.model),
      manifest.params,
    );
    r.expectedCosts = Float64Array.from(manifest.pool, (p) => p.expectedCost);
    const s = await readJson<MfShape>(dir, "mf.json");
    if (!Number.isInteger(s.inputDimension) || s.inputDimension <= 0) throw new InputError(`${join(dir, "mf.json")}: does not describe an mf router (inputDimension)`);
    const m = r.pool.length;
    r.weights = {
      inputDimension: s.inputDimension,
      dim: r.dim,
      projection: await readFloat64(dir, "projection.f64", s.inputDimension * r.dim),
      modelEmbeddings: await readFloat64(dir, "model-embeddings.f64", m * r.dim),
      biases: await readFloat64(dir, "biases.f64", m),
    };
    r.trainedEpochs = Number(s.trainedEpochs) || 0;
    r.bestEpoch = Number(s.bestEpoch) || 0;
    return r;
  },
};
