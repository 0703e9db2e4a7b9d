/**
 * Approximate nearest neighbours for the KNN router (knn:index=hnsw): an HNSW graph over the
 * L2-normalised training embeddings, float32, built by usearch. Its metric is the inner product,
 * which on unit vectors is the cosine similarity, computed as brute force computes it (one dot
 * product; usearch's "cos" also divides by both norms: ~20% slower for the same order).
 *
 * Why usearch. Measured on this project's 2-core machine (shared with other jobs, so times are
 * rough), 50,000 x 384 random unit vectors, 500 queries, recall@10 against exact search,
 * connectivity 16, construction expansion 128, search expansion 64: usearch 2.25 built in 86 s on
 * one thread (71 s on two), recall 0.83 (0.85); hnswlib-node 3.0 built in 52 s, recall 0.87.
 * (That trial's generator repeated many vectors, which made the search easier than on truly
 * uniform vectors: the ann bench's 100,000 uniform rows get recall@10 0.13 with the defaults.
 * Both libraries searched the same vectors, so the comparison stands.) hnswlib-node was faster here, but it has no prebuilt binary: its
 * install compiles with node-gyp (a C++ toolchain on every user's machine) and it takes one JS
 * number array per row. usearch ships prebuilt N-API binaries (linux x64/arm64, macOS) that load
 * with no compiler, takes the whole float32 matrix in one call and saves the index as one file;
 * on clustered vectors (the bench's) it reached recall@10 1.00 at 50,000 rows. LanceDB was not
 * tried: an on-disk table format (IVF-PQ) with large platform packages, more than a graph file.
 *
 * usearch is an optional peer dependency, loaded on demand like @huggingface/transformers: its
 * package declares an install script (node-gyp-build, which only finds the prebuilt binary), and
 * a consumer's install must run none (.ci/consumer-check.sh), so routekit does not depend on it.
 * Without it, index=hnsw fails in one line saying how to install it; brute force needs nothing.
 *
 * Reproducibility: the graph is built on one thread, so the same rows in the same order give the
 * same index file byte for byte (usearch draws node levels from a generator with a fixed seed;
 * checked by building twice and comparing the saved files). A multi-threaded build inserts rows
 * in a racy order and would not be reproducible. Searches run on one thread too (see search()).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { InputError } from "../util/errors.js";

/** The package name, in a variable so that tsc does not require it at build time. */
export const USEARCH_PACKAGE = "usearch";

/** HNSW settings (usearch's names in brackets). */
export interface HnswParams {
  /** Graph edges per node (connectivity, "M"). */
  readonly connectivity: number;
  /** Candidates kept while inserting a row (expansion_add, "efConstruction"). */
  readonly expansionAdd: number;
  /** Candidates kept while searching (expansion_search, "ef"); raised to the search depth when lower. */
  readonly expansionSearch: number;
}

export const HNSW_DEFAULTS: HnswParams = { connectivity: 16, expansionAdd: 64, expansionSearch: 128 };

/** The part of usearch's API used here (declared locally so routekit's types never name the optional package). */
interface UsearchMatches {
  keys: BigUint64Array;
  distances: Float32Array;
  counts?: BigUint64Array;
}
interface UsearchIndex {
  add(keys: BigUint64Array, vectors: Float32Array, threads?: number): void;
  search(vectors: Float32Array, k: number, threads: number): UsearchMatches;
  save(path: string): void;
  load(path: string): void;
  size(): number;
  dimensions(): number;
}
interface UsearchModule {
  Index: new (config: {
    dimensions: number;
    metric: string;
    quantization: string;
    connectivity: number;
    expansion_add: number;
    expansion_search: number;
    multi: boolean;
  }) => UsearchIndex;
  MetricKind: { IP: string };
  ScalarKind: { F32: string };
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

let usearchModule: Promise<UsearchModule> | null = null;

async function importUsearch(): Promise<UsearchModule> {
  usearchModule ??= (async () => {
    try {
      const m = (await import(USEARCH_PACKAGE)) as { default?: UsearchModule } & UsearchModule;
      return m.default ?? m;
    } catch (err) {
      usearchModule = null;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
        throw new InputError(`knn index=hnsw needs the optional package ${USEARCH_PACKAGE}; install it beside routekit: npm install ${USEARCH_PACKAGE}`, { field: "index" });
      }
      throw err;
    }
  })();
  return usearchModule;
}

/** An HNSW index over a training matrix; row j of the matrix is key j. */
export class HnswIndex {
  private constructor(
    private readonly native: UsearchIndex,
    readonly rows: number,
    readonly dimension: number,
    readonly params: HnswParams,
  ) {}

  private static async create(dimension: number, params: HnswParams): Promise<{ us: UsearchModule; native: UsearchIndex }> {
    const us = await importUsearch();
    const native = new us.Index({
      dimensions: dimension,
      metric: us.MetricKind.IP,
      quantization: us.ScalarKind.F32,
      connectivity: params.connectivity,
      expansion_add: params.expansionAdd,
      expansion_search: params.expansionSearch,
      multi: false,
    });
    return { us, native };
  }

  /** Builds the graph over `rows` x `dimension` embeddings, on one thread (reproducible, see the file comment). */
  static async build(embeddings: Float32Array, rows: number, dimension: number, params: HnswParams): Promise<HnswIndex> {
    if (embeddings.length !== rows * dimension) throw new Error(`hnsw: ${embeddings.length} floats, not ${rows} x ${dimension}`);
    const { native } = await HnswIndex.create(dimension, params);
    native.add(BigUint64Array.from({ length: rows }, (_, j) => BigInt(j)), embeddings, 1);
    return new HnswIndex(native, rows, dimension, params);
  }

  /**
   * Reads an index written by save(), after checking the file's sha256 against `sha256` (router.json's
   * record of it): usearch does not validate what it reads, and a damaged file crashes the process
   * (a truncated or random file segfaults), so no unverified byte reaches it, even when this is
   * called without artifact.ts's check of every file. Each failure is an InputError naming the file.
   */
  static async load(path: string, rows: number, dimension: number, params: HnswParams, sha256: string): Promise<HnswIndex> {
    let digest: string;
    try {
      digest = await fileSha256(path);
    } catch (err) {
      throw new InputError(`cannot read the HNSW index: ${(err as Error).message}`, { file: path });
    }
    if (digest !== sha256) throw new InputError("checksum mismatch: the HNSW index was changed or truncated after the router was saved", { file: path });
    const { native } = await HnswIndex.create(dimension, params);
    try {
      native.load(path);
    } catch (err) {
      throw new InputError(`not a readable HNSW index (${(err as Error).message})`, { file: path });
    }
    if (native.size() !== rows || native.dimensions() !== dimension) {
      throw new InputError(`HNSW index holds ${native.size()} x ${native.dimensions()} vectors, the router has ${rows} x ${dimension}`, { file: path });
    }
    return new HnswIndex(native, rows, dimension, params);
  }

  save(path: string): void {
    this.native.save(path);
  }

  /**
   * The `depth` approximate nearest rows of each query, most similar first, as KNN's search
   * returns them (similarity = 1 - usearch's inner-product distance = the dot product). A query for which the graph returns fewer
   * than `depth` rows (possible only on tiny or degenerate sets) gets -1 in its missing slots;
   * the caller completes it by exact search.
   */
  search(queries: Float32Array, nq: number, depth: number): { sims: Float32Array; neighbours: Int32Array; short: number[] } {
    const sims = new Float32Array(nq * depth);
    const neighbours = new Int32Array(nq * depth).fill(-1);
    const short: number[] = [];
    if (nq === 0) return { sims, neighbours, short };
    // One thread: usearch reserves search contexts only for as many threads as built the graph
    // (one, above); a wider search fails with "Reserve capacity ahead of searches!".
    const found = this.native.search(queries.subarray(0, nq * this.dimension), depth, 1);
    for (let i = 0; i < nq; i++) {
      // One query comes back as one match list (no counts); a batch as nq lists of stride depth.
      const count = found.counts ? Number(found.counts[i]) : found.keys.length;
      const base = found.counts ? i * depth : 0;
      const n = Math.min(count, depth);
      for (let r = 0; r < n; r++) {
        neighbours[i * depth + r] = Number(found.keys[base + r]);
        sims[i * depth + r] = 1 - found.distances[base + r];
      }
      if (n < depth) short.push(i);
    }
    return { sims, neighbours, short };
  }
}
