/**
 * KNN neighbour search against a brute-force reference: neighbour order (most similar first,
 * equal similarities in training-row order), similarity values, and the bounded search memo.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_PREPARATION } from "../../src/embed/embedder.js";
import { clearKnnMemo, KnnRouter } from "../../src/routers/knn.js";
import { prefilterCounts } from "../../src/routers/knn-prefilter.js";
import type { PromptBatch } from "../../src/routers/router.js";
import { getTf } from "../../src/routers/tf-backend.js";
import { makeRng, normal } from "../../src/util/rng.js";

type Search = { sims: Float32Array; neighbours: Int32Array; k: number };
const searchOf = (r: KnnRouter) => (r as unknown as { search(q: Float32Array, nq: number, k: number): Promise<Search> }).search.bind(r);

const made: KnnRouter[] = [];
afterEach(() => {
  made.splice(0).forEach((r) => r.dispose());
  clearKnnMemo();
  vi.restoreAllMocks();
});

function router(engine: "tf" | "js", train: Float32Array, rows: number, d: number, k = 40): KnnRouter {
  const r = new KnnRouter(["a", "b"], { k, engine });
  r.setIndex({ rows, dimension: d, embeddings: train, scores: Float32Array.from({ length: rows * 2 }, (_, i) => i % 7) });
  made.push(r);
  return r;
}

/** All similarities (`dot` per pair), then a stable sort by decreasing similarity: the definition. */
function bruteForce(train: Float32Array, rows: number, queries: Float32Array, nq: number, d: number, k: number, dot: (q: number, x: number) => number): { sims: number[]; neighbours: number[] } {
  const sims: number[] = [];
  const neighbours: number[] = [];
  for (let i = 0; i < nq; i++) {
    const all = Array.from({ length: rows }, (_, j) => ({ j, s: dot(i * d, j * d) }));
    all.sort((a, b) => b.s - a.s || a.j - b.j);
    for (const { j, s } of all.slice(0, k)) {
      sims.push(s);
      neighbours.push(j);
    }
  }
  return { sims, neighbours };
}

describe("knn neighbour search", () => {
  it("breaks ties by training-row order, on both engines, as the brute-force reference does", async () => {
    // Entries in {-1, 0, 1} / 4 make every dot product exact in float32, so the similarities are
    // the same on any backend and ties are everywhere; duplicated rows make more of them.
    const d = 16;
    const rows = 600;
    const nq = 50;
    const rng = makeRng(3);
    const cell = () => (Math.floor(rng() * 3) - 1) / 4;
    const train = Float32Array.from({ length: rows * d }, cell);
    for (let j = 1; j < rows; j += 4) train.copyWithin(j * d, (j - 1) * d, j * d);
    const queries = Float32Array.from({ length: nq * d }, cell);
    queries.set(train.subarray(8 * d, 9 * d), 0); // a query equal to a duplicated training row (8 = 9)
    const exact = (q: number, x: number) => {
      let s = 0;
      for (let t = 0; t < d; t++) s += queries[q + t] * train[x + t];
      return s;
    };
    const want = bruteForce(train, rows, queries, nq, d, 40, exact);
    let tied = 0;
    for (let i = 1; i < want.sims.length; i++) if (i % 40 && want.sims[i] === want.sims[i - 1]) tied++;
    expect(tied).toBeGreaterThan(500);
    for (const engine of ["tf", "js"] as const) {
      const got = await searchOf(router(engine, train, rows, d))(queries, nq, 40);
      expect(got.k).toBe(40);
      expect(Array.from(got.neighbours), engine).toEqual(want.neighbours);
      expect(Array.from(got.sims), engine).toEqual(want.sims);
    }
  });

  it("tf engine on wasm: similarities bitwise the sequential float32 dot product (what XNNPACK computes), neighbours the stable order", async () => {
    const { backend } = await getTf();
    if (backend !== "wasm") return; // the bitwise reference is that of the wasm backend's matMul
    const d = 64;
    const rows = 1500;
    const nq = 130; // two prefilter blocks, the second of 2 queries (padded to 4)
    const rng = makeRng(5);
    const unit = (n: number) => {
      const a = Float32Array.from({ length: n * d }, () => normal(rng));
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let t = 0; t < d; t++) s += a[i * d + t] ** 2;
        for (let t = 0; t < d; t++) a[i * d + t] /= Math.sqrt(s);
      }
      return a;
    };
    const train = unit(rows);
    for (let j = 2; j < rows; j += 7) train.copyWithin(j * d, (j - 2) * d, (j - 1) * d);
    const queries = unit(nq);
    const f = Math.fround;
    const sequential = (q: number, x: number) => {
      let s = 0;
      for (let t = 0; t < d; t++) s = f(s + f(queries[q + t] * train[x + t]));
      return s;
    };
    const want = bruteForce(train, rows, queries, nq, d, 40, sequential);
    const before = { ...prefilterCounts };
    const got = await searchOf(router("tf", train, rows, d))(queries, nq, 40);
    expect(Array.from(got.neighbours)).toEqual(want.neighbours);
    expect(Array.from(got.sims)).toEqual(want.sims);
    // That was the int16 prefilter (the default path on wasm); matMul + topk agree with it.
    expect(prefilterCounts.searched).toBeGreaterThan(before.searched);
    expect(prefilterCounts.declined).toBe(before.declined);
    const { tf } = await getTf();
    const product = tf.tidy(() => tf.topk(tf.matMul(tf.tensor2d(queries, [nq, d]), tf.transpose(tf.tensor2d(train, [rows, d]))), 40, true));
    expect(Array.from(await product.indices.data())).toEqual(want.neighbours);
    expect(Array.from(await product.values.data())).toEqual(want.sims);
    tf.dispose([product.values, product.indices]);
  });

  it("tf engine on wasm: a block the prefilter declines (all rows tied) goes to matMul + topk, same order", async () => {
    const { backend } = await getTf();
    if (backend !== "wasm") return;
    const d = 8;
    const rows = 3000; // more tied candidates than the prefilter takes
    const train = new Float32Array(rows * d);
    for (let j = 0; j < rows; j++) train.set([0.5, -0.25, 0.125, 0, 0.5, 0.25, -0.5, 0.25], j * d);
    const queries = Float32Array.from({ length: 3 * d }, (_, i) => ((i * 7) % 5) / 8 - 0.25);
    const before = { ...prefilterCounts };
    const got = await searchOf(router("tf", train, rows, d))(queries, 3, 40);
    expect(prefilterCounts.declined).toBe(before.declined + 1);
    for (let i = 0; i < 3; i++) expect(Array.from(got.neighbours.subarray(i * 40, i * 40 + 40))).toEqual(Array.from({ length: 40 }, (_, r) => r));
  });

  it("remembers the last 4 searches: a split's validation prompts are searched once around a test search", async () => {
    const d = 8;
    const rows = 100;
    const rng = makeRng(7);
    const train = Float32Array.from({ length: rows * d }, () => rng() - 0.5);
    const batch = (n: number): PromptBatch => {
      const ids = Array.from({ length: n }, (_, i) => `q${i}`);
      return { ids, texts: ids, embeddings: { rows: n, dimension: d, data: Float32Array.from({ length: n * d }, () => rng() - 0.5), embedderId: "t", preparation: DEFAULT_PREPARATION } };
    };
    const spy = vi.spyOn(KnnRouter.prototype as unknown as { neighboursTf: () => Promise<unknown> }, "neighboursTf");
    const validation = batch(20);
    const test = batch(30);
    const predictions: Float64Array[] = [];
    for (const k of [5, 10, 40]) predictions.push(await router("tf", train, rows, d, k).predictQuality(validation));
    await router("tf", train, rows, d, 10).predictQuality(test);
    const again = await router("tf", train, rows, d, 10).predictQuality(validation);
    expect(spy).toHaveBeenCalledTimes(2);
    expect(Array.from(again)).toEqual(Array.from(predictions[1]));
    // Bounded: after 4 other searches the validation search is gone and runs again, same result.
    for (let i = 0; i < 4; i++) await router("tf", train, rows, d, 10).predictQuality(batch(5));
    const later = await router("tf", train, rows, d, 10).predictQuality(validation);
    expect(spy).toHaveBeenCalledTimes(7);
    expect(Array.from(later)).toEqual(Array.from(predictions[1]));
  });
});
