/**
 * KNN's approximate index (index=hnsw, knn-ann.ts): recall against brute force, parameter checks,
 * the default staying brute force, a reproducible build, one graph per k grid, and the graph
 * saved with the router: checksummed, refused when damaged, and routing the same when loaded in a
 * fresh process.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { DEFAULT_PREPARATION } from "../../src/embed/embedder.js";
import { loadRouter, saveRouter } from "../../src/routers/artifact.js";
import { batchOfTable } from "../../src/routers/common.js";
import { HNSW_DEFAULTS, HnswIndex } from "../../src/routers/knn-ann.js";
import { AUTO_HNSW_ROWS, clearKnnMemo, HNSW_FILE, KnnRouter } from "../../src/routers/knn.js";
import type { PredictiveRouter } from "../../src/routers/router.js";
import { trainRouter } from "../../src/routers/train.js";
import { InputError } from "../../src/util/errors.js";
import { makeRng, normal } from "../../src/util/rng.js";
import { MODELS, topicSet } from "./synthetic.js";

type Search = { sims: Float32Array; neighbours: Int32Array; k: number };
const searchOf = (r: KnnRouter) => (r as unknown as { search(q: Float32Array, nq: number, k: number): Promise<Search> }).search.bind(r);

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
let root = "";
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "routekit-knn-ann-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
afterEach(() => {
  clearKnnMemo();
  vi.restoreAllMocks();
});

/** Clustered unit vectors: 40 centres in 8 latent dimensions, mapped to d, plus noise. */
function clustered(n: number, d: number, seed: number): Float32Array {
  const rng = makeRng(seed);
  const latent = 8;
  const map = Float64Array.from({ length: d * latent }, () => normal(rng));
  const centres = Float64Array.from({ length: 40 * latent }, () => normal(rng));
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rng() * 40);
    const z = Array.from({ length: latent }, (_, u) => centres[c * latent + u] + 0.5 * normal(rng));
    let s = 0;
    for (let t = 0; t < d; t++) {
      let v = 0.3 * normal(rng);
      for (let u = 0; u < latent; u++) v += map[t * latent + u] * z[u];
      out[i * d + t] = v;
      s += v * v;
    }
    const norm = Math.sqrt(s);
    for (let t = 0; t < d; t++) out[i * d + t] /= norm;
  }
  return out;
}

describe("knn index=hnsw", () => {
  const rows = 4000;
  const d = 48;
  const nq = 300;
  const all = clustered(rows + nq, d, 7);
  const train = all.slice(0, rows * d);
  const queries = all.slice(rows * d);
  const scores = Float32Array.from({ length: rows * 2 }, (_, i) => (i * 7919) % 11);

  it("recall@10 against brute force is at least 0.95 (and the similarities are the exact dot products)", async () => {
    const brute = new KnnRouter(["a", "b"], { k: 10, engine: "js" });
    brute.setIndex({ rows, dimension: d, embeddings: train, scores });
    const hnsw = new KnnRouter(["a", "b"], { k: 10, index: "hnsw" });
    hnsw.setIndex({ rows, dimension: d, embeddings: train, scores });
    const exact = await searchOf(brute)(queries, nq, 10);
    const approx = await searchOf(hnsw)(queries, nq, 10);
    expect(approx.k).toBe(40); // searched SEARCH_K deep, so k = 5, 10 and 40 share one search
    let hits = 0;
    for (let i = 0; i < nq; i++) {
      const want = new Set(exact.neighbours.subarray(i * exact.k, i * exact.k + 10));
      for (let r = 0; r < 10; r++) if (want.has(approx.neighbours[i * approx.k + r])) hits++;
    }
    const recall = hits / (nq * 10);
    expect(recall).toBeGreaterThanOrEqual(0.95);
    // Each returned similarity is that row's dot product with the query, and they come sorted.
    for (let i = 0; i < nq; i += 37) {
      for (let r = 0; r < 40; r++) {
        const j = approx.neighbours[i * 40 + r];
        let dot = 0;
        for (let t = 0; t < d; t++) dot += queries[i * d + t] * train[j * d + t];
        expect(approx.sims[i * 40 + r]).toBeCloseTo(dot, 5);
        if (r > 0) expect(approx.sims[i * 40 + r]).toBeLessThanOrEqual(approx.sims[i * 40 + r - 1]);
      }
    }
  });

  it("builds the same graph twice (one thread), byte for byte", async () => {
    const a = await HnswIndex.build(train, rows, d, HNSW_DEFAULTS);
    const b = await HnswIndex.build(train, rows, d, HNSW_DEFAULTS);
    a.save(join(root, "a.usearch"));
    b.save(join(root, "b.usearch"));
    const [x, y] = [await readFile(join(root, "a.usearch")), await readFile(join(root, "b.usearch"))];
    expect(x.length).toBeGreaterThan(rows * d * 4);
    expect(x.equals(y)).toBe(true);
  });

  it("remembers a search per graph setting: routers of other expansions on the same arrays search their own graph", async () => {
    const search = vi.spyOn(HnswIndex.prototype, "search");
    const make = (expansionSearch: number) => {
      const r = new KnnRouter(["a", "b"], { k: 10, index: "hnsw", expansionSearch });
      r.setIndex({ rows, dimension: d, embeddings: train, scores });
      return r;
    };
    const [narrow, wide] = [make(40), make(200)];
    await searchOf(narrow)(queries, nq, 10);
    await searchOf(wide)(queries, nq, 10);
    expect(search).toHaveBeenCalledTimes(2);
    await searchOf(narrow)(queries, nq, 5); // k = 5 shares the 40-deep search already made
    expect(search).toHaveBeenCalledTimes(2);
  });

  it("a k grid on one training array builds one graph", async () => {
    const build = vi.spyOn(HnswIndex, "build");
    const set = topicSet(60, 6, 21, "g");
    const val = topicSet(20, 6, 22, "gv");
    const { router, report } = await trainRouter(set, val, { spec: "knn:k=3|5|9,index=hnsw", seed: 1 });
    expect(build).toHaveBeenCalledTimes(1);
    expect(report.chosen.index).toBe("hnsw");
    expect((router as KnnRouter).searchKind).toBe("hnsw");
  });
});

describe("knn index parameter", () => {
  it("rejects bad values and HNSW settings without an HNSW index, naming the field", () => {
    const make = (params: Record<string, unknown>) => () => new KnnRouter(["a"], params);
    expect(make({ index: "faiss" })).toThrow(/knn index must be brute, hnsw or auto, got "faiss"/);
    expect(make({ connectivity: 32 })).toThrow(/knn connectivity applies to index=hnsw or auto, not to brute force/);
    expect(make({ index: "brute", expansionSearch: 64 })).toThrow(/knn expansionSearch applies to index=hnsw or auto/);
    expect(make({ index: "hnsw", connectivity: 1 })).toThrow(/connectivity must be at least 2, got 1/);
    expect(make({ index: "hnsw", expansionAdd: 0 })).toThrow(/expansionAdd must be a positive integer, got 0/);
    expect(make({ index: "auto", expansionSearch: 12.5 })).toThrow(/expansionSearch must be a positive integer, got 12.5/);
    expect(make({ index: "hnsw", ef: 10 })).toThrow(/router knn has no parameter "ef"/);
    const err = (() => {
      try {
        make({ index: "hnsw", connectivity: 0 })();
      } catch (e) {
        return e as InputError;
      }
    })();
    expect(err).toBeInstanceOf(InputError);
    expect(err!.location.field).toBe("connectivity");
  });

  it("records its HNSW settings in params, and leaves a brute-force router's params as they were", () => {
    expect(new KnnRouter(["a"], {}).params).toEqual({ k: 10, weighting: "uniform", engine: "tf" });
    expect(new KnnRouter(["a"], { index: "brute" }).params).toEqual({ k: 10, weighting: "uniform", engine: "tf" });
    expect(new KnnRouter(["a"], { index: "hnsw", connectivity: 24 }).params).toEqual({ k: 10, weighting: "uniform", engine: "tf", index: "hnsw", connectivity: 24, expansionAdd: 64, expansionSearch: 128 });
  });

  it("auto searches by brute force below AUTO_HNSW_ROWS training rows and by HNSW from there", () => {
    const r = new KnnRouter(["a"], { index: "auto" });
    r.setIndex({ rows: AUTO_HNSW_ROWS - 1, dimension: 1, embeddings: new Float32Array(AUTO_HNSW_ROWS - 1), scores: new Float32Array(AUTO_HNSW_ROWS - 1) });
    expect(r.searchKind).toBe("brute");
    r.setIndex({ rows: AUTO_HNSW_ROWS, dimension: 1, embeddings: new Float32Array(AUTO_HNSW_ROWS), scores: new Float32Array(AUTO_HNSW_ROWS) });
    expect(r.searchKind).toBe("hnsw");
    expect(new KnnRouter(["a"], {}).searchKind).toBe("brute");
  });

  it("the default (and auto on a small set) predicts bitwise as brute force did, builds no graph and saves no index file", async () => {
    const build = vi.spyOn(HnswIndex, "build");
    const set = topicSet(40, 6, 31, "d");
    const test = topicSet(15, 6, 33, "dt");
    const batch = batchOfTable(test.table, test.embeddings, MODELS, false);
    const predictions: Float64Array[] = [];
    for (const spec of ["knn:k=5", "knn:k=5,index=brute", "knn:k=5,index=auto"]) {
      const { router } = await trainRouter(set, null, { spec, seed: 1 });
      predictions.push(await (router as PredictiveRouter).predictQuality(batch));
      clearKnnMemo();
      if (spec === "knn:k=5") {
        const dir = join(root, "default");
        await saveRouter(router, dir, meta);
        const { manifest } = await loadRouter(dir);
        expect(Object.keys(manifest.files).sort()).toEqual(["embeddings.f32", "fitted-prompts.json", "knn.json", "scores.f32"]);
        expect(JSON.parse(await readFile(join(dir, "knn.json"), "utf8"))).toEqual({ rows: 80, dimension: 6 });
      }
    }
    // The reference: the brute-force search computed directly (js engine: the plain definition).
    const ref = new KnnRouter(MODELS, { k: 5, engine: "js" });
    const { router: fitted } = await trainRouter(set, null, { spec: "knn:k=5,engine=js", seed: 1 });
    ref.setIndex((fitted as KnnRouter).index!);
    const want = await ref.predictQuality(batch);
    for (const p of predictions) {
      expect(Array.from(p)).toEqual(Array.from(predictions[0]));
      expect(Array.from(p).map((x, i) => Math.abs(x - want[i]) < 1e-12)).not.toContain(false);
    }
    expect(build).not.toHaveBeenCalled();
  });
});

const meta = { embedder: { id: "test", spec: "hash", preparation: DEFAULT_PREPARATION }, split: { kind: "test" }, seed: 5, fittedOn: { train: ["t1"], validation: ["v1"] }, operatingPoints: null };

describe("a saved knn index=hnsw router", () => {
  const set = topicSet(200, 12, 41, "s");
  const test = topicSet(40, 12, 43, "st");
  const batch = batchOfTable(test.table, test.embeddings, MODELS, false);
  let dir = "";
  let before: Float64Array;

  beforeAll(async () => {
    const { router } = await trainRouter(set, null, { spec: "knn:k=7,weighting=distance,index=hnsw,connectivity=8", seed: 3 });
    before = await (router as PredictiveRouter).predictQuality(batch);
    clearKnnMemo();
    dir = join(root, "hnsw-router");
    await saveRouter(router, dir, meta);
  });

  it("lists the graph in router.json (checksummed) and knn.json, and loads to the same predictions", async () => {
    const { router, manifest } = await loadRouter(dir);
    expect(manifest.files[HNSW_FILE]).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(await readFile(join(dir, "knn.json"), "utf8"))).toEqual({ rows: 400, dimension: 12, index: { kind: "hnsw", file: HNSW_FILE } });
    expect(manifest.params).toMatchObject({ index: "hnsw", connectivity: 8 });
    const build = vi.spyOn(HnswIndex, "build");
    const after = await (router as PredictiveRouter).predictQuality(batch);
    expect(build).not.toHaveBeenCalled(); // the saved graph is searched, not a rebuilt one
    expect(Array.from(after)).toEqual(Array.from(before));
  });

  it("routes the same when loaded in a fresh process", async () => {
    const queries = join(root, "queries.json");
    await writeFile(queries, JSON.stringify({ ids: batch.ids, data: Array.from(test.embeddings!.data), dimension: 12 }));
    const script = `
      import { readFile } from "node:fs/promises";
      import { loadRouter } from ${JSON.stringify(join(ROOT, "src/routers/artifact.ts"))};
      import { DEFAULT_PREPARATION } from ${JSON.stringify(join(ROOT, "src/embed/embedder.ts"))};
      const q = JSON.parse(await readFile(${JSON.stringify(queries)}, "utf8"));
      const { router } = await loadRouter(${JSON.stringify(dir)});
      const embeddings = { rows: q.ids.length, dimension: q.dimension, data: Float32Array.from(q.data), embedderId: "test", preparation: DEFAULT_PREPARATION };
      const p = await router.predictQuality({ ids: q.ids, texts: q.ids, embeddings });
      process.stdout.write(JSON.stringify(Array.from(p)));
    `;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (b) => (stdout += b));
      child.stderr.on("data", (b) => (stderr += b));
      child.on("error", reject);
      child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`child exited ${code}: ${stderr}`))));
    });
    expect(JSON.parse(out)).toEqual(Array.from(before));
  });

  async function copy(name: string, change: (d: string) => Promise<void>): Promise<string> {
    const d = join(root, name);
    await rm(d, { recursive: true, force: true });
    const { cp } = await import("node:fs/promises");
    await cp(dir, d, { recursive: true });
    await change(d);
    return d;
  }

  it("refuses a changed or truncated graph file in one line naming it", async () => {
    const flipped = await copy("flipped", async (x) => {
      const p = join(x, HNSW_FILE);
      const buf = await readFile(p);
      buf[buf.length - 5] ^= 0xff;
      await writeFile(p, buf);
    });
    await expect(loadRouter(flipped)).rejects.toThrow(new RegExp(`${HNSW_FILE.replace(".", "\\.")}: checksum mismatch`));
    const cut = await copy("cut", (x) => truncate(join(x, HNSW_FILE), 1000));
    const err = await loadRouter(cut).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(new RegExp(`${join(cut, HNSW_FILE).replace(/[.\\/]/g, "\\$&")}: checksum mismatch`));
    expect((err as Error).message.split("\n")).toHaveLength(1);
  });

  it("HnswIndex.load checks the file against the recorded digest before usearch reads it (a damaged file would crash usearch)", async () => {
    const cut = await copy("cut-direct", (x) => truncate(join(x, HNSW_FILE), 1000));
    const { manifest } = await loadRouter(dir);
    const path = join(cut, HNSW_FILE);
    await expect(HnswIndex.load(path, 400, 12, HNSW_DEFAULTS, manifest.files[HNSW_FILE])).rejects.toThrow(/checksum mismatch: the HNSW index was changed or truncated/);
    await expect(HnswIndex.load(join(cut, "absent.usearch"), 400, 12, HNSW_DEFAULTS, manifest.files[HNSW_FILE])).rejects.toThrow(/absent\.usearch: cannot read the HNSW index/);
  });

  it("refuses a knn.json whose index does not match the router's index parameter", async () => {
    // knn.json edited to say brute force, router.json re-signed as if by a careless tool: the
    // checksum catches the edit first; the factory's own check is exercised directly.
    const { knnFactory } = await import("../../src/routers/knn.js");
    const { manifest } = await loadRouter(dir);
    const edited = await copy("no-index", (x) => writeFile(join(x, "knn.json"), JSON.stringify({ rows: 400, dimension: 12 })));
    await expect(knnFactory.load!(edited, manifest)).rejects.toThrow(/knn\.json: names no HNSW index, but the router \(index=hnsw, 400 rows\) needs one/);
  });
});
