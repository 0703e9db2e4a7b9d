import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IrtRouter, expectedSigmoid, fitItemResponse, irtFactory } from "../../src/routers/irt.js";
import { loadRouter, saveRouter } from "../../src/routers/artifact.js";
import { batchOfTable, meanScoresOf } from "../../src/routers/common.js";
import { routePrompts } from "../../src/routers/routing.js";
import { getRouterFactory } from "../../src/routers/registry.js";
import { SHARED_SUBSET_DIR } from "../helpers/shared.js";
import { trainRouter } from "../../src/routers/train.js";
import type { PredictiveRouter, TrainingSet } from "../../src/routers/router.js";
import { DEFAULT_PREPARATION } from "../../src/embed/embedder.js";
import { makeRng, normal } from "../../src/util/rng.js";
import { tableFrom } from "../helpers/tables.js";
import { embeddingsOf } from "./synthetic.js";

/**
 * Difficulty tables whose right routing is known: "cheap" answers easy prompts (90%) but rarely
 * hard ones (10%); "strong" answers almost everything (97% / 90%) at 100x the price; "coin" is
 * right half the time whatever the prompt; two dear mid-range models also find the hard prompts
 * hard (that agreement across models is what identifies difficulty). Hard prompts lie along
 * -axis 0 of the embedding, easy ones along +axis 0 (with `visible=false`, nowhere).
 */
const MODELS = ["cheap", "coin", "strong", "mid-a", "mid-b"];
const M = MODELS.length;
const COSTS = [1e-5, 5e-4, 1e-3, 2e-3, 3e-3];
const P_RIGHT = { easy: [0.9, 0.5, 0.97, 0.95, 0.9], hard: [0.1, 0.5, 0.9, 0.3, 0.2] };

function difficultySet(n: number, seed: number, prefix: string, visible = true): TrainingSet & { hard: boolean[] } {
  const rng = makeRng(seed);
  const rows: number[][] = [];
  const hard: boolean[] = [];
  const specs = [];
  for (let i = 0; i < n; i++) {
    const isHard = rng() < 0.5;
    const v = Array.from({ length: 6 }, () => 0.3 * normal(rng));
    if (visible) v[0] += isHard ? -1 : 1;
    rows.push(v);
    hard.push(isHard);
    const p = isHard ? P_RIGHT.hard : P_RIGHT.easy;
    specs.push({ id: `${prefix}${i}`, scores: p.map((x) => (rng() < x ? 1 : 0)), costs: COSTS.map((c) => c * (0.9 + 0.2 * rng())) });
  }
  return { table: tableFrom(MODELS, specs), embeddings: embeddingsOf(rows), hard };
}

const train = difficultySet(400, 1, "tr");
const val = difficultySet(100, 2, "va");
const test = difficultySet(200, 3, "te");
const testBatch = batchOfTable(test.table, test.embeddings, MODELS, false);

async function fitted(params: Record<string, unknown>, set: TrainingSet = train): Promise<IrtRouter> {
  const r = new IrtRouter(MODELS, params);
  await r.fit(set);
  return r;
}

describe("irt router on a difficulty table", () => {
  it("sends easy prompts to the cheap model and hard ones to the strong model at a middle lambda", async () => {
    const r = await fitted({ alpha: 1 });
    // Willingness to pay between the easy gap (0.07) and the hard gap (0.8) of strong over cheap.
    const lambda = (COSTS[2] - COSTS[0]) / 0.45;
    const { models } = await routePrompts(r, testBatch, lambda);
    const easy = test.hard.map((h, i) => (h ? null : models[i])).filter((x) => x !== null);
    const hard = test.hard.map((h, i) => (h ? models[i] : null)).filter((x) => x !== null);
    expect(easy.filter((x) => x === "cheap").length / easy.length).toBeGreaterThan(0.9);
    expect(hard.filter((x) => x === "strong").length / hard.length).toBeGreaterThan(0.9);
  });

  it("routes everything to the cheapest model at lambda 0 and to the best predicted one at lambda Infinity", async () => {
    const r = await fitted({ alpha: 1 });
    expect(new Set((await routePrompts(r, testBatch, 0)).models)).toEqual(new Set(["cheap"]));
    expect(new Set((await routePrompts(r, testBatch, Infinity)).models)).toEqual(new Set(["strong"]));
  });

  it("predicts the per-difficulty success rates and reports how well the embedding explains the latent", async () => {
    const r = await fitted({ alpha: 1 });
    const report = await new IrtRouter(MODELS, { alpha: 1 }).fit(train);
    // Each training latent rests on only 3 noisy scores, so even a perfect predictor explains part of it.
    expect(report.validation.latentR2OutOfFold).toBeGreaterThan(0.5);
    const q = await r.predictQuality(testBatch);
    const mean = (hard: boolean, j: number) => {
      const v = test.hard.flatMap((h, i) => (h === hard ? [q[i * M + j]] : []));
      return v.reduce((a, b) => a + b, 0) / v.length;
    };
    // Ordered like the true rates; pulled toward the overall means by the latent's uncertainty
    // (each training latent rests on 3 scores), so only roughly equal to them.
    expect(mean(false, 0) - mean(true, 0)).toBeGreaterThan(0.5);
    expect(mean(true, 2) - mean(true, 0)).toBeGreaterThan(0.5);
    expect(Math.abs(mean(false, 1) - mean(true, 1))).toBeLessThan(0.1);
    for (let j = 0; j < M; j++) {
      expect(Math.abs(mean(false, j) - P_RIGHT.easy[j])).toBeLessThan(0.2);
      expect(Math.abs(mean(true, j) - P_RIGHT.hard[j])).toBeLessThan(0.2);
    }
  });

  it("falls back to each model's mean score when the embedding carries no difficulty signal", async () => {
    const blind = difficultySet(400, 4, "bl", false);
    const blindBatch = batchOfTable(difficultySet(200, 6, "bt", false).table, difficultySet(200, 6, "bt", false).embeddings, MODELS, false);
    const router = new IrtRouter(MODELS, { alpha: 100 });
    const report = await router.fit(blind);
    expect(report.validation.latentR2OutOfFold).toBeLessThan(0.05);
    const means = meanScoresOf(blind.table, MODELS);
    const q = await router.predictQuality(blindBatch);
    let dev = 0;
    for (let i = 0; i < q.length; i++) {
      expect(Math.abs(q[i] - means[i % M])).toBeLessThan(0.08);
      dev += Math.abs(q[i] - means[i % M]) / q.length;
    }
    expect(dev).toBeLessThan(0.025);
    // The plug-in prediction (no uncertainty) is sigmoid(b_m) instead, further from the means.
    const plug = await fitted({ alpha: 100, uncertainty: false }, blind);
    const qp = await plug.predictQuality(blindBatch);
    let devPlug = 0;
    for (let i = 0; i < qp.length; i++) devPlug += Math.abs(qp[i] - means[i % M]) / qp.length;
    expect(dev).toBeLessThan(devPlug);
  });

  it("is deterministic for a seed, and handles missing scores", async () => {
    const a = await (await fitted({ alpha: 10, seed: 3 })).predictQuality(testBatch);
    const b = await (await fitted({ alpha: 10, seed: 3 })).predictQuality(testBatch);
    expect(Array.from(b)).toEqual(Array.from(a));
    const scores = Float64Array.from(train.table.scores);
    for (let i = 0; i < scores.length; i += 7) scores[i] = NaN;
    const r = await fitted({ alpha: 10 }, { table: { ...train.table, scores }, embeddings: train.embeddings });
    const q = await r.predictQuality(testBatch);
    expect(q.every((x) => x > 0 && x < 1)).toBe(true);
  });

  it("a grid's fits on one training set share the alpha-free work and equal fits from scratch", async () => {
    // Fresh copies of the set (new objects): nothing memoised applies to them.
    const e = train.embeddings!;
    const copy = (): TrainingSet => ({ table: { ...train.table, scores: Float64Array.from(train.table.scores) }, embeddings: { ...e, data: Float32Array.from(e.data) } });
    const shared = copy();
    const grid = [];
    for (const params of [{ alpha: 1, seed: 3 }, { alpha: 100, seed: 3 }, { alpha: 100, seed: 4 }, { alpha: 100, seed: 4, folds: 3 }, { alpha: 100, seed: 4, iterations: 5 }]) {
      const viaShared = await (await fitted(params, shared)).predictQuality(testBatch);
      const fresh = await (await fitted(params, copy())).predictQuality(testBatch);
      expect(Array.from(viaShared)).toEqual(Array.from(fresh));
      grid.push(viaShared);
    }
    // The settings that enter the alpha-free part (seed, folds, iterations) do change the fit.
    for (let i = 1; i < grid.length; i++) expect(Array.from(grid[i])).not.toEqual(Array.from(grid[i - 1]));
    // Same table, other embeddings: not the memoised fit.
    const moved = { table: shared.table, embeddings: { ...e, data: e.data.map((v, i) => (i % 6 === 0 ? -v : v)) } };
    const a = await (await fitted({ alpha: 1, seed: 3 }, moved)).predictQuality(testBatch);
    const b = await (await fitted({ alpha: 1, seed: 3 }, { table: copy().table, embeddings: { ...moved.embeddings, data: Float32Array.from(moved.embeddings.data) } })).predictQuality(testBatch);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(grid[0]));
  });

  it("rejects bad parameters and prompts embedded differently", async () => {
    expect(() => new IrtRouter(MODELS, { k: 3 })).toThrow(/no parameter "k"/);
    expect(() => new IrtRouter(MODELS, { alpha: -1 })).toThrow(/alpha/);
    expect(() => new IrtRouter(MODELS, { folds: 1 })).toThrow(/folds/);
    expect(() => new IrtRouter(MODELS, { uncertainty: "yes" })).toThrow(/uncertainty/);
    const r = await fitted({ alpha: 1 });
    const other = embeddingsOf([[1, 0, 0]]);
    await expect(r.predictQuality({ ids: ["x"], texts: ["x"], embeddings: other })).rejects.toThrow(/3 dimensions/);
    await expect(new IrtRouter(MODELS, {}).predictQuality(testBatch)).rejects.toThrow(/before fit/);
  });
});

describe("irt building blocks", () => {
  it("expectedSigmoid is sigmoid at sd 0, symmetric, and pulled toward 1/2 by uncertainty", () => {
    expect(expectedSigmoid(0.7, 0)).toBeCloseTo(1 / (1 + Math.exp(-0.7)), 12);
    expect(expectedSigmoid(0, 2)).toBeCloseTo(0.5, 10);
    expect(expectedSigmoid(1.5, 1) + expectedSigmoid(-1.5, 1)).toBeCloseTo(1, 10);
    expect(expectedSigmoid(2, 1.5)).toBeLessThan(expectedSigmoid(2, 0));
    expect(expectedSigmoid(2, 1.5)).toBeGreaterThan(0.5);
  });

  it("marginal maximum likelihood recovers a two-parameter logistic model", () => {
    const a = [0.5, 0.8, 1, 1.2, 1.5, 2, 1, 0.7];
    const b = [-1.5, -1, -0.5, 0, 0.5, 1, 1.5, 0.2];
    const m = a.length;
    const n = 1500;
    const rng = makeRng(7);
    const theta: number[] = [];
    const scores = new Float64Array(n * m);
    for (let i = 0; i < n; i++) {
      const t = normal(rng);
      theta.push(t);
      for (let j = 0; j < m; j++) scores[i * m + j] = rng() < 1 / (1 + Math.exp(-(a[j] * t + b[j]))) ? 1 : 0;
    }
    const fit = fitItemResponse(scores, n, m, 30);
    for (let j = 0; j < m; j++) {
      expect(Math.abs(fit.discrimination[j] - a[j])).toBeLessThan(0.3);
      expect(Math.abs(fit.offset[j] - b[j])).toBeLessThan(0.3);
    }
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < n; i++) {
      sxy += fit.latent[i] * theta[i];
      sxx += fit.latent[i] ** 2;
      syy += theta[i] ** 2;
    }
    expect(sxy / Math.sqrt(sxx * syy)).toBeGreaterThan(0.7);
    expect(fit.posteriorVariance.every((v) => v > 0 && v < 1)).toBe(true);
  });

  it("a model that answers at random gets no discrimination", () => {
    const n = train.table.ids.length;
    const { discrimination } = fitItemResponse(train.table.scores, n, M, 30);
    expect(Math.abs(discrimination[1])).toBeLessThan(0.3);
    expect(discrimination[0]).toBeGreaterThan(1);
  });
});

describe("irt through the registry: grid search, save and load", () => {
  let root = "";
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "routekit-irt-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("is registered as a seeded predictive router with an alpha grid", () => {
    const f = getRouterFactory("irt");
    expect(f).toBe(irtFactory);
    expect(f.kind).toBe("predictive");
    expect(f.seeded).toBe(true);
    expect(f.defaultGrid?.alpha?.length).toBeGreaterThan(1);
  });

  it("chooses alpha on validation, and a saved router loads with identical decisions", async () => {
    const { router, report } = await trainRouter(train, val, { spec: "irt:alpha=1|1000", seed: 4 });
    expect(report.chosen.alpha).toBe(1);
    expect(report.chosen.seed).toBe(4);
    const dir = join(root, "irt");
    const meta = { embedder: { id: "test", spec: "hash", preparation: DEFAULT_PREPARATION }, split: { kind: "test" }, seed: 4, fit: report, fittedOn: { train: [], validation: [] }, operatingPoints: null };
    await saveRouter(router, dir, meta);
    const { router: loaded, manifest } = await loadRouter(dir);
    expect(manifest.type).toBe("irt");
    expect(Object.keys(manifest.files).sort()).toEqual(["fitted-prompts.json", "irt.json", "weights.f64"]);
    expect(manifest.params).toEqual(router.params);
    for (const lambda of [0, 0.5, 2, 20, Infinity]) {
      const a = await routePrompts(router as PredictiveRouter, testBatch, lambda);
      const b = await routePrompts(loaded as PredictiveRouter, testBatch, lambda);
      expect(Array.from(b.chosen)).toEqual(Array.from(a.chosen));
      expect(Array.from(b.quality)).toEqual(Array.from(a.quality));
    }
  });
});

const SHARED = join(SHARED_SUBSET_DIR, "arc_challenge_train.csv");
describe.skipIf(!existsSync(SHARED))("irt on real RouterBench rows (ARC-Challenge, hash embeddings)", () => {
  it("trains on the 11 models and predicts probabilities near each model's mean", async () => {
    const { importFiles } = await import("../../src/data/importers/index.js");
    const { embedTexts } = await import("../../src/embed/embed-table.js");
    const { table } = await importFiles([SHARED]);
    const { completeRows, selectRows } = await import("../../src/data/table.js");
    const t = selectRows(table, completeRows(table));
    const { matrix } = await embedTexts(t.texts, t.evals, { spec: "hash", cacheDir: false });
    const r = new IrtRouter(t.models, { alpha: 10 });
    const fit = await r.fit({ table: t, embeddings: matrix });
    expect(Number.isFinite(fit.validation.latentR2OutOfFold)).toBe(true);
    const q = await r.predictQuality(batchOfTable(t, matrix, t.models, false));
    expect(q.every((x) => x > 0 && x < 1)).toBe(true);
    const means = meanScoresOf(t, t.models);
    const m = t.models.length;
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let i = 0; i < t.ids.length; i++) s += q[i * m + j];
      expect(Math.abs(s / t.ids.length - means[j])).toBeLessThan(0.05);
    }
  });
});
