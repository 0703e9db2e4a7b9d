/**
 * The non-decreasing convex hull (NDCH) of cost-quality points: what a router can reach by
 * mixing its own settings at random (any point on a segment is a coin-flip mixture of its two
 * ends), keeping only the part where paying more buys quality. The Zero router's curve is the
 * NDCH of the single models' points.
 */

export interface CostQuality {
  cost: number;
  quality: number;
}

/**
 * Hull of `len` points given as parallel arrays; writes the hull into outCost/outQuality and
 * returns its length. Typed-array form so the bootstrap can run it thousands of times without
 * allocating objects (typed arrays only: one element kind keeps V8's loops monomorphic).
 * `order` is scratch of at least `len` entries.
 */
export function hullInto(cost: Float64Array, quality: Float64Array, len: number, order: Int32Array, outCost: Float64Array, outQuality: Float64Array): number {
  if (len === 0) return 0;
  sortByCost(cost, quality, len, order);
  let h = 0;
  let lastCost = NaN;
  for (let k = 0; k < len; k++) {
    const i = order[k];
    const x = cost[i];
    const y = quality[i];
    // Equal costs: the first one seen has the highest quality; the others add nothing.
    if (x === lastCost) continue;
    lastCost = x;
    // Upper hull, left to right: drop the last vertex while it is not strictly above the chord
    // from the one before it to the new point (collinear middle points are dropped too).
    while (h >= 2) {
      const ax = outCost[h - 2];
      const ay = outQuality[h - 2];
      const bx = outCost[h - 1];
      const by = outQuality[h - 1];
      if ((bx - ax) * (y - ay) - (by - ay) * (x - ax) >= 0) h--;
      else break;
    }
    outCost[h] = x;
    outQuality[h] = y;
    h++;
  }
  // Cut after the (first) highest vertex: quality must not fall as cost grows.
  let top = 0;
  for (let k = 1; k < h; k++) if (outQuality[k] > outQuality[top]) top = k;
  return top + 1;
}

const before = (cost: Float64Array, quality: Float64Array, a: number, b: number) => cost[a] < cost[b] || (cost[a] === cost[b] && quality[a] > quality[b]);

/**
 * Fill order[0..len) with point indices sorted by cost, then quality descending. A curve comes
 * nearly sorted (realised cost mostly grows with lambda), so insertion sort is about linear
 * and allocation-free, which matters in the bootstrap's hot loop; past a move budget it gives
 * up and falls back to an O(n log n) sort, so adversarial orders stay O(n log n).
 */
export function sortByCost(cost: Float64Array, quality: Float64Array, len: number, order: Int32Array): void {
  for (let i = 0; i < len; i++) order[i] = i;
  let moves = 0;
  const budget = 4 * len + 64;
  for (let i = 1; i < len; i++) {
    const v = order[i];
    let j = i - 1;
    while (j >= 0 && before(cost, quality, v, order[j])) {
      order[j + 1] = order[j];
      j--;
    }
    moves += i - 1 - j;
    order[j + 1] = v;
    if (moves > budget) {
      const sorted = Array.from({ length: len }, (_, k) => k).sort((a, b) => cost[a] - cost[b] || quality[b] - quality[a]);
      for (let k = 0; k < len; k++) order[k] = sorted[k];
      return;
    }
  }
}

/** NDCH in O(n log n); one or two points, equal costs and collinear points all handled. */
export function nonDecreasingHull(points: readonly CostQuality[]): CostQuality[] {
  for (const p of points) {
    if (!Number.isFinite(p.cost) || !Number.isFinite(p.quality)) throw new Error(`hull point (${p.cost}, ${p.quality}) is not finite`);
  }
  const n = points.length;
  const hc = new Float64Array(n);
  const hq = new Float64Array(n);
  const h = hullInto(
    Float64Array.from(points, (p) => p.cost),
    Float64Array.from(points, (p) => p.quality),
    n,
    new Int32Array(n),
    hc,
    hq,
  );
  return Array.from({ length: h }, (_, k) => ({ cost: hc[k], quality: hq[k] }));
}
