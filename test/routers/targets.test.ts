import { describe, expect, it } from "vitest";
import { chooseTarget, pointsForPrompts, promptDraw, type OperatingPoint, type OperatingPoints } from "../../src/routers/targets.js";

const POOL = ["cheap", "mid", "big"];

function point(lambda: number, cost: number, quality: number, shares: [number, number, number]): OperatingPoint {
  return { lambda, setting: null, cost, costInterval: null, quality, qualityInterval: [quality - 0.05, quality + 0.05], shares: { cheap: shares[0], mid: shares[1], big: shares[2] } };
}

// A concave hull: cheap only, half mid, mostly big.
const OPS: OperatingPoints = {
  on: "crossfit",
  prompts: 1000,
  bootstrap: { resamples: 100, seed: 0, level: 0.95 },
  points: [point(0, 1, 0.4, [1, 0, 0]), point(0.5, 3, 0.6, [0.5, 0.5, 0]), point(2, 10, 0.7, [0, 0.3, 0.7])],
};

describe("chooseTarget", () => {
  it("a budget between two points mixes them so that the expected spend is the budget", () => {
    const c = chooseTarget(OPS, { budget: 2 }, POOL);
    expect(c.low.lambda).toBe(0);
    expect(c.high.lambda).toBe(0.5);
    expect(c.t).toBeCloseTo(0.5, 12);
    expect(c.cost).toBeCloseTo(2, 12);
    expect(c.quality).toBeCloseTo(0.5, 12);
    expect(c.qualityInterval![0]).toBeCloseTo(0.45, 12);
    expect(c.shares.mid).toBeCloseTo(0.25, 12);
    expect(c.note).toBeNull();
  });

  it("a budget at a vertex picks the vertex; above the dearest point, the dearest point", () => {
    const at = chooseTarget(OPS, { budget: 3 }, POOL);
    expect([at.low.lambda, at.t]).toEqual([0.5, 0]);
    const rich = chooseTarget(OPS, { budget: 100 }, POOL);
    expect([rich.low.lambda, rich.t, rich.cost]).toEqual([2, 0, 10]);
    expect(chooseTarget(OPS, {}, POOL).low.lambda).toBe(2); // no target: best quality
  });

  it("a budget below the cheapest point routes there and says so", () => {
    const c = chooseTarget(OPS, { budget: 0.5 }, POOL);
    expect([c.low.lambda, c.t, c.cost]).toEqual([0, 0, 1]);
    expect(c.note).toMatch(/budget \$0\.500\/query is below the router's cheapest operating point \(\$1\.00\/query\)/);
  });

  it("a share cap is met on the hull: the largest share of traffic to big that stays under the cap", () => {
    const c = chooseTarget(OPS, { maxShare: { big: 0.35 } }, POOL);
    expect(c.low.lambda).toBe(0.5);
    expect(c.high.lambda).toBe(2);
    expect(c.t).toBeCloseTo(0.5, 12);
    expect(c.shares.big).toBeCloseTo(0.35, 12);
    // Together with a budget, the tighter constraint wins.
    const both = chooseTarget(OPS, { maxShare: { big: 0.35 }, budget: 4 }, POOL);
    expect(both.cost).toBeCloseTo(4, 12);
    expect(both.shares.big).toBeLessThanOrEqual(0.35);
  });

  it("a cap no point meets is one clear error; bad targets are refused", () => {
    expect(() => chooseTarget(OPS, { maxShare: { cheap: 0 } }, POOL)).not.toThrow(); // the dearest point gives cheap 0
    const noCheap: OperatingPoints = { ...OPS, points: OPS.points.map((p) => ({ ...p, shares: { ...p.shares, cheap: Math.max(p.shares.cheap, 0.2) } })) };
    expect(() => chooseTarget(noCheap, { maxShare: { cheap: 0.1 } }, POOL)).toThrow(/no operating point keeps "cheap" at or below 0\.1 of traffic \(the lowest share it gets is 0\.200\)/);
    expect(() => chooseTarget(OPS, { maxShare: { other: 0.1 } }, POOL)).toThrow(/not in the router's pool/);
    expect(() => chooseTarget(OPS, { maxShare: { big: 1.5 } }, POOL)).toThrow(/must be in \[0, 1\]/);
    expect(() => chooseTarget(OPS, { budget: -1 }, POOL)).toThrow(/non-negative/);
    expect(() => chooseTarget({ ...OPS, points: [] }, { budget: 1 }, POOL)).toThrow(/no operating points/);
  });

  it("one point only: that point, whatever the budget", () => {
    const one: OperatingPoints = { ...OPS, points: [OPS.points[1]] };
    expect(chooseTarget(one, { budget: 5 }, POOL).low.lambda).toBe(0.5);
    expect(chooseTarget(one, { budget: 1 }, POOL).note).toMatch(/below the router's cheapest/);
  });
});

describe("the per-prompt draw that mixes two points", () => {
  it("is a function of (seed, prompt text) alone, uniform enough, and gives each prompt one point", () => {
    expect(promptDraw(0, "a")).toBe(promptDraw(0, "a"));
    expect(promptDraw(0, "a")).not.toBe(promptDraw(1, "a"));
    const ids = Array.from({ length: 20000 }, (_, i) => `p${i}`);
    const u = ids.map((id) => promptDraw(7, id));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const mean = u.reduce((a, b) => a + b, 0) / u.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01); // 4 standard errors
    const c = chooseTarget(OPS, { budget: 2 }, POOL);
    const pts = pointsForPrompts(c, ids, 7);
    const high = pts.filter((p) => p === c.high).length / ids.length;
    expect(Math.abs(high - c.t)).toBeLessThan(0.015);
    // The same prompt in another batch gets the same point.
    expect(pointsForPrompts(c, ["p5"], 7)[0]).toBe(pts[5]);
  });
});
