/**
 * MLP router: ONE multi-output network (embedding -> ReLU hidden layers -> one sigmoid output
 * per pool model), trained with Adam on a masked MSE (missing scores do not count), with early
 * stopping on the validation split (the best epoch's weights are kept). Seeded: initialisers get
 * fixed seeds and batches are shuffled with a seeded generator, so a seed gives the same weights.
 * RouterBench instead trains one scikit-learn MLPRegressor per model; a shared network costs
 * one pass for all models.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type * as tfTypes from "@tensorflow/tfjs-core";
import type * as layersTypes from "@tensorflow/tfjs-layers";
import { InputError } from "../util/errors.js";
import type { ProgressFn } from "../util/progress.js";
import { makeRng, shuffled } from "../util/rng.js";
import { checkKnownParams, expectedCostsOf, nonNegative, poolScores, positiveInt, requireEmbeddings } from "./common.js";
import type { RouterFactory } from "./registry.js";
import type { FitReport, PredictiveRouter, PromptBatch, Router, RouterManifest, TrainingSet } from "./router.js";
import { getTf, type Tf } from "./tf-backend.js";

let variableCounter = 0;
const KNOWN = ["hidden", "epochs", "patience", "batchSize", "learningRate", "seed"];

export function parseHidden(v: unknown): number[] {
  if (typeof v === "number") v = String(v);
  if (typeof v !== "string" || !/^(none|\d+(x\d+)*)$/.test(v)) {
    throw new InputError(`mlp hidden must look like 100 or 100x100 (or none), got ${JSON.stringify(v)}`, { field: "hidden" });
  }
  if (v === "none") return [];
  const sizes = v.split("x").map(Number);
  if (sizes.some((s) => s <= 0)) throw new InputError(`mlp hidden layer sizes must be positive, got ${v}`, { field: "hidden" });
  return sizes;
}

/** Score targets with missing cells zeroed, and the 0/1 mask that says which cells count. */
function targets(y: Float64Array): { values: Float32Array; mask: Float32Array } {
  const values = new Float32Array(y.length);
  const mask = new Float32Array(y.length);
  for (let i = 0; i < y.length; i++) {
    if (Number.isNaN(y[i])) continue;
    values[i] = y[i];
    mask[i] = 1;
  }
  return { values, mask };
}

/**
 * Rows `rows` of a row-major matrix `src` (`width` numbers a row) copied into `out` (at least
 * rows.length * width long), in that order: what tf.gather(X, rows) returns, made on the JS side.
 */
export function copyRows(src: Float32Array, width: number, rows: Int32Array, out: Float32Array): void {
  for (let r = 0; r < rows.length; r++) {
    const s = rows[r] * width;
    const o = r * width;
    for (let j = 0; j < width; j++) out[o + j] = src[s + j];
  }
}

function maskedMseTensor(tf: Tf, pred: tfTypes.Tensor, y: tfTypes.Tensor, mask: tfTypes.Tensor): tfTypes.Scalar {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(tf.squaredDifference(pred, y), mask)), tf.maximum(tf.sum(mask), 1)) as tfTypes.Scalar);
}

/** The network's output for x: weights are [W1, b1, W2, b2, ...], ReLU hidden layers, sigmoid out. */
export function mlpForward(tf: Tf, weights: readonly tfTypes.Tensor[], x: tfTypes.Tensor2D, keep?: { hs: tfTypes.Tensor[]; zs: tfTypes.Tensor[] }): tfTypes.Tensor {
  const layers = weights.length / 2;
  let h: tfTypes.Tensor = x;
  for (let l = 0; l < layers; l++) {
    const z = tf.add(tf.matMul(h as tfTypes.Tensor2D, weights[2 * l] as tfTypes.Tensor2D), weights[2 * l + 1]);
    keep?.zs.push(z);
    keep?.hs.push(h);
    h = l === layers - 1 ? tf.sigmoid(z) : tf.relu(z);
  }
  return h;
}

/**
 * Masked MSE of a batch and its gradient for every weight, by hand-written backprop. Why by
 * hand: on the wasm backend tfjs's own dense-layer gradients use transposed matMuls, ~11x slower
 * than an explicit transpose followed by a plain matMul (3 ms vs 0.26 ms for 128x384x100).
 * Returns kept tensors; the caller disposes them.
 */
export function mlpGradients(
  tf: Tf,
  weights: readonly tfTypes.Tensor[],
  xb: tfTypes.Tensor2D,
  yb: tfTypes.Tensor,
  mb: tfTypes.Tensor,
): { loss: tfTypes.Scalar; grads: tfTypes.Tensor[] } {
  const layers = weights.length / 2;
  const grads: tfTypes.Tensor[] = new Array(weights.length);
  const loss = tf.tidy(() => {
    const keep = { hs: [] as tfTypes.Tensor[], zs: [] as tfTypes.Tensor[] };
    const out = mlpForward(tf, weights, xb, keep);
    const count = tf.maximum(tf.sum(mb), 1);
    const diff = tf.mul(tf.sub(out, yb), mb);
    // d(loss)/d(z_last) through the sigmoid: 2 * diff / count * out * (1 - out)
    let dz: tfTypes.Tensor = tf.mul(tf.div(tf.mul(diff, 2), count), tf.mul(out, tf.sub(1, out)));
    for (let l = layers - 1; l >= 0; l--) {
      grads[2 * l] = tf.keep(tf.matMul(tf.transpose(keep.hs[l] as tfTypes.Tensor2D), dz as tfTypes.Tensor2D));
      grads[2 * l + 1] = tf.keep(tf.sum(dz, 0));
      // ReLU passes the gradient where its input was positive (tf.step: 1 for x > 0, else 0).
      if (l > 0) dz = tf.mul(tf.matMul(dz as tfTypes.Tensor2D, tf.transpose(weights[2 * l] as tfTypes.Tensor2D)), tf.step(keep.zs[l - 1]));
    }
    return tf.div(tf.sum(tf.square(diff)), count) as tfTypes.Scalar;
  });
  return { loss, grads };
}

export class MlpRouter implements PredictiveRouter {
  readonly type = "mlp";
  readonly kind = "predictive" as const;
  readonly needsEmbeddings = true;
  readonly needsOutcomes = false;
  readonly params: Record<string, unknown>;
  readonly hidden: number[];
  readonly epochs: number;
  readonly patience: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
  expectedCosts: Float64Array;
  model: layersTypes.LayersModel | null = null;
  dimension = 0;
  /** Set by trainRouter: called once per epoch. */
  onProgress?: ProgressFn;
  /** After fit: epochs run, and the epoch whose weights were kept. */
  trainedEpochs = 0;
  bestEpoch = 0;

  constructor(
    readonly pool: readonly string[],
    params: Record<string, unknown>,
  ) {
    checkKnownParams("mlp", params, KNOWN);
    const hiddenSpec = params.hidden ?? "100";
    this.hidden = parseHidden(hiddenSpec);
    this.epochs = positiveInt(params, "epochs", 200);
    this.patience = positiveInt(params, "patience", 10);
    this.batchSize = positiveInt(params, "batchSize", 128);
    this.learningRate = nonNegative(params, "learningRate", 1e-3);
    const seed = params.seed ?? 0;
    if (typeof seed !== "number" || !Number.isInteger(seed)) throw new InputError(`mlp seed must be an integer, got ${JSON.stringify(seed)}`, { field: "seed" });
    this.seed = seed;
    this.params = {
      hidden: this.hidden.length ? this.hidden.join("x") : "none",
      epochs: this.epochs,
      patience: this.patience,
      batchSize: this.batchSize,
      learningRate: this.learningRate,
      seed,
    };
    this.expectedCosts = new Float64Array(pool.length);
  }

  private build(tf: Tf, d: number): layersTypes.Sequential {
    const model = tf.sequential();
    const sizes = [...this.hidden, this.pool.length];
    sizes.forEach((units, l) => {
      const last = l === sizes.length - 1;
      model.add(
        tf.layers.dense({
          units,
          activation: last ? "sigmoid" : "relu",
          ...(l === 0 ? { inputShape: [d] } : {}),
          kernelInitializer: tf.initializers.glorotUniform({ seed: this.seed * 1000 + l }),
          biasInitializer: "zeros",
        }),
      );
    });
    return model;
  }

  async fit(train: TrainingSet, validation?: TrainingSet): Promise<FitReport> {
    const start = performance.now();
    const { tf } = await getTf();
    const n = train.table.ids.length;
    const e = requireEmbeddings(train, "mlp", n);
    if (n === 0) throw new InputError("mlp: no training rows");
    const m = this.pool.length;
    const d = e.dimension;
    this.expectedCosts = expectedCostsOf(train.table, this.pool);
    this.model?.dispose();
    const model = this.build(tf, d);
    const optimizer = tf.train.adam(this.learningRate);
    // Trained as plain variables with hand-written backprop (see mlpGradients); the layers
    // model holds the result (save, predict).
    const uid = `${Date.now().toString(36)}_${++variableCounter}`;
    const vars = model.getWeights().map((w, i) => tf.variable(w, true, `routekit_mlp_${uid}_${i}`));
    const step = (xb: tfTypes.Tensor2D, yb: tfTypes.Tensor, mb: tfTypes.Tensor): tfTypes.Scalar => {
      const { loss, grads } = mlpGradients(tf, vars, xb, yb, mb);
      optimizer.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: grads[i] })));
      tf.dispose(grads);
      return loss;
    };
    const forward = (x: tfTypes.Tensor2D) => mlpForward(tf, vars, x);

    const ty = targets(poolScores(train.table, this.pool));
    let val: { X: tfTypes.Tensor2D; Y: tfTypes.Tensor2D; M: tfTypes.Tensor2D } | null = null;
    if (validation && validation.table.ids.length > 0) {
      const ve = requireEmbeddings(validation, "mlp", validation.table.ids.length);
      if (ve.dimension !== d) throw new InputError(`mlp: validation embeddings have ${ve.dimension} dimensions, training ${d}`);
      const vy = targets(poolScores(validation.table, this.pool));
      const vn = validation.table.ids.length;
      val = { X: tf.tensor2d(ve.data, [vn, d]), Y: tf.tensor2d(vy.values, [vn, m]), M: tf.tensor2d(vy.mask, [vn, m]) };
    }

    // One set of batch arrays per batch size (the full size, and the last batch's if smaller).
    const buffers = new Map<number, { x: Float32Array; y: Float32Array; m: Float32Array }>();
    const batchBuffers = (size: number) => {
      let buf = buffers.get(size);
      if (!buf) buffers.set(size, (buf = { x: new Float32Array(size * d), y: new Float32Array(size * m), m: new Float32Array(size * m) }));
      return buf;
    };

    const rng = makeRng(`mlp:${this.seed}`);
    const order = Array.from({ length: n }, (_, i) => i);
    let best = Infinity;
    let bestWeights: tfTypes.Tensor[] | null = null;
    let sinceBest = 0;
    let epochsRun = 0;
    try {
      for (let epoch = 1; epoch <= this.epochs; epoch++) {
        epochsRun = epoch;
        // A batch's rows are copied on the JS side into reused arrays, then made a tensor: on the
        // wasm backend tf.gather of 128 x 512 rows measured 2.4-3.4 ms, the copy plus tensor2d
        // 0.3-0.9 ms (a profile put gather at 30 s of a 78 s fit; the wasm backend's slice copies
        // its whole input: slower still). The same numbers go in as with a gather, so the weights are bitwise the same.
        // The loss is read back once per epoch (a read per batch stalls the pipeline).
        const perm = Int32Array.from(shuffled(order, rng));
        let lossSum: tfTypes.Scalar = tf.scalar(0);
        for (let b = 0; b < n; b += this.batchSize) {
          const size = Math.min(this.batchSize, n - b);
          const rows = perm.subarray(b, b + size);
          const buf = batchBuffers(size);
          copyRows(e.data, d, rows, buf.x);
          copyRows(ty.values, m, rows, buf.y);
          copyRows(ty.mask, m, rows, buf.m);
          // Safe to reuse the arrays: wasm copies them into its heap here, and a backend that keeps
          // them by reference (cpu) is done with them when the step disposes these tensors.
          const xb = tf.tensor2d(buf.x, [size, d]);
          const yb = tf.tensor2d(buf.y, [size, m]);
          const mb = tf.tensor2d(buf.m, [size, m]);
          const loss = step(xb, yb, mb);
          const next = tf.tidy(() => tf.add(lossSum, tf.mul(loss, size)) as tfTypes.Scalar);
          tf.dispose([xb, yb, mb, loss, lossSum]);
          lossSum = next;
        }
        const trainLoss = (await lossSum.data())[0] / n;
        lossSum.dispose();
        // Early stopping watches validation loss; without validation rows, the training loss.
        let monitored = trainLoss;
        if (val) {
          const valLoss = tf.tidy(() => maskedMseTensor(tf, forward(val!.X), val!.Y, val!.M));
          monitored = (await valLoss.data())[0];
          valLoss.dispose();
        }
        this.onProgress?.(epoch, this.epochs, `${val ? "validation" : "training"} mse ${monitored.toFixed(5)}`);
        if (monitored < best - 1e-6) {
          best = monitored;
          this.bestEpoch = epoch;
          sinceBest = 0;
          bestWeights?.forEach((w) => w.dispose());
          bestWeights = vars.map((w) => w.clone());
        } else if (++sinceBest >= this.patience) {
          break;
        }
      }
      model.setWeights(bestWeights ?? vars);
    } finally {
      bestWeights?.forEach((w) => w.dispose());
      vars.forEach((v) => v.dispose());
      if (val) tf.dispose([val.X, val.Y, val.M]);
      optimizer.dispose();
    }
    this.trainedEpochs = epochsRun;
    this.model = model;
    this.dimension = d;
    return {
      chosen: { ...this.params },
      validation: val ? { mse: best } : {},
      seconds: (performance.now() - start) / 1000,
    };
  }

  async predictQuality(batch: PromptBatch): Promise<Float64Array> {
    const model = this.model;
    if (!model) throw new Error("mlp: predictQuality before fit");
    const { tf } = await getTf();
    const e = requireEmbeddings(batch, "mlp", batch.ids.length);
    if (e.dimension !== this.dimension) throw new InputError(`mlp: prompts are embedded in ${e.dimension} dimensions, the router was trained on ${this.dimension}`);
    const out = new Float64Array(e.rows * this.pool.length);
    const step = 4096;
    for (let s = 0; s < e.rows; s += step) {
      const end = Math.min(e.rows, s + step);
      const pred = tf.tidy(() => model.predict(tf.tensor2d(e.data.subarray(s * e.dimension, end * e.dimension), [end - s, e.dimension])) as tfTypes.Tensor);
      out.set(await pred.data(), s * this.pool.length);
      pred.dispose();
    }
    return out;
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}

function joinWeights(data: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  if (!Array.isArray(data)) return new Uint8Array(data);
  const total = data.reduce((s, b) => s + b.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  return out;
}

export const mlpFactory: RouterFactory = {
  type: "mlp",
  needsEmbeddings: true,
  needsOutcomes: false,
  kind: "predictive",
  describe: "one multi-output network, TensorFlow.js (hidden=100|100x100, epochs, patience, batchSize, learningRate, seed)",
  defaultGrid: { hidden: ["100", "100x100"] },
  seeded: true,
  create: (pool, params) => new MlpRouter(pool, params),
  async save(router: Router, dir: string): Promise<string[]> {
    const r = router as MlpRouter;
    if (!r.model) throw new Error("mlp: save before fit");
    // tfjs's file:// handler needs tfjs-node; this IOHandler writes the same TF.js layers format.
    await r.model.save({
      async save(artifacts) {
        const manifest = {
          format: "layers-model",
          generatedBy: "routekit",
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs ?? [] }],
        };
        await writeFile(join(dir, "model.json"), JSON.stringify(manifest));
        await writeFile(join(dir, "weights.bin"), joinWeights(artifacts.weightData ?? new ArrayBuffer(0)));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
      },
    });
    await writeFile(join(dir, "mlp.json"), JSON.stringify({ dimension: r.dimension, trainedEpochs: r.trainedEpochs, bestEpoch: r.bestEpoch }));
    return ["model.json", "weights.bin", "mlp.json"];
  },
  async load(dir: string, manifest: RouterManifest): Promise<Router> {
    const { tf } = await getTf();
    const r = new MlpRouter(manifest.pool.map((p) => p.model), manifest.params);
    r.expectedCosts = Float64Array.from(manifest.pool, (p) => p.expectedCost);
    const topo = JSON.parse(await readFile(join(dir, "model.json"), "utf8")) as {
      modelTopology: tfTypes.io.ModelArtifacts["modelTopology"];
      weightsManifest: { weights: tfTypes.io.WeightsManifestEntry[] }[];
    };
    const bin = await readFile(join(dir, "weights.bin"));
    const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length);
    r.model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topo.modelTopology, weightSpecs: topo.weightsManifest[0].weights, weightData }));
    const meta = JSON.parse(await readFile(join(dir, "mlp.json"), "utf8")) as { dimension: number; trainedEpochs: number; bestEpoch: number };
    r.dimension = meta.dimension;
    r.trainedEpochs = meta.trainedEpochs;
    r.bestEpoch = meta.bestEpoch;
    return r;
  },
};
