import { describe, expect, it } from "vitest";
import { AIQ_TIE_TOLERANCE, bootstrapAiq, drawWeights, quantile } from "../../src/evaluate/bootstrap.js";
import { directCurve, exactCurve } from "../../src/evaluate/curve.js";
import { nonDecreasingHull } from "../../src/evaluate/hull.js";
import { aiq, aiqRouterbenchCode } from "../../src/evaluate/metrics.js";
import { selectRows, type OutcomeTable } from "../../src/data/table.js";
import { makeRng } from "../../src/util/rng.js";
import { meanCosts, noisyPredictions, randomTable } from "./fixtures.js";

function singlesOf(t: OutcomeTable) {
  const m = t.models.length;
  const n = t.ids.length;
  return t.models.map((_, j) => {
    let c = 0;
    let q = 0;
    for (let i = 0; i < n; i++) {
      c += t.costs[i * m + j];
      q += t.scores[i * m + j];
    }
    return { cost: c / n, quality: q / n };
  });
}

function setup(n = 60, m = 4, seed = 2) {
  const t = randomTable(n, m, seed, { binary: true });
  const c = meanCosts(t);
  const qA = noisyPredictions(t, seed + 10, 0.8);
  const qB = noisyPredictions(t, seed + 20, 1.6);
  // A direct router: best-of-two cheapest models with a threshold knob, from realised outcomes.
  const settings = [0, 0.5, 1].map((thr) => {
    const costs = new Float64Array(n);
    const scores = new Float64Array(n);
    const chosen = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const first = t.scores[i * m];
      const j = first >= thr ? 0 : m - 1;
      chosen[i] = j;
      costs[i] = t.costs[i * m] + (j ? t.costs[i * m + j] : 0);
      scores[i] = t.scores[i * m + j];
    }
    return { costs, scores, chosen };
  });
  return { t, c, qA, qB, settings, m };
}

describe("bootstrapAiq", () => {
  it("is deterministic for a seed and changes with it", () => {
    const { t, c, qA, m } = setup();
    const curves = [exactCurve(qA, c, t.scores, t.costs, m).decisions];
    const input = { curves, singleScores: t.scores, singleCosts: t.costs, nModels: m, aiqMode: "shared-range" as const };
    const a = bootstrapAiq(input, { seed: 7, resamples: 200 });
    const b = bootstrapAiq(input, { seed: 7, resamples: 200 });
    const other = bootstrapAiq(input, { seed: 8, resamples: 200 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a)).not.toBe(JSON.stringify(other));
    expect(a.routers[0].aiq[0]).toBeLessThan(a.routers[0].aiq[1]);
    expect(a.routers[0].pBeatsZero).toBeGreaterThanOrEqual(0);
    expect(a.routers[0].pBeatsZero).toBeLessThanOrEqual(1);
  });

  for (const mode of ["shared-range", "routerbench-code"] as const) {
    it(`incremental replay equals a naive recomputation on explicitly resampled rows (${mode})`, () => {
      const { t, c, qA, qB, settings, m } = setup();
      const n = t.ids.length;
      const curves = [exactCurve(qA, c, t.scores, t.costs, m), exactCurve(qB, c, t.scores, t.costs, m), directCurve(settings)];
      const res = bootstrapAiq(
        { curves: curves.map((x) => x.decisions), singleScores: t.scores, singleCosts: t.costs, nModels: m, aiqMode: mode },
        { seed: 99, resamples: 5, keepDraws: true },
      );
      const rng = makeRng(99);
      for (let b = 0; b < 5; b++) {
        const w = drawWeights(rng, n);
        const rows: number[] = [];
        w.forEach((count, i) => {
          for (let k = 0; k < count; k++) rows.push(i);
        });
        const rt = selectRows(t, rows);
        const pick = (a: Float64Array) => Float64Array.from(rows.flatMap((i) => Array.from(a.subarray(i * m, i * m + m))));
        const pickVec = (a: Float64Array) => Float64Array.from(rows.map((i) => a[i]));
        const hulls = [
          nonDecreasingHull(exactCurve(pick(qA), c, rt.scores, rt.costs, m).points),
          nonDecreasingHull(exactCurve(pick(qB), c, rt.scores, rt.costs, m).points),
          nonDecreasingHull(directCurve(settings.map((s) => ({ costs: pickVec(s.costs), scores: pickVec(s.scores), chosen: Int32Array.from(rows.map((i) => s.chosen[i])) }))).points),
        ];
        const singles = singlesOf(rt);
        const zero = nonDecreasingHull(singles);
        const lo = Math.min(...singles.map((s) => s.cost));
        const hi = Math.max(...singles.map((s) => s.cost));
        const cMax = Math.max(...[...hulls, zero].map((h) => h[h.length - 1].cost));
        const value = (h: { cost: number; quality: number }[]) => (mode === "shared-range" ? aiq(h, lo, hi) : aiqRouterbenchCode(h, cMax));
        hulls.forEach((h, r) => expect(res.draws!.routers[r][b]).toBeCloseTo(value(h), 10));
        expect(res.draws!.zero[b]).toBeCloseTo(value(zero), 10);
      }
    });
  }

  it("intervals are percentiles of the draws; diffToZero pairs each resample", () => {
    const { t, c, qA, m } = setup(80, 3, 5);
    const res = bootstrapAiq(
      { curves: [exactCurve(qA, c, t.scores, t.costs, m).decisions], singleScores: t.scores, singleCosts: t.costs, nModels: m, aiqMode: "shared-range" },
      { seed: 1, resamples: 101, keepDraws: true },
    );
    const d = res.draws!.routers[0].slice().sort((a, b) => a - b);
    expect(res.routers[0].aiq[0]).toBeCloseTo(quantile(d, 0.025), 12);
    expect(res.routers[0].aiq[1]).toBeCloseTo(quantile(d, 0.975), 12);
    const diff = res.draws!.routers[0].map((v, b) => v - res.draws!.zero[b]).sort((a, b) => a - b);
    expect(res.routers[0].diffToZero[0]).toBeCloseTo(quantile(diff, 0.025), 12);
    expect(res.routers[0].diffToZero[1]).toBeCloseTo(quantile(diff, 0.975), 12);
    expect(res.routers[0].pBeatsZero).toBe(diff.filter((x) => x > AIQ_TIE_TOLERANCE).length / 101);
    expect(res.routers[0].pBeatsZero).toBeGreaterThan(0);
  });

  it("the Zero router's own hull compared with itself never beats Zero", () => {
    const t = randomTable(40, 3, 12);
    const m = 3;
    // A direct router whose settings are the single models: its hull is the Zero router's.
    const settings = [0, 1, 2].map((j) => ({
      costs: Float64Array.from({ length: 40 }, (_, i) => t.costs[i * m + j]),
      scores: Float64Array.from({ length: 40 }, (_, i) => t.scores[i * m + j]),
      chosen: new Int32Array(40).fill(j),
    }));
    const res = bootstrapAiq(
      { curves: [directCurve(settings).decisions], singleScores: t.scores, singleCosts: t.costs, nModels: m, aiqMode: "shared-range" },
      { seed: 3, resamples: 50 },
    );
    expect(res.routers[0].pBeatsZero).toBe(0);
    expect(res.routers[0].diffToZero[0]).toBeCloseTo(0, 12);
    expect(res.routers[0].diffToZero[1]).toBeCloseTo(0, 12);
  });

  it("quantile interpolates between order statistics", () => {
    expect(quantile([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([0, 10], 0.025)).toBeCloseTo(0.25, 12);
  });
});
