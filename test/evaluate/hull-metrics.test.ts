import { describe, expect, it } from "vitest";
import { nonDecreasingHull } from "../../src/evaluate/hull.js";
import { aiq, aiqRouterbenchCode, apgr, costToReach, cpt, maxQuality, qualityAtCost } from "../../src/evaluate/metrics.js";
import { makeRng } from "../../src/util/rng.js";

const P = (cost: number, quality: number) => ({ cost, quality });

describe("nonDecreasingHull", () => {
  it("one point is its own hull", () => {
    expect(nonDecreasingHull([P(2, 0.6)])).toEqual([P(2, 0.6)]);
  });

  it("two points: both when quality rises, only the cheaper when it falls or ties", () => {
    expect(nonDecreasingHull([P(3, 0.9), P(1, 0.5)])).toEqual([P(1, 0.5), P(3, 0.9)]);
    expect(nonDecreasingHull([P(1, 0.5), P(3, 0.4)])).toEqual([P(1, 0.5)]);
    expect(nonDecreasingHull([P(1, 0.5), P(3, 0.5)])).toEqual([P(1, 0.5)]);
  });

  it("equal costs keep the higher quality", () => {
    expect(nonDecreasingHull([P(1, 0.5), P(1, 0.7), P(2, 0.8), P(2, 0.1)])).toEqual([P(1, 0.7), P(2, 0.8)]);
  });

  it("drops points below a chord, collinear middle points, and everything after the top", () => {
    const pts = [P(1, 0.2), P(2, 0.6), P(3, 0.7), P(4, 0.75), P(5, 0.5), P(2.5, 0.3), P(6, 0.75)];
    expect(nonDecreasingHull(pts)).toEqual([P(1, 0.2), P(2, 0.6), P(3, 0.7), P(4, 0.75)]);
    expect(nonDecreasingHull([P(1, 0), P(2, 0.1), P(3, 1)])).toEqual([P(1, 0), P(3, 1)]);
    expect(nonDecreasingHull([P(0, 0), P(1, 1), P(2, 2)])).toEqual([P(0, 0), P(2, 2)]);
  });

  it("the cheapest point stays even when it is the best", () => {
    expect(nonDecreasingHull([P(1, 0.9), P(2, 0.5)])).toEqual([P(1, 0.9)]);
  });

  it("random clouds: concave, non-decreasing, and no input point above it", () => {
    const rng = makeRng(4);
    for (let t = 0; t < 50; t++) {
      const pts = Array.from({ length: 1 + Math.floor(rng() * 40) }, () => P(Math.round(rng() * 20) / 4, rng()));
      const h = nonDecreasingHull(pts);
      for (let k = 1; k < h.length; k++) {
        expect(h[k].cost).toBeGreaterThan(h[k - 1].cost);
        expect(h[k].quality).toBeGreaterThan(h[k - 1].quality);
      }
      for (let k = 2; k < h.length; k++) {
        const s1 = (h[k - 1].quality - h[k - 2].quality) / (h[k - 1].cost - h[k - 2].cost);
        const s2 = (h[k].quality - h[k - 1].quality) / (h[k].cost - h[k - 1].cost);
        expect(s2).toBeLessThan(s1);
      }
      for (const p of pts) {
        const q = qualityAtCost(h, p.cost);
        expect(q).not.toBeNull();
        expect(p.quality).toBeLessThanOrEqual(q! + 1e-12);
      }
      expect(Math.max(...h.map((x) => x.quality))).toBe(Math.max(...pts.map((x) => x.quality)));
    }
  });

  it("rejects non-finite points", () => {
    expect(() => nonDecreasingHull([P(NaN, 1)])).toThrow(/not finite/);
  });
});

describe("AIQ", () => {
  const hull = [P(1, 0.5), P(3, 0.9)];

  it("shared range: 0 left of the first point, linear between, flat right of the last", () => {
    // [0,1]: 0; [1,3]: (0.5+0.9)/2*2 = 1.4; [3,4]: 0.9. (1.4+0.9)/4.
    expect(aiq(hull, 0, 4)).toBeCloseTo(2.3 / 4, 12);
    expect(aiq(hull, 0.5, 4)).toBeCloseTo(2.3 / 3.5, 12);
  });

  it("one point: its quality over the part of the range it can reach", () => {
    expect(aiq([P(2, 0.6)], 1, 5)).toBeCloseTo((0.6 * 3) / 4, 12);
    expect(aiq([P(0.5, 0.6)], 1, 5)).toBeCloseTo(0.6, 12);
  });

  it("a range inside the hull interpolates at both ends", () => {
    // f(1)=0.4, f(2)=0.6, f(3)=0.7.
    expect(aiq([P(0, 0.2), P(2, 0.6), P(6, 1)], 1, 3)).toBeCloseTo((0.5 + 0.65) / 2, 12);
  });

  it("a router below the Zero line scores lower; one on it ties", () => {
    const zero = nonDecreasingHull([P(1, 0.4), P(4, 0.8)]);
    const onLine = nonDecreasingHull([P(1, 0.4), P(2.5, 0.5), P(4, 0.8)]);
    const below = nonDecreasingHull([P(1, 0.3), P(4, 0.7)]);
    expect(aiq(zero, 1, 4)).toBeCloseTo(0.6, 12);
    expect(aiq(onLine, 1, 4)).toBeCloseTo(aiq(zero, 1, 4), 12);
    expect(aiq(below, 1, 4)).toBeCloseTo(0.5, 12);
  });

  it("parity variant integrates from the router's own cheapest point and divides by cMax", () => {
    expect(aiqRouterbenchCode(hull, 4)).toBeCloseTo(2.3 / 4, 12);
    expect(aiqRouterbenchCode(hull, 5)).toBeCloseTo(3.2 / 5, 12);
    expect(aiqRouterbenchCode([P(2, 0.6)], 5)).toBeCloseTo((0.6 * 3) / 5, 12);
    // Differs from the shared range whenever that range does not start at 0.
    expect(aiqRouterbenchCode(hull, 4)).not.toBeCloseTo(aiq(hull, 0.5, 4), 6);
  });

  it("rejects a reversed range and an empty hull", () => {
    expect(() => aiq(hull, 3, 2)).toThrow();
    expect(() => aiq([], 0, 1)).toThrow();
  });

  it("scores a range of one cost (every model costs the same) as the hull's quality at that cost", () => {
    // hull: (1, 0.5), (3, 0.9): at 2, half-way from 0.5 to 0.9; left of the hull 0; right of it flat.
    expect(aiq(hull, 2, 2)).toBeCloseTo(0.7, 12);
    expect(aiq(hull, 0.5, 0.5)).toBe(0);
    expect(aiq(hull, 9, 9)).toBe(0.9);
    // the limit of the mean over a shrinking range
    expect(aiq(hull, 2, 2 + 1e-9)).toBeCloseTo(aiq(hull, 2, 2), 6);
  });
});

describe("hull read-outs", () => {
  const hull = [P(1, 0.5), P(3, 0.9), P(5, 1)];
  it("max quality and its cost", () => {
    expect(maxQuality(hull)).toEqual({ quality: 1, cost: 5 });
  });
  it("quality at a cost: null below the cheapest point, interpolated, flat after", () => {
    expect(qualityAtCost(hull, 0.5)).toBeNull();
    expect(qualityAtCost(hull, 2)).toBeCloseTo(0.7, 12);
    expect(qualityAtCost(hull, 4)).toBeCloseTo(0.95, 12);
    expect(qualityAtCost(hull, 9)).toBe(1);
  });
  it("cost to reach a quality: first point when already there, interpolated, null when never", () => {
    expect(costToReach(hull, 0.3)).toBe(1);
    expect(costToReach(hull, 0.7)).toBeCloseTo(2, 12);
    expect(costToReach(hull, 0.95)).toBeCloseTo(4, 12);
    expect(costToReach(hull, 1.01)).toBeNull();
  });
});

describe("APGR and CPT (two-model pools)", () => {
  const weak = 0.5;
  const strong = 0.9;
  it("a router that mixes at random has APGR 0.5 and CPT(p) = p", () => {
    const pts = [0, 0.25, 0.5, 0.75, 1].map((s) => ({ share: s, quality: weak + s * (strong - weak) }));
    expect(apgr(pts, weak, strong)).toBeCloseTo(0.5, 12);
    expect(cpt(pts, weak, strong, 0.5)).toBeCloseTo(0.5, 12);
    expect(cpt(pts, weak, strong, 0.8)).toBeCloseTo(0.8, 12);
  });
  it("hand-computed concave router", () => {
    const pts = [{ share: 0.5, quality: 0.85 }];
    // Anchored at (0, 0.5) and (1, 0.9): AUC = 0.3375 + 0.4375.
    expect(apgr(pts, weak, strong)).toBeCloseTo((0.775 - 0.5) / 0.4, 12);
    expect(cpt(pts, weak, strong, 0.5)).toBeCloseTo(0.5 * (0.2 / 0.35), 12);
    expect(cpt(pts, weak, strong, 0.8)).toBeCloseTo(0.5 * (0.32 / 0.35), 12);
  });
  it("undefined when the two models tie", () => {
    expect(apgr([{ share: 0.5, quality: 0.6 }], 0.6, 0.6)).toBeNull();
    expect(cpt([{ share: 0.5, quality: 0.6 }], 0.6, 0.6, 0.5)).toBeNull();
  });
});
