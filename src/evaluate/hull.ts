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
 * allocating objects. `order` is scratch of at least `len` entries.
 */
export function hullInto(cost: ArrayLike<number>, quality: ArrayLike<number>, len: number, order: number[], outCost: Float64Array, outQuality: Float64Array): number {
  if (len === 0) return 0;
  order.length = len;
  for (let i = 0; i < len; i++) order[i] = i;
  // Curves arrive nearly sorted by cost (cost grows with lambda), which TimSort exploits.
  order.sort((a, b) => cost[a] - cost[b] || quality[b] - quality[a]);
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

/** NDCH in O(n log n); one or two points, equal costs and collinear points all handled. */
export function nonDecreasingHull(points: readonly CostQuality[]): CostQuality[] {
  for (const p of points) {
    if (!Number.isFinite(p.cost) || !Number.isFinite(p.quality)) throw new Error(`hull point (${p.cost}, ${p.quality}) is not finite`);
  }
  const n = points.length;
  const hc = new Float64Array(n);
  const hq = new Float64Array(n);
  const h = hullInto(
    points.map((p) => p.cost),
    points.map((p) => p.quality),
    n,
    [],
    hc,
    hq,
  );
  return Array.from({ length: h }, (_, k) => ({ cost: hc[k], quality: hq[k] }));
}
