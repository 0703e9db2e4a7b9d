import { describe, expect, it } from "vitest";
import { checkPool, routeAt, routePrompts } from "../../src/routers/routing.js";
import type { PredictiveRouter } from "../../src/routers/router.js";

// Three models: dear and good, mid, cheap and weak.
const costs = Float64Array.from([3, 2, 1]);

describe("routeAt", () => {
  const q = Float64Array.from([
    0.9, 0.5, 0.1, // prompt 0
    0.2, 0.8, 0.4, // prompt 1
  ]);

  it("at lambda 0 picks the cheapest model whatever the quality", () => {
    expect(Array.from(routeAt(q, costs, 3, 0))).toEqual([2, 2]);
  });

  it("at lambda Infinity picks the best predicted quality", () => {
    expect(Array.from(routeAt(q, costs, 3, Infinity))).toEqual([0, 1]);
  });

  it("in between maximises lambda*q - c", () => {
    // prompt 0: 10*0.9-3=6, 10*0.5-2=3, 10*0.1-1=0 -> model 0; prompt 1: -1, 6, 3 -> model 1
    expect(Array.from(routeAt(q, costs, 3, 10))).toEqual([0, 1]);
    // lambda 2: prompt 0: -1.2, -1, -0.8; prompt 1: -2.6, -0.4, -0.2 -> model 2 for both
    expect(Array.from(routeAt(q, costs, 3, 2))).toEqual([2, 2]);
  });

  it("breaks ties by the cheaper model, then the lower index", () => {
    const tie = Float64Array.from([0.5, 0.5, 0.5]);
    expect(Array.from(routeAt(tie, costs, 3, Infinity))).toEqual([2]);
    expect(Array.from(routeAt(tie, Float64Array.from([1, 1, 1]), 3, Infinity))).toEqual([0]);
    expect(Array.from(routeAt(tie, Float64Array.from([2, 1, 1]), 3, 0))).toEqual([1]);
    // exact value tie at finite lambda: 4*1-3 = 1 = 4*0.5-1 -> cheaper model 2
    expect(Array.from(routeAt(Float64Array.from([1, 0, 0.5]), costs, 3, 4))).toEqual([2]);
  });

  it("an all-zero quality row goes to the cheapest model", () => {
    expect(Array.from(routeAt(new Float64Array(3), costs, 3, Infinity))).toEqual([2]);
  });

  it("skips NaN qualities and sends an all-NaN row to the cheapest model", () => {
    expect(Array.from(routeAt(Float64Array.from([NaN, 0.1, 0.2]), costs, 3, Infinity))).toEqual([2]);
    expect(Array.from(routeAt(Float64Array.from([NaN, 0.9, 0.2]), costs, 3, Infinity))).toEqual([1]);
    expect(Array.from(routeAt(Float64Array.from([NaN, NaN, NaN]), costs, 3, 5))).toEqual([2]);
  });

  it("accepts per-cell costs", () => {
    const cellCosts = Float64Array.from([1, 2, 3, 3, 2, 1]);
    expect(Array.from(routeAt(Float64Array.from([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]), cellCosts, 3, Infinity))).toEqual([0, 2]);
  });

  it("rejects negative lambda and mismatched shapes", () => {
    expect(() => routeAt(q, costs, 3, -1)).toThrow(/lambda/);
    expect(() => routeAt(q, costs, 4, 1)).toThrow(/multiple/);
    expect(() => routeAt(q, Float64Array.from([1, 2]), 3, 1)).toThrow(/costs/);
  });
});

function fakeRouter(quality: number[], pool = ["a", "b"]): PredictiveRouter {
  return {
    type: "fake",
    kind: "predictive",
    pool,
    needsEmbeddings: false,
    needsOutcomes: false,
    params: {},
    expectedCosts: Float64Array.from(pool.map((_, j) => j + 1)),
    fit: async () => ({ chosen: {}, validation: {}, seconds: 0 }),
    predictQuality: async () => Float64Array.from(quality),
  };
}

describe("checkPool", () => {
  it("accepts indices into the pool and rejects anything else", () => {
    const r = fakeRouter([0, 0]);
    expect(() => checkPool(r, Int32Array.from([0, 1, 1]))).not.toThrow();
    expect(() => checkPool(r, Int32Array.from([0, 2]))).toThrow(/outside its pool/);
    expect(() => checkPool(r, Int32Array.from([-1]))).toThrow(/outside its pool/);
  });
});

describe("routePrompts", () => {
  it("names the chosen models and returns the predicted qualities", async () => {
    const r = fakeRouter([0.1, 0.9, 0.8, 0.2]);
    const out = await routePrompts(r, { ids: ["x", "y"], texts: ["x", "y"], embeddings: null }, Infinity);
    expect(out.models).toEqual(["b", "a"]);
    expect(Array.from(out.quality)).toEqual([0.1, 0.9, 0.8, 0.2]);
  });

  it("refuses a prediction of the wrong shape", async () => {
    const r = fakeRouter([0.1, 0.9, 0.8]);
    await expect(routePrompts(r, { ids: ["x", "y"], texts: ["x", "y"], embeddings: null }, 1)).rejects.toThrow(/predicted 3 values/);
  });
});

describe("routeAt with one lambda per prompt", () => {
  it("routes each prompt as routing it alone at its own lambda would", () => {
    const q = Float64Array.from([0.2, 0.9, 0.5, 0.6, 0.1, 0.8]); // 3 prompts x 2 models
    const c = Float64Array.from([0.001, 0.01]);
    const lambdas = [0, 1e6, 0.01];
    const together = routeAt(q, c, 2, lambdas);
    const alone = lambdas.map((l, i) => routeAt(q.subarray(i * 2, i * 2 + 2), c, 2, l)[0]);
    expect(Array.from(together)).toEqual(alone);
    expect(Array.from(together)).toEqual([0, 1, 0]);
    expect(() => routeAt(q, c, 2, [0, 1])).toThrow(/2 lambdas for 3 prompts/);
    expect(() => routeAt(q, c, 2, [0, -1, 1])).toThrow(/lambda must be >= 0, got -1/);
  });
});
