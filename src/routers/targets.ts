/**
 * Operating points and routing targets: how a user says what a router should do in dollars or
 * traffic shares instead of a bare lambda.
 *
 * A router's operating points are the vertices of its non-decreasing cost-quality hull, measured
 * on prompts it was not fitted on (its validation rows at training time, or a user's held-out
 * traffic via `calibrate`); see ../evaluate/operating-points.ts. Each carries the lambda (or a
 * direct router's setting) that produces it, its expected US$ per query and quality (with
 * bootstrap intervals) and the share of traffic each pool model got.
 *
 * A target (a budget in US$ per query, caps on models' shares, or both) picks the best point
 * of that hull that meets every constraint. Any point on a hull segment is reachable by mixing
 * the segment's two vertices: each prompt goes to the dearer vertex's lambda with probability
 * t, decided by a seeded draw keyed by the prompt's text (so a prompt always gets the same
 * answer, whatever batch or request it comes in, and the mix over many prompts is t in
 * expectation). Not the id: a lone prompt from the CLI or a server request has no id of its own. Quality and shares along a segment are linear in t,
 * so the best feasible point of a segment is at the largest feasible t; the best segment wins.
 */
import { createHash } from "node:crypto";
import { InputError } from "../util/errors.js";

export interface OperatingPoint {
  /** The lambda giving this point (predictive routers; Infinity = best predicted quality); null for direct routers. */
  readonly lambda: number | null;
  /** A direct router's setting label; null for predictive routers. */
  readonly setting: string | null;
  /** Mean realised US$ per query, and its bootstrap interval. */
  readonly cost: number;
  readonly costInterval: readonly [number, number] | null;
  /** Mean realised quality, and its bootstrap interval. */
  readonly quality: number;
  readonly qualityInterval: readonly [number, number] | null;
  /** Share of prompts sent to each pool model (direct routers: the model whose answer was returned). */
  readonly shares: Readonly<Record<string, number>>;
}

export interface OperatingPoints {
  /**
   * Where they were measured: out-of-fold predictions over the router's training and validation
   * rows ("crossfit", what `train` does), its validation rows alone ("validation", what `run`
   * saves), or a user's held-out traffic ("calibration").
   */
  readonly on: "crossfit" | "validation" | "calibration";
  /** How many prompts they were measured on. */
  readonly prompts: number;
  /** Bootstrap of the intervals: resamples, seed, level (resamples 0 = no intervals). */
  readonly bootstrap: { readonly resamples: number; readonly seed: number; readonly level: number };
  /** Hull vertices, cost ascending (so quality ascending). */
  readonly points: readonly OperatingPoint[];
}

/** What a user asks of a router. Every field optional; an empty target means the best-quality point. */
export interface RoutingTarget {
  /** Mean US$ per query not to exceed. */
  readonly budget?: number;
  /** Model -> the largest share of prompts it may get, in [0, 1]. */
  readonly maxShare?: Readonly<Record<string, number>>;
}

/** The chosen place on the hull: vertex `low`, or a mix of `low` and `high` (share `t` of prompts at `high`). */
export interface TargetChoice {
  readonly low: OperatingPoint;
  readonly high: OperatingPoint;
  /** Share of prompts routed at `high` (0 when the choice is the vertex `low`). */
  readonly t: number;
  /**
   * Expected US$ per query, quality and shares of the mix; the intervals are interpolated
   * between the two vertices' bootstrap intervals (what the points' own sample allows: a
   * budget's real spend can miss it by about the cost interval's half-width).
   */
  readonly cost: number;
  readonly costInterval: readonly [number, number] | null;
  readonly quality: number;
  readonly qualityInterval: readonly [number, number] | null;
  readonly shares: Readonly<Record<string, number>>;
  /** Said to the user when the target cannot be met as asked (e.g. the budget is below the cheapest point). */
  readonly note: string | null;
}

/** Relative slack for "cost <= budget" and "share <= cap", so a target set to a point's own figure selects it. */
const SLACK = 1e-9;

const lerp = (a: number, b: number, t: number) => a + (b - a) * t;

function mixShares(a: OperatingPoint, b: OperatingPoint, t: number): Record<string, number> {
  const models = [...new Set([...Object.keys(a.shares), ...Object.keys(b.shares)])];
  return Object.fromEntries(models.map((m) => [m, lerp(a.shares[m] ?? 0, b.shares[m] ?? 0, t)]));
}

function lerpInterval(a: readonly [number, number] | null, b: readonly [number, number] | null, t: number): readonly [number, number] | null {
  return a && b ? [lerp(a[0], b[0], t), lerp(a[1], b[1], t)] : null;
}

function choice(a: OperatingPoint, b: OperatingPoint, t: number, note: string | null): TargetChoice {
  return {
    low: a,
    high: b,
    t,
    cost: lerp(a.cost, b.cost, t),
    costInterval: lerpInterval(a.costInterval, b.costInterval, t),
    quality: lerp(a.quality, b.quality, t),
    qualityInterval: lerpInterval(a.qualityInterval, b.qualityInterval, t),
    shares: mixShares(a, b, t),
    note,
  };
}

/**
 * The t-interval of segment a->b on which `value(t) = lerp(va, vb, t) <= cap`, within [lo, hi];
 * null if empty. The crossing is exact (a budget is spent to the cent, not over); the slack only
 * lets an end that equals the cap up to rounding count as meeting it.
 */
function feasibleT(va: number, vb: number, cap: number, [lo, hi]: [number, number]): [number, number] | null {
  const tol = SLACK * Math.max(Math.abs(cap), 1e-300);
  const meets = (v: number) => v <= cap + tol;
  const d = vb - va;
  let from = lo;
  let to = hi;
  if (d > 0) {
    if (!meets(va)) return null;
    to = Math.min(to, meets(vb) ? 1 : Math.max(0, (cap - va) / d));
  } else if (d < 0) {
    if (!meets(vb)) return null;
    from = Math.max(from, meets(va) ? 0 : Math.min(1, (cap - va) / d));
  } else if (!meets(va)) {
    return null;
  }
  return from <= to ? [from, to] : null;
}

function checkTarget(target: RoutingTarget, models: readonly string[]): void {
  if (target.budget !== undefined && !(target.budget >= 0 && Number.isFinite(target.budget))) {
    throw new InputError(`a budget must be a non-negative number of US$ per query, got ${target.budget}`, { field: "budget" });
  }
  for (const [model, cap] of Object.entries(target.maxShare ?? {})) {
    if (!models.includes(model)) throw new InputError(`max share for "${model}", which is not in the router's pool (${models.join(", ")})`, { field: "max-share" });
    if (!(cap >= 0 && cap <= 1)) throw new InputError(`the max share of "${model}" must be in [0, 1], got ${cap}`, { field: "max-share" });
  }
}

/**
 * The best point of the hull meeting the target. A budget below the cheapest point is not an
 * error: the cheapest point is used and `note` says so (a router cannot spend less than its
 * cheapest choice). Share caps that no point meets are an error, naming the lowest share there is.
 */
export function chooseTarget(ops: OperatingPoints, target: RoutingTarget, pool: readonly string[]): TargetChoice {
  const pts = ops.points;
  if (pts.length === 0) throw new InputError("the router has no operating points; retrain it or run `routekit calibrate`");
  checkTarget(target, pool);
  const caps: { value: (p: OperatingPoint) => number; cap: number }[] = Object.entries(target.maxShare ?? {}).map(([m, cap]) => ({ value: (p) => p.shares[m] ?? 0, cap }));
  const withBudget = target.budget === undefined ? caps : [...caps, { value: (p: OperatingPoint) => p.cost, cap: target.budget }];

  const best = (constraints: typeof caps): TargetChoice | null => {
    const found: TargetChoice[] = [];
    const segments = pts.length === 1 ? [[0, 0]] : pts.slice(1).map((_, k) => [k, k + 1]);
    for (const [i, j] of segments) {
      let range: [number, number] | null = [0, 1];
      for (const c of constraints) {
        if (!range) break;
        range = feasibleT(c.value(pts[i]), c.value(pts[j]), c.cap, range);
      }
      if (!range) continue;
      const t = i === j ? 0 : range[1];
      // A mix at t = 1 is the vertex j itself: say so plainly.
      found.push(t >= 1 - SLACK ? choice(pts[j], pts[j], 0, null) : choice(pts[i], pts[j], t, null));
    }
    // Highest quality; on equal quality the cheaper.
    return found.reduce<TargetChoice | null>((a, c) => (!a || c.quality > a.quality || (c.quality === a.quality && c.cost < a.cost) ? c : a), null);
  };

  const hit = best(withBudget);
  if (hit) return hit;
  // Infeasible. With share caps alone, nothing can be done; with a budget, is it the budget?
  const sharesOnly = best(caps);
  if (!sharesOnly) {
    const [model, cap] = Object.entries(target.maxShare ?? {}).find(([m, c]) => !pts.some((p) => (p.shares[m] ?? 0) <= c)) ?? Object.entries(target.maxShare ?? {})[0];
    const lowest = Math.min(...pts.map((p) => p.shares[model] ?? 0));
    throw new InputError(`no operating point keeps "${model}" at or below ${cap} of traffic (the lowest share it gets is ${lowest.toFixed(3)}), together with the other caps`, { field: "max-share" });
  }
  // The budget is below every point meeting the caps: spend the least possible.
  let cheapest: TargetChoice | null = null;
  for (const p of pts) {
    if (caps.every((c) => c.value(p) <= c.cap * (1 + SLACK))) {
      if (!cheapest || p.cost < cheapest.cost) cheapest = choice(p, p, 0, null);
    }
  }
  const base = cheapest ?? sharesOnly;
  return { ...base, note: `budget $${fmt(target.budget!)}/query is below the router's cheapest operating point ($${fmt(base.cost)}/query); routing at that point` };
}

function fmt(x: number): string {
  return x.toPrecision(3);
}

/**
 * A uniform draw in [0, 1) that is a function of (seed, prompt text) alone: 53 bits of
 * sha256(seed NUL text). Which of a mix's two lambdas a prompt gets, independent of the batch.
 */
export function promptDraw(seed: number, text: string): number {
  const h = createHash("sha256").update(`${seed}\u0000${text}`, "utf8").digest();
  // 21 + 32 bits = 53 bits, the precision of a double.
  return ((h.readUInt32BE(0) & 0x1fffff) * 2 ** 32 + h.readUInt32BE(4)) / 2 ** 53;
}

/** Per prompt (by text), the operating point it is routed at: the mix's `high` vertex with probability t. */
export function pointsForPrompts(c: TargetChoice, texts: readonly string[], seed: number): OperatingPoint[] {
  return texts.map((text) => (c.t > 0 && promptDraw(seed, text) < c.t ? c.high : c.low));
}

/** JSON has no Infinity: lambdas are stored as numbers or "inf". */
export function lambdaToJson(l: number | null): number | "inf" | null {
  return l === Infinity ? "inf" : l;
}

export function lambdaFromJson(l: number | "inf" | null): number | null {
  return l === "inf" ? Infinity : l;
}
