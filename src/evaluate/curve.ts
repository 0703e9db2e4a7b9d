/**
 * A router's cost-quality curve on a test split. For a predictive router, willingness to pay
 * lambda routes prompt x to argmax_m lambda * q_m(x) - c_m (ties: cheaper c_m, then lower
 * index: the rule of src/routers/routing.ts). Each prompt's choice, as lambda grows from 0,
 * walks up the upper envelope of its lines and changes only at the envelope's breakpoints; so
 * pooling every prompt's breakpoints and sweeping them in order, with running sums of realised
 * cost and score, gives every distinct curve point exactly in O(n m log(n m)).
 *
 * The sweep is also kept as a list of single-prompt changes (`CurveDecisions`): the bootstrap
 * replays it with per-prompt resample weights instead of re-routing.
 */

export interface CurvePoint {
  /**
   * The lower end of the lambda interval giving this point. The point at lambda = 0 holds at 0
   * exactly; every later point holds for lambda in (lambda, next point's lambda]: at a
   * breakpoint the tie goes to the cheaper model, i.e. the previous choice. Infinity allowed
   * (a grid may contain it).
   */
  lambda: number;
  /** Mean realised US$ per query. */
  cost: number;
  /** Mean realised score. */
  quality: number;
}

/**
 * The curve as a replayable sweep. Point 0 is the base decision; point k (k >= 1) follows by
 * applying changes [stepEnd[k-2] (or 0), stepEnd[k-1]). Each change moves one prompt from
 * one model to another and records the realised cost and score deltas.
 */
export interface CurveDecisions {
  readonly n: number;
  /** Per prompt at point 0: the pool index chosen, and its realised cost and score. */
  readonly baseModel: Int32Array;
  readonly baseCost: Float64Array;
  readonly baseScore: Float64Array;
  /** Exclusive end (into the change arrays) of each step; length = points - 1. */
  readonly stepEnd: Int32Array;
  readonly prompt: Int32Array;
  readonly fromModel: Int32Array;
  readonly toModel: Int32Array;
  readonly dCost: Float64Array;
  readonly dScore: Float64Array;
}

export interface Curve {
  points: CurvePoint[];
  decisions: CurveDecisions;
}

/**
 * The reference code's fixed willingness-to-pay grid (RouterBench `utils.WILLINGNESS_TO_PAY`):
 * 32 values from 1e-10 to 1e9, roughly but not evenly log-spaced; copied exactly.
 */
export const ROUTERBENCH_LAMBDAS: readonly number[] = Object.freeze([
  1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.005, 0.01, 0.1, 0.5, 1, 1.5, 2, 10, 50, 100, 500, 1000, 2000,
  3000, 4000, 5000, 7500, 10000, 25000, 50000, 75000, 100000, 1e6, 1e9,
]);

/** Neumaier-compensated running sum: the sweep adds and removes ~n*m terms, so plain sums drift. */
export class Sum {
  private s = 0;
  private c = 0;
  add(x: number): void {
    const t = this.s + x;
    if (Math.abs(this.s) >= Math.abs(x)) this.c += this.s - t + x;
    else this.c += x - t + this.s;
    this.s = t;
  }
  get value(): number {
    return this.s + this.c;
  }
}

/** Compensated mean (as curve points are summed), so a mean of one point's outcomes matches that point. */
export function compensatedMean(a: ArrayLike<number>): number {
  const s = new Sum();
  for (let i = 0; i < a.length; i++) s.add(a[i]);
  return s.value / a.length;
}

function checkInputs(quality: Float64Array, expectedCosts: Float64Array, realisedScores: Float64Array, realisedCosts: Float64Array, m: number): number {
  if (!(m >= 1) || !Number.isInteger(m)) throw new Error(`nModels must be a positive integer, got ${m}`);
  const n = quality.length / m;
  if (expectedCosts.length !== m && expectedCosts.length !== quality.length) throw new Error(`costs have ${expectedCosts.length} entries; need ${m} (per model) or ${quality.length} (per prompt and model)`);
  if (!Number.isInteger(n)) throw new Error(`quality has ${quality.length} entries, not a multiple of ${m} models`);
  if (realisedScores.length !== n * m || realisedCosts.length !== n * m) {
    throw new Error(`realised outcomes must be ${n} prompts x ${m} models`);
  }
  for (let j = 0; j < expectedCosts.length; j++) if (!Number.isFinite(expectedCosts[j])) throw new Error(`cost ${j} is not finite`);
  for (let k = 0; k < quality.length; k++) {
    // NaN means "no prediction" (never chosen while another model has one), as in routeAt.
    if (!Number.isFinite(quality[k]) && !Number.isNaN(quality[k])) throw new Error(`predicted quality of prompt ${Math.floor(k / m)}, model ${k % m} is infinite`);
  }
  return n;
}

/**
 * The lambda = 0 choice (cheapest expected cost, ties lower index), then the envelope walk:
 * from the current model, the next one is the line that overtakes it first; among lines
 * overtaking at the same lambda the steepest wins just after it (then the cheaper, then the
 * lower index). Emits (lambda, to) events into the caller's buffers; returns the lambda-0 model.
 */
function envelope(q: Float64Array, off: number, costs: Float64Array, m: number, emit: (lambda: number, from: number, to: number) => void): number {
  // Per-model costs (a router's expected costs) or per-cell ones (the Oracle's realised costs).
  const c = costs.length === m ? costs : costs.subarray(off, off + m);
  let start = -1;
  for (let j = 0; j < m; j++) if (!Number.isNaN(q[off + j]) && (start < 0 || c[j] < c[start])) start = j;
  if (start < 0) {
    // No prediction at all: the cheapest model at every lambda.
    start = 0;
    for (let j = 1; j < m; j++) if (c[j] < c[start]) start = j;
    return start;
  }
  // Just above 0, among the cheapest, the highest predicted quality wins.
  let cur = start;
  for (let j = 0; j < m; j++) {
    if (c[j] === c[start] && q[off + j] > q[off + cur]) cur = j;
  }
  if (cur !== start) emit(0, start, cur);
  let lambda = 0;
  for (;;) {
    const qc = q[off + cur];
    let next = -1;
    let best = Infinity;
    for (let k = 0; k < m; k++) {
      const qk = q[off + k];
      if (!(qk > qc)) continue; // also skips NaN
      // Float rounding can put a crossing a hair before the current lambda; it cannot be earlier.
      const at = Math.max(lambda, (c[k] - c[cur]) / (qk - qc));
      if (at < best || (at === best && (qk > q[off + next] || (qk === q[off + next] && c[k] < c[next])))) {
        best = at;
        next = k;
      }
    }
    if (next < 0) return start;
    emit(best, cur, next);
    cur = next;
    lambda = best;
  }
}

interface Events {
  lambda: number[];
  prompt: number[];
  from: number[];
  to: number[];
}

function collectEvents(quality: Float64Array, expectedCosts: Float64Array, n: number, m: number): { base: Int32Array; ev: Events; order: Int32Array } {
  const base = new Int32Array(n);
  const ev: Events = { lambda: [], prompt: [], from: [], to: [] };
  for (let i = 0; i < n; i++) {
    base[i] = envelope(quality, i * m, expectedCosts, m, (lambda, from, to) => {
      ev.lambda.push(lambda);
      ev.prompt.push(i);
      ev.from.push(from);
      ev.to.push(to);
    });
  }
  // Events were pushed prompt by prompt in increasing lambda, so sorting by (lambda, push
  // order) keeps each prompt's own changes in sequence even when they share a lambda.
  const order = Int32Array.from({ length: ev.lambda.length }, (_, k) => k);
  const lam = Float64Array.from(ev.lambda);
  order.sort((a, b) => lam[a] - lam[b] || a - b);
  return { base, ev, order };
}

/** Decisions from base choices and ordered events; `stepEndPositions[k]` = exclusive end (in `order`) of step k. */
function buildDecisions(base: Int32Array, ev: Events, order: Int32Array, stepEndPositions: number[], realisedScores: Float64Array, realisedCosts: Float64Array, m: number): CurveDecisions {
  const n = base.length;
  const baseCost = new Float64Array(n);
  const baseScore = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    baseCost[i] = realisedCosts[i * m + base[i]];
    baseScore[i] = realisedScores[i * m + base[i]];
  }
  const total = stepEndPositions.length ? stepEndPositions[stepEndPositions.length - 1] : 0;
  const prompt = new Int32Array(total);
  const fromModel = new Int32Array(total);
  const toModel = new Int32Array(total);
  const dCost = new Float64Array(total);
  const dScore = new Float64Array(total);
  for (let p = 0; p < total; p++) {
    const e = order[p];
    const i = ev.prompt[e];
    const a = ev.from[e];
    const b = ev.to[e];
    prompt[p] = i;
    fromModel[p] = a;
    toModel[p] = b;
    dCost[p] = realisedCosts[i * m + b] - realisedCosts[i * m + a];
    dScore[p] = realisedScores[i * m + b] - realisedScores[i * m + a];
  }
  return { n, baseModel: base, baseCost, baseScore, stepEnd: Int32Array.from(stepEndPositions), prompt, fromModel, toModel, dCost, dScore };
}

/** Replay decisions with compensated sums: the curve's points (lambda filled in by the caller). */
export function pointsOfDecisions(d: CurveDecisions, lambdas: readonly number[]): CurvePoint[] {
  if (lambdas.length !== d.stepEnd.length + 1) throw new Error("one lambda per point expected");
  const sc = new Sum();
  const sq = new Sum();
  for (let i = 0; i < d.n; i++) {
    sc.add(d.baseCost[i]);
    sq.add(d.baseScore[i]);
  }
  const n = d.n;
  const out: CurvePoint[] = [{ lambda: lambdas[0], cost: sc.value / n, quality: sq.value / n }];
  let p = 0;
  for (let k = 0; k < d.stepEnd.length; k++) {
    for (const end = d.stepEnd[k]; p < end; p++) {
      sc.add(d.dCost[p]);
      sq.add(d.dScore[p]);
    }
    out.push({ lambda: lambdas[k + 1], cost: sc.value / n, quality: sq.value / n });
  }
  return out;
}

/**
 * Every distinct point of a predictive router's curve for lambda in [0, Infinity).
 * quality: predicted q (prompts x models, row-major); expectedCosts: c_m (or one cost per
 * prompt and model, as routeAt accepts); realised*: the test prompts' actual scores and costs
 * in the same layout.
 */
export function exactCurve(quality: Float64Array, expectedCosts: Float64Array, realisedScores: Float64Array, realisedCosts: Float64Array, nModels: number): Curve {
  const m = nModels;
  const n = checkInputs(quality, expectedCosts, realisedScores, realisedCosts, m);
  if (n === 0) throw new Error("cannot make a curve of 0 prompts");
  const { base, ev, order } = collectEvents(quality, expectedCosts, n, m);
  // One step per distinct breakpoint lambda.
  const ends: number[] = [];
  const lambdas: number[] = [0];
  for (let p = 0; p < order.length; p++) {
    const lam = ev.lambda[order[p]];
    if (p + 1 === order.length || ev.lambda[order[p + 1]] !== lam) {
      ends.push(p + 1);
      lambdas.push(lam);
    }
  }
  const decisions = buildDecisions(base, ev, order, ends, realisedScores, realisedCosts, m);
  return { points: pointsOfDecisions(decisions, lambdas), decisions };
}

/**
 * The curve sampled at given lambdas (sorted ascending, duplicates dropped): at lambda the
 * choice is the one after every breakpoint strictly below lambda, which is the routing rule's
 * choice there. Returned with its decisions, for the bootstrap.
 */
export function gridCurveWithDecisions(quality: Float64Array, expectedCosts: Float64Array, realisedScores: Float64Array, realisedCosts: Float64Array, nModels: number, lambdas: readonly number[]): Curve {
  const m = nModels;
  const n = checkInputs(quality, expectedCosts, realisedScores, realisedCosts, m);
  if (n === 0) throw new Error("cannot make a curve of 0 prompts");
  for (const l of lambdas) if (!(l >= 0)) throw new Error(`lambda must be >= 0, got ${l}`);
  const grid = [...new Set(lambdas)].sort((a, b) => a - b);
  if (grid.length === 0) throw new Error("the lambda grid is empty");
  const { base, ev, order } = collectEvents(quality, expectedCosts, n, m);
  // Advance to the first grid value: those events fold into the base decision.
  let p = 0;
  const applied = base.slice();
  while (p < order.length && ev.lambda[order[p]] < grid[0]) {
    applied[ev.prompt[order[p]]] = ev.to[order[p]];
    p++;
  }
  const rest = order.subarray(p);
  const ends: number[] = [];
  let q = 0;
  for (let g = 1; g < grid.length; g++) {
    while (q < rest.length && ev.lambda[rest[q]] < grid[g]) q++;
    ends.push(q);
  }
  const decisions = buildDecisions(applied, ev, rest, ends, realisedScores, realisedCosts, m);
  return { points: pointsOfDecisions(decisions, grid), decisions };
}

export function gridCurve(quality: Float64Array, expectedCosts: Float64Array, realisedScores: Float64Array, realisedCosts: Float64Array, nModels: number, lambdas: readonly number[]): CurvePoint[] {
  return gridCurveWithDecisions(quality, expectedCosts, realisedScores, realisedCosts, nModels, lambdas).points;
}

/**
 * A direct router's settings as a curve: one point per setting, in the given order, with
 * changes = the prompts whose realised outcome differs from the previous setting's.
 */
export function directCurve(settings: readonly { costs: Float64Array; scores: Float64Array; chosen: Int32Array }[]): Curve {
  if (settings.length === 0) throw new Error("a direct router returned no settings");
  const n = settings[0].costs.length;
  if (n === 0) throw new Error("cannot make a curve of 0 prompts");
  for (const s of settings) {
    if (s.costs.length !== n || s.scores.length !== n || s.chosen.length !== n) throw new Error("every setting must cover every prompt");
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(s.costs[i]) || !Number.isFinite(s.scores[i])) throw new Error(`a direct router's outcome for prompt ${i} is not finite`);
    }
  }
  const prompt: number[] = [];
  const fromModel: number[] = [];
  const toModel: number[] = [];
  const dCost: number[] = [];
  const dScore: number[] = [];
  const stepEnd: number[] = [];
  for (let k = 1; k < settings.length; k++) {
    const a = settings[k - 1];
    const b = settings[k];
    for (let i = 0; i < n; i++) {
      if (a.costs[i] !== b.costs[i] || a.scores[i] !== b.scores[i] || a.chosen[i] !== b.chosen[i]) {
        prompt.push(i);
        fromModel.push(a.chosen[i]);
        toModel.push(b.chosen[i]);
        dCost.push(b.costs[i] - a.costs[i]);
        dScore.push(b.scores[i] - a.scores[i]);
      }
    }
    stepEnd.push(prompt.length);
  }
  const decisions: CurveDecisions = {
    n,
    baseModel: Int32Array.from(settings[0].chosen),
    baseCost: Float64Array.from(settings[0].costs),
    baseScore: Float64Array.from(settings[0].scores),
    stepEnd: Int32Array.from(stepEnd),
    prompt: Int32Array.from(prompt),
    fromModel: Int32Array.from(fromModel),
    toModel: Int32Array.from(toModel),
    dCost: Float64Array.from(dCost),
    dScore: Float64Array.from(dScore),
  };
  // Direct settings have no lambda; NaN marks "not a lambda point" (results.json writes null).
  return { points: pointsOfDecisions(decisions, settings.map(() => NaN)), decisions };
}
