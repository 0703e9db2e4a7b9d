/**
 * Evaluate routers on one test split: route every prompt, make each router's curve, hull and
 * metrics, bootstrap intervals, and always the reference rows a reader needs to judge them:
 * the single models, the Zero router (their hull), the best single model and the Oracle.
 * Knows routers only through the contract in ../routers/router.ts.
 */
import type { OutcomeTable } from "../data/table.js";
import { completeRows, concatRows, selectRows } from "../data/table.js";
import type { EmbeddingMatrix } from "../embed/embedder.js";
import { selectEmbeddingRows } from "../embed/embedder.js";
import { InputError } from "../util/errors.js";
import type { ProgressFn } from "../util/progress.js";
import { AIQ_TIE_TOLERANCE, bootstrapAiq, percentileInterval, type AiqMode } from "./bootstrap.js";
import { Sum, directCurve, exactCurve, type Curve, type CurveDecisions, type CurvePoint } from "./curve.js";
import { assembleFolds, routeFold, type FoldRouting, type Routed, type RouterUnderTest, type RowRole } from "./folds.js";
import { nonDecreasingHull, type CostQuality } from "./hull.js";
import { hullVertexIndices } from "./operating-points.js";
import {
  LATENCY_QUANTILE,
  latencyComplete,
  latencySweep,
  pointLatencies,
  quantileWithInterval,
  routedInSeconds,
  secondsOf,
  type LatencySweep,
  type PointLatency,
} from "./latency.js";
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
  /**
   * Judge latency too (./latency.ts) when every test and validation cell has one; default true.
   * The permutation null's shuffles leave it out (their AIQ is all they are for).
   */
  latency?: boolean;
  /** The latency sweep's prices (US$ per second of waiting); default: LATENCY_SWEEP_SHARES scaled per router. */
  latencyWeights?: readonly number[];
  onProgress?: ProgressFn;
}

export type { RouterUnderTest, RowRole } from "./folds.js";

export type OperatingPoints = "validation" | "test";


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
  /**
   * Mean and p95 latency of its operating points (every point of a validated router's curve,
   * else its hull's vertices), when the data has latencies; null otherwise, on the Oracle (not
   * deployable) and on Zero (its single models are in SplitResult.latency.singles).
   */
  latency: PointLatency[] | null;
}

/** The split judged on latency (./latency.ts); the rows' "cost" is mean seconds per query. */
export interface LatencyResult {
  /** Where the expected latencies the routers routed by came from. */
  expectedFrom: "validation" | "test";
  /** The latency AIQ's range: fastest to slowest single model's mean latency (s). */
  latencyRange: [number, number];
  singles: { model: string; meanSeconds: number; p95Seconds: number; p95Interval: [number, number] | null; quality: number }[];
  /** As SplitResult.rows, with seconds for cost: the user's routers, Zero, best single, Oracle. */
  rows: RouterResult[];
  /** The latency term at work, one per predictive router (validated operating points only). */
  sweeps: LatencySweep[];
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
  /** The latency judgement; null when a judged cell has no latency (or EvalOptions.latency is false). */
  latency: LatencyResult | null;
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

/** Embeddings given for `n` prompts (checked), cut to the rows kept (`keep`, or all when null). */
function completeEmbeddings(m: EmbeddingMatrix | null, n: number, keep: number[] | null, what: string): EmbeddingMatrix | null {
  if (!m) return null;
  if (m.rows !== n) throw new InputError(`${what} have ${m.rows} rows for ${n} prompts`);
  return keep ? selectEmbeddingRows(m, keep) : m;
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
  const foldParts: FoldRouting[][] = [];
  for (const [k, r] of routers.entries()) {
    const parts: FoldRouting[] = [];
    for (const [f, p] of prepared.entries()) parts.push(await routeFold(folds[f].routers[k], p.table, p.inputs[k].test, opts.lambdas, p.inputs[k].validation));
    foldParts.push(parts);
    routed.push(assembleFolds(parts));
    progress?.(k + 1, progressTotal, `routed ${r.name}`);
  }

  const mode: AiqMode = opts.aiq ?? "shared-range";
  const judged = judge(routed, table, { mode, costRange: opts.costRange, resamples, seed: opts.seed, compareTo: opts.compareTo, onBootstrap: progress ? (done) => progress(routers.length + done, progressTotal, "bootstrap") : undefined });
  const level = judged.level ?? 0.95;
  // Latency: only where every judged cell has one (see ./latency.ts), and not for the null's shuffles.
  const withLatency = opts.latency !== false && latencyComplete(table) && prepared.every((p) => !p.validation || latencyComplete(p.validation.table));
  if (withLatency) {
    // Routers and the best single model: what could be deployed. The Oracle's hull has a vertex
    // per few prompts, and no one deploys it.
    const measured = judged.rows.flatMap((r, k) => (r.role === "oracle" ? [] : [k]));
    const figures = pointLatencies(
      measured.map((k) => {
        const r = judged.rows[k];
        return {
          curve: judged.curves[k],
          cellsMs: r.role === "router" ? routed[k].latencyCells! : table.totalLatencyMs!,
          m: r.role === "router" ? r.pool.length : m,
          // Validated operating points are every point of a router's curve; otherwise its hull's vertices.
          points: validated && r.role === "router" ? r.points.map((_, i) => i) : hullVertexIndices(r.points),
        };
      }),
      { seed: opts.seed, resamples, level },
    );
    measured.forEach((k, t) => (judged.rows[k].latency = figures[t]));
  }
  const latency = withLatency ? judgeLatency(foldParts, table, validated, { seed: opts.seed, resamples, level, compareTo: opts.compareTo, mus: opts.latencyWeights }) : null;
  // Order: user's routers, Zero, best single, Oracle.
  const ordered = [...judged.rows.slice(0, routed.length), judged.zero, ...judged.rows.slice(routed.length)];
  return {
    prompts: n,
    droppedIncomplete: prepared.reduce((a, p) => a + p.dropped, 0),
    models: table.models.slice(),
    singles: judged.singles,
    costRange: judged.costRange,
    aiqMode: mode,
    lambdas: opts.lambdas ?? "exact",
    bootstrap: judged.level !== null ? { resamples, seed: opts.seed, level: judged.level } : null,
    operatingPoints: validated ? "validation" : "test",
    compareTo: opts.compareTo ?? null,
    // Cross-fitted: the smallest fold's (each router's points are chosen on its own fold's).
    validationPrompts: validated ? Math.min(...prepared.map((p) => p.validation!.table.ids.length)) : 0,
    folds: folds.length,
    bestSingle: judged.bestSingle,
    rows: ordered,
    latency,
  };
}

/**
 * The split judged in seconds instead of dollars (see ./latency.ts): each router's folds
 * re-chosen in seconds and judged by the same code as cost (Zero = the single models' latency
 * hull, AIQ over the fastest to slowest single model's mean latency), each single model's
 * latency, and the latency term's sweep for each predictive router.
 */
function judgeLatency(
  foldParts: readonly FoldRouting[][],
  table: OutcomeTable,
  validated: boolean,
  opts: { seed: number; resamples: number; level: number; compareTo?: string; mus?: readonly number[] },
): LatencyResult {
  const m = table.models.length;
  const seconds = secondsOf(table.totalLatencyMs!);
  const routed = foldParts.map(routedInSeconds);
  const judged = judge(routed, { ...table, costs: seconds }, { mode: "shared-range", resamples: opts.resamples, seed: opts.seed, compareTo: opts.compareTo });
  const singles = table.models.map((model, j) => {
    const column = Float64Array.from({ length: table.ids.length }, (_, i) => seconds[i * m + j]);
    const p95 = quantileWithInterval(column, LATENCY_QUANTILE, opts.resamples > 0 ? opts.level : null);
    return { model, meanSeconds: judged.singles[j].cost, p95Seconds: p95.value, p95Interval: p95.interval, quality: judged.singles[j].quality };
  });
  const sweeps = validated ? foldParts.map((parts) => latencySweep(parts, opts)).filter((x): x is LatencySweep => x !== null) : [];
  return {
    expectedFrom: validated ? "validation" : "test",
    latencyRange: judged.costRange,
    singles,
    rows: [...judged.rows.slice(0, routed.length), judged.zero, ...judged.rows.slice(routed.length)],
    sweeps,
  };
}

interface JudgeOptions {
  mode: AiqMode;
  costRange?: [number, number];
  resamples: number;
  seed: number;
  compareTo?: string;
  onBootstrap?: (done: number) => void;
}

/**
 * The routers' curves judged against the reference rows on one set of outcomes (`table`'s
 * scores and costs; the latency judgement passes seconds as costs): singles, Zero, best single,
 * Oracle, hulls, AIQ, bootstrap intervals, the comparison with compareTo. Rows: the routers,
 * then best single and Oracle (Zero apart), with the curves they were judged on.
 */
function judge(routed: readonly Routed[], table: OutcomeTable, opts: JudgeOptions) {
  const n = table.ids.length;
  const m = table.models.length;
  const resamples = opts.resamples;
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
  const mode = opts.mode;
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
    { name: `Best single (${bestSingle.model})`, role: "best-single", type: "best-single", params: {}, pool: [bestSingle.model], curve: bestCurve, settings: null, poolScores: null, latencyCells: null },
    { name: "Oracle", role: "oracle", type: "oracle", params: {}, pool: table.models.slice(), curve: oracleCurve, settings: null, poolScores: null, latencyCells: null },
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
          { seed: opts.seed, resamples, keepDraws: opts.compareTo !== undefined, ...(opts.onBootstrap ? { onProgress: opts.onBootstrap } : {}) },
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
      latency: null,
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
    latency: null,
  };
  return {
    singles,
    bestSingle: bestSingle.model,
    costRange: (mode === "routerbench-code" ? [0, parityMax] : costRange) as [number, number],
    level: boot ? boot.level : null,
    rows: out,
    curves: all.map((r) => r.curve),
    zero: zeroRow,
  };
}
