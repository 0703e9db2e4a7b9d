/**
 * Stacked router: several predictive routers (the members) each predict q_m(x), and blends of
 * their predictions, learned on out-of-fold predictions inside the training rows, give the
 * stack's q_m(x). Why: on RouterBench data the pooled gain of prompt-reading routers over Zero is
 * task recognition (task-prior gets it alone), and within a task the embedding routers rarely beat
 * Zero; no single router uses task identity and prompt text together. A blend of task-prior with
 * the embedding routers does, and where the blend does not help it falls back to the best member.
 *
 * Fitting, on the training rows only (the validation rows the workflow passes are not used:
 * they stay unseen for the workflow's validation figures and operating points):
 *  1. The rows are dealt into `folds` folds by a keyed hash of their prompt ids (as every split
 *     is: independent of row order). For each fold, every member is trained on the other folds
 *     and predicts the held-out fold, giving an out-of-fold (OOF) prediction for every row.
 *     A member is trained as the workflow trains any router (`trainRouter`): its grid (its spec's
 *     or its type's default) searched on a validation part carved from those rows
 *     (`validationFraction`, also keyed by prompt id), which also early-stops an MLP.
 *  2. Blends, fitted on the OOF predictions. Routing compares models on one prompt
 *     (argmax lambda q_m - c_m), so it reads only each model's *contrast*, q_m minus the prompt's
 *     mean q over the pool (its *level*); the level, how hard the prompt is for every model,
 *     holds most of the squared error and changes no choice. Blending each model's q whole let
 *     the level decide the weights (on data/default.arrow that stack routed well below
 *     task-prior, whose contrasts it diluted). So: one blend of the members' levels, and per pool
 *     model one blend of the members' contrasts for that model; q_m = level + contrast_m.
 *     Each blend is b + sum_r w_r p_r with w >= 0 (non-negative stacking, Breiman 1996: the
 *     members' predictions are strongly collinear, and signs would let noise cancel noise) and a
 *     ridge penalty `ridge * Var(p_r) * w_r^2` (scale-free: relative to each member's variance),
 *     fitted exactly by enumerating active sets (a handful of members: at most 2^8 small solves).
 *  3. Fallback, explicit. One fallback member for the level and one for all the contrasts:
 *     by the one-standard-error rule (prefer the simpler model within noise), the first member
 *     listed whose OOF error the best member's does not beat by more than one standard error
 *     (so list members simplest first: task-prior leads the defaults). A member picked per
 *     model by its least error would mix members on noise, and contrasts from different
 *     members compared across models routed below every member alone on RouterBench data.
 *     Each blend's error is measured by cross-validating it over the same folds; unless it
 *     beats the fallback member by more than one standard error of the paired per-row
 *     difference, the member's own level or contrast is used as is (weight 1, intercept 0).
 *     When every blend falls back, the stack predicts exactly what its fallback member does.
 *     FitReport.chosen says which (`level`, `perModel`), FitReport.validation gives each
 *     member's, the blends' and the stack's OOF MSE, in whole and in contrasts.
 *  4. Every member a blend uses is trained once more, the same way, on all training rows;
 *     members no blend uses are not kept.
 *
 * Limits: one blend per model for all tasks (an interaction such as "the text matters on task A
 * only" is learned only as far as a member learns it); rows missing a score are left out of the
 * blends (they have no level); cost is (folds + 1) trainings of every member, each with its own grid.
 */
import { copyFile, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
// Keep this re-export first: it makes the factory module evaluate before registry.js when this
// file is the first one imported (registry.js lists the factory; see stack-factory.ts).
export { stackFactory } from "./stack-factory.js";
import { ROUTERBENCH_SPLIT, splitKey } from "../data/splits.js";
import { selectModels } from "../data/table.js";
import { InputError } from "../util/errors.js";
import type { ProgressFn } from "../util/progress.js";
import { ROUTER_FORMAT, ROUTER_FORMAT_VERSION } from "./artifact.js";
import { readJson } from "./binary.js";
import { batchOfTable, checkKnownParams, expectedCostsOf, nonNegative, poolScores, positiveInt, requireEmbeddings, selectSetRows } from "./common.js";
import { getRouterFactory, parseRouterSpec, type RouterSpec } from "./registry.js";
import type { FitReport, PredictiveRouter, PromptBatch, Router, RouterManifest, TrainingSet } from "./router.js";
import { gridPoints, specParameters, trainRouter } from "./train.js";

const KNOWN = ["members", "folds", "validationFraction", "ridge", "seed"];
/**
 * Default members: task identity (task-prior) and three readers of the prompt's embedding. Not
 * mlp: one MLP training costs about as much as the other four members' together, and a stack
 * trains every member (folds + 1) times; add it with members=task-prior+knn+linear+irt+mlp.
 */
export const STACK_DEFAULT_MEMBERS: readonly string[] = ["task-prior", "knn", "linear", "irt"];
export const STACK_DEFAULT_FOLDS = 5;
export const STACK_DEFAULT_RIDGE = 0.01;
/** The active set is enumerated: 2^members subsets per model. */
export const STACK_MAX_MEMBERS = 8;
export const STACK_FILE = "stack.json";
const STACK_FILE_VERSION = 1;

/** One blend (of the level, or of one model's contrast): intercept + sum_r weights[r] * (p_r, or fill[r] where p_r is NaN). */
export interface ModelBlend {
  /** -1: the blend; r >= 0: the fallback to member r (weights = e_r, intercept 0). */
  readonly choice: number;
  readonly intercept: number;
  readonly weights: readonly number[];
  /** Mean OOF prediction of each member: stands in for a member's NaN (e.g. knn with no scored neighbour). */
  readonly fill: readonly number[];
}

/** stack.json: the members (type, params as fitted, files; null when no blend uses it), the level's blend and each pool model's contrast blend. */
interface StackJson {
  readonly version: number;
  readonly members: readonly { readonly label: string; readonly type: string; readonly params: Record<string, unknown> | null; readonly files: Record<string, string> | null }[];
  readonly level: ModelBlend;
  readonly contrasts: readonly ModelBlend[];
}

// ---------------------------------------------------------------------------------------------
// The blend: non-negative relative ridge over member predictions, per pool model.

/** Solve A w = b for a small symmetric A (k x k) by Cholesky; null when A is not positive definite. */
function choleskySolve(A: Float64Array, b: Float64Array, k: number): Float64Array | null {
  const L = new Float64Array(k * k);
  let scale = 0;
  for (let i = 0; i < k; i++) scale = Math.max(scale, Math.abs(A[i * k + i]));
  if (!(scale > 0)) return null;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * k + j];
      for (let t = 0; t < j; t++) s -= L[i * k + t] * L[j * k + t];
      if (i === j) {
        // Relative pivot floor: a member whose predictions are (nearly) a combination of others' is left to them.
        if (!(s > 1e-12 * scale)) return null;
        L[i * k + i] = Math.sqrt(s);
      } else {
        L[i * k + j] = s / L[j * k + j];
      }
    }
  }
  const w = Float64Array.from(b);
  for (let i = 0; i < k; i++) {
    let s = w[i];
    for (let t = 0; t < i; t++) s -= L[i * k + t] * w[t];
    w[i] = s / L[i * k + i];
  }
  for (let i = k - 1; i >= 0; i--) {
    let s = w[i];
    for (let t = i + 1; t < k; t++) s -= L[t * k + i] * w[t];
    w[i] = s / L[i * k + i];
  }
  return w;
}

/**
 * Fit q = b + x . w on rows `rows` of x (rows x R, row-major) and y, minimising
 *   mean (y - b - x.w)^2 + ridge * sum_r Var(x_r) w_r^2   subject to w >= 0.
 * With b free the problem is the centred one; its optimum is the best of the unconstrained
 * (ridge) solutions on every subset of members whose solution is non-negative (KKT: at the
 * optimum the constraint binds exactly off its support), so enumerating subsets is exact. The
 * empty subset (q = mean y) is always a candidate. Deterministic: ties keep the earlier subset.
 */
export function fitBlend(x: Float64Array, y: Float64Array, R: number, rows: readonly number[], ridge: number): { intercept: number; weights: Float64Array; means: Float64Array } {
  const n = rows.length;
  const means = new Float64Array(R);
  let ym = 0;
  for (const i of rows) {
    ym += y[i];
    for (let r = 0; r < R; r++) means[r] += x[i * R + r];
  }
  if (n === 0) return { intercept: NaN, weights: new Float64Array(R), means: means.fill(NaN) };
  ym /= n;
  for (let r = 0; r < R; r++) means[r] /= n;
  const G = new Float64Array(R * R);
  const c = new Float64Array(R);
  for (const i of rows) {
    const dy = y[i] - ym;
    for (let a = 0; a < R; a++) {
      const da = x[i * R + a] - means[a];
      c[a] += da * dy;
      for (let b = 0; b <= a; b++) G[a * R + b] += da * (x[i * R + b] - means[b]);
    }
  }
  for (let a = 0; a < R; a++) {
    c[a] /= n;
    for (let b = 0; b <= a; b++) G[a * R + b] = G[b * R + a] = G[a * R + b] / n;
  }
  let best = { objective: 0, weights: new Float64Array(R) };
  for (let mask = 1; mask < 1 << R; mask++) {
    const S: number[] = [];
    for (let r = 0; r < R; r++) if (mask & (1 << r)) S.push(r);
    const k = S.length;
    const A = new Float64Array(k * k);
    const b = new Float64Array(k);
    S.forEach((ra, a) => {
      b[a] = c[ra];
      S.forEach((rb, bb) => (A[a * k + bb] = G[ra * R + rb] * (a === bb ? 1 + ridge : 1)));
    });
    const w = choleskySolve(A, b, k);
    if (!w || w.some((v) => v < 0)) continue;
    // At a subset's optimum (A w = b) the objective w'Aw - 2 b'w is -b'w.
    let objective = 0;
    for (let a = 0; a < k; a++) objective -= b[a] * w[a];
    if (objective < best.objective) {
      const weights = new Float64Array(R);
      S.forEach((r, a) => (weights[r] = w[a]));
      best = { objective, weights };
    }
  }
  let intercept = ym;
  for (let r = 0; r < R; r++) intercept -= best.weights[r] * means[r];
  return { intercept, weights: best.weights, means };
}

function applyBlend(blend: ModelBlend, p: (r: number) => number): number {
  let q = blend.intercept;
  for (let r = 0; r < blend.weights.length; r++) {
    const w = blend.weights[r];
    if (w === 0) continue;
    const v = p(r);
    q += w * (Number.isNaN(v) ? blend.fill[r] : v);
  }
  return q;
}

/** What the blending step found for one target (a level or a model's contrast), with its out-of-sample predictions. */
export interface BlendChoice {
  blend: ModelBlend;
  /** Rows used (target and every member's prediction present). */
  rows: number;
  /** Sum of squared OOF errors of each member on those rows. */
  memberSse: Float64Array;
  /** Sum of squared errors of the blend, cross-validated over the folds. */
  blendSse: number;
  /** Per row: the blend's cross-validated prediction (NaN on rows not used). */
  cv: Float64Array;
  /** Per row: the out-of-sample prediction of what was chosen (the cross-validated blend, or the member's own). */
  chosen: Float64Array;
}

/**
 * Whether `candidate` beats `reference` by more than one standard error: the mean over `rows` of
 * the paired per-row difference of their squared errors, against that mean's standard error.
 */
export function beatsByOneSe(candidate: ArrayLike<number>, reference: ArrayLike<number>, rows: readonly number[]): boolean {
  const n = rows.length;
  if (n < 2) return false;
  let sum = 0;
  let sum2 = 0;
  for (const i of rows) {
    const d = reference[i] - candidate[i];
    sum += d;
    sum2 += d * d;
  }
  const mean = sum / n;
  const se = Math.sqrt(Math.max(0, sum2 / n - mean * mean) / (n - 1));
  return Number.isFinite(mean) && mean > se;
}

/**
 * The one-standard-error rule over members, simplest first: the first member (in the order they
 * are listed) that the member with the least error does not beat by more than one standard error.
 * `errors[r][i]`: member r's squared error on row i. Members nearly tied differ by noise, and
 * picking the least error among them picks noise; listing task-prior first makes it the default.
 */
export function simplestMember(errors: readonly ArrayLike<number>[], rows: readonly number[]): number {
  const mean = errors.map((e) => rows.reduce((t, i) => t + e[i], 0));
  let best = 0;
  for (let r = 1; r < errors.length; r++) if (mean[r] < mean[best]) best = r;
  for (let r = 0; r < best; r++) if (!beatsByOneSe(errors[best], errors[r], rows)) return r;
  return best;
}

/**
 * The blend of one target from OOF member predictions `x` (n x R) and `y` (NaN: not used), or
 * the explicit fallback to member `fallback` unless the cross-validated blend beats it by more
 * than one standard error (the one-standard-error rule: prefer the simpler model within noise).
 * On real data a blend's gain is often a few parts in ten thousand of MSE, within noise, and a
 * blend chosen on noise routes no better than its member, only differently.
 */
export function chooseBlend(x: Float64Array, y: Float64Array, R: number, fold: Int32Array, folds: number, ridge: number, fallback: number): BlendChoice {
  const n = y.length;
  const rows: number[] = [];
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(y[i])) continue;
    let ok = true;
    for (let r = 0; r < R && ok; r++) ok = Number.isFinite(x[i * R + r]);
    if (ok) rows.push(i);
  }
  const memberSse = new Float64Array(R);
  for (const i of rows) for (let r = 0; r < R; r++) memberSse[r] += (x[i * R + r] - y[i]) ** 2;
  const cv = new Float64Array(n).fill(NaN);
  let blendSse = 0;
  for (let k = 0; k < folds; k++) {
    const fit = fitBlend(x, y, R, rows.filter((i) => fold[i] !== k), ridge);
    for (const i of rows) {
      if (fold[i] !== k) continue;
      // A fold whose other folds hold no usable row has no blend: Infinity rules the blend out.
      cv[i] = Number.isNaN(fit.intercept) ? NaN : applyBlend({ choice: -1, intercept: fit.intercept, weights: Array.from(fit.weights), fill: Array.from(fit.means) }, (r) => x[i * R + r]);
      blendSse += Number.isNaN(cv[i]) ? Infinity : (cv[i] - y[i]) ** 2;
    }
  }
  const all = fitBlend(x, y, R, rows, ridge);
  const fill = Array.from(all.means, (v) => (Number.isNaN(v) ? 0 : v));
  const blendErr = new Float64Array(n);
  const memberErr = new Float64Array(n);
  for (const i of rows) {
    blendErr[i] = (cv[i] - y[i]) ** 2;
    memberErr[i] = (x[i * R + fallback] - y[i]) ** 2;
  }
  if (Number.isFinite(blendSse) && beatsByOneSe(blendErr, memberErr, rows)) {
    return { blend: { choice: -1, intercept: all.intercept, weights: Array.from(all.weights), fill }, rows: rows.length, memberSse, blendSse, cv, chosen: cv };
  }
  const weights = new Array<number>(R).fill(0);
  weights[fallback] = 1;
  const chosen = new Float64Array(n).fill(NaN);
  for (const i of rows) chosen[i] = x[i * R + fallback];
  return { blend: { choice: fallback, intercept: 0, weights, fill }, rows: rows.length, memberSse, blendSse, cv, chosen };
}

/**
 * Predictions (or scores) of n prompts x m models split into each prompt's level (mean over the
 * models) and each model's contrast (its value minus the level). Routing compares models on one
 * prompt, so it reads only the contrasts; a prompt's level (how hard it is for every model)
 * dominates the squared error but never changes a choice. `strict`: a prompt with a value
 * missing has no level (NaN), else the level is the mean of the values present.
 */
export function splitPredictions(q: Float64Array, n: number, m: number, strict: boolean): { levels: Float64Array; contrasts: Float64Array } {
  const levels = new Float64Array(n);
  const contrasts = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    let count = 0;
    for (let j = 0; j < m; j++) {
      const v = q[i * m + j];
      if (Number.isNaN(v)) continue;
      sum += v;
      count++;
    }
    const level = count === 0 || (strict && count < m) ? NaN : sum / count;
    levels[i] = level;
    for (let j = 0; j < m; j++) contrasts[i * m + j] = q[i * m + j] - level;
  }
  return { levels, contrasts };
}

// ---------------------------------------------------------------------------------------------
// Members.

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** One member spec: a spec string ("knn:k=5|10") or {type, params?, grid?}. */
function memberSpecOf(v: unknown, i: number): RouterSpec {
  if (typeof v === "string") return parseRouterSpec(v);
  if (!isPlainObject(v) || typeof v.type !== "string") {
    throw new InputError(`stack member ${i + 1} must be a router spec (a string such as "knn:k=5|10", or {type, params, grid}), got ${JSON.stringify(v)}`, { field: "members" });
  }
  for (const k of Object.keys(v)) if (!["type", "params", "grid"].includes(k)) throw new InputError(`stack member ${i + 1} ("${v.type}") has an unknown key "${k}" (knows: type, params, grid)`, { field: "members" });
  const params = v.params ?? {};
  const grid = v.grid ?? {};
  if (!isPlainObject(params)) throw new InputError(`stack member ${i + 1} ("${v.type}"): params must be an object`, { field: "members" });
  if (!isPlainObject(grid) || Object.values(grid).some((g) => !Array.isArray(g))) throw new InputError(`stack member ${i + 1} ("${v.type}"): grid must map parameter names to lists of values`, { field: "members" });
  return { type: v.type, params: { ...params }, grid: Object.fromEntries(Object.entries(grid).map(([k, g]) => [k, (g as unknown[]).slice()])) };
}

/** The members parameter: a list of specs, or one string of specs joined by "+" (for the CLI: members=task-prior+knn). */
function memberSpecsOf(value: unknown): RouterSpec[] {
  const raw = value === undefined ? STACK_DEFAULT_MEMBERS : typeof value === "string" ? value.split("+") : value;
  if (!Array.isArray(raw) || raw.length === 0) throw new InputError(`members must be a non-empty list of router specs (or "a+b+c"), got ${JSON.stringify(value)}`, { field: "members" });
  if (raw.length > STACK_MAX_MEMBERS) throw new InputError(`a stack takes at most ${STACK_MAX_MEMBERS} members, got ${raw.length}`, { field: "members" });
  return raw.map((v, i) => memberSpecOf(typeof v === "string" ? v.trim() : v, i));
}

/** Each member's label in reports: its type, numbered when the type repeats (knn, knn#2). */
function labelsOf(specs: readonly RouterSpec[]): string[] {
  const seen = new Map<string, number>();
  return specs.map((s) => {
    const k = (seen.get(s.type) ?? 0) + 1;
    seen.set(s.type, k);
    return k === 1 ? s.type : `${s.type}#${k}`;
  });
}

/**
 * Refuse what cannot be a member, naming it: unknown types, direct routers and evaluation
 * baselines (they need the routed prompts' outcomes), a stack (nesting multiplies the trainings),
 * and bad parameters or grids (each grid point is built, as checkParams does for a router).
 */
function checkMember(spec: RouterSpec, label: string, pool: readonly string[]): void {
  const named = (msg: string) => new InputError(`stack member "${label}": ${msg}`, { field: "members" });
  let factory;
  try {
    factory = getRouterFactory(spec.type);
  } catch (err) {
    throw named((err as Error).message);
  }
  if (factory.kind !== "predictive") throw named(`${spec.type} is a direct router (it realises outcomes itself, predicting no quality), and a stack blends its members' predicted qualities: only predictive routers can be members`);
  if (factory.needsOutcomes) throw named(`${spec.type} needs the realised outcomes of the prompts it routes (an evaluation baseline), so it cannot route new prompts, nor be a member`);
  if (spec.type === "stack") throw named("a stack cannot be a member of a stack");
  try {
    const { params, grid } = specParameters(spec);
    for (const point of gridPoints(grid)) {
      const r = factory.create(pool, { ...params, ...point });
      (r as { dispose?: () => void }).dispose?.();
    }
  } catch (err) {
    if (err instanceof InputError) throw named(err.message);
    throw err;
  }
}

function dispose(r: Router | null): void {
  (r as { dispose?: () => void } | null)?.dispose?.();
}

/** Fold of each id: rank by a keyed hash, deal round-robin (fold sizes differ by at most one). */
function foldsOf(ids: readonly string[], seed: number, folds: number): Int32Array {
  const order = ids.map((id, i) => ({ i, k: splitKey(seed, "stack-folds", id) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  const out = new Int32Array(ids.length);
  order.forEach((x, r) => (out[x.i] = r % folds));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The router.

export class StackRouter implements PredictiveRouter {
  readonly type = "stack";
  readonly kind = "predictive" as const;
  readonly needsEmbeddings: boolean;
  readonly needsOutcomes = false;
  readonly params: Record<string, unknown>;
  readonly memberSpecs: readonly RouterSpec[];
  readonly labels: readonly string[];
  readonly folds: number;
  readonly validationFraction: number;
  readonly ridge: number;
  readonly seed: number;
  expectedCosts: Float64Array;
  /** The fitted members, aligned with memberSpecs; null for a member no model's blend uses. */
  members: (PredictiveRouter | null)[] = [];
  /** The blend of the prompt's level (its mean q over the pool). */
  level: ModelBlend | null = null;
  /** Per pool model, the blend of its contrast (q_m minus the level). */
  contrasts: ModelBlend[] = [];
  /** Set by trainRouter: called after each member training. */
  onProgress?: ProgressFn = undefined;

  constructor(
    readonly pool: readonly string[],
    params: Record<string, unknown>,
  ) {
    checkKnownParams("stack", params, KNOWN);
    this.memberSpecs = memberSpecsOf(params.members);
    this.labels = labelsOf(this.memberSpecs);
    this.memberSpecs.forEach((s, r) => checkMember(s, this.labels[r], pool));
    this.folds = positiveInt(params, "folds", STACK_DEFAULT_FOLDS);
    if (this.folds < 2) throw new InputError(`stack folds must be at least 2, got ${this.folds}`, { field: "folds" });
    const vf = params.validationFraction ?? ROUTERBENCH_SPLIT.validationFraction;
    if (typeof vf !== "number" || !(vf >= 0 && vf < 1)) throw new InputError(`stack validationFraction must be in [0, 1), got ${JSON.stringify(vf)}`, { field: "validationFraction" });
    this.validationFraction = vf;
    this.ridge = nonNegative(params, "ridge", STACK_DEFAULT_RIDGE);
    const seed = params.seed ?? 0;
    if (typeof seed !== "number" || !Number.isInteger(seed)) throw new InputError(`stack seed must be an integer, got ${JSON.stringify(seed)}`, { field: "seed" });
    this.seed = seed;
    this.needsEmbeddings = this.memberSpecs.some((s) => getRouterFactory(s.type).needsEmbeddings);
    // Members as full specs, so that router.json (and crossFittedOperatingPoints' refits) rebuild the same stack.
    this.params = { members: this.memberSpecs.map((s) => ({ type: s.type, params: s.params, grid: s.grid })), folds: this.folds, validationFraction: this.validationFraction, ridge: this.ridge, seed };
    this.expectedCosts = new Float64Array(pool.length);
  }

  /**
   * Train member r on `set` as the workflow trains a router: grid (and early stopping) on a
   * validation part of `set`: its rows of lowest keyed hash, so the part depends on ids only.
   */
  private async trainMember(r: number, set: TrainingSet, innerRank: Map<string, number>): Promise<PredictiveRouter> {
    const ids = set.table.ids;
    const byRank = ids.map((_, i) => i).sort((a, b) => innerRank.get(ids[a])! - innerRank.get(ids[b])!);
    const nv = Math.min(Math.round(ids.length * this.validationFraction), ids.length - 1);
    const inVal = new Uint8Array(ids.length);
    for (const i of byRank.slice(0, nv)) inVal[i] = 1;
    const trainRows = [...inVal.keys()].filter((i) => !inVal[i]);
    const valRows = [...inVal.keys()].filter((i) => inVal[i]);
    const { router } = await trainRouter(selectSetRows(set, trainRows), nv > 0 ? selectSetRows(set, valRows) : null, { spec: this.memberSpecs[r], seed: this.seed });
    return router as PredictiveRouter;
  }

  /** `_validation` is not read: members tune on parts of `train`, and the workflow's validation rows stay unseen (see the top). */
  async fit(train: TrainingSet, _validation?: TrainingSet): Promise<FitReport> {
    const start = performance.now();
    const t0 = train.table.models.length === this.pool.length && train.table.models.every((m, j) => m === this.pool[j]) ? train.table : selectModels(train.table, this.pool);
    const n = t0.ids.length;
    if (n < 2 * this.folds) throw new InputError(`stack: ${n} training rows, need at least 2 x folds = ${2 * this.folds}`);
    if (this.needsEmbeddings) requireEmbeddings(train, "stack", n);
    const set: TrainingSet = { table: t0, embeddings: this.needsEmbeddings ? train.embeddings : null };
    this.expectedCosts = expectedCostsOf(t0, this.pool);
    this.members.forEach(dispose);
    this.members = [];
    const R = this.memberSpecs.length;
    const m = this.pool.length;
    const fold = foldsOf(t0.ids, this.seed, this.folds);
    const innerKeys = t0.ids.map((id) => ({ id, k: splitKey(this.seed, "stack-validation", id) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
    const innerRank = new Map(innerKeys.map((x, r) => [x.id, r]));
    // Progress: every member per fold, then (the count known after blending) the members kept.
    let totalSteps = (this.folds + 1) * R;
    let step = 0;

    // 1. Out-of-fold predictions: oof[r][i * m + j] = member r's q_j for row i.
    const oof = Array.from({ length: R }, () => new Float64Array(n * m).fill(NaN));
    for (let k = 0; k < this.folds; k++) {
      const held = [...fold.keys()].filter((i) => fold[i] === k);
      const rest = [...fold.keys()].filter((i) => fold[i] !== k);
      const part = selectSetRows(set, rest);
      const heldSet = selectSetRows(set, held);
      for (let r = 0; r < R; r++) {
        const member = await this.trainMember(r, part, innerRank);
        try {
          const q = await member.predictQuality(batchOfTable(heldSet.table, member.needsEmbeddings ? heldSet.embeddings : null, this.pool, false));
          held.forEach((i, h) => oof[r].set(q.subarray(h * m, h * m + m), i * m));
        } finally {
          dispose(member);
        }
        this.onProgress?.(++step, totalSteps, `fold ${k + 1}/${this.folds}: ${this.labels[r]}`);
      }
    }

    // 2-3. Blends of the level and of each model's contrast, or fallbacks to a member.
    // Rows with a score missing, or a member's prediction missing, have no level: left out.
    const actual = splitPredictions(poolScores(t0, this.pool), n, m, true);
    const parts = oof.map((q) => splitPredictions(q, n, m, true));
    const usable: number[] = [];
    for (let i = 0; i < n; i++) if (!Number.isNaN(actual.levels[i]) && parts.every((p) => !Number.isNaN(p.levels[i]))) usable.push(i);
    // The fallback member, one for the level and ONE for every model's contrast: contrasts are
    // compared across models, and a member picked per model by its least error would mix
    // members on noise (on RouterBench data that routed below every member alone).
    const levelErrors = parts.map((p) => Float64Array.from(p.levels, (v, i) => (v - actual.levels[i]) ** 2));
    const contrastErrors = parts.map((p) => {
      const e = new Float64Array(n);
      for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) e[i] += (p.contrasts[i * m + j] - actual.contrasts[i * m + j]) ** 2;
      return e;
    });
    const levelMember = simplestMember(levelErrors, usable);
    const contrastMember = simplestMember(contrastErrors, usable);
    const xLevel = new Float64Array(n * R);
    for (let i = 0; i < n; i++) for (let r = 0; r < R; r++) xLevel[i * R + r] = parts[r].levels[i];
    // (A row without a level, actual or any member's, has NaN contrasts too: chooseBlend leaves it out.)
    const level = chooseBlend(xLevel, actual.levels, R, fold, this.folds, this.ridge, levelMember);
    const contrasts: BlendChoice[] = [];
    for (let j = 0; j < m; j++) {
      const x = new Float64Array(n * R);
      const yj = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        yj[i] = actual.contrasts[i * m + j];
        for (let r = 0; r < R; r++) x[i * R + r] = parts[r].contrasts[i * m + j];
      }
      contrasts.push(chooseBlend(x, yj, R, fold, this.folds, this.ridge, contrastMember));
    }
    this.level = level.blend;
    this.contrasts = contrasts.map((c) => c.blend);

    // 4. Final members on all training rows: only those a blend uses.
    const used = Array.from({ length: R }, (_, r) => this.level!.weights[r] !== 0 || this.contrasts.some((b) => b.weights[r] !== 0));
    totalSteps = this.folds * R + used.filter(Boolean).length;
    const chosenMembers: Record<string, unknown> = {};
    for (let r = 0; r < R; r++) {
      if (!used[r]) {
        this.members.push(null);
        chosenMembers[this.labels[r]] = null;
        continue;
      }
      const member = await this.trainMember(r, set, innerRank);
      this.members.push(member);
      chosenMembers[this.labels[r]] = { ...member.params };
      this.onProgress?.(++step, totalSteps, `all rows: ${this.labels[r]}`);
    }

    // The report, per cell over the rows used (as trainRouter's validation MSE): out-of-fold
    // MSE of each member, of the blends throughout (cross-validated), and of the stack (what was
    // chosen; its choices were made on these errors, so it is a little optimistic); and the same
    // for the contrasts alone, the part of the error that routing feels.
    const rows = level.rows;
    const cells = rows * m;
    const validation: Record<string, number> = {};
    const sse = (pred: (i: number, j: number) => number) => {
      let total = 0;
      for (let i = 0; i < n; i++) {
        if (Number.isNaN(level.chosen[i])) continue; // a row not used
        for (let j = 0; j < m; j++) total += (pred(i, j) - actual.levels[i] - actual.contrasts[i * m + j]) ** 2;
      }
      return total / cells;
    };
    this.labels.forEach((label, r) => (validation[`oofMse[${label}]`] = sse((i, j) => oof[r][i * m + j])));
    validation["oofMse[blend]"] = sse((i, j) => level.cv[i] + contrasts[j].cv[i]);
    validation["oofMse[stack]"] = sse((i, j) => level.chosen[i] + contrasts[j].chosen[i]);
    this.labels.forEach((label, r) => (validation[`oofContrastMse[${label}]`] = contrasts.reduce((t, c) => t + c.memberSse[r], 0) / cells));
    validation["oofContrastMse[blend]"] = contrasts.reduce((t, c) => t + c.blendSse, 0) / cells;
    validation["oofContrastMse[stack]"] = contrasts.reduce((t, c) => t + (c.blend.choice < 0 ? c.blendSse : c.memberSse[c.blend.choice]), 0) / cells;
    validation.modelsBlended = this.contrasts.filter((b) => b.choice < 0).length;
    const name = (b: ModelBlend) => (b.choice < 0 ? "blend" : this.labels[b.choice]);
    const weightsOf = (b: ModelBlend) => Object.fromEntries(this.labels.map((l, r) => [l, b.weights[r]]).filter(([, w]) => w !== 0));
    return {
      chosen: {
        ...this.params,
        level: name(this.level),
        perModel: Object.fromEntries(this.pool.map((p, j) => [p, name(this.contrasts[j])])),
        weights: { level: weightsOf(this.level), contrasts: Object.fromEntries(this.pool.map((p, j) => [p, weightsOf(this.contrasts[j])])) },
        members: chosenMembers,
      },
      validation,
      seconds: (performance.now() - start) / 1000,
    };
  }

  async predictQuality(batch: PromptBatch): Promise<Float64Array> {
    const level = this.level;
    if (!level || this.contrasts.length !== this.pool.length) throw new Error("stack: predictQuality before fit");
    const n = batch.ids.length;
    const m = this.pool.length;
    const parts: (ReturnType<typeof splitPredictions> | null)[] = [];
    for (const member of this.members) {
      if (!member) {
        parts.push(null);
        continue;
      }
      // Members see the batch as given: embeddings when the stack reads them (then they all may).
      const q = await member.predictQuality(member.needsEmbeddings ? batch : { ...batch, embeddings: null });
      if (q.length !== n * m) throw new Error(`stack: member ${member.type} predicted ${q.length} values for ${n} prompts x ${m} models`);
      parts.push(splitPredictions(q, n, m, false));
    }
    const out = new Float64Array(n * m);
    for (let i = 0; i < n; i++) {
      const base = applyBlend(level, (r) => parts[r]!.levels[i]);
      for (let j = 0; j < m; j++) out[i * m + j] = base + applyBlend(this.contrasts[j], (r) => parts[r]!.contrasts[i * m + j]);
    }
    return out;
  }

  dispose(): void {
    this.members.forEach(dispose);
  }
}

// ---------------------------------------------------------------------------------------------
// Save and load: each member through its own factory, its files flattened into the stack's
// directory as "member<r>.<name>" (router.json lists only plain file names, and copyRouterWith
// copies only listed files), so every file is checksummed by the stack's router.json.

const flatName = (r: number, name: string) => `member${r}.${name}`;

function plainFileName(name: string): boolean {
  return name !== "" && !name.includes("/") && !name.includes("\\") && !name.startsWith(".");
}

export async function saveStack(router: Router, dir: string): Promise<string[]> {
  const s = router as StackRouter;
  if (!s.level || s.contrasts.length !== s.pool.length) throw new Error("stack: save before fit");
  const names: string[] = [STACK_FILE];
  const members: StackJson["members"][number][] = [];
  for (const [r, member] of s.members.entries()) {
    const base = { label: s.labels[r], type: s.memberSpecs[r].type };
    if (!member) {
      members.push({ ...base, params: null, files: null });
      continue;
    }
    const factory = getRouterFactory(member.type);
    if (!factory.save) throw new InputError(`stack member ${s.labels[r]}: router type ${member.type} cannot be saved`);
    // Hidden staging folder inside the stack's (staging) directory, emptied into flat names.
    const tmp = await mkdtemp(join(dir, ".member-"));
    try {
      const written = await factory.save(member, tmp);
      const files: Record<string, string> = {};
      for (const name of written) {
        if (!plainFileName(name)) throw new Error(`stack member ${member.type} wrote "${name}", not a plain file name`);
        await rename(join(tmp, name), join(dir, flatName(r, name)));
        files[name] = flatName(r, name);
        names.push(flatName(r, name));
      }
      members.push({ ...base, params: { ...member.params }, files });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const json: StackJson = { version: STACK_FILE_VERSION, members, level: s.level, contrasts: s.contrasts };
  await writeFile(join(dir, STACK_FILE), `${JSON.stringify(json)}\n`);
  return names;
}

function checkStackJson(json: unknown, R: number, m: number, path: string): StackJson {
  const bad = (what: string) => new InputError(`${STACK_FILE} ${what}`, { file: path });
  const s = json as StackJson;
  if (!isPlainObject(json) || s.version !== STACK_FILE_VERSION) throw bad(`is not a version ${STACK_FILE_VERSION} stack file`);
  if (!Array.isArray(s.members) || s.members.length !== R) throw bad(`lists ${Array.isArray(s.members) ? s.members.length : "no"} members, router.json ${R}`);
  if (!Array.isArray(s.contrasts) || s.contrasts.length !== m) throw bad(`holds ${Array.isArray(s.contrasts) ? s.contrasts.length : "no"} contrast blends for ${m} pool models`);
  const nums = (a: unknown) => Array.isArray(a) && a.length === R && a.every((v) => typeof v === "number");
  const blends = [s.level, ...s.contrasts];
  for (const b of blends as unknown[]) {
    const ok = isPlainObject(b) && typeof b.choice === "number" && Number.isInteger(b.choice) && b.choice >= -1 && b.choice < R && typeof b.intercept === "number" && nums(b.weights) && nums(b.fill);
    if (!ok) throw bad("holds a malformed blend");
  }
  s.members.forEach((mem, r) => {
    const uses = blends.some((b) => b.weights[r] !== 0);
    if (!isPlainObject(mem) || typeof mem.type !== "string") throw bad(`member ${r + 1} is malformed`);
    if (uses && (!isPlainObject(mem.files) || !isPlainObject(mem.params))) throw bad(`member ${r + 1} (${mem.type}) is used by a blend but has no saved router`);
    if (mem.files && Object.entries(mem.files).some(([k, v]) => !plainFileName(k) || v !== flatName(r, k))) throw bad(`member ${r + 1} lists a bad file name`);
  });
  return s;
}

export async function loadStack(dir: string, manifest: RouterManifest): Promise<Router> {
  const s = new StackRouter(manifest.pool.map((p) => p.model), manifest.params);
  s.expectedCosts = Float64Array.from(manifest.pool, (p) => p.expectedCost);
  const json = checkStackJson(await readJson<unknown>(dir, STACK_FILE), s.memberSpecs.length, s.pool.length, join(dir, STACK_FILE));
  const members: (PredictiveRouter | null)[] = [];
  try {
    for (const [r, mem] of json.members.entries()) {
      if (!mem.files || !mem.params) {
        members.push(null);
        continue;
      }
      if (mem.type !== s.memberSpecs[r].type) throw new InputError(`${STACK_FILE} member ${r + 1} is a ${mem.type}, router.json says ${s.memberSpecs[r].type}`, { file: join(dir, STACK_FILE) });
      const factory = getRouterFactory(mem.type);
      if (!factory.load) throw new InputError(`stack member ${s.labels[r]}: router type ${mem.type} cannot be loaded`);
      // The member's files under their own names in a scratch folder, for its factory's load
      // (which reads them all before returning). Their checksums were verified through router.json.
      const tmp = await mkdtemp(join(tmpdir(), "routekit-stack-member-"));
      try {
        for (const [name, flat] of Object.entries(mem.files)) await copyFile(join(dir, flat), join(tmp, name));
        const memberManifest: RouterManifest = {
          format: ROUTER_FORMAT,
          formatVersion: ROUTER_FORMAT_VERSION,
          type: mem.type,
          params: mem.params,
          pool: manifest.pool,
          embedder: manifest.embedder,
          split: manifest.split,
          seed: manifest.seed,
          files: {},
          createdBy: manifest.createdBy,
        };
        members.push((await factory.load(tmp, memberManifest)) as PredictiveRouter);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }
  } catch (err) {
    members.forEach(dispose);
    throw err;
  }
  s.members = members;
  const copy = (b: ModelBlend): ModelBlend => ({ choice: b.choice, intercept: b.intercept, weights: b.weights.slice(), fill: b.fill.slice() });
  s.level = copy(json.level);
  s.contrasts = json.contrasts.map(copy);
  return s;
}

