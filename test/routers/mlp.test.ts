import { describe, expect, it } from "vitest";
import { copyRows, MlpRouter } from "../../src/routers/mlp.js";
import { getTf } from "../../src/routers/tf-backend.js";
import { makeRng, shuffled } from "../../src/util/rng.js";
import { MODELS, topicSet } from "./synthetic.js";

const train = topicSet(40, 8, 1, "train");
const test = topicSet(20, 8, 2, "test");

describe("mlp minibatches", () => {
  it("copyRows gives what tf.gather gives, row order kept", async () => {
    const { tf } = await getTf();
    const n = 50;
    const width = 7;
    const src = Float32Array.from({ length: n * width }, (_, i) => Math.sin(i) * 1e3);
    const rows = Int32Array.from(shuffled(Array.from({ length: n }, (_, i) => i), makeRng(4)).slice(0, 13));
    const out = new Float32Array(rows.length * width + 5).fill(-1);
    copyRows(src, width, rows, out);
    const X = tf.tensor2d(src, [n, width]);
    const idx = tf.tensor1d(rows, "int32");
    const g = tf.gather(X, idx);
    expect(Array.from(out.subarray(0, rows.length * width))).toEqual(Array.from(await g.data()));
    expect(Array.from(out.subarray(rows.length * width))).toEqual([-1, -1, -1, -1, -1]);
    tf.dispose([X, idx, g]);
  });

  it("a fit leaks no tensors: flat across epochs, only the model's weights stay until dispose", async () => {
    const { tf } = await getTf();
    // 80 rows in batches of 12: six full batches and a short one.
    for (const validation of [test, undefined]) {
      const before = tf.memory().numTensors;
      const r = new MlpRouter(MODELS, { hidden: "8x4", epochs: 6, patience: 100, batchSize: 12, seed: 2 });
      const perEpoch: number[] = [];
      r.onProgress = () => perEpoch.push(tf.memory().numTensors);
      await r.fit(train, validation);
      expect(perEpoch).toHaveLength(6);
      // From epoch 2 on, a copy of the best epoch's weights is held as well: flat from there.
      expect(new Set(perEpoch.slice(1)).size).toBe(1);
      expect(tf.memory().numTensors - before).toBe(r.model!.getWeights().length);
      r.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it("the same seed predicts bitwise the same, fit after fit", async () => {
    const batch = { ids: test.table.ids, texts: test.table.texts, embeddings: test.embeddings };
    const preds: number[][] = [];
    for (let k = 0; k < 2; k++) {
      const r = new MlpRouter(MODELS, { hidden: "16", epochs: 5, batchSize: 16, seed: 3 });
      await r.fit(train, test);
      preds.push(Array.from(await r.predictQuality(batch)));
      r.dispose();
    }
    expect(preds[1]).toEqual(preds[0]);
  });
});
