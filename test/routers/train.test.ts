import { afterAll, describe, expect, it } from "vitest";
import { selectRows } from "../../src/data/table.js";
import { getRouterFactory, parseRouterSpec, registerRouter, routerTypes } from "../../src/routers/registry.js";
import { batchOfTable, maskedMse, poolScores } from "../../src/routers/common.js";
import { checkParams, trainOnTable } from "../../src/workflow/train.js";
import { gridPoints, trainRouter } from "../../src/routers/train.js";
import type { FitReport, PredictiveRouter, PromptBatch, TrainingSet } from "../../src/routers/router.js";
import { tableFrom } from "../helpers/tables.js";
import { embeddingsOf, MODELS, topicSet } from "./synthetic.js";

describe("router specs", () => {
  it("parses fixed values, grids and strings", () => {
    expect(parseRouterSpec("knn")).toEqual({ type: "knn", params: {}, grid: {} });
    expect(parseRouterSpec("knn:k=5|10|40,weighting=distance")).toEqual({ type: "knn", params: { weighting: "distance" }, grid: { k: [5, 10, 40] } });
    expect(parseRouterSpec("mlp:hidden=100x100,epochs=200")).toEqual({ type: "mlp", params: { hidden: "100x100", epochs: 200 }, grid: {} });
    expect(parseRouterSpec("cascade:epsilon=0.1").params).toEqual({ epsilon: 0.1 });
  });

  it("rejects malformed specs and unknown types or parameters", () => {
    expect(() => parseRouterSpec("knn:k")).toThrow(/name=value/);
    expect(() => parseRouterSpec("knn:k=1,k=2")).toThrow(/twice/);
    expect(() => getRouterFactory("nope")).toThrow(/unknown router type "nope"/);
    expect(() => getRouterFactory("knn").create(MODELS, { kk: 3 })).toThrow(/no parameter "kk"/);
    expect(routerTypes()).toEqual(expect.arrayContaining(["knn", "mlp", "linear", "oracle", "best-single", "zero", "cascade"]));
  });

  it("expands grids to every combination", () => {
    expect(gridPoints({ a: [1, 2], b: ["x", "y"] })).toEqual([
      { a: 1, b: "x" },
      { a: 1, b: "y" },
      { a: 2, b: "x" },
      { a: 2, b: "y" },
    ]);
  });
});

describe("hyperparameters are chosen on validation rows only", () => {
  // Training prompts sit on 8 points; each point carries 20 prompts with noisy 0/1 scores.
  // Validation prompts repeat training prompts exactly (k=1 reproduces their scores: MSE 0);
  // test prompts sit on the same points with the points' mean scores (k=20 averages the noise).
  const points = 8;
  const per = 20;
  const rows: number[][] = [];
  const specs = [];
  for (let p = 0; p < points; p++) {
    for (let r = 0; r < per; r++) {
      const v = Array.from({ length: 8 }, (_, j) => (j === p ? 1 : 0.001 * r));
      const s = (p * per + r) % 3 === 0 ? 1 : 0;
      rows.push(v);
      specs.push({ id: `t${p}-${r}`, scores: [s, 1 - s, 0.5], costs: [3, 2, 1] });
    }
  }
  const train: TrainingSet = { table: tableFrom(MODELS, specs), embeddings: embeddingsOf(rows) };
  const valRows = [0, 21, 45, 77, 100, 130];
  const validation: TrainingSet = { table: selectRows(train.table, valRows), embeddings: embeddingsOf(valRows.map((i) => rows[i])) };
  const testRows = valRows.map((i) => rows[i]);
  const testScores = valRows.map((i) => {
    const p = Math.floor(i / per);
    const mean = Array.from({ length: per }, (_, r) => ((p * per + r) % 3 === 0 ? 1 : 0)).reduce((a: number, b: number) => a + b, 0) / per;
    return [mean, 1 - mean, 0.5];
  });
  const test: TrainingSet = {
    table: tableFrom(MODELS, testRows.map((_, i) => ({ id: `x${i}`, scores: testScores[i], costs: [3, 2, 1] }))),
    embeddings: embeddingsOf(testRows),
  };

  it("picks the k that wins on validation although the test rows would prefer another", async () => {
    const { router, report } = await trainRouter(train, validation, { spec: "knn:k=1|20", seed: 0 });
    expect(report.chosen.k).toBe(1);
    expect(report.validation["mse[k=1]"]).toBeLessThan(report.validation["mse[k=20]"]);
    // The construction is right: on the test rows k=20 is the better predictor.
    const mseOn = async (k: number) => {
      const r = getRouterFactory("knn").create(MODELS, { k }) as PredictiveRouter;
      await r.fit(train);
      return maskedMse(await r.predictQuality(batchOfTable(test.table, test.embeddings, MODELS, false)), poolScores(test.table, MODELS));
    };
    expect(await mseOn(20)).toBeLessThan(await mseOn(1));
    expect((router as unknown as { k: number }).k).toBe(1);
  });

  it("a grid without validation rows is refused", async () => {
    await expect(trainRouter(train, null, { spec: "knn:k=1|20", seed: 0 })).rejects.toThrow(/validation/);
  });

  it("without a grid or validation, the defaults are used and no default grid is searched", async () => {
    const { report } = await trainRouter(train, null, { spec: "knn", seed: 0 });
    expect(report.chosen.k).toBe(10);
  });
});

describe("trainOnTable never shows test rows to a router", () => {
  const seen = new Set<string>();
  class SpyRouter implements PredictiveRouter {
    readonly type = "spy-router";
    readonly kind = "predictive" as const;
    readonly needsEmbeddings = false;
    readonly needsOutcomes = false;
    expectedCosts: Float64Array;
    constructor(
      readonly pool: readonly string[],
      readonly params: Record<string, unknown>,
    ) {
      this.expectedCosts = new Float64Array(pool.length).fill(1);
    }
    async fit(t: TrainingSet, v?: TrainingSet): Promise<FitReport> {
      for (const id of [...t.table.ids, ...(v?.table.ids ?? [])]) seen.add(id);
      return { chosen: this.params, validation: {}, seconds: 0 };
    }
    async predictQuality(b: PromptBatch): Promise<Float64Array> {
      for (const id of b.ids) seen.add(id);
      // Prefers v=2 on any rows: the grid search must run and pick it.
      return new Float64Array(b.ids.length * this.pool.length).fill(this.params.v === 2 ? 0.5 : 0.9);
    }
  }
  registerRouter({ type: "spy-router", kind: "predictive", describe: "test spy", needsEmbeddings: false, needsOutcomes: false, create: (pool, params) => new SpyRouter(pool, params), defaultGrid: { v: [1, 2, 3] } });
  afterAll(() => seen.clear());

  it("over in-distribution pooled splits", async () => {
    const t = topicSet(50, 4, 9);
    const { rows, report } = await trainOnTable(t.table, { spec: "spy-router", seed: 3 });
    expect(report.chosen.v).toBe(2);
    expect(rows.test.length).toBeGreaterThan(0);
    for (const i of rows.test) expect(seen.has(t.table.ids[i])).toBe(false);
    for (const i of rows.train) expect(seen.has(t.table.ids[i])).toBe(true);
    for (const i of rows.validation) expect(seen.has(t.table.ids[i])).toBe(true);
  });

  it("out of distribution: the left-out dataset is never seen", async () => {
    seen.clear();
    const t = topicSet(30, 4, 10);
    const { rows } = await trainOnTable(t.table, { spec: "spy-router", split: "out-of-distribution", dataset: "A" });
    expect(rows.test.every((i) => t.table.datasets[i] === "A")).toBe(true);
    for (let i = 0; i < t.table.ids.length; i++) expect(seen.has(t.table.ids[i])).toBe(t.table.datasets[i] !== "A");
  });
});

describe("router types declare what they need", () => {
  it("each factory's needsEmbeddings and needsOutcomes match its routers' (the workflow trusts the declaration)", () => {
    for (const type of routerTypes()) {
      const f = getRouterFactory(type);
      const r = f.create(["a", "b"], {});
      expect([type, f.needsEmbeddings, f.needsOutcomes]).toEqual([type, r.needsEmbeddings, r.needsOutcomes]);
      (r as { dispose?: () => void }).dispose?.();
    }
  });

  it("a bad parameter fails before any training row is read (checkParams builds every grid point)", () => {
    expect(() => checkParams("knn:k=0")).toThrow(/k/);
    expect(() => checkParams("linear:alpha=1|-1")).toThrow(/alpha/);
    expect(() => checkParams("knn:bogus=1")).toThrow(/bogus/);
    expect(() => checkParams("linear:alpha=1|10")).not.toThrow();
  });
});

describe("inconsistent tables from library callers", () => {
  it("are one clear error in trainRouter, not a TypeError mid-fit", async () => {
    const t = tableFrom(MODELS, Array.from({ length: 30 }, (_, i) => ({ id: `p${i}`, scores: MODELS.map(() => 0.5), costs: MODELS.map(() => 0.1) })));
    const broken = { ...t, texts: t.texts.slice(0, 10) };
    await expect(trainRouter({ table: broken, embeddings: null }, null, { spec: "best-single", seed: 0 })).rejects.toThrow(/training set: column texts has 10 entries for 30 prompts/);
  });
});
