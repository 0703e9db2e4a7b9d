import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MfRouter, mfFactory } from "../../src/routers/mf.js";
import { loadRouter, saveRouter } from "../../src/routers/artifact.js";
import { batchOfTable, maskedMse, meanScoresOf, poolScores } from "../../src/routers/common.js";
import { getRouterFactory, routerTypes } from "../../src/routers/registry.js";
import { trainRouter, validationFigures } from "../../src/routers/train.js";
import { parseExperiment } from "../../src/experiments/config.js";
import type { PredictiveRouter, TrainingSet } from "../../src/routers/router.js";
import { DEFAULT_PREPARATION } from "../../src/embed/embedder.js";
import { InputError } from "../../src/util/errors.js";
import { makeRng, normal } from "../../src/util/rng.js";
import { tableFrom } from "../helpers/tables.js";
import { embeddingsOf } from "./synthetic.js";

/**
 * A hidden low-rank world: each prompt's embedding x (D = 24) carries a rank-2 latent u = A x,
 * each model has a vector w_m in that latent space and an offset c_m, and its quality on the
 * prompt is sigmoid(w_m . u + c_m) (given as a fractional score, the way partial credit is).
 * The world (A, w, c) is fixed; sets differ only in their prompts. A per-model mean cannot see
 * that a model is good on some prompts and bad on others; mf can.
 */
const MODELS = ["m0", "m1", "m2", "m3", "m4"];
const M = MODELS.length;
const D = 24;
const RANK = 2;
const WORLD = (() => {
  const rng = makeRng("mf-world");
  const A = Array.from({ length: RANK * D }, () => normal(rng) * 1.5);
  const w = Array.from({ length: M * RANK }, () => normal(rng));
  const c = Array.from({ length: M }, () => normal(rng) * 0.5);
  return { A, w, c };
})();

function lowRankSet(n: number, seed: number, prefix: string): TrainingSet {
  const rng = makeRng(seed);
  const rows: number[][] = [];
  const specs = [];
  for (let i = 0; i < n; i++) {
    const x = Array.from({ length: D }, () => normal(rng));
    // embeddingsOf L2-normalises: the truth is computed on the vector as the router will see it.
    const norm = Math.hypot(...x);
    const u = Array.from({ length: RANK }, (_, r) => x.reduce((s, v, j) => s + (v / norm) * WORLD.A[r * D + j], 0));
    const scores = MODELS.map((_, m) => 1 / (1 + Math.exp(-(WORLD.c[m] + u.reduce((s, v, r) => s + v * WORLD.w[m * RANK + r], 0)))));
    rows.push(x);
    specs.push({ id: `${prefix}${i}`, scores, costs: MODELS.map((_, m) => 1e-4 * (m + 1)) });
  }
  return { table: tableFrom(MODELS, specs), embeddings: embeddingsOf(rows) };
}

const train = lowRankSet(600, 1, "tr");
const val = lowRankSet(150, 2, "va");
const test = lowRankSet(300, 3, "te");
const testBatch = batchOfTable(test.table, test.embeddings, MODELS, false);
const FAST = { dim: 8, epochs: 60, learningRate: 0.01, batchSize: 32 };

/** MSE on the test set of a per-model mean fitted on `set` (the baseline mf must beat). */
function meanBaselineMse(set: TrainingSet): number {
  const mean = meanScoresOf(set.table, MODELS);
  const n = test.table.ids.length;
  const pred = new Float64Array(n * M);
  for (let i = 0; i < n; i++) pred.set(mean, i * M);
  return maskedMse(pred, poolScores(test.table, MODELS));
}

async function fitted(params: Record<string, unknown>, set: TrainingSet = train, validation: TrainingSet | undefined = val): Promise<MfRouter> {
  const r = new MfRouter(MODELS, params);
  await r.fit(set, validation);
  return r;
}

function bytes(a: Float64Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

let root = "";
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "routekit-mf-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("mf router on a hidden low-rank table", () => {
  it("predicts held-out quality far better than each model's mean score", async () => {
    const r = await fitted({ ...FAST, seed: 1 });
    const mse = maskedMse(await r.predictQuality(testBatch), poolScores(test.table, MODELS));
    const baseline = meanBaselineMse(train);
    expect(baseline).toBeGreaterThan(0.02);
    // Measured: 0.00001 against 0.069.
    expect(mse).toBeLessThan(0.1 * baseline);
  });

  it("learns each model's mean through its bias: predictions average to the model's mean score", async () => {
    const r = await fitted({ ...FAST, seed: 1 });
    const q = await r.predictQuality(testBatch);
    const n = test.table.ids.length;
    const mean = meanScoresOf(test.table, MODELS);
    for (let m = 0; m < M; m++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += q[i * M + m];
      expect(s / n).toBeCloseTo(mean[m], 1);
    }
  });

  it("the same seed gives bitwise identical weights and predictions; another seed different ones", async () => {
    const a = await fitted({ ...FAST, epochs: 10, seed: 7 });
    const b = await fitted({ ...FAST, epochs: 10, seed: 7 });
    const c = await fitted({ ...FAST, epochs: 10, seed: 8 });
    expect(bytes(b.weights!.projection).equals(bytes(a.weights!.projection))).toBe(true);
    expect(bytes(b.weights!.modelEmbeddings).equals(bytes(a.weights!.modelEmbeddings))).toBe(true);
    expect(bytes(b.weights!.biases).equals(bytes(a.weights!.biases))).toBe(true);
    expect(bytes(await b.predictQuality(testBatch)).equals(bytes(await a.predictQuality(testBatch)))).toBe(true);
    expect(bytes(c.weights!.projection).equals(bytes(a.weights!.projection))).toBe(false);
  });

  it("stops early on the validation MSE and keeps the best epoch's weights (the figure trainRouter recomputes)", async () => {
    const r = new MfRouter(MODELS, { ...FAST, epochs: 500, patience: 3, learningRate: 0.05, l2: 0, seed: 2 });
    const report = await r.fit(train, val);
    expect(r.trainedEpochs).toBeLessThan(500);
    expect(r.bestEpoch).toBe(r.trainedEpochs - 3);
    const figures = await validationFigures(r, val);
    expect(figures.mse).toBe(report.validation.mse);
  });

  it("without validation rows trains every epoch and reports no validation figure", async () => {
    const r = await fitted({ ...FAST, epochs: 4, seed: 1 }, train, undefined);
    expect(r.trainedEpochs).toBe(4);
    expect(r.bestEpoch).toBe(4);
  });

  it("skips missing scores: a model's missing cells are left out, rows with no score at all change nothing", async () => {
    // 30% of cells missing at random: still learnt, nothing NaN.
    const rng = makeRng("holes");
    const scores = Float64Array.from(train.table.scores, (s) => (rng() < 0.3 ? NaN : s));
    // expectedCostsOf needs complete rows: keep the first 50 whole.
    for (let i = 0; i < 50 * M; i++) scores[i] = train.table.scores[i];
    const holed = { table: { ...train.table, scores }, embeddings: train.embeddings };
    const r = await fitted({ ...FAST, seed: 1 }, holed);
    const q = await r.predictQuality(testBatch);
    expect(q.every((v) => Number.isFinite(v))).toBe(true);
    expect(maskedMse(q, poolScores(test.table, MODELS))).toBeLessThan(0.35 * meanBaselineMse(train));

    // Rows with no score at all, appended: the fit is bitwise the fit without them.
    const extra = lowRankSet(40, 9, "blank");
    const blank = { ...extra.table, scores: new Float64Array(40 * M).fill(NaN) };
    const t = train.table;
    const padded: TrainingSet = {
      table: {
        ...t,
        ids: [...t.ids, ...blank.ids],
        texts: [...t.texts, ...blank.texts],
        datasets: [...t.datasets, ...blank.datasets],
        evals: [...t.evals, ...blank.evals],
        scores: Float64Array.from([...t.scores, ...blank.scores]),
        costs: Float64Array.from([...t.costs, ...blank.costs]),
      },
      embeddings: { ...train.embeddings!, rows: train.embeddings!.rows + 40, data: Float32Array.from([...train.embeddings!.data, ...extra.embeddings!.data]) },
    };
    const plain = await fitted({ ...FAST, epochs: 5, seed: 4 }, train, undefined);
    const withBlank = await fitted({ ...FAST, epochs: 5, seed: 4 }, padded, undefined);
    expect(bytes(withBlank.weights!.projection).equals(bytes(plain.weights!.projection))).toBe(true);
    expect(bytes(await withBlank.predictQuality(testBatch)).equals(bytes(await plain.predictQuality(testBatch)))).toBe(true);
  });

  it("refuses scores outside [0, 1] and a training set without any score", async () => {
    const bad = { table: { ...train.table, scores: Float64Array.from(train.table.scores, (s, i) => (i === 7 ? 3 : s)) }, embeddings: train.embeddings };
    await expect(fitted({ ...FAST, seed: 1 }, bad)).rejects.toThrow(/mf predicts scores in \[0, 1\].*"tr1".*"m2"/);
    const none = { table: { ...train.table, scores: new Float64Array(train.table.scores.length).fill(NaN) }, embeddings: train.embeddings };
    await expect(fitted({ ...FAST, seed: 1 }, none)).rejects.toThrow(InputError);
  });

  it("refuses prompts embedded in another dimension", async () => {
    const r = await fitted({ ...FAST, epochs: 1, seed: 1 }, train, undefined);
    const other = { ...testBatch, embeddings: { ...testBatch.embeddings!, dimension: 12, data: testBatch.embeddings!.data.subarray(0, test.table.ids.length * 12) } };
    await expect(r.predictQuality(other)).rejects.toThrow(/mf: prompts are embedded in 12 dimensions, the router was trained on 24/);
  });
});

describe("mf parameters", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ dim: 0 }, "dim"],
    [{ dim: 2.5 }, "dim"],
    [{ epochs: -1 }, "epochs"],
    [{ patience: 0 }, "patience"],
    [{ batchSize: "big" }, "batchSize"],
    [{ learningRate: 0 }, "learningRate"],
    [{ learningRate: -0.1 }, "learningRate"],
    [{ l2: -1 }, "l2"],
    [{ seed: 1.5 }, "seed"],
    [{ lr: 0.1 }, "lr"],
  ];
  for (const [params, name] of cases) {
    it(`${JSON.stringify(params)} is an InputError naming ${name}`, () => {
      let caught: unknown;
      try {
        new MfRouter(MODELS, params);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(InputError);
      expect((caught as InputError).location.field).toBe(name);
      expect((caught as InputError).message).toContain(name);
    });
  }

  it("defaults are recorded in full, so a saved router says how it was trained", () => {
    expect(new MfRouter(MODELS, {}).params).toEqual({ dim: 64, epochs: 100, patience: 5, batchSize: 128, learningRate: 3e-3, l2: 1e-4, seed: 0 });
  });
});

describe("mf save -> load", () => {
  const meta = { embedder: { id: "test", spec: "hash", preparation: DEFAULT_PREPARATION }, split: { kind: "test" }, seed: 5, fittedOn: { train: ["t1"], validation: ["v1"] }, operatingPoints: null };

  it("reloads with identical predictions, weight files checksummed in the manifest", async () => {
    const { router, report } = await trainRouter(train, val, { spec: "mf:dim=8,epochs=20,learningRate=0.01,batchSize=32", seed: 3 });
    const dir = join(root, "saved");
    await saveRouter(router, dir, { ...meta, fit: report });
    const { router: loaded, manifest } = await loadRouter(dir);
    expect(manifest.type).toBe("mf");
    expect(manifest.params).toEqual(router.params);
    expect(Object.keys(manifest.files).sort()).toEqual(["biases.f64", "fitted-prompts.json", "mf.json", "model-embeddings.f64", "projection.f64"]);
    const a = await (router as PredictiveRouter).predictQuality(testBatch);
    const b = await (loaded as PredictiveRouter).predictQuality(testBatch);
    expect(bytes(b).equals(bytes(a))).toBe(true);
    expect((loaded as MfRouter).bestEpoch).toBe((router as MfRouter).bestEpoch);
  });

  it("a fresh process loading the directory predicts bitwise the same", async () => {
    const { router } = await trainRouter(train, val, { spec: "mf:dim=8,epochs=20,learningRate=0.01,batchSize=32", seed: 3 });
    const dir = join(root, "fresh");
    await saveRouter(router, dir, meta);
    const emb = testBatch.embeddings!;
    await writeFile(join(root, "queries.f32"), new Uint8Array(emb.data.buffer, emb.data.byteOffset, emb.data.byteLength));
    // The built module (test/global-setup.ts compiles dist/ before any test file runs).
    const artifact = fileURLToPath(new URL("../../dist/src/routers/artifact.js", import.meta.url));
    const script = `
      import { loadRouter } from ${JSON.stringify(artifact)};
      import { readFile, writeFile } from "node:fs/promises";
      const { router } = await loadRouter(${JSON.stringify(dir)});
      const buf = await readFile(${JSON.stringify(join(root, "queries.f32"))});
      const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
      const rows = data.length / ${emb.dimension};
      const ids = Array.from({ length: rows }, (_, i) => "q" + i);
      const q = await router.predictQuality({ ids, texts: ids, embeddings: { rows, dimension: ${emb.dimension}, data, embedderId: "test", preparation: {} } });
      await writeFile(${JSON.stringify(join(root, "fresh.f64"))}, new Uint8Array(q.buffer));
    `;
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "inherit"] });
      child.on("error", reject);
      child.on("close", (c) => resolve(c ?? -1));
    });
    expect(code).toBe(0);
    const fresh = await readFile(join(root, "fresh.f64"));
    expect(fresh.equals(bytes(await (router as PredictiveRouter).predictQuality(testBatch)))).toBe(true);
  });

  it("refuses a weight file of the wrong size", async () => {
    const r = await fitted({ ...FAST, epochs: 2, seed: 1 }, train, undefined);
    const dir = join(root, "short");
    await rm(dir, { recursive: true, force: true });
    const { mkdir } = await import("node:fs/promises");
    await mkdir(dir, { recursive: true });
    await mfFactory.save!(r, dir);
    await writeFile(join(dir, "biases.f64"), new Uint8Array(8));
    const manifest = { format: "routekit.router", formatVersion: 1, type: "mf", params: r.params, pool: MODELS.map((model) => ({ model, expectedCost: 0 })), embedder: null, split: {}, seed: 0, files: {}, createdBy: "test" } as const;
    await expect(mfFactory.load!(dir, manifest)).rejects.toThrow(/biases\.f64: 8 bytes, expected 40/);
  });
});

describe("mf through the registry, trainRouter and experiment configs", () => {
  it("is registered as a seeded predictive router that reads embeddings", () => {
    expect(routerTypes()).toContain("mf");
    const f = getRouterFactory("mf");
    expect([f.kind, f.needsEmbeddings, f.needsOutcomes, f.seeded]).toEqual(["predictive", true, false, true]);
  });

  it("trainRouter searches a spec's grid on validation rows and takes its seed", async () => {
    const { router, report } = await trainRouter(train, val, { spec: { type: "mf", params: { epochs: 30, learningRate: 0.01, batchSize: 32, l2: 1e-4 }, grid: { dim: [2, 8] } }, seed: 11 });
    expect(router.type).toBe("mf");
    expect([2, 8]).toContain(report.chosen.dim);
    expect(report.chosen.seed).toBe(11);
    expect(report.validation["mse[dim=2]"]).toBeGreaterThan(0);
    expect(report.validation["mse[dim=8]"]).toBeGreaterThan(0);
    expect(report.validation.mse).toBe(Math.min(report.validation["mse[dim=2]"], report.validation["mse[dim=8]"]));
  });

  it("trainRouter searches the default grid when the spec leaves dim and l2 open", async () => {
    const { report } = await trainRouter(train, val, { spec: "mf:epochs=3,batchSize=64", seed: 0 });
    expect(Object.keys(report.validation).filter((k) => k.startsWith("mse[")).sort()).toEqual([
      "mse[dim=16,l2=0.0001]",
      "mse[dim=16,l2=0.001]",
      "mse[dim=64,l2=0.0001]",
      "mse[dim=64,l2=0.001]",
    ]);
  });

  it("an experiment config's mf entry validates, and a bad mf parameter names its field", () => {
    const yaml = (entry: string) => `name: x\ndata:\n  table: t.arrow\nrouters:\n${entry}`;
    const cfg = parseExperiment(yaml("  - type: mf\n    params:\n      epochs: 50\n    grid:\n      dim: [16, 64]\n"), "e.yaml");
    expect(cfg.routers[0]).toEqual({ type: "mf", params: { epochs: 50 }, grid: { dim: [16, 64] } });
    expect(() => parseExperiment(yaml("  - type: mf\n    params:\n      dim: 0\n"), "e.yaml")).toThrow(/e\.yaml, row 7, field "routers\[0\]\.params\.dim": .*dim must be a positive integer/);
    expect(() => parseExperiment(yaml("  - type: mf\n    grid:\n      l2: [0.001, -1]\n"), "e.yaml")).toThrow(/field "routers\[0\]\.grid\.l2\[1\]"/);
  });
});
