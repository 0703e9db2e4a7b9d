import { describe, expect, it } from "vitest";
import { ROUTERBENCH_LAMBDAS, directCurve, exactCurve, gridCurve, type CurvePoint } from "../../src/evaluate/curve.js";
import { routeAt } from "../../src/routers/routing.js";
import { makeRng } from "../../src/util/rng.js";
import { meanCosts, noisyPredictions, randomTable } from "./fixtures.js";

const f = (a: number[]) => Float64Array.from(a);

/** The curve point at lambda the slow way: route with the one routing rule, average outcomes. */
function pointAt(q: Float64Array, c: Float64Array, scores: Float64Array, costs: Float64Array, m: number, lambda: number): { cost: number; quality: number } {
  const chosen = routeAt(q, c, m, lambda);
  let sc = 0;
  let sq = 0;
  chosen.forEach((j, i) => {
    sc += costs[i * m + j];
    sq += scores[i * m + j];
  });
  return { cost: sc / chosen.length, quality: sq / chosen.length };
}

const key = (p: { cost: number; quality: number }) => `${p.cost.toPrecision(10)}|${p.quality.toPrecision(10)}`;

describe("exactCurve on hand-computed cases", () => {
  it("one prompt, two models: one breakpoint at (c1-c0)/(q1-q0)", () => {
    const { points } = exactCurve(f([0.2, 0.8]), f([1, 3]), f([0, 1]), f([0.5, 2.5]), 2);
    expect(points).toHaveLength(2);
    expect(points[0]).toEqual({ lambda: 0, cost: 0.5, quality: 0 });
    expect(points[1].lambda).toBeCloseTo(2 / 0.6, 12);
    expect(points[1].cost).toBe(2.5);
    expect(points[1].quality).toBe(1);
  });

  it("a model that is never on the upper envelope is never chosen", () => {
    // Lines 0, 0.5l-0.6, l-1: the middle one is below max(0, l-1) everywhere.
    const { points, decisions } = exactCurve(f([0, 0.5, 1]), f([0, 0.6, 1]), f([0.1, 0.5, 0.9]), f([0, 0.6, 1]), 3);
    expect(points.map((p) => p.lambda)).toEqual([0, 1]);
    expect(Array.from(decisions.toModel)).toEqual([2]);
  });

  it("a dominated model (dearer and predicted worse) gives a single point", () => {
    const { points } = exactCurve(f([0.5, 0.4]), f([1, 2]), f([0.3, 0.9]), f([1, 2]), 2);
    expect(points).toHaveLength(1);
  });

  it("equal expected costs: lambda=0 takes the lower index, just above 0 the higher quality", () => {
    const q = f([0.2, 0.8]);
    const c = f([1, 1]);
    const { points } = exactCurve(q, c, f([0.1, 0.7]), f([1, 1.5]), 2);
    expect(points).toHaveLength(2);
    expect(points.map((p) => p.lambda)).toEqual([0, 0]);
    expect(Array.from(routeAt(q, c, 2, 0))).toEqual([0]);
    expect(Array.from(routeAt(q, c, 2, 1e-9))).toEqual([1]);
    expect(points[1].quality).toBe(0.7);
  });

  it("at a breakpoint the tie goes to the cheaper model, as routeAt decides", () => {
    // Lines l*0.5 - 1 and l*1 - 2 cross at lambda = 2 exactly (representable).
    const q = f([0.5, 1]);
    const c = f([1, 2]);
    const { points } = exactCurve(q, c, f([0.4, 1]), f([1, 2]), 2);
    expect(points[1].lambda).toBe(2);
    expect(Array.from(routeAt(q, c, 2, 2))).toEqual([0]);
    expect(points[0].quality).toBe(0.4); // the point holding at lambda = 2 itself
  });

  it("NaN predictions are never chosen; a row of NaN stays on the cheapest model", () => {
    const q = f([NaN, 0.5, 0.9, NaN, NaN, NaN]);
    const c = f([0.5, 1, 2]);
    const s = f([1, 0.5, 0.9, 1, 0.2, 0.3]);
    const cost = f([0.5, 1, 2, 0.5, 1, 2]);
    const { points } = exactCurve(q, c, s, cost, 3);
    for (const l of [0, 0.1, 1, 2, 2.6, 10, 1e6, Infinity]) {
      const p = pointAt(q, c, s, cost, 3, l);
      expect(points.some((x) => key(x) === key(p))).toBe(true);
    }
    expect(points[0].quality).toBeCloseTo((0.5 + 1) / 2, 12);
  });
});

describe("exactCurve against a dense lambda grid", () => {
  const cases = [
    { n: 7, m: 4, seed: 3, binary: false },
    { n: 25, m: 3, seed: 11, binary: true },
  ];
  for (const { n, m, seed, binary } of cases) {
    it(`${n} prompts x ${m} models (seed ${seed}): same set of points, and every grid point is on the curve`, () => {
      const t = randomTable(n, m, seed, { binary });
      const q = noisyPredictions(t, seed + 1);
      const c = meanCosts(t);
      const { points } = exactCurve(q, c, t.scores, t.costs, m);
      const grid = [0, Infinity];
      for (let k = 0; k <= 40000; k++) grid.push(10 ** (-8 + (16 * k) / 40000));
      const exactKeys = new Set(points.map(key));
      const gridKeys = new Set<string>();
      for (const l of grid) {
        const p = pointAt(q, c, t.scores, t.costs, m, l);
        gridKeys.add(key(p));
        expect(exactKeys.has(key(p)), `grid point at lambda ${l}`).toBe(true);
      }
      expect([...exactKeys].sort()).toEqual([...gridKeys].sort());
      // Lambdas are the sorted breakpoints.
      for (let k = 1; k < points.length; k++) expect(points[k].lambda).toBeGreaterThanOrEqual(points[k - 1].lambda);
    });
  }

  it("each point holds on its own lambda interval (just above its lambda, and at the next one's)", () => {
    const t = randomTable(40, 5, 21);
    const q = noisyPredictions(t, 22);
    const c = meanCosts(t);
    const { points } = exactCurve(q, c, t.scores, t.costs, 5);
    expect(points.length).toBeGreaterThan(10);
    for (let k = 0; k < points.length; k++) {
      const lo = points[k].lambda;
      const hi = k + 1 < points.length ? points[k + 1].lambda : Infinity;
      if (hi === lo) continue;
      const probe = hi === Infinity ? lo * 2 + 1 : lo + (hi - lo) / 2;
      const p = pointAt(q, c, t.scores, t.costs, 5, probe);
      expect(p.cost).toBeCloseTo(points[k].cost, 12);
      expect(p.quality).toBeCloseTo(points[k].quality, 12);
    }
  });
});

describe("gridCurve", () => {
  it("matches routing at each RouterBench lambda", () => {
    const t = randomTable(30, 4, 5);
    const q = noisyPredictions(t, 6);
    // Scale costs so the reference grid's lambdas straddle the breakpoints.
    const c = meanCosts(t);
    const pts: CurvePoint[] = gridCurve(q, c, t.scores, t.costs, 4, ROUTERBENCH_LAMBDAS);
    expect(ROUTERBENCH_LAMBDAS).toHaveLength(32);
    expect(pts.map((p) => p.lambda)).toEqual([...ROUTERBENCH_LAMBDAS]);
    for (const p of pts) {
      const direct = pointAt(q, c, t.scores, t.costs, 4, p.lambda);
      expect(p.cost).toBeCloseTo(direct.cost, 12);
      expect(p.quality).toBeCloseTo(direct.quality, 12);
    }
    expect(new Set(pts.map(key)).size).toBeGreaterThan(2);
  });

  it("sorts and de-duplicates the grid, and accepts 0 and Infinity", () => {
    const t = randomTable(10, 3, 8);
    const q = noisyPredictions(t, 9);
    const c = meanCosts(t);
    const pts = gridCurve(q, c, t.scores, t.costs, 3, [Infinity, 1, 0, 1]);
    expect(pts.map((p) => p.lambda)).toEqual([0, 1, Infinity]);
    expect(key(pts[2])).toBe(key(pointAt(q, c, t.scores, t.costs, 3, Infinity)));
  });
});

describe("directCurve", () => {
  it("one point per setting, equal to its plain mean", () => {
    const rng = makeRng(1);
    const n = 50;
    const settings = Array.from({ length: 4 }, () => ({
      costs: Float64Array.from({ length: n }, () => rng()),
      scores: Float64Array.from({ length: n }, () => (rng() < 0.5 ? 1 : 0)),
      chosen: Int32Array.from({ length: n }, () => Math.floor(rng() * 3)),
    }));
    const { points } = directCurve(settings);
    expect(points).toHaveLength(4);
    settings.forEach((s, k) => {
      expect(points[k].cost).toBeCloseTo(s.costs.reduce((a, b) => a + b, 0) / n, 12);
      expect(points[k].quality).toBeCloseTo(s.scores.reduce((a, b) => a + b, 0) / n, 12);
    });
  });
});
