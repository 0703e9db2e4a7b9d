/**
 * Evaluate routers on one test split: route every prompt, make each router's curve, hull and
 * metrics, bootstrap intervals, and always the reference rows a reader needs to judge them:
 * the single models, the Zero router (their hull), the best single model and the Oracle.
 * Knows routers only through the contract in ../routers/router.ts.
 */
import type { OutcomeTable } from "../data/table.js";
import { completeRows, concatRows, concatTyped, selectModels, selectRows } from "../data/table.js";
import { CROSSFIT_NEEDS_VALIDATION } from "../data/splits.js";
import type { EmbeddingMatrix } from "../embed/embedder.js";
import { selectEmbeddingRows } from "../embed/embedder.js";
import type { PromptBatch, RealisedOutcomes, Router } from "../routers/router.js";
import { realiseChecked } from "../routers/routing.js";
import { InputError } from "../util/errors.js";
import type { ProgressFn } from "../util/progress.js";
import { AIQ_TIE_TOLERANCE, bootstrapAiq, percentileInterval, type AiqMode } from "./bootstrap.js";
import { ROUTERBENCH_LAMBDAS, Sum, directCurve, exactCurve, gridCurveWithDecisions, type Curve, type CurveDecisions, type CurvePoint } from "./curve.js";
import { nonDecreasingHull, type CostQuality } from "./hull.js";
import { hullVertexIndices, realiseAt, validatedLambdas } from "./operating-points.js";
import { aiq, aiqRouterbenchCode, apgr, costToReach, cpt, maxQuality, qualityAtCost, type SharePoint } from "./metrics.js";

export interface EvalOptions {
  seed: number;
  /** Bootstrap resamples; default 1000; 0 = no intervals. */
  bootstrap?: number;
  lambdas?: "exact" | "routerbench" | number[];
  aiq?: AiqMode;
  /** AIQ range; default: cheapest to dearest single model on the test split. */
  costRange?: [number, number];
  /**
   * Validation rows of the same split. With them (and operatingPoints "validation", the
   * default when they are given), each router's operating points are chosen on validation.
   */
  validation?: { table: OutcomeTable; embeddings: EmbeddingMatrix | null };
  /**
   * Where a router's operating points (the lambdas, or a direct router's settings, that make up
   * its hull) are chosen. "validation": the hull vertices of its curve on the validation rows,
   * then only those are evaluated on test, as a user would deploy it. "test": every point of
   * its test curve competes for the test hull (RouterBench's way); with hundreds of points the
   * hull then climbs on test noise, so even a router with no signal can appear to beat Zero.
   */
  operatingPoints?: OperatingPoints;
  /**
   * Name of one router under test to compare every row with (paired on the same resamples),
   * e.g. a task-aware baseline: does a router add anything beyond it?
   */
  compareTo?: string;
  onProgress?: ProgressFn;
}

export type OperatingPoints = "validation" | "test";

export interface RouterUnderTest {
  name: string;
  router: Router;
  /**
   * The router's own embeddings of the test and validation prompts given to evaluateSplit (same
   * rows, same order), used instead of the split's shared ones: routers evaluated together may
   * each embed prompts their own way (embedder, preparation, learned prefixes).
   */
  embeddings?: { test: EmbeddingMatrix; validation: EmbeddingMatrix | null };
}

export type RowRole = "router" | "zero" | "best-single" | "oracle";

export interface TwoModelMetrics {
  strong: string;
  weak: string;
  apgr: number | null;
  cpt50: number | null;
  cpt80: number | null;
}

export interface RouterResult {
  name: string;
  role: RowRole;
  /** Router type (registry key) for role "router"; the role otherwise. */
  type: string;
  /** The router's hyperparameters (those chosen on validation for a grid); {} for reference rows. */
  params: Record<string, unknown>;
  pool: string[];
  /** Every curve point (lambda order for predictive routers, setting order for direct ones). */
  points: CurvePoint[];
  /** Direct routers: each point's setting label. */
  settings: string[] | null;
  hull: CostQuality[];
  aiq: number;
  aiqInterval: [number, number] | null;
  /** AIQ minus the Zero router's (null on the Zero row itself). */
  diffToZero: number | null;
  diffInterval: [number, number] | null;
  pBeatsZero: number | null;
  /** True only when the whole interval of the difference is above 0; null without a bootstrap. */
  beatsZero: boolean | null;
  maxQuality: number;
  maxQualityCost: number;
  /** Hull quality at the best single model's cost (null when the router cannot spend that little). */
  qualityAtBestSingleCost: number | null;
  /** Least cost at which the hull reaches the best single model's quality (null when never). */
  costToMatchBestSingle: number | null;
  /** RouteLLM's metrics, only for two-model pools. */
  twoModel: TwoModelMetrics | null;
  /** AIQ minus the compareTo router's, with its paired interval; null without compareTo (and on that row). */
  vsReference: { name: string; diff: number; interval: [number, number] | null; better: boolean | null } | null;
}

export interface SingleModelPoint {
  model: string;
  cost: number;
  quality: number;
}

export interface SplitResult {
  prompts: number;
  /** Test rows left out because an outcome was missing. */
  droppedIncomplete: number;
  models: string[];
  singles: SingleModelPoint[];
  costRange: [number, number];
  aiqMode: AiqMode;
  lambdas: "exact" | "routerbench" | number[];
  bootstrap: { resamples: number; seed: number; level: number } | null;
  /** Where the routers' operating points were chosen (see EvalOptions.operatingPoints). */
  operatingPoints: OperatingPoints;
  /** Validation prompts they were chosen on (0 when chosen on test). */
  validationPrompts: number;
  /** The router every row was compared with (EvalOptions.compareTo), or null. */
  compareTo: string | null;
  /** Cross-fitting folds pooled into this result (1: one train / validation / test split). */
  folds: number;
  bestSingle: string;
  /** The user's routers first (input order), then Zero, best single model, Oracle. */
  rows: RouterResult[];
}

/** Per-prompt decision vector as a one-point curve (best single model, Oracle). */
function fixedCurve(scores: Float64Array, costs: Float64Array, m: number, choice: (i: number) => number): Curve {
  const n = scores.length / m;
  const chosen = new Int32Array(n);
  const c = new Float64Array(n);
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const j = choice(i);
    chosen[i] = j;
    c[i] = costs[i * m + j];
    s[i] = scores[i * m + j];
  }
  return directCurve([{ costs: c, scores: s, chosen }]);
}

/** Share of calls to pool model `strong` at each curve point. */
function strongShares(d: CurveDecisions, strong: number): number[] {
  let count = 0;
  for (let i = 0; i < d.n; i++) if (d.baseModel[i] === strong) count++;
  const out = [count / d.n];
  let p = 0;
  for (let k = 0; k < d.stepEnd.length; k++) {
    for (const end = d.stepEnd[k]; p < end; p++) {
      if (d.fromModel[p] === strong) count--;
      if (d.toModel[p] === strong) count++;
    }
    out.push(count / d.n);
  }
  return out;
}

interface Routed {
  name: string;
  role: RowRole;
  type: string;
  params: Record<string, unknown>;
  pool: string[];
  curve: Curve;
  settings: string[] | null;
  /** Pool-order realised outcomes, for the two-model metrics. */
  poolScores: Float64Array | null;
}

/** Embeddings given for `n` prompts (checked), cut to the rows kept (`keep`, or all when null). */
function completeEmbeddings(m: EmbeddingMatrix | null, n: number, keep: number[] | null, what: string): EmbeddingMatrix | null {
  if (!m) return null;
  if (m.rows !== n) throw new InputError(`${what} have ${m.rows} rows for ${n} prompts`);
  return keep ? selectEmbeddingRows(m, keep) : m;
}

/** The router's inputs for one set of prompts (outcomes only for routers that declare needing them). */
function batchOf(router: Router, table: OutcomeTable, embeddings: EmbeddingMatrix | null, name: string, part: string): { batch: PromptBatch; sub: OutcomeTable } {
  for (const model of router.pool) {
    if (!table.models.includes(model)) {
      throw new InputError(`router "${name}" routes to model "${model}", which the ${part} data lacks (it has: ${table.models.join(", ")})`);
    }
  }
  if (router.needsEmbeddings && !embeddings) throw new InputError(`router "${name}" needs prompt embeddings, but none were given for the ${part} split`);
  const sub = selectModels(table, router.pool);
  const batch: PromptBatch = {
    ids: table.ids,
    texts: table.texts,
    evals: table.evals,
    embeddings: router.needsEmbeddings ? embeddings : null,
    ...(router.needsOutcomes ? { outcomes: { scores: sub.scores, costs: sub.costs } } : {}),
  };
  return { batch, sub };
}

async function predicted(router: Router & { kind: "predictive" }, batch: PromptBatch, m: number, name: string): Promise<Float64Array> {
  const q = await router.predictQuality(batch);
  const n = batch.ids.length;
  if (q.length !== n * m) throw new Error(`router "${name}" predicted ${q.length} qualities for ${n} prompts x ${m} models`);
  return q;
}

/**
 * One router on one fold: its test predictions (or settings) and what its validation rows chose.
 * Kept apart from assembling the curve so that cross-fitting can join the folds first.
 */
type FoldRouting = {
  base: Omit<Routed, "curve" | "settings">;
} & (
  | { kind: "predictive"; q: Float64Array; expectedCosts: Float64Array; sub: OutcomeTable; m: number; lambdas: number[] }
  | { kind: "direct"; settings: RealisedOutcomes[]; chosen: { setting: string; cost: number }[] }
  | { kind: "unvalidated"; curve: Curve; settings: string[] | null }
);

async function routeFold(
  rt: RouterUnderTest,
  table: OutcomeTable,
  embeddings: EmbeddingMatrix | null,
  lambdas: EvalOptions["lambdas"],
  validation: { table: OutcomeTable; embeddings: EmbeddingMatrix | null } | null,
): Promise<FoldRouting> {
  const { router, name } = rt;
  const pool = router.pool.slice();
  const { batch, sub } = batchOf(router, table, embeddings, name, "test");
  const m = pool.length;
  const base = { name, role: "router" as const, type: router.type, params: { ...router.params }, pool, poolScores: sub.scores };
  const exact = lambdas === undefined || lambdas === "exact";
  const grid = exact ? [] : lambdas === "routerbench" ? ROUTERBENCH_LAMBDAS : lambdas;
  const curveOf = (q: Float64Array, t: OutcomeTable, costs: Float64Array) =>
    exact ? exactCurve(q, costs, t.scores, t.costs, m) : gridCurveWithDecisions(q, costs, t.scores, t.costs, m, grid);

  if (router.kind === "predictive") {
    const q = await predicted(router, batch, m, name);
    if (!validation) return { base, kind: "unvalidated", curve: curveOf(q, sub, router.expectedCosts), settings: null };
    // Operating points from validation: its curve's hull vertices, as lambdas.
    const v = batchOf(router, validation.table, validation.embeddings, name, "validation");
    const vPoints = curveOf(await predicted(router, v.batch, m, name), v.sub, router.expectedCosts).points;
    return { base, kind: "predictive", q, expectedCosts: router.expectedCosts, sub, m, lambdas: validatedLambdas(vPoints, exact) };
  }
  const settings = await realiseChecked(router, batch);
  if (!validation) return { base, kind: "unvalidated", curve: directCurve(settings), settings: settings.map((s) => s.setting) };
  const v = batchOf(router, validation.table, validation.embeddings, name, "validation");
  const vSettings = await realiseChecked(router, v.batch);
  const vPoints = directCurve(vSettings).points;
  const vertices = hullVertexIndices(vPoints);
  return {
    base,
    kind: "direct",
    settings,
    chosen: vertices.map((k) => ({ setting: vSettings[k].setting, cost: vPoints[k].cost })).sort((a, b) => a.cost - b.cost),
  };
}

/** Settings of consecutive folds, joined prompt-wise in fold order. */
function joinSettings(parts: readonly { costs: Float64Array; scores: Float64Array; chosen: Int32Array }[]): { costs: Float64Array; scores: Float64Array; chosen: Int32Array } {
  if (parts.length === 1) return parts[0];
  return { costs: concatTyped(parts.map((p) => p.costs)), scores: concatTyped(parts.map((p) => p.scores)), chosen: concatTyped(parts.map((p) => p.chosen)) };
}

/** Hyperparameters over folds: the fold's own when they all agree, else each fold's (grids may choose differently). */
function foldParams(parts: readonly FoldRouting[]): Record<string, unknown> {
  const all = parts.map((p) => p.base.params);
  const same = all.every((p) => JSON.stringify(p) === JSON.stringify(all[0]));
  return same ? all[0] : { folds: all };
}

/**
 * A router's curve over the folds of a split (one fold: a plain split). Operating points are the
 * union of what each fold's validation rows chose (lambdas, or a direct router's settings); each
 * fold's own router realises every one of them on that fold's test prompts, and the folds are
 * joined prompt-wise, so every test prompt is decided by a router that never saw it.
 */
function assembleFolds(parts: readonly FoldRouting[]): Routed {
  const first = parts[0];
  for (const p of parts) {
    if (p.kind !== first.kind || p.base.pool.join("\u0000") !== first.base.pool.join("\u0000")) throw new Error(`router "${first.base.name}": its folds differ in kind or pool`);
  }
  const base = { ...first.base, params: foldParams(parts), poolScores: concatTyped(parts.map((p) => p.base.poolScores!)) };
  if (first.kind === "unvalidated") {
    if (parts.length > 1) throw new InputError(CROSSFIT_NEEDS_VALIDATION);
    return { ...first.base, curve: first.curve, settings: first.settings };
  }
  if (first.kind === "predictive") {
    const folds = parts as Extract<FoldRouting, { kind: "predictive" }>[];
    const lams = [...new Set(folds.flatMap((f) => f.lambdas))].sort((a, b) => a - b);
    const settings = lams.map((lambda) => joinSettings(folds.map((f) => realiseAt(f.q, f.expectedCosts, f.sub, f.m, lambda))));
    const curve = directCurve(settings);
    curve.points.forEach((p, k) => (p.lambda = lams[k]));
    return { ...base, curve, settings: lams.map((l) => `lambda=${l}`) };
  }
  const folds = parts as Extract<FoldRouting, { kind: "direct" }>[];
  const testSetting = (f: (typeof folds)[number], label: string) => {
    const hit = f.settings.find((x) => x.setting === label);
    if (!hit) throw new Error(`router "${first.base.name}": its validation setting "${label}" is not among its test settings`);
    return hit;
  };
  if (folds.length === 1) {
    // In the settings' own order (a direct router lists them from cheap to dear).
    const keep = new Set(first.chosen.map((c) => c.setting));
    const kept = first.settings.filter((x) => keep.has(x.setting));
    if (kept.length === 0) throw new Error(`router "${first.base.name}": its validation settings do not match its test settings`);
    return { ...base, curve: directCurve(kept), settings: kept.map((x) => x.setting) };
  }
  // A direct router's settings can depend on its training rows (a cascade's budgets do), so
  // folds are aligned by validation cost instead: at each cost any fold's validation hull has a
  // vertex at, every fold takes its dearest chosen setting that cost no more on its validation rows.
  const targets = [...new Set(folds.flatMap((f) => f.chosen.map((c) => c.cost)))].sort((a, b) => a - b);
  const kept = targets.map((c) =>
    joinSettings(
      folds.map((f) => {
        let pick = f.chosen[0];
        for (const x of f.chosen) if (x.cost <= c) pick = x;
        return testSetting(f, pick.setting);
      }),
    ),
  );
  return { ...base, curve: directCurve(kept), settings: targets.map((c) => `validation cost <= ${c}`) };
}

function twoModelMetrics(r: Routed): TwoModelMetrics | null {
  if (r.pool.length !== 2 || !r.poolScores) return null;
  const n = r.curve.decisions.n;
  const mean = [0, 0];
  for (let i = 0; i < n; i++) for (let j = 0; j < 2; j++) mean[j] += r.poolScores[i * 2 + j] / n;
  const strong = mean[1] > mean[0] ? 1 : 0;
  const weak = 1 - strong;
  const shares = strongShares(r.curve.decisions, strong);
  const pts: SharePoint[] = r.curve.points.map((p, k) => ({ share: shares[k], quality: p.quality }));
  return {
    strong: r.pool[strong],
    weak: r.pool[weak],
    apgr: apgr(pts, mean[weak], mean[strong]),
    cpt50: cpt(pts, mean[weak], mean[strong], 0.5),
    cpt80: cpt(pts, mean[weak], mean[strong], 0.8),
  };
}

/** One fold of a split: its test rows, its validation rows, and its routers (fitted without these test rows). */
export interface FoldUnderTest {
  test: { table: OutcomeTable; embeddings: EmbeddingMatrix | null };
  validation?: { table: OutcomeTable; embeddings: EmbeddingMatrix | null };
  routers: RouterUnderTest[];
}

export async function evaluateSplit(test: { table: OutcomeTable; embeddings: EmbeddingMatrix | null }, routers: RouterUnderTest[], opts: EvalOptions): Promise<SplitResult> {
  return evaluateFolds([{ test, routers, ...(opts.validation ? { validation: opts.validation } : {}) }], opts);
}

interface PreparedFold {
  table: OutcomeTable;
  dropped: number;
  validation: { table: OutcomeTable; embeddings: EmbeddingMatrix | null } | null;
  inputs: { test: EmbeddingMatrix | null; validation: { table: OutcomeTable; embeddings: EmbeddingMatrix | null } | null }[];
}

/** A fold's complete test and validation rows, and each router's embeddings of them. */
function prepareFold(fold: FoldUnderTest, opts: EvalOptions): PreparedFold {
  const { test, routers } = fold;
  const rows = completeRows(test.table);
  if (rows.length === 0) throw new InputError("the test split has no prompt with every model's score and cost");
  const full = rows.length === test.table.ids.length;
  const table = full ? test.table : selectRows(test.table, rows);
  const testKeep = full ? null : rows;
  const embeddings = completeEmbeddings(test.embeddings, test.table.ids.length, testKeep, "the test embeddings");

  // Operating points on validation when its rows are there (and complete); else on test.
  let validation: { table: OutcomeTable; embeddings: EmbeddingMatrix | null } | null = null;
  let validationKeep: number[] | null = null;
  const wantValidation = (opts.operatingPoints ?? (fold.validation ? "validation" : "test")) === "validation";
  if (wantValidation) {
    if (!fold.validation) throw new InputError("operating points on validation need the validation rows of the split");
    const v = fold.validation;
    const vRows = completeRows(v.table);
    validationKeep = vRows.length === v.table.ids.length ? null : vRows;
    const shared = completeEmbeddings(v.embeddings, v.table.ids.length, validationKeep, "the validation embeddings");
    if (vRows.length > 0) validation = { table: validationKeep ? selectRows(v.table, validationKeep) : v.table, embeddings: shared };
  }
  // A router that brings its own embeddings reads them instead of the shared ones.
  const inputs = routers.map((r) => {
    if (!r.embeddings) return { test: embeddings, validation };
    const whose = `router "${r.name}"'s`;
    return {
      test: completeEmbeddings(r.embeddings.test, test.table.ids.length, testKeep, `${whose} test embeddings`),
      validation: validation && {
        table: validation.table,
        embeddings: completeEmbeddings(r.embeddings.validation, fold.validation!.table.ids.length, validationKeep, `${whose} validation embeddings`),
      },
    };
  });
  return { table, dropped: test.table.ids.length - table.ids.length, validation, inputs };
}

/**
 * Evaluate routers over the folds of one split (cross-fitting; one fold is a plain split): each
 * fold's routers route that fold's test prompts at operating points chosen on validation rows
 * (see assembleFolds), the folds' test prompts are pooled in fold order, and every curve, hull,
 * AIQ and bootstrap interval is computed on the pooled prompts, as for one test split.
 */
export async function evaluateFolds(folds: FoldUnderTest[], opts: EvalOptions): Promise<SplitResult> {
  if (folds.length === 0) throw new Error("evaluateFolds needs at least one fold");
  const routers = folds[0].routers;
  const names = new Set<string>();
  for (const r of routers) {
    if (names.has(r.name)) throw new InputError(`two routers are named "${r.name}"; names must be unique`);
    names.add(r.name);
  }
  for (const f of folds) {
    if (f.routers.map((r) => r.name).join("\u0000") !== routers.map((r) => r.name).join("\u0000")) throw new Error("every fold must evaluate the same routers in the same order");
  }
  for (const reserved of ["Zero router", "Oracle"]) if (names.has(reserved)) throw new InputError(`"${reserved}" is a reference row; rename the router`);
  if (opts.compareTo !== undefined && !names.has(opts.compareTo)) {
    throw new InputError(`compareTo names "${opts.compareTo}", which is not among the routers evaluated (${[...names].join(", ")})`);
  }
  const prepared = folds.map((f) => prepareFold(f, opts));
  const table = concatRows(prepared.map((p) => p.table));
  const n = table.ids.length;
  const m = table.models.length;
  const resamples = opts.bootstrap ?? 1000;
  const progressTotal = routers.length + resamples;
  const progress = opts.onProgress;
  const validated = prepared.every((p) => p.validation);

  const routed: Routed[] = [];
  for (const [k, r] of routers.entries()) {
    const parts: FoldRouting[] = [];
    for (const [f, p] of prepared.entries()) parts.push(await routeFold(folds[f].routers[k], p.table, p.inputs[k].test, opts.lambdas, p.inputs[k].validation));
    routed.push(assembleFolds(parts));
    progress?.(k + 1, progressTotal, `routed ${r.name}`);
  }

  // Summed exactly as curve points are (./curve.ts), so a curve that is one single model
  // reproduces that model's point bit for bit.
  const singles: SingleModelPoint[] = table.models.map((model, j) => {
    const c = new Sum();
    const q = new Sum();
    for (let i = 0; i < n; i++) {
      c.add(table.costs[i * m + j]);
      q.add(table.scores[i * m + j]);
    }
    return { model, cost: c.value / n, quality: q.value / n };
  });
  let best = 0;
  for (let j = 1; j < m; j++) {
    if (singles[j].quality > singles[best].quality || (singles[j].quality === singles[best].quality && singles[j].cost < singles[best].cost)) best = j;
  }
  const bestSingle = singles[best];
  const costRange: [number, number] = opts.costRange ?? [Math.min(...singles.map((s) => s.cost)), Math.max(...singles.map((s) => s.cost))];
  const mode: AiqMode = opts.aiq ?? "shared-range";
  // A range of one cost (every model costs the same) scores quality at that cost (metrics.aiq).
  if (mode === "shared-range" && !(costRange[1] >= costRange[0])) {
    throw new InputError(`the AIQ cost range must be [min, max] with max >= min, got [${costRange[0]}, ${costRange[1]}]`, { field: "costRange" });
  }

  const bestCurve = fixedCurve(table.scores, table.costs, m, () => best);
  // Oracle: the routing rule fed each prompt's realised scores and costs. Its last point
  // (lambda -> Infinity) is the facts page's Oracle: best realised score, cheapest realised cost
  // on ties (so all-zero rows go to the cheapest model). Its whole curve is the best any router
  // could do at each cost, so its hull bounds every router's from above.
  const oracleCurve = exactCurve(table.scores, table.costs, table.scores, table.costs, m);
  const references: Routed[] = [
    { name: `Best single (${bestSingle.model})`, role: "best-single", type: "best-single", params: {}, pool: [bestSingle.model], curve: bestCurve, settings: null, poolScores: null },
    { name: "Oracle", role: "oracle", type: "oracle", params: {}, pool: table.models.slice(), curve: oracleCurve, settings: null, poolScores: null },
  ];
  const all = [...routed, ...references];
  const hulls = all.map((r) => nonDecreasingHull(r.curve.points));
  const zeroHull = nonDecreasingHull(singles);
  // Parity mode: the reference divides by the largest cost any compared hull reaches.
  const parityMax = opts.costRange?.[1] ?? Math.max(...[...hulls, zeroHull].map((h) => h[h.length - 1].cost));
  const aiqOf = (h: CostQuality[]) => (mode === "routerbench-code" ? aiqRouterbenchCode(h, parityMax) : aiq(h, costRange[0], costRange[1]));
  const zeroAiq = aiqOf(zeroHull);

  const boot =
    resamples > 0
      ? bootstrapAiq(
          { curves: all.map((r) => r.curve.decisions), singleScores: table.scores, singleCosts: table.costs, nModels: m, aiqMode: mode, ...(opts.costRange ? { costRange: opts.costRange } : {}) },
          { seed: opts.seed, resamples, keepDraws: opts.compareTo !== undefined, onProgress: progress ? (done) => progress(routers.length + done, progressTotal, "bootstrap") : undefined },
        )
      : null;

  const metricsOf = (hull: CostQuality[]) => {
    const mq = maxQuality(hull);
    return {
      maxQuality: mq.quality,
      maxQualityCost: mq.cost,
      qualityAtBestSingleCost: qualityAtCost(hull, bestSingle.cost),
      costToMatchBestSingle: costToReach(hull, bestSingle.quality),
    };
  };
  const refIndex = opts.compareTo === undefined ? -1 : all.findIndex((r) => r.role === "router" && r.name === opts.compareTo);
  const vsReference = (k: number, value: number): RouterResult["vsReference"] => {
    if (refIndex < 0 || k === refIndex) return null;
    const diff = value - aiqOf(hulls[refIndex]);
    const draws = boot?.draws;
    if (!draws) return { name: all[refIndex].name, diff, interval: null, better: null };
    const d = draws.routers[k].map((v, b) => v - draws.routers[refIndex][b]);
    const iv = percentileInterval(d, boot.level);
    return { name: all[refIndex].name, diff, interval: iv, better: iv[0] > AIQ_TIE_TOLERANCE };
  };
  const out: RouterResult[] = all.map((r, k) => {
    const value = aiqOf(hulls[k]);
    const b = boot?.routers[k];
    return {
      name: r.name,
      role: r.role,
      type: r.type,
      params: r.params,
      pool: r.pool,
      points: r.curve.points,
      settings: r.settings,
      hull: hulls[k],
      aiq: value,
      aiqInterval: b ? b.aiq : null,
      diffToZero: value - zeroAiq,
      diffInterval: b ? b.diffToZero : null,
      pBeatsZero: b ? b.pBeatsZero : null,
      beatsZero: b ? b.diffToZero[0] > AIQ_TIE_TOLERANCE : null,
      ...metricsOf(hulls[k]),
      twoModel: r.role === "router" ? twoModelMetrics(r) : null,
      vsReference: vsReference(k, value),
    };
  });
  const zeroRow: RouterResult = {
    name: "Zero router",
    role: "zero",
    type: "zero",
    params: {},
    pool: table.models.slice(),
    points: singles.map((s) => ({ lambda: NaN, cost: s.cost, quality: s.quality })),
    settings: singles.map((s) => s.model),
    hull: zeroHull,
    aiq: zeroAiq,
    aiqInterval: boot ? boot.zero.aiq : null,
    diffToZero: null,
    diffInterval: null,
    pBeatsZero: null,
    beatsZero: null,
    ...metricsOf(zeroHull),
    twoModel: null,
    vsReference: null,
  };
  // Order: user's routers, Zero, best single, Oracle.
  const ordered = [...out.slice(0, routed.length), zeroRow, ...out.slice(routed.length)];
  return {
    prompts: n,
    droppedIncomplete: prepared.reduce((a, p) => a + p.dropped, 0),
    models: table.models.slice(),
    singles,
    costRange: mode === "routerbench-code" ? [0, parityMax] : costRange,
    aiqMode: mode,
    lambdas: opts.lambdas ?? "exact",
    bootstrap: boot ? { resamples: boot.resamples, seed: opts.seed, level: boot.level } : null,
    operatingPoints: validated ? "validation" : "test",
    compareTo: opts.compareTo ?? null,
    // Cross-fitted: the smallest fold's (each router's points are chosen on its own fold's).
    validationPrompts: validated ? Math.min(...prepared.map((p) => p.validation!.table.ids.length)) : 0,
    folds: folds.length,
    bestSingle: bestSingle.model,
    rows: ordered,
  };
}
