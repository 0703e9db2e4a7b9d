/**
 * Figures read off a hull (see ./hull.ts). A hull is a list of points sorted by cost with
 * non-decreasing quality; between points quality is linear (a mixture of the two settings),
 * right of the last point it stays flat (spending more is always possible, e.g. by wasting it),
 * and left of the first point the router cannot go: it has no setting that cheap.
 */
import type { CostQuality } from "./hull.js";

function checkHull(hull: readonly CostQuality[]): void {
  if (hull.length === 0) throw new Error("empty hull");
}

/**
 * Integral over [a, b] of the hull's quality, 0 left of its first point, flat right of its
 * last. Parallel-array form for the bootstrap's hot loop.
 */
export function hullIntegral(hc: ArrayLike<number>, hq: ArrayLike<number>, h: number, a: number, b: number): number {
  if (h === 0 || !(b > a)) return 0;
  let area = 0;
  for (let k = 0; k + 1 < h; k++) {
    const x0 = hc[k];
    const x1 = hc[k + 1];
    const lo = Math.max(x0, a);
    const hi = Math.min(x1, b);
    if (hi <= lo) continue;
    const slope = (hq[k + 1] - hq[k]) / (x1 - x0);
    const y0 = hq[k] + slope * (lo - x0);
    const y1 = hq[k] + slope * (hi - x0);
    area += ((y0 + y1) / 2) * (hi - lo);
  }
  const last = hc[h - 1];
  const lo = Math.max(last, a);
  if (b > lo) area += hq[h - 1] * (b - lo);
  return area;
}

/** A hull's quality at cost c (flat right of its last point), 0 left of its first: the limit of AIQ over a range shrinking to c. */
export function hullQualityAt(hc: ArrayLike<number>, hq: ArrayLike<number>, h: number, c: number): number {
  if (h === 0 || c < hc[0]) return 0;
  if (c >= hc[h - 1]) return hq[h - 1];
  let k = 0;
  while (hc[k + 1] <= c) k++;
  return hq[k] + ((hq[k + 1] - hq[k]) * (c - hc[k])) / (hc[k + 1] - hc[k]);
}

/**
 * AIQ over a cost range shared by every router compared: the hull's mean quality over
 * [cMin, cMax]. Left of the router's cheapest point quality counts as 0: the router cannot
 * spend that little, so it earns nothing there (the facts page leaves this open; 0 is the
 * choice that never credits a router with a cost it cannot reach).
 */
export function aiq(hull: readonly CostQuality[], cMin: number, cMax: number): number {
  checkHull(hull);
  // A range of one cost (every model costs the same): the mean over [c, c + e] as e -> 0, the
  // hull's quality at c, so routers are scored on quality where cost cannot separate them.
  if (cMax === cMin) return hullQualityAt(hull.map((p) => p.cost), hull.map((p) => p.quality), hull.length, cMin);
  if (!(cMax > cMin)) throw new Error(`AIQ needs cMax >= cMin, got [${cMin}, ${cMax}]`);
  return hullIntegral(hull.map((p) => p.cost), hull.map((p) => p.quality), hull.length, cMin, cMax) / (cMax - cMin);
}

/**
 * The RouterBench reference code's AIQ (parity mode): integrate the hull from the router's own
 * cheapest point to cMax (flat right of its last point) and divide by cMax, not by the width.
 */
export function aiqRouterbenchCode(hull: readonly CostQuality[], cMax: number): number {
  checkHull(hull);
  if (!(cMax > 0)) throw new Error(`AIQ needs cMax > 0, got ${cMax}`);
  return hullIntegral(hull.map((p) => p.cost), hull.map((p) => p.quality), hull.length, hull[0].cost, cMax) / cMax;
}

/** The hull's highest quality and the cheapest cost reaching it (its last point). */
export function maxQuality(hull: readonly CostQuality[]): { quality: number; cost: number } {
  checkHull(hull);
  const p = hull[hull.length - 1];
  return { quality: p.quality, cost: p.cost };
}

/** Quality reachable at cost c; null when c is below the router's cheapest point. */
export function qualityAtCost(hull: readonly CostQuality[], c: number): number | null {
  checkHull(hull);
  if (c < hull[0].cost) return null;
  const last = hull[hull.length - 1];
  if (c >= last.cost) return last.quality;
  let lo = 0;
  let hi = hull.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (hull[mid].cost <= c) lo = mid;
    else hi = mid;
  }
  const a = hull[lo];
  const b = hull[hi];
  return a.quality + ((b.quality - a.quality) * (c - a.cost)) / (b.cost - a.cost);
}

/** The least cost at which the hull reaches quality q; null when it never does. */
export function costToReach(hull: readonly CostQuality[], q: number): number | null {
  checkHull(hull);
  if (hull[0].quality >= q) return hull[0].cost;
  for (let k = 1; k < hull.length; k++) {
    const b = hull[k];
    if (b.quality >= q) {
      const a = hull[k - 1];
      return a.cost + ((b.cost - a.cost) * (q - a.quality)) / (b.quality - a.quality);
    }
  }
  return null;
}

/** A two-model router's point as RouteLLM sees it: share of calls to the strong model, and quality. */
export interface SharePoint {
  share: number;
  quality: number;
}

/**
 * The (share, quality) curve APGR and CPT read: sorted by share, equal shares keep the best
 * quality (the router can pick that setting), anchored at (0, weak) and (1, strong) because
 * sending every call to one model is always possible and RouteLLM's threshold sweeps span both.
 */
function shareCurve(points: readonly SharePoint[], weak: number, strong: number): SharePoint[] {
  const all = [{ share: 0, quality: weak }, { share: 1, quality: strong }, ...points].sort((a, b) => a.share - b.share || b.quality - a.quality);
  const out: SharePoint[] = [];
  for (const p of all) if (!out.length || out[out.length - 1].share !== p.share) out.push(p);
  return out;
}

/**
 * RouteLLM's APGR: (AUC(router) - AUC(weak)) / (AUC(strong) - AUC(weak)), AUC of quality over
 * the share of strong calls in [0, 1] (trapezoids on the router's raw points). Null when the
 * two models tie in quality (the ratio is undefined).
 */
export function apgr(points: readonly SharePoint[], weak: number, strong: number): number | null {
  if (!(strong !== weak)) return null;
  const c = shareCurve(points, weak, strong);
  let auc = 0;
  for (let k = 1; k < c.length; k++) auc += ((c[k].quality + c[k - 1].quality) / 2) * (c[k].share - c[k - 1].share);
  return (auc - weak) / (strong - weak);
}

/**
 * RouteLLM's CPT(p): the least share of strong calls at which the router's quality reaches
 * weak + p * (strong - weak) (linear between points). Null when the models tie in quality.
 */
export function cpt(points: readonly SharePoint[], weak: number, strong: number, p: number): number | null {
  if (!(strong > weak)) return null;
  const target = weak + p * (strong - weak);
  const c = shareCurve(points, weak, strong);
  if (c[0].quality >= target) return c[0].share;
  for (let k = 1; k < c.length; k++) {
    if (c[k].quality >= target) {
      const a = c[k - 1];
      const b = c[k];
      return a.share + ((b.share - a.share) * (target - a.quality)) / (b.quality - a.quality);
    }
  }
  return null;
}
