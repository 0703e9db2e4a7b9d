/**
 * KNN router: q_m(x) = mean score of model m over the k training prompts nearest to x by cosine
 * similarity (optionally weighted by 1 / cosine distance). Embeddings are L2-normalised, so the
 * similarities are dot products: brute force as blocked matrix products. Two engines compute
 * them: TensorFlow.js (matMul against the pre-transposed training matrix + topk; the default,
 * being several times faster on the wasm backend, see BENCHMARKS.md) and plain typed-array
 * loops (engine=js; no TF needed). On the wasm backend the tf engine first runs an exact int16
 * prefilter (Int16Index, in knn-prefilter.ts) and computes float32 similarities only for the
 * candidates it leaves, bitwise as matMul would (1,000 x 30,000 x 512: ~0.5 s against ~1.1 s for
 * matMul + topk).
 *
 * index=hnsw searches an approximate-nearest-neighbour graph instead (knn-ann.ts; optional
 * package usearch): built once per training matrix (a k grid shares it), saved with the router.
 * index=auto picks it from AUTO_HNSW_ROWS training rows up. The default stays brute force: it is
 * exact, needs nothing, and a one-off search (train, eval) is cheaper than building a graph;
 * the graph pays off where a saved router answers many queries (route, serve). See BENCHMARKS.md.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../util/errors.js";
import { readFloat32, readJson, writeFloats } from "./binary.js";
import { checkKnownParams, expectedCostsOf, poolScores, positiveInt, requireEmbeddings } from "./common.js";
import { HNSW_DEFAULTS, HnswIndex, type HnswParams } from "./knn-ann.js";
import { int16IndexOf, PREFILTER_BLOCK, prefilterCounts } from "./knn-prefilter.js";
import { TopK } from "./top-k.js";
import type { RouterFactory } from "./registry.js";
import type { FitReport, PredictiveRouter, PromptBatch, Router, RouterManifest, TrainingSet } from "./router.js";
import { getTf } from "./tf-backend.js";
import type * as tfTypes from "@tensorflow/tfjs-core";

type Weighting = "uniform" | "distance";
type Engine = "tf" | "js";
type IndexKind = "brute" | "hnsw" | "auto";
const HNSW_PARAMS = ["connectivity", "expansionAdd", "expansionSearch"] as const;
const KNOWN = ["k", "weighting", "engine", "index", ...HNSW_PARAMS];
/**
 * index=auto uses HNSW from this many training rows up, brute force below: about where the graph
 * starts to search faster than the int16-prefiltered brute force (BENCHMARKS.md, ann, 384
 * dimensions, clustered rows: 2.9x at 100,000 rows, recall@10 0.9999, 20x at 1,000,000, recall@10
 * 0.985; a 20,000-row trial was 0.5x, slower than brute force).
 */
export const AUTO_HNSW_ROWS = 100_000;
/** The saved HNSW graph's file in a router directory. */
export const HNSW_FILE = "knn-hnsw.usearch";
/** Searches go at least this deep, so that k = 5, 10 and 40 share one search. */
const SEARCH_K = 40;
/** Queries per matrix product: 512 x 30,000 similarities = 61 MB, a fair memory/speed trade. */
const BLOCK = 512;
/** How many searches are remembered (see MemoEntry). */
const MEMO_SIZE = 4;

interface Search {
  sims: Float32Array;
  neighbours: Int32Array;
  /** Neighbours per query (the stride of sims and neighbours). */
  k: number;
}

/**
 * The last MEMO_SIZE searches, most recent first, keyed by the identity of the training and
 * query arrays (which must therefore not be mutated in place). A run searches a split's
 * validation prompts for every k of the grid, then other prompts (the test part), then the
 * validation prompts again; with one entry (as before) the second validation search was repeated
 * in full, about a quarter of KNN's work in a run. Memory is bounded: at most MEMO_SIZE entries of
 * nq x depth (float32 + int32) each, and the keys are weak references, so the memo never keeps
 * an embedding matrix alive (30,000 queries x 40 neighbours = 9.6 MB an entry).
 */
interface MemoEntry extends Search {
  train: WeakRef<Float32Array>;
  queries: WeakRef<Float32Array>;
  nq: number;
  /** The brute-force engine, or "hnsw:" and the graph's settings: searches of different kinds are never mixed up. */
  engine: string;
}
const memo: MemoEntry[] = [];

/** Forget every remembered search (tests and benchmarks time searches from cold). */
export function clearKnnMemo(): void {
  memo.length = 0;
}

/**
 * HNSW graphs built or loaded in this process, by training matrix (weakly: never keeps one alive)
 * and settings, so the routers of a k grid, which share one training array, build one graph.
 */
const graphs = new WeakMap<Float32Array, Map<string, Promise<HnswIndex>>>();

function graphFor(index: KnnIndex, params: HnswParams, make: () => Promise<HnswIndex>): Promise<HnswIndex> {
  let bySettings = graphs.get(index.embeddings);
  if (!bySettings) graphs.set(index.embeddings, (bySettings = new Map()));
  const key = JSON.stringify([index.rows, index.dimension, params.connectivity, params.expansionAdd, params.expansionSearch]);
  let g = bySettings.get(key);
  if (!g) {
    g = make();
    bySettings.set(key, g);
    // A failed build (say, usearch missing) is not remembered: the next attempt tries again.
    g.catch(() => bySettings.delete(key));
  }
  return g;
}

export interface KnnIndex {
  readonly rows: number;
  readonly dimension: number;
  /** rows x dimension, L2-normalised. */
  readonly embeddings: Float32Array;
  /** rows x pool, NaN where missing. */
  readonly scores: Float32Array;
}

export class KnnRouter implements PredictiveRouter {
  readonly type = "knn";
  readonly kind = "predictive" as const;
  readonly needsEmbeddings = true;
  readonly needsOutcomes = false;
  readonly params: Record<string, unknown>;
  readonly k: number;
  readonly weighting: Weighting;
  readonly engine: Engine;
  /** The index parameter as given; see searchKind for what a fitted router uses. */
  readonly indexKind: IndexKind;
  readonly hnsw: HnswParams;
  expectedCosts: Float64Array;
  index: KnnIndex | null = null;
  private transposed: tfTypes.Tensor2D | null = null;
  private graph: HnswIndex | null = null;

  constructor(
    readonly pool: readonly string[],
    params: Record<string, unknown>,
  ) {
    checkKnownParams("knn", params, KNOWN);
    this.k = positiveInt(params, "k", 10);
    const w = params.weighting ?? "uniform";
    if (w !== "uniform" && w !== "distance") throw new InputError(`knn weighting must be uniform or distance, got ${JSON.stringify(w)}`, { field: "weighting" });
    const e = params.engine ?? "tf";
    if (e !== "tf" && e !== "js") throw new InputError(`knn engine must be tf or js, got ${JSON.stringify(e)}`, { field: "engine" });
    this.weighting = w;
    this.engine = e;
    const ix = params.index ?? "brute";
    if (ix !== "brute" && ix !== "hnsw" && ix !== "auto") throw new InputError(`knn index must be brute, hnsw or auto, got ${JSON.stringify(ix)}`, { field: "index" });
    this.indexKind = ix;
    if (ix === "brute") {
      const stray = HNSW_PARAMS.find((p) => params[p] !== undefined);
      if (stray) throw new InputError(`knn ${stray} applies to index=hnsw or auto, not to brute force`, { field: stray });
    }
    this.hnsw = {
      connectivity: positiveInt(params, "connectivity", HNSW_DEFAULTS.connectivity),
      expansionAdd: positiveInt(params, "expansionAdd", HNSW_DEFAULTS.expansionAdd),
      expansionSearch: positiveInt(params, "expansionSearch", HNSW_DEFAULTS.expansionSearch),
    };
    if (this.hnsw.connectivity < 2) throw new InputError(`connectivity must be at least 2, got ${this.hnsw.connectivity}`, { field: "connectivity" });
    // Brute force (the default) keeps the params it always had, so results and saved routers are as before.
    this.params = ix === "brute" ? { k: this.k, weighting: w, engine: e } : { k: this.k, weighting: w, engine: e, index: ix, ...this.hnsw };
    this.expectedCosts = new Float64Array(pool.length);
  }

  /** What a router with this training set searches: index=auto resolves by the row count. */
  get searchKind(): "brute" | "hnsw" {
    if (this.indexKind !== "auto") return this.indexKind;
    return (this.index?.rows ?? 0) >= AUTO_HNSW_ROWS ? "hnsw" : "brute";
  }

  /** The HNSW graph over the training matrix: built (once per matrix and settings in a process) or already loaded. */
  async hnswGraph(): Promise<HnswIndex> {
    const index = this.index;
    if (!index) throw new Error("knn: hnsw graph before fit");
    this.graph ??= await graphFor(index, this.hnsw, () => HnswIndex.build(index.embeddings, index.rows, index.dimension, this.hnsw));
    return this.graph;
  }

  /** Takes a graph read from a saved router (see knnFactory.load) as this training matrix's graph. */
  async adoptGraph(graph: HnswIndex): Promise<void> {
    const index = this.index;
    if (!index) throw new Error("knn: adoptGraph before setIndex");
    this.graph = await graphFor(index, this.hnsw, async () => graph);
  }

  async fit(train: TrainingSet): Promise<FitReport> {
    const start = performance.now();
    const n = train.table.ids.length;
    const e = requireEmbeddings(train, "knn", n);
    if (n === 0) throw new InputError("knn: no training rows");
    this.expectedCosts = expectedCostsOf(train.table, this.pool);
    // The training embeddings are kept by reference (not copied): a k grid fits several routers
    // on one array, which lets them share the neighbour search (see MemoEntry).
    this.setIndex({ rows: n, dimension: e.dimension, embeddings: e.data, scores: Float32Array.from(poolScores(train.table, this.pool)) });
    if (this.searchKind === "hnsw") await this.hnswGraph();
    return { chosen: { ...this.params }, validation: {}, seconds: (performance.now() - start) / 1000 };
  }

  setIndex(index: KnnIndex): void {
    this.index = index;
    this.transposed?.dispose();
    this.transposed = null;
    this.graph = null;
  }

  async predictQuality(batch: PromptBatch): Promise<Float64Array> {
    const index = this.index;
    if (!index) throw new Error("knn: predictQuality before fit");
    const q = requireEmbeddings(batch, "knn", batch.ids.length);
    if (q.dimension !== index.dimension) {
      throw new InputError(`knn: prompts are embedded in ${q.dimension} dimensions, the router was trained on ${index.dimension}`);
    }
    const k = Math.min(this.k, index.rows);
    const found = await this.search(q.data, q.rows, k);
    return this.average(found.sims, found.neighbours, q.rows, k, found.k);
  }

  /**
   * The nearest neighbours of each query, at least k of them (sorted, most similar first; equal
   * similarities in training-row order). A grid over k predicts the same validation prompts
   * against the same training array once per k; searches (at least SEARCH_K deep) are
   * remembered (see MemoEntry), so the matrix products run once.
   */
  private async search(queries: Float32Array, nq: number, k: number): Promise<Search> {
    const index = this.index!;
    const kind = this.searchKind === "hnsw" ? `hnsw:${this.hnsw.connectivity}:${this.hnsw.expansionAdd}:${this.hnsw.expansionSearch}` : this.engine;
    for (let i = 0; i < memo.length; i++) {
      const m = memo[i];
      if (m.train.deref() === index.embeddings && m.queries.deref() === queries && m.nq === nq && m.engine === kind && m.k >= k) {
        if (i > 0) memo.unshift(...memo.splice(i, 1));
        return m;
      }
    }
    const depth = Math.min(Math.max(k, SEARCH_K), index.rows);
    const found =
      this.searchKind === "hnsw" ? await this.neighboursHnsw(queries, nq, depth) : kind === "tf" ? await this.neighboursTf(queries, nq, depth) : neighboursJs(index, queries, nq, depth);
    const entry: MemoEntry = { train: new WeakRef(index.embeddings), queries: new WeakRef(queries), nq, engine: kind, k: depth, ...found };
    memo.unshift(entry);
    memo.length = Math.min(memo.length, MEMO_SIZE);
    return entry;
  }

  /** HNSW search; a query the graph answers with fewer than k rows is searched exactly instead. */
  private async neighboursHnsw(queries: Float32Array, nq: number, k: number): Promise<{ sims: Float32Array; neighbours: Int32Array }> {
    const index = this.index!;
    const { sims, neighbours, short } = (await this.hnswGraph()).search(queries, nq, k);
    const d = index.dimension;
    for (const i of short) {
      const exact = neighboursJs(index, queries.subarray(i * d, (i + 1) * d), 1, k);
      sims.set(exact.sims, i * k);
      neighbours.set(exact.neighbours, i * k);
    }
    return { sims, neighbours };
  }

  private async neighboursTf(queries: Float32Array, nq: number, k: number): Promise<{ sims: Float32Array; neighbours: Int32Array }> {
    const { tf, backend } = await getTf();
    const index = this.index!;
    const sims = new Float32Array(nq * k);
    const neighbours = new Int32Array(nq * k);
    const d = index.dimension;
    // On wasm, an exact int16 prefilter first (see Int16Index); a block it declines (non-finite
    // or tie-heavy queries) goes through matMul + topk, whose results it reproduces bitwise.
    const pre = backend === "wasm" ? int16IndexOf(index) : null;
    const step = pre ? PREFILTER_BLOCK : BLOCK;
    for (let start = 0; start < nq; start += step) {
      const end = Math.min(nq, start + step);
      if (pre) {
        if (pre.search(index, queries, start, end, k, sims, neighbours)) {
          prefilterCounts.searched++;
          continue;
        }
        prefilterCounts.declined++;
      }
      // Pre-transposed once: matMul with transposeB was 6x slower on the wasm backend.
      this.transposed ??= tf.tidy(() => tf.transpose(tf.tensor2d(index.embeddings, [index.rows, index.dimension])));
      const { values, indices } = tf.tidy(() => {
        const qb = tf.tensor2d(queries.subarray(start * d, end * d), [end - start, d]);
        const top = tf.topk(tf.matMul(qb, this.transposed!), k, true);
        return { values: top.values, indices: top.indices };
      });
      sims.set(await values.data<"float32">(), start * k);
      neighbours.set(await indices.data<"int32">(), start * k);
      tf.dispose([values, indices]);
    }
    return { sims, neighbours };
  }

  /** Mean neighbour score over the first k of each query's `stride` sorted neighbours. */
  private average(sims: Float32Array, neighbours: Int32Array, nq: number, k: number, stride: number): Float64Array {
    const index = this.index!;
    const m = this.pool.length;
    const out = new Float64Array(nq * m);
    const sum = new Float64Array(m);
    const wsum = new Float64Array(m);
    for (let i = 0; i < nq; i++) {
      sum.fill(0);
      wsum.fill(0);
      for (let r = 0; r < k; r++) {
        const j = neighbours[i * stride + r];
        // 1 / cosine distance; the floor keeps an exact duplicate from taking all the weight as Infinity.
        const w = this.weighting === "distance" ? 1 / Math.max(1 - sims[i * stride + r], 1e-6) : 1;
        for (let c = 0; c < m; c++) {
          const s = index.scores[j * m + c];
          if (Number.isNaN(s)) continue;
          sum[c] += w * s;
          wsum[c] += w;
        }
      }
      for (let c = 0; c < m; c++) out[i * m + c] = wsum[c] > 0 ? sum[c] / wsum[c] : NaN;
    }
    return out;
  }

  dispose(): void {
    this.transposed?.dispose();
    this.transposed = null;
    this.graph = null;
  }
}

/** Plain-loop engine: per block of queries, all similarities, then a partial top-k per query. */
export function neighboursJs(index: KnnIndex, queries: Float32Array, nq: number, k: number): { sims: Float32Array; neighbours: Int32Array } {
  const { rows, dimension: d, embeddings: x } = index;
  const sims = new Float32Array(nq * k);
  const neighbours = new Int32Array(nq * k);
  const B = 8; // queries per pass over the training rows: reuses each loaded row 8 times
  const acc = new Float64Array(B);
  const top = new TopK(k);
  const block = new Float32Array(B * rows);
  for (let start = 0; start < nq; start += B) {
    const nb = Math.min(B, nq - start);
    for (let j = 0; j < rows; j++) {
      acc.fill(0);
      const xo = j * d;
      for (let b = 0; b < nb; b++) {
        const qo = (start + b) * d;
        let s = 0;
        for (let t = 0; t < d; t++) s += queries[qo + t] * x[xo + t];
        acc[b] = s;
      }
      for (let b = 0; b < nb; b++) block[b * rows + j] = acc[b];
    }
    for (let b = 0; b < nb; b++) {
      top.reset();
      const base = b * rows;
      for (let j = 0; j < rows; j++) top.push(block[base + j], j);
      top.writeTo(sims, neighbours, (start + b) * k);
    }
  }
  return { sims, neighbours };
}

/** knn.json: the training matrix's shape, and the HNSW graph's file when the router searches one. */
interface KnnShape {
  rows: number;
  dimension: number;
  index?: { kind: "hnsw"; file: string };
}

export const knnFactory: RouterFactory = {
  type: "knn",
  needsEmbeddings: true,
  needsOutcomes: false,
  kind: "predictive",
  describe: "cosine k-nearest neighbours: q_m = mean neighbour score (k, weighting=uniform|distance, engine=tf|js, index=brute|hnsw|auto, connectivity, expansionAdd, expansionSearch)",
  defaultGrid: { k: [5, 10, 40] },
  create: (pool, params) => new KnnRouter(pool, params),
  async save(router: Router, dir: string): Promise<string[]> {
    const r = router as KnnRouter;
    if (!r.index) throw new Error("knn: save before fit");
    const shape: KnnShape = { rows: r.index.rows, dimension: r.index.dimension };
    const files = [await writeFloats(dir, "embeddings.f32", r.index.embeddings), await writeFloats(dir, "scores.f32", r.index.scores)];
    if (r.searchKind === "hnsw") {
      // The graph is saved with the router (and checksummed in router.json like every listed file).
      (await r.hnswGraph()).save(join(dir, HNSW_FILE));
      shape.index = { kind: "hnsw", file: HNSW_FILE };
      files.push(HNSW_FILE);
    }
    await writeFile(join(dir, "knn.json"), JSON.stringify(shape));
    return ["knn.json", ...files];
  },
  async load(dir: string, manifest: RouterManifest): Promise<Router> {
    const r = new KnnRouter(manifest.pool.map((p) => p.model), manifest.params);
    r.expectedCosts = Float64Array.from(manifest.pool, (p) => p.expectedCost);
    const shape = await readJson<KnnShape>(dir, "knn.json");
    r.setIndex({
      rows: shape.rows,
      dimension: shape.dimension,
      embeddings: await readFloat32(dir, "embeddings.f32", shape.rows * shape.dimension),
      scores: await readFloat32(dir, "scores.f32", shape.rows * r.pool.length),
    });
    const saved = shape.index?.kind === "hnsw" ? shape.index.file : null;
    if ((r.searchKind === "hnsw") !== (saved !== null)) {
      throw new InputError(`${saved ? "names an" : "names no"} HNSW index, but the router (index=${r.indexKind}, ${shape.rows} rows) ${saved ? "searches by brute force" : "needs one"}`, { file: join(dir, "knn.json") });
    }
    if (saved) {
      if (saved !== HNSW_FILE || !(saved in manifest.files)) throw new InputError(`knn.json names an HNSW file "${saved}" that router.json does not list`, { file: join(dir, "knn.json") });
      await r.adoptGraph(await HnswIndex.load(join(dir, saved), shape.rows, shape.dimension, r.hnsw, manifest.files[saved]));
    }
    return r;
  },
};
