/**
 * KNN's approximate index (knn:index=hnsw, usearch HNSW) against its exact brute force, at
 * 100,000 and 1,000,000 x 384 training rows (issue 14). The rows are clustered synthetic unit
 * vectors, nearer to sentence embeddings than uniform random ones (whose nearest neighbours are
 * barely nearer than any other row): a Gaussian mixture of CLUSTERS centres in a LATENT-dimensional
 * space (spread 0.5 around each centre), mapped into 384 dimensions by one fixed random matrix,
 * plus isotropic noise of 0.5 per coordinate, L2-normalised; queries are fresh draws from the
 * same distribution. Everything is seeded.
 *
 * Per size: the exact search (KNN's default engine, index=brute) of QUERIES queries, 40 deep as
 * KNN always searches, once on a fresh router (which builds the engine's index: on wasm the int16
 * prefilter's copy) and once more with new query arrays (built); the HNSW graph's build (one
 * thread, as the router builds it) and its search, 40 deep; recall@10 = the share of each
 * query's exact 10 nearest rows among HNSW's 10, averaged; queries per second from the built
 * searches; the saved index file's size. Then the same at UNIFORM_ROWS uniform random unit
 * vectors, the hardest case (no structure: a query's nearest rows are barely nearer than any
 * other), to show where recall falls. ROUTEKIT_ANN_ROWS=20000,50000 runs other clustered sizes.
 */
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bench } from "./types.js";
import { clearKnnMemo, KnnRouter } from "../src/routers/knn.js";
import { HNSW_DEFAULTS, HnswIndex } from "../src/routers/knn-ann.js";
import { getTf } from "../src/routers/tf-backend.js";
import { makeRng, normal, type Rng } from "../src/util/rng.js";

const DIM = 384;
const LATENT = 32;
const CLUSTERS = 1_000;
const QUERIES = 1_000;
const DEPTH = 40;
/** Searches are timed this many times (new query arrays each, so never remembered), best kept: the machine may be shared. */
const REPEATS = 3;
const RECALL_K = 10;
/** Search expansions tried on the same graph (reloaded from its file with each), beside the default. */
const EXPANSIONS = [64, 256];
const SIZES = (process.env.ROUTEKIT_ANN_ROWS ?? "100000,1000000").split(",").map(Number);
/** Rows of the uniform random case (ROUTEKIT_ANN_UNIFORM_ROWS for a quick trial). */
const UNIFORM_ROWS = Number(process.env.ROUTEKIT_ANN_UNIFORM_ROWS ?? 100_000);
type Data = "clustered" | "uniform";

type Search = { sims: Float32Array; neighbours: Int32Array; k: number };
const searchOf = (r: KnnRouter) => (r as unknown as { search(q: Float32Array, nq: number, k: number): Promise<Search> }).search.bind(r);

/** The mixture: centres in the latent space and the latent -> 384 map. */
function mixture(rng: Rng): { centres: Float64Array; map: Float64Array } {
  const centres = Float64Array.from({ length: CLUSTERS * LATENT }, () => normal(rng));
  const map = Float64Array.from({ length: DIM * LATENT }, () => normal(rng) / Math.sqrt(LATENT));
  return { centres, map };
}

/** Uniform random unit vectors (normal draws, L2-normalised). */
function uniform(n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = 0; t < DIM; t++) {
      const x = normal(rng);
      out[i * DIM + t] = x;
      s += x * x;
    }
    const norm = Math.sqrt(s);
    for (let t = 0; t < DIM; t++) out[i * DIM + t] /= norm;
  }
  return out;
}

function draw(n: number, mix: ReturnType<typeof mixture>, rng: Rng): Float32Array {
  const out = new Float32Array(n * DIM);
  const z = new Float64Array(LATENT);
  const v = new Float64Array(DIM);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rng() * CLUSTERS);
    for (let u = 0; u < LATENT; u++) z[u] = mix.centres[c * LATENT + u] + 0.5 * normal(rng);
    let s = 0;
    for (let t = 0; t < DIM; t++) {
      let x = 0.5 * normal(rng);
      for (let u = 0; u < LATENT; u++) x += mix.map[t * LATENT + u] * z[u];
      v[t] = x;
      s += x * x;
    }
    const norm = Math.sqrt(s);
    for (let t = 0; t < DIM; t++) out[i * DIM + t] = v[t] / norm;
  }
  return out;
}

interface Timing {
  s: number;
  cpu: number;
}

async function timed<T>(f: () => Promise<T>): Promise<{ t: Timing; value: T }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const value = await f();
  const c = process.cpuUsage(c0);
  return { t: { s: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 }, value };
}

/** Best of REPEATS runs of f by wall time (with that run's result). */
async function bestOf<T>(f: () => Promise<T>): Promise<{ t: Timing; value: T }> {
  let best: { t: Timing; value: T } | null = null;
  for (let i = 0; i < REPEATS; i++) {
    const r = await timed(f);
    if (!best || r.t.s < best.t.s) best = r;
  }
  return best!;
}

const fmt = (t: Timing) => `${t.s.toFixed(2)} s (CPU ${t.cpu.toFixed(2)} s)`;
const qps = (t: Timing) => Math.round(QUERIES / t.s).toLocaleString("en");

function recallAt(k: number, exact: Search, approx: Search): number {
  let hits = 0;
  for (let i = 0; i < QUERIES; i++) {
    const want = new Set(exact.neighbours.subarray(i * exact.k, i * exact.k + k));
    for (let r = 0; r < k; r++) if (want.has(approx.neighbours[i * approx.k + r])) hits++;
  }
  return hits / (QUERIES * k);
}

export const annBench: Bench = {
  name: "ann",
  title: "KNN approximate index (index=hnsw) against brute force, 100,000 and 1,000,000 x 384",
  async run(): Promise<string> {
    const log = (s: string) => process.stderr.write(`ann: ${new Date().toISOString().slice(11, 19)} ${s}\n`);
    const { backend } = await getTf();
    const pool = ["model-a", "model-b"];
    const lines: string[] = [];
    const notes: string[] = [];
    const dir = await mkdtemp(join(tmpdir(), "rk-bench-ann-"));
    try {
      const cases: [number, Data][] = [...SIZES.map((n): [number, Data] => [n, "clustered"]), [UNIFORM_ROWS, "uniform"]];
      for (const [n, data] of cases) {
        const rng = makeRng(data === "clustered" ? `ann-${n}` : `ann-uniform-${n}`);
        const mix = mixture(rng);
        log(`${n} ${data} rows: drawing`);
        const train = data === "clustered" ? draw(n, mix, rng) : uniform(n, rng);
        const queries = data === "clustered" ? draw(QUERIES, mix, rng) : uniform(QUERIES, rng);
        const scores = Float32Array.from({ length: n * pool.length }, () => rng());
        const index = { rows: n, dimension: DIM, embeddings: train, scores };

        clearKnnMemo();
        const brute = new KnnRouter(pool, { k: RECALL_K });
        brute.setIndex(index);
        const bruteFresh = await timed(() => searchOf(brute)(Float32Array.from(queries), QUERIES, DEPTH));
        log(`${n} ${data} rows: brute force, fresh ${fmt(bruteFresh.t)}`);
        const bruteBuilt = await bestOf(() => searchOf(brute)(Float32Array.from(queries), QUERIES, DEPTH));
        log(`${n} ${data} rows: brute force, built ${fmt(bruteBuilt.t)}`);
        brute.dispose();
        clearKnnMemo();

        const hnsw = new KnnRouter(pool, { k: RECALL_K, index: "hnsw" });
        hnsw.setIndex(index);
        const build = await timed(() => hnsw.hnswGraph());
        log(`${n} ${data} rows: HNSW build ${fmt(build.t)}`);
        const file = join(dir, `hnsw-${data}-${n}.usearch`);
        build.value.save(file);
        const bytes = (await stat(file)).size;
        const approx = await bestOf(() => searchOf(hnsw)(Float32Array.from(queries), QUERIES, DEPTH));
        log(`${n} ${data} rows: HNSW search ${fmt(approx.t)}`);
        hnsw.dispose();
        clearKnnMemo();
        const sha = createHash("sha256").update(await readFile(file)).digest("hex");
        const others: string[] = [];
        for (const expansionSearch of EXPANSIONS) {
          const graph = await HnswIndex.load(file, n, DIM, { ...HNSW_DEFAULTS, expansionSearch }, sha);
          const { t, value: found } = await bestOf(async () => graph.search(queries, QUERIES, DEPTH));
          const s = t.s;
          const r = recallAt(RECALL_K, bruteBuilt.value, { ...found, k: DEPTH });
          log(`${n} ${data} rows: expansionSearch ${expansionSearch}: ${s.toFixed(2)} s, recall@10 ${r.toFixed(4)}`);
          others.push(`expansionSearch ${expansionSearch}: recall@10 ${r.toFixed(4)}, ${Math.round(QUERIES / s).toLocaleString("en")} queries/s (${(bruteBuilt.t.s / s).toFixed(1)}x)`);
        }
        await rm(file);

        const r10 = recallAt(RECALL_K, bruteBuilt.value, approx.value);
        const r40 = recallAt(DEPTH, bruteBuilt.value, approx.value);
        const speedup = bruteBuilt.t.s / approx.t.s;
        const perQueryGain = (bruteBuilt.t.s - approx.t.s) / QUERIES;
        const breakEven = perQueryGain > 0 ? Math.ceil(build.t.s / perQueryGain) : Infinity;
        log(`${n} ${data} rows: recall@10 ${r10.toFixed(4)}, recall@40 ${r40.toFixed(4)}, speed-up ${speedup.toFixed(1)}x`);
        const label = `${n.toLocaleString("en")}${data === "uniform" ? " uniform" : ""}`;
        lines.push(
          `| ${label} | ${fmt(build.t)} | ${(bytes / 2 ** 20).toFixed(0)} MB | ${r10.toFixed(4)} | ${r40.toFixed(4)} | ${fmt(bruteFresh.t)} | ${fmt(bruteBuilt.t)}, ${qps(bruteBuilt.t)}/s | ${fmt(approx.t)}, ${qps(approx.t)}/s | **${speedup.toFixed(1)}x** | ${Number.isFinite(breakEven) ? breakEven.toLocaleString("en") : "never"} |`,
        );
        notes.push(`${label} rows, the same graph searched with other expansions (reloaded from its file): ${others.join("; ")}.`);
        notes.push(`${label} rows: the graph's build pays for itself after ${Number.isFinite(breakEven) ? breakEven.toLocaleString("en") : "no number of"} queries against the built brute-force index.`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return [
      `Training rows: clustered synthetic unit vectors in ${DIM} dimensions (a mixture of ${CLUSTERS.toLocaleString("en")} Gaussian clusters in a ${LATENT}-dimensional latent space, mapped to ${DIM} by a fixed random matrix, plus noise 0.5 per coordinate, L2-normalised, seeded); ${QUERIES.toLocaleString("en")} queries drawn fresh from the same mixture. The "uniform" row: ${UNIFORM_ROWS.toLocaleString("en")} uniform random unit vectors and queries, the hardest case for any approximate index (no structure: a query's nearest rows are barely nearer than any other row), to show where recall falls. Every search is ${DEPTH} deep (the depth KNN always searches, so a k grid shares one search). Brute force is KNN's default engine (TensorFlow.js backend **${backend}**; a fresh router's first search also builds the engine's index; "built": later searches with new query arrays). Searches are timed best of ${REPEATS} by wall time (the fresh one and the build once). HNSW: usearch, inner product (= cosine on these unit vectors), float32, connectivity ${HNSW_DEFAULTS.connectivity}, expansionAdd ${HNSW_DEFAULTS.expansionAdd}, expansionSearch ${HNSW_DEFAULTS.expansionSearch} (the router's defaults), built and searched on one thread (reproducible). Recall@k: the share of each query's exact k nearest rows among HNSW's k, averaged over the queries. Speed-up: built brute-force search time over HNSW search time.`,
      "",
      "| training rows | HNSW build | index file | recall@10 | recall@40 | brute force, fresh | brute force, built (queries/s) | HNSW search (queries/s) | speed-up | break-even queries |",
      "|---|---|---|---|---|---|---|---|---|---|",
      ...lines,
      "",
      ...notes.map((s) => `- ${s}`),
    ].join("\n");
  },
};
