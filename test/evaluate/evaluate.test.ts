import { describe, expect, it } from "vitest";
import { evaluateSplit } from "../../src/evaluate/evaluate.js";
import { exactCurve } from "../../src/evaluate/curve.js";
import { nonDecreasingHull } from "../../src/evaluate/hull.js";
import { aiq } from "../../src/evaluate/metrics.js";
import type { PromptBatch } from "../../src/routers/router.js";
import { tableFrom } from "../helpers/tables.js";
import { directFrom, fixedPredictor, meanCosts, noisyPredictions, randomTable } from "./fixtures.js";

const models = ["cheap", "mid", "dear"];
const table = tableFrom(models, [
  { id: "a", scores: [1, 1, 1], costs: [1, 2, 4] },
  { id: "b", scores: [0, 1, 1], costs: [1, 2, 4] },
  { id: "c", scores: [0, 0, 1], costs: [1, 2, 4] },
  { id: "d", scores: [0, 0, 0], costs: [2, 1, 4] },
]);
const preds = new Map([
  ["a", [0.9, 0.9, 0.9]],
  ["b", [0.1, 0.8, 0.9]],
  ["c", [0.1, 0.2, 0.9]],
  ["d", [0.1, 0.2, 0.3]],
]);

describe("evaluateSplit", () => {
  it("adds Zero, best single and Oracle rows, and the router's exact curve, hull and AIQ", async () => {
    const router = fixedPredictor(models, [1.25, 1.75, 4], preds);
    const r = await evaluateSplit({ table, embeddings: null }, [{ name: "fixed", router }], { seed: 1, bootstrap: 50 });
    expect(r.rows.map((x) => x.role)).toEqual(["router", "zero", "best-single", "oracle"]);
    // Singles: cheap (1.25, 0.25), mid (1.75, 0.5), dear (4, 0.75).
    expect(r.singles.map((s) => [s.model, s.cost, s.quality])).toEqual([
      ["cheap", 1.25, 0.25],
      ["mid", 1.75, 0.5],
      ["dear", 4, 0.75],
    ]);
    expect(r.bestSingle).toBe("dear");
    expect(r.costRange).toEqual([1.25, 4]);
    const zero = r.rows[1];
    expect(zero.hull).toEqual(nonDecreasingHull(r.singles));
    expect(zero.aiq).toBeCloseTo(aiq(zero.hull, 1.25, 4), 12);
    // Oracle: a->cheap(1), b->mid(2), c->dear(4), d: all zero -> cheapest on that prompt = mid(1).
    const oracle = r.rows[3];
    const top = oracle.points[oracle.points.length - 1];
    expect(top.cost).toBeCloseTo((1 + 2 + 4 + 1) / 4, 12);
    expect(top.quality).toBeCloseTo(0.75, 12);
    expect(oracle.maxQuality).toBeCloseTo(0.75, 12);
    expect(oracle.maxQualityCost).toBeCloseTo(2, 12);
    // lambda = 0: each prompt's cheapest model (d's is mid at 1).
    expect(oracle.points[0].cost).toBe(1);
    expect(r.rows[2].name).toBe("Best single (dear)");
    expect(r.rows[2].points[0]).toMatchObject({ cost: 4, quality: 0.75 });
    const fixed = r.rows[0];
    const q = Float64Array.from(table.ids.flatMap((id) => preds.get(id)!));
    const expected = exactCurve(q, Float64Array.from([1.25, 1.75, 4]), table.scores, table.costs, 3).points;
    expect(fixed.points).toEqual(expected);
    expect(fixed.hull).toEqual(nonDecreasingHull(expected));
    expect(fixed.aiq).toBeCloseTo(aiq(fixed.hull, 1.25, 4), 12);
    expect(fixed.diffToZero).toBeCloseTo(fixed.aiq - zero.aiq, 12);
    expect(fixed.aiqInterval![0]).toBeLessThanOrEqual(fixed.aiqInterval![1]);
    expect(fixed.beatsZero).toBe(fixed.diffInterval![0] > 0);
    expect(fixed.costToMatchBestSingle).not.toBeNull();
    expect(fixed.twoModel).toBeNull();
  });

  it("passes outcomes only to routers that declare needsOutcomes", async () => {
    const seenA: PromptBatch[] = [];
    const seenB: PromptBatch[] = [];
    await evaluateSplit(
      { table, embeddings: null },
      [
        { name: "blind", router: fixedPredictor(models, [1, 2, 4], preds, { seen: seenA }) },
        { name: "sighted", router: fixedPredictor(models, [1, 2, 4], preds, { needsOutcomes: true, seen: seenB }) },
      ],
      { seed: 1, bootstrap: 0 },
    );
    expect(seenA[0].outcomes).toBeUndefined();
    expect(Array.from(seenB[0].outcomes!.scores)).toEqual(Array.from(table.scores));
  });

  it("drops rows with a missing outcome and says how many", async () => {
    const t = tableFrom(models, [
      { id: "a", scores: [1, 1, 1], costs: [1, 2, 4] },
      { id: "x", scores: [NaN, 1, 1], costs: [1, 2, 4] },
      { id: "b", scores: [0, 1, 1], costs: [1, 2, 4] },
    ]);
    const r = await evaluateSplit({ table: t, embeddings: null }, [{ name: "f", router: fixedPredictor(models, [1, 2, 4], preds) }], { seed: 1, bootstrap: 0 });
    expect(r.prompts).toBe(2);
    expect(r.droppedIncomplete).toBe(1);
    expect(r.rows[0].aiqInterval).toBeNull();
    expect(r.rows[0].beatsZero).toBeNull();
  });

  it("names the router and model when the pool is not in the test data", async () => {
    const router = fixedPredictor(["cheap", "gpt-9"], [1, 2], preds);
    await expect(evaluateSplit({ table, embeddings: null }, [{ name: "bad", router }], { seed: 1, bootstrap: 0 })).rejects.toThrow(/router "bad".*"gpt-9"/);
  });

  it("two-model pools get APGR and CPT; direct routers get one point per setting", async () => {
    const t = randomTable(200, 2, 4, { binary: true });
    const q = noisyPredictions(t, 5, 0.9);
    const byId = new Map(t.ids.map((id, i) => [id, [q[2 * i], q[2 * i + 1]]]));
    const pred = fixedPredictor(t.models, Array.from(meanCosts(t)), byId);
    const direct = directFrom(t.models, (b) =>
      [0, 1].map((j) => ({
        setting: `always ${j}`,
        costs: Float64Array.from(b.ids.map((_, i) => b.outcomes!.costs[i * 2 + j])),
        scores: Float64Array.from(b.ids.map((_, i) => b.outcomes!.scores[i * 2 + j])),
        chosen: new Int32Array(b.ids.length).fill(j),
      })),
    );
    const r = await evaluateSplit({ table: t, embeddings: null }, [{ name: "pred", router: pred }, { name: "direct", router: direct }], { seed: 2, bootstrap: 20 });
    const p = r.rows[0].twoModel!;
    expect(p.strong).toBe(t.models[1]);
    expect(p.apgr).not.toBeNull();
    expect(p.cpt50).toBeGreaterThanOrEqual(0);
    expect(p.cpt80!).toBeGreaterThanOrEqual(p.cpt50!);
    const d = r.rows[1];
    expect(d.settings).toEqual(["always 0", "always 1"]);
    expect(d.points.map((x) => [x.cost, x.quality])).toEqual(r.singles.map((s) => [s.cost, s.quality]).map(([c, qq]) => [expect.closeTo(c, 12), expect.closeTo(qq, 12)]));
    // Mixing the two models at random is exactly the Zero router.
    expect(d.aiq).toBeCloseTo(r.rows[2].aiq, 12);
    expect(d.beatsZero).toBe(false);
    expect(d.twoModel!.apgr).toBeCloseTo(0.5, 12);
  });

  it("the RouterBench grid gives 32 points; the parity AIQ divides by the largest hull cost", async () => {
    const router = fixedPredictor(models, [1.25, 1.75, 4], preds);
    const r = await evaluateSplit({ table, embeddings: null }, [{ name: "f", router }], { seed: 1, bootstrap: 0, lambdas: "routerbench", aiq: "routerbench-code" });
    expect(r.rows[0].points).toHaveLength(32);
    expect(r.aiqMode).toBe("routerbench-code");
    expect(r.costRange[1]).toBe(Math.max(...r.rows.map((x) => x.hull[x.hull.length - 1].cost)));
  });

  it("rejects duplicate router names", async () => {
    const router = fixedPredictor(models, [1, 2, 4], preds);
    await expect(evaluateSplit({ table, embeddings: null }, [{ name: "x", router }, { name: "x", router }], { seed: 1, bootstrap: 0 })).rejects.toThrow(/unique/);
  });

  it("the Oracle's hull bounds every router's: its AIQ is the highest", async () => {
    const t = randomTable(150, 5, 31);
    const routers = [1, 2, 3].map((k) => {
      const q = noisyPredictions(t, 40 + k, 0.3 * k);
      return { name: `r${k}`, router: fixedPredictor(t.models, Array.from(meanCosts(t)), new Map(t.ids.map((id, i) => [id, Array.from(q.subarray(i * 5, i * 5 + 5))]))) };
    });
    const r = await evaluateSplit({ table: t, embeddings: null }, routers, { seed: 1, bootstrap: 0 });
    const oracle = r.rows.find((x) => x.role === "oracle")!;
    for (const row of r.rows) expect(oracle.aiq).toBeGreaterThanOrEqual(row.aiq - 1e-12);
  });
});
