import { describe, expect, it } from "vitest";
import { CascadeRouter, judgeDraw } from "../../src/routers/baselines/cascade.js";
import { ZeroRouter } from "../../src/routers/baselines/zero.js";
import type { PromptBatch } from "../../src/routers/router.js";
import { realiseChecked } from "../../src/routers/routing.js";
import { tableFrom } from "../helpers/tables.js";

// Pool order deliberately not cost order: "big" is dearest, "tiny" cheapest.
const MODELS = ["big", "tiny", "mid"];
const train = tableFrom(MODELS, [
  { id: "t0", scores: [1, 0, 1], costs: [10, 1, 3] },
  { id: "t1", scores: [1, 1, 0], costs: [10, 1, 3] },
]);

function batch(rows: { id: string; scores: number[]; costs: number[] }[]): PromptBatch {
  return {
    ids: rows.map((r) => r.id),
    texts: rows.map((r) => r.id),
    embeddings: null,
    outcomes: { scores: Float64Array.from(rows.flatMap((r) => r.scores)), costs: Float64Array.from(rows.flatMap((r) => r.costs)) },
  };
}

const prompts = [
  { id: "a", scores: [1, 1, 1], costs: [10, 1, 3] }, // tiny is right: one call
  { id: "b", scores: [1, 0, 1], costs: [10, 1, 3] }, // tiny wrong, mid right: two calls
  { id: "c", scores: [1, 0, 0], costs: [12, 2, 4] }, // only big right: three calls
  { id: "d", scores: [0, 0, 0], costs: [10, 1, 3] }, // nobody: all three, big's answer returned
];

describe("zero router", () => {
  it("has one setting per model, every prompt to that model", async () => {
    const r = new ZeroRouter(MODELS, {});
    await r.fit({ table: train, embeddings: null });
    const out = await r.realise(batch(prompts));
    expect(out.map((o) => o.setting)).toEqual(MODELS.map((m) => `model=${m}`));
    expect(Array.from(out[2].chosen)).toEqual([2, 2, 2, 2]);
    expect(Array.from(out[2].costs)).toEqual([3, 3, 4, 3]);
    expect(Array.from(out[2].scores)).toEqual([1, 1, 0, 0]);
  });

  it("realiseChecked rejects a setting that picks outside the pool", async () => {
    const r = new ZeroRouter(MODELS, {});
    await r.fit({ table: train, embeddings: null });
    expect(await realiseChecked(r, batch(prompts))).toHaveLength(3);
    const rogue = Object.create(r) as ZeroRouter;
    rogue.realise = async (b) => (await r.realise(b)).map((s) => ({ ...s, chosen: s.chosen.map(() => 3) }));
    await expect(realiseChecked(rogue, batch(prompts))).rejects.toThrow(/chose model index 3 for prompt 0, outside its pool/);
  });

  it("cannot route without outcomes", async () => {
    const r = new ZeroRouter(MODELS, {});
    await expect(r.realise({ ids: ["x"], texts: ["x"], embeddings: null })).rejects.toThrow(/cannot route new prompts/);
  });
});

describe("cascade", () => {
  it("calls cheapest first; cost is the sum of all calls; epsilon 0 is exact", async () => {
    const r = new CascadeRouter(MODELS, { thresholds: "1", budgets: "1000" });
    await r.fit({ table: train, embeddings: null });
    expect(r.chain()).toEqual([1, 2, 0]);
    const [o] = await r.realise(batch(prompts));
    expect(Array.from(o.chosen)).toEqual([1, 2, 0, 0]);
    expect(Array.from(o.costs)).toEqual([1, 1 + 3, 2 + 4 + 12, 1 + 3 + 10]);
    expect(Array.from(o.scores)).toEqual([1, 1, 1, 0]);
  });

  it("respects the per-query budget: stops before a call whose expected cost exceeds what is left", async () => {
    // Expected costs: tiny 1, mid 3, big 10. Budget 4.5: tiny (1) then mid (3) fit, big does not.
    const r = new CascadeRouter(MODELS, { thresholds: "1", budgets: "4.5;0.5" });
    await r.fit({ table: train, embeddings: null });
    const [b45, b05] = await r.realise(batch(prompts));
    // Prompt c: tiny's realised cost 2 leaves 2.5, mid's expected 3 exceeds it: stops after tiny.
    expect(Array.from(b45.chosen)).toEqual([1, 2, 1, 2]);
    expect(Array.from(b45.costs)).toEqual([1, 4, 2, 4]);
    // A budget below the first call still makes that call (every prompt gets an answer).
    expect(Array.from(b05.chosen)).toEqual([1, 1, 1, 1]);
    expect(Array.from(b05.costs)).toEqual([1, 1, 2, 1]);
  });

  it("default settings: cumulative expected-cost budgets x thresholds", async () => {
    const r = new CascadeRouter(MODELS, { thresholds: "0.5;1" });
    await r.fit({ table: train, embeddings: null });
    expect(r.budgets()).toEqual([1, 4, 14]);
    const out = await r.realise(batch(prompts));
    expect(out).toHaveLength(6);
    for (const o of out) expect(o.costs.every((c, i) => c <= prompts[i].costs.reduce((a, b) => a + b))).toBe(true);
  });

  it("a judge with epsilon errs at about that rate, deterministically per seed", async () => {
    const many = Array.from({ length: 2000 }, (_, i) => ({ id: `p${i}`, scores: [1, 1, 1], costs: [10, 1, 3] }));
    const run = async (seed: number, epsilon: number) => {
      const r = new CascadeRouter(MODELS, { thresholds: "1", budgets: "1000", epsilon, seed });
      await r.fit({ table: train, embeddings: null });
      return (await r.realise(batch(many)))[0];
    };
    const a = await run(1, 0.2);
    const b = await run(1, 0.2);
    const c = await run(2, 0.2);
    expect(Array.from(a.chosen)).toEqual(Array.from(b.chosen));
    expect(Array.from(a.chosen)).not.toEqual(Array.from(c.chosen));
    // Every answer is right, so the judge errs exactly when it rejects tiny's answer.
    const rejected = Array.from(a.chosen).filter((j) => j !== 1).length / many.length;
    expect(rejected).toBeGreaterThan(0.15);
    expect(rejected).toBeLessThan(0.25);
    // Cost accounting still holds: each call made is paid.
    a.chosen.forEach((j, i) => expect(a.costs[i]).toBe(j === 1 ? 1 : j === 2 ? 4 : 14));
  });

  it("judge draws depend only on seed, prompt id and call", () => {
    expect(judgeDraw(3, "x", 1)).toBe(judgeDraw(3, "x", 1));
    expect(judgeDraw(3, "x", 1)).not.toBe(judgeDraw(3, "x", 2));
    expect(judgeDraw(3, "x", 1)).not.toBe(judgeDraw(4, "x", 1));
  });
});
