import { describe, expect, it } from "vitest";
import { evaluateSplit } from "../../src/evaluate/evaluate.js";
import { exactCurve, gridCurve } from "../../src/evaluate/curve.js";
import { nonDecreasingHull } from "../../src/evaluate/hull.js";
import { selectRows } from "../../src/data/table.js";
import type { PredictiveRouter, RealisedOutcomes } from "../../src/routers/router.js";
import { makeRng } from "../../src/util/rng.js";
import { measureOperatingPoints, validatedLambdas } from "../../src/evaluate/operating-points.js";
import { routeAt } from "../../src/routers/routing.js";
import { directFrom, meanCosts, randomTable } from "./fixtures.js";

const fit = async () => ({ chosen: {}, validation: {}, seconds: 0 });

/** A router whose predictions are a fixed function of the prompt id (deterministic per id). */
function idRouter(pool: string[], costs: Float64Array, q: (id: string, j: number) => number): PredictiveRouter {
  return {
    kind: "predictive", type: "by-id", pool, needsEmbeddings: false, needsOutcomes: false, params: {}, expectedCosts: costs, fit,
    predictQuality: async (b) => Float64Array.from(b.ids.flatMap((id) => pool.map((_, j) => q(id, j)))),
  };
}

function hash01(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return ((h >>> 0) % 100000) / 100000;
}

describe("operating points chosen on validation", () => {
  const all = randomTable(600, 5, 11, { binary: true });
  const rows = Array.from({ length: 600 }, (_, i) => i);
  const validation = selectRows(all, rows.filter((i) => i % 3 === 0));
  const test = selectRows(all, rows.filter((i) => i % 3 !== 0));
  const costs = meanCosts(all);
  // Some signal (the realised score, blurred by continuous noise: no ties) so curves have many points.
  const m = all.models.length;
  const byId = new Map(all.ids.map((id, i) => [id, i]));
  const rng = makeRng("blur");
  const blur = all.ids.map(() => Array.from({ length: m }, () => rng()));
  const router = idRouter(all.models, costs, (id, j) => 0.5 * all.scores[byId.get(id)! * m + j] + 0.5 * blur[byId.get(id)!][j]);

  it("evaluates on test exactly the lambdas of the validation curve's hull vertices", async () => {
    const r = await evaluateSplit({ table: test, embeddings: null }, [{ name: "r", router }], { seed: 1, bootstrap: 0, validation: { table: validation, embeddings: null } });
    expect(r.operatingPoints).toBe("validation");
    expect(r.validationPrompts).toBe(validation.ids.length);
    const row = r.rows.find((x) => x.name === "r")!;

    // the validation hull has far fewer vertices than the test curve has points
    const qv = await router.predictQuality({ ids: validation.ids, texts: validation.texts, embeddings: null });
    const vCurve = exactCurve(qv, costs, validation.scores, validation.costs, m).points;
    const vHull = nonDecreasingHull(vCurve);
    const qt = await router.predictQuality({ ids: test.ids, texts: test.texts, embeddings: null });
    const tCurve = exactCurve(qt, costs, test.scores, test.costs, m).points;
    expect(row.points.length).toBeLessThanOrEqual(vHull.length);
    expect(row.points.length).toBeLessThan(tCurve.length / 5);

    // each evaluated point is the router's test point at its recorded lambda, and that lambda
    // reproduces a validation hull vertex
    const atLambdas = gridCurve(qt, costs, test.scores, test.costs, m, row.points.map((p) => p.lambda));
    row.points.forEach((p, k) => {
      expect(p.cost).toBeCloseTo(atLambdas[k].cost, 12);
      expect(p.quality).toBeCloseTo(atLambdas[k].quality, 12);
    });
    const vAt = gridCurve(qv, costs, validation.scores, validation.costs, m, row.points.map((p) => p.lambda));
    for (const p of vAt) expect(vHull.some((h) => Math.abs(h.cost - p.cost) < 1e-15 && Math.abs(h.quality - p.quality) < 1e-15)).toBe(true);
  });

  it("with tied predictions (KNN-like fifths) each chosen lambda is a state the routing rule really yields", async () => {
    const knnLike = idRouter(all.models, costs, (id, j) => Math.round(5 * (0.5 * all.scores[byId.get(id)! * m + j] + 0.5 * hash01(`${id}/${j}`))) / 5);
    const r = await evaluateSplit({ table: test, embeddings: null }, [{ name: "k", router: knnLike }], { seed: 1, bootstrap: 0, validation: { table: validation, embeddings: null } });
    const row = r.rows.find((x) => x.name === "k")!;
    const qt = await knnLike.predictQuality({ ids: test.ids, texts: test.texts, embeddings: null });
    const qv = await knnLike.predictQuality({ ids: validation.ids, texts: validation.texts, embeddings: null });
    expect(row.points.length).toBeGreaterThan(2);
    const atLambdas = gridCurve(qt, costs, test.scores, test.costs, m, row.points.map((p) => p.lambda));
    row.points.forEach((p, k) => expect(p.cost).toBeCloseTo(atLambdas[k].cost, 12));
    // every chosen lambda sits strictly inside an interval of the validation curve, away from its breakpoints
    const vCurve = exactCurve(qv, costs, validation.scores, validation.costs, m).points;
    const breaks = vCurve.map((p) => p.lambda).filter((l) => l > 0);
    for (const p of row.points) {
      if (p.lambda === 0 || p.lambda === Infinity) continue;
      expect(Math.min(...breaks.map((b) => Math.abs(b - p.lambda) / b))).toBeGreaterThan(1e-6);
    }
  });

  it("test operating points reproduce RouterBench's way: the whole test curve", async () => {
    const r = await evaluateSplit({ table: test, embeddings: null }, [{ name: "r", router }], { seed: 1, bootstrap: 0, operatingPoints: "test", validation: { table: validation, embeddings: null } });
    expect(r.operatingPoints).toBe("test");
    const qt = await router.predictQuality({ ids: test.ids, texts: test.texts, embeddings: null });
    expect(r.rows.find((x) => x.name === "r")!.points).toHaveLength(exactCurve(qt, costs, test.scores, test.costs, m).points.length);
  });

  it("a direct router keeps only the settings on its validation hull", async () => {
    // setting k = every prompt to model k; so its validation hull vertices are the single models on the validation hull
    const direct = directFrom(all.models, (b): RealisedOutcomes[] => {
      const n = b.ids.length;
      return all.models.map((model, j) => ({
        setting: `all-${model}`,
        costs: Float64Array.from({ length: n }, (_, i) => b.outcomes!.costs[i * m + j]),
        scores: Float64Array.from({ length: n }, (_, i) => b.outcomes!.scores[i * m + j]),
        chosen: new Int32Array(n).fill(j),
      }));
    });
    const r = await evaluateSplit({ table: test, embeddings: null }, [{ name: "d", router: direct }], { seed: 1, bootstrap: 0, validation: { table: validation, embeddings: null } });
    const singlesV = all.models.map((_, j) => {
      let c = 0;
      let q = 0;
      for (let i = 0; i < validation.ids.length; i++) {
        c += validation.costs[i * m + j];
        q += validation.scores[i * m + j];
      }
      return { model: all.models[j], cost: c / validation.ids.length, quality: q / validation.ids.length };
    });
    const hullModels = nonDecreasingHull(singlesV).map((h) => singlesV.find((s) => s.cost === h.cost && s.quality === h.quality)!.model);
    expect(r.rows.find((x) => x.name === "d")!.settings).toEqual(hullModels.map((x) => `all-${x}`));
  });

  it("needs the validation rows when asked to choose on them", async () => {
    await expect(evaluateSplit({ table: test, embeddings: null }, [{ name: "r", router }], { seed: 1, bootstrap: 0, operatingPoints: "validation" })).rejects.toThrow(/validation rows/);
  });

  it("removes the optimism of test-chosen hulls: a router without signal no longer beats the Zero router on average", async () => {
    // Predictions = each model's mean score + independent noise: no prompt-level signal at all.
    let viaTest = 0;
    let viaValidation = 0;
    const seeds = 8;
    for (let s = 0; s < seeds; s++) {
      const t = randomTable(900, 6, 100 + s, { binary: true });
      const idx = Array.from({ length: 900 }, (_, i) => i);
      const val = selectRows(t, idx.filter((i) => i % 3 === 0));
      const tst = selectRows(t, idx.filter((i) => i % 3 !== 0));
      const mm = t.models.length;
      const mean = new Float64Array(mm);
      for (let i = 0; i < 900; i++) for (let j = 0; j < mm; j++) mean[j] += t.scores[i * mm + j] / 900;
      const rng = makeRng(`noise-${s}`);
      const noise = new Map(t.ids.map((id) => [id, Array.from({ length: mm }, () => 0.02 * (rng() - 0.5))]));
      const nullRouter = idRouter(t.models, meanCosts(t), (id, j) => mean[j] + noise.get(id)![j]);
      const diff = async (where: "test" | "validation") => {
        const r = await evaluateSplit({ table: tst, embeddings: null }, [{ name: "null", router: nullRouter }], { seed: 1, bootstrap: 0, operatingPoints: where, validation: { table: val, embeddings: null } });
        return r.rows.find((x) => x.name === "null")!.diffToZero!;
      };
      viaTest += (await diff("test")) / seeds;
      viaValidation += (await diff("validation")) / seeds;
    }
    expect(viaTest).toBeGreaterThan(0);
    expect(viaValidation).toBeLessThan(viaTest);
    expect(viaValidation).toBeLessThanOrEqual(0.002);
  });
});

describe("the evaluator's pool check", () => {
  it("refuses a direct router whose decision lies outside its pool", async () => {
    const t = randomTable(20, 3, 5);
    const rogue = directFrom(t.models.slice(0, 2), (b) => [
      { setting: "rogue", costs: new Float64Array(b.ids.length), scores: new Float64Array(b.ids.length), chosen: new Int32Array(b.ids.length).fill(2) },
    ]);
    await expect(evaluateSplit({ table: t, embeddings: null }, [{ name: "rogue", router: rogue }], { seed: 1, bootstrap: 0 })).rejects.toThrow(/outside its pool/);
  });
});

describe("a router's operating points (what travels with a saved router)", () => {
  const all = randomTable(400, 4, 7, { binary: true });
  const costs = meanCosts(all);
  const m = all.models.length;
  const byId = new Map(all.ids.map((id, i) => [id, i]));
  const rng = makeRng("blur-2");
  const blur = all.ids.map(() => Array.from({ length: m }, () => rng()));
  const router = idRouter(all.models, costs, (id, j) => 0.6 * all.scores[byId.get(id)! * m + j] + 0.4 * blur[byId.get(id)!][j]);

  it("are the hull vertices of the router's curve, each reproduced by its lambda, with shares and intervals", async () => {
    const ops = await measureOperatingPoints(router, { table: all, embeddings: null }, { seed: 3, resamples: 200 });
    expect(ops.prompts).toBe(400);
    expect(ops.on).toBe("validation");
    const q = await router.predictQuality({ ids: all.ids, texts: all.texts, embeddings: null });
    const hull = nonDecreasingHull(exactCurve(q, costs, all.scores, all.costs, m).points);
    // The points are the hull of the exact curve, vertex for vertex.
    expect(ops.points).toHaveLength(hull.length);
    ops.points.forEach((p, k) => {
      expect(p.cost).toBeCloseTo(hull[k].cost, 15);
      expect(p.quality).toBeCloseTo(hull[k].quality, 12);
    });
    for (const p of ops.points) {
      // Routing at the point's lambda gives exactly its cost, quality and shares.
      const chosen = routeAt(q, costs, m, p.lambda!);
      let c = 0;
      let s = 0;
      const counts = new Array<number>(m).fill(0);
      chosen.forEach((j, i) => {
        c += all.costs[i * m + j];
        s += all.scores[i * m + j];
        counts[j]++;
      });
      expect(p.cost).toBeCloseTo(c / 400, 12);
      expect(p.quality).toBeCloseTo(s / 400, 12);
      expect(Object.values(p.shares)).toEqual(counts.map((k) => k / 400));
      expect(p.costInterval![0]).toBeLessThanOrEqual(p.cost);
      expect(p.costInterval![1]).toBeGreaterThanOrEqual(p.cost);
      expect(p.qualityInterval![0]).toBeLessThan(p.qualityInterval![1]);
    }
    // Cost ascending, quality ascending: a hull a budget can walk along.
    for (let k = 1; k < ops.points.length; k++) {
      expect(ops.points[k].cost).toBeGreaterThan(ops.points[k - 1].cost);
      expect(ops.points[k].quality).toBeGreaterThan(ops.points[k - 1].quality);
    }
    // Seeded: the same seed gives the same intervals, another seed others.
    expect(await measureOperatingPoints(router, { table: all, embeddings: null }, { seed: 3, resamples: 200 })).toEqual(ops);
    const other = await measureOperatingPoints(router, { table: all, embeddings: null }, { seed: 4, resamples: 200 });
    expect(other.points[1].qualityInterval).not.toEqual(ops.points[1].qualityInterval);
  });

  it("the evaluator's validation lambdas are the same function (one way to choose points)", async () => {
    const q = await router.predictQuality({ ids: all.ids, texts: all.texts, embeddings: null });
    const lambdas = validatedLambdas(exactCurve(q, costs, all.scores, all.costs, m).points, true);
    const ops = await measureOperatingPoints(router, { table: all, embeddings: null }, { resamples: 0 });
    expect(ops.points.map((p) => p.lambda)).toEqual(lambdas.filter((l) => ops.points.some((p) => p.lambda === l)));
    expect(ops.points[0].costInterval).toBeNull();
  });

  it("a missing outcome is one clear error naming the prompt and model", async () => {
    const broken = { ...all, scores: all.scores.slice() };
    broken.scores[5 * m + 2] = NaN;
    await expect(measureOperatingPoints(router, { table: broken, embeddings: null })).rejects.toThrow(new RegExp(`prompt "${all.ids[5]}" has no score or cost for "${all.models[2]}"`));
  });
});
