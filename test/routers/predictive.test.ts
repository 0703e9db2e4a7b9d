import { afterAll, describe, expect, it } from "vitest";
import { batchOfTable } from "../../src/routers/common.js";
import { KnnRouter, neighboursJs } from "../../src/routers/knn.js";
import { LinearRouter } from "../../src/routers/linear.js";
import { MlpRouter } from "../../src/routers/mlp.js";
import { BestSingleRouter } from "../../src/routers/baselines/best-single.js";
import { OracleRouter } from "../../src/routers/baselines/oracle.js";
import { routePrompts } from "../../src/routers/routing.js";
import type { PredictiveRouter } from "../../src/routers/router.js";
import { MODELS, topicSet } from "./synthetic.js";

const train = topicSet(40, 8, 1, "train");
const test = topicSet(20, 8, 2, "test");
const testBatch = batchOfTable(test.table, test.embeddings, MODELS, false);
const made: { dispose?: () => void }[] = [];
afterAll(() => made.forEach((r) => r.dispose?.()));

/** At high lambda the specialist is worth it exactly on topic A; at lambda 0 the dud (cheapest). */
async function expectTopicRouting(router: PredictiveRouter): Promise<void> {
  made.push(router as { dispose?: () => void });
  const high = await routePrompts(router, testBatch, 1e6);
  test.topics.forEach((topic, i) => expect(high.models[i], `prompt ${i} (topic ${topic})`).toBe(topic === "A" ? "specialist" : "generalist"));
  const low = await routePrompts(router, testBatch, 0);
  expect(new Set(low.models)).toEqual(new Set(["dud"]));
}

describe("predictive routers on a two-topic table", () => {
  it("knn (tf engine) routes the specialist on topic A only", async () => {
    const r = new KnnRouter(MODELS, { k: 5 });
    await r.fit(train);
    await expectTopicRouting(r);
  });

  it("knn (js engine) routes the same, and both engines find the same neighbours", async () => {
    const r = new KnnRouter(MODELS, { k: 5, engine: "js", weighting: "distance" });
    await r.fit(train);
    await expectTopicRouting(r);
    const tfR = new KnnRouter(MODELS, { k: 5, weighting: "distance" });
    await tfR.fit(train);
    made.push(tfR);
    const a = await r.predictQuality(testBatch);
    const b = await tfR.predictQuality(testBatch);
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 5);
  });

  it("knn quality is the mean neighbour score, NaN-aware", async () => {
    // Three training prompts; a query equal to prompt 0 with k=2 sees prompts 0 and 1.
    const t = topicSet(1, 4, 3);
    const table = { ...t.table, scores: Float64Array.from([1, 0.5, NaN, 0, 0.5, 0.25]) };
    const r = new KnnRouter(MODELS, { k: 2 });
    await r.fit({ table, embeddings: t.embeddings });
    made.push(r);
    const q = await r.predictQuality({ ids: ["q"], texts: ["q"], embeddings: { ...t.embeddings!, rows: 1, data: t.embeddings!.data.slice(0, 4) } });
    expect(Array.from(q)).toEqual([0.5, 0.5, 0.25]);
  });

  it("knn routers of different k sharing one search predict as if each searched alone", async () => {
    const deep = new KnnRouter(MODELS, { k: 40 });
    const shallow = new KnnRouter(MODELS, { k: 3, weighting: "distance" });
    made.push(deep, shallow);
    await deep.fit(train);
    await shallow.fit(train);
    await deep.predictQuality(testBatch);
    const shared = await shallow.predictQuality(testBatch);
    // Copies of the arrays: a cache keyed by identity cannot serve these.
    const alone = new KnnRouter(MODELS, { k: 3, weighting: "distance" });
    made.push(alone);
    await alone.fit({ table: train.table, embeddings: { ...train.embeddings!, data: Float32Array.from(train.embeddings!.data) } });
    const own = await alone.predictQuality({ ...testBatch, embeddings: { ...testBatch.embeddings!, data: Float32Array.from(testBatch.embeddings!.data) } });
    expect(Array.from(shared)).toEqual(Array.from(own));
  });

  it("js top-k returns the k largest similarities in order", () => {
    const idx = { rows: 4, dimension: 2, embeddings: Float32Array.from([1, 0, 0, 1, 0.6, 0.8, 0.8, 0.6]), scores: new Float32Array(4) };
    const { sims, neighbours } = neighboursJs(idx, Float32Array.from([1, 0]), 1, 3);
    expect(Array.from(neighbours)).toEqual([0, 3, 2]);
    expect(sims[0]).toBeGreaterThan(sims[1]);
  });

  it("linear (ridge) routes the specialist on topic A only", async () => {
    const r = new LinearRouter(MODELS, { alpha: 0.1 });
    await r.fit(train);
    await expectTopicRouting(r);
  });

  it("linear recovers an exact linear relation with tiny alpha", async () => {
    const t = topicSet(20, 3, 4);
    const m = MODELS.length;
    const scores = new Float64Array(t.table.ids.length * m);
    // model c's score = 0.2 + 0.3 * x0 - 0.1 * x2 (c-scaled): a ridge with alpha ~ 0 reproduces it.
    for (let i = 0; i < t.table.ids.length; i++) {
      for (let c = 0; c < m; c++) scores[i * m + c] = 0.2 + (c + 1) * (0.3 * t.embeddings!.data[i * 3] - 0.1 * t.embeddings!.data[i * 3 + 2]) * 0.5;
    }
    const table = { ...t.table, scores };
    const r = new LinearRouter(MODELS, { alpha: 1e-9 });
    await r.fit({ table, embeddings: t.embeddings });
    const q = await r.predictQuality(batchOfTable(table, t.embeddings, MODELS, false));
    for (let i = 0; i < q.length; i++) expect(q[i]).toBeCloseTo(scores[i], 6);
  });

  it("mlp routes the specialist on topic A only", async () => {
    const r = new MlpRouter(MODELS, { hidden: "16", epochs: 60, batchSize: 16, learningRate: 0.01, seed: 3 });
    await r.fit(train, test);
    await expectTopicRouting(r);
  });

  it("mlp: the same seed gives the same weights, another seed different ones", async () => {
    const opts = { hidden: "8x8", epochs: 3, batchSize: 16, seed: 7 };
    const a = new MlpRouter(MODELS, opts);
    const b = new MlpRouter(MODELS, opts);
    const c = new MlpRouter(MODELS, { ...opts, seed: 8 });
    made.push(a, b, c);
    for (const r of [a, b, c]) await r.fit(train, test);
    const wa = await Promise.all(a.model!.getWeights().map((w) => w.data()));
    const wb = await Promise.all(b.model!.getWeights().map((w) => w.data()));
    const wc = await Promise.all(c.model!.getWeights().map((w) => w.data()));
    expect(wa.map((w) => Array.from(w))).toEqual(wb.map((w) => Array.from(w)));
    expect(wa.map((w) => Array.from(w))).not.toEqual(wc.map((w) => Array.from(w)));
  });

  it("mlp stops early when the validation loss stops improving", async () => {
    const r = new MlpRouter(MODELS, { hidden: "8", epochs: 500, patience: 2, batchSize: 32, learningRate: 0.05, seed: 1 });
    made.push(r);
    const rep = await r.fit(train, test);
    expect(r.trainedEpochs).toBeLessThan(500);
    expect(r.bestEpoch).toBeLessThanOrEqual(r.trainedEpochs - 2);
    expect(rep.validation.mse).toBeGreaterThanOrEqual(0);
  });

  it("best-single sends everything to the best mean model at lambda Infinity", async () => {
    const r = new BestSingleRouter(MODELS, {});
    await r.fit(train);
    // specialist averages 0.5 (1 on A, 0 on B), generalist 0.5: tie -> the cheaper generalist
    const out = await routePrompts(r, testBatch, Infinity);
    expect(new Set(out.models)).toEqual(new Set(["generalist"]));
    expect(Array.from(r.meanScores)).toEqual([0.5, 0.5, 0]);
  });

  it("oracle needs outcomes, picks the best realised score, cheapest on ties", async () => {
    const r = new OracleRouter(MODELS, {});
    await r.fit(train);
    await expect(routePrompts(r, testBatch, Infinity)).rejects.toThrow(/cannot route new prompts/);
    const withOutcomes = batchOfTable(test.table, null, MODELS, true);
    const out = await routePrompts(r, withOutcomes, Infinity);
    test.topics.forEach((topic, i) => expect(out.models[i]).toBe(topic === "A" ? "specialist" : "generalist"));
    // An all-zero row: every model scores 0 -> the cheapest (dud), which still has a cost.
    const zero = { ...withOutcomes, ids: ["z"], texts: ["z"], outcomes: { scores: new Float64Array(3), costs: Float64Array.from([3, 2, 1]) } };
    expect((await routePrompts(r, zero, Infinity)).models).toEqual(["dud"]);
  });
});

describe("mlp backprop", () => {
  it("hand-written gradients equal TensorFlow.js autodiff (masked MSE, ReLU, sigmoid)", async () => {
    const { getTf } = await import("../../src/routers/tf-backend.js");
    const { mlpGradients, mlpForward } = await import("../../src/routers/mlp.js");
    const { tf } = await getTf();
    const weights = [tf.randomNormal([5, 4], 0, 1, "float32", 1), tf.randomNormal([4], 0, 0.1, "float32", 2), tf.randomNormal([4, 3], 0, 1, "float32", 3), tf.randomNormal([3], 0, 0.1, "float32", 4)];
    const x = tf.randomNormal([6, 5], 0, 1, "float32", 5) as import("@tensorflow/tfjs-core").Tensor2D;
    const y = tf.randomUniform([6, 3], 0, 1, "float32", 6);
    const mask = tf.tensor2d([1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1], [6, 3]);
    const lossOf = (...w: import("@tensorflow/tfjs-core").Tensor[]) => tf.div(tf.sum(tf.mul(tf.square(tf.sub(mlpForward(tf, w, x), y)), mask)), tf.sum(mask)) as import("@tensorflow/tfjs-core").Scalar;
    const auto = tf.grads(lossOf)(weights);
    const mine = mlpGradients(tf, weights, x, y, mask);
    expect((await mine.loss.data())[0]).toBeCloseTo((await lossOf(...weights).data())[0], 6);
    for (let i = 0; i < weights.length; i++) {
      const a = await auto[i].data();
      const b = await mine.grads[i].data();
      a.forEach((v, j) => expect(b[j]).toBeCloseTo(v, 5));
    }
    tf.dispose([...weights, x, y, mask, ...auto, ...mine.grads, mine.loss]);
  });
});
