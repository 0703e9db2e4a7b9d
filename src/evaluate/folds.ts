/**
 * How each router under test routes one fold's test prompts, and how the folds of a split are
 * joined into one curve per router (cross-fitting; one fold is a plain split). What a fold keeps
 * (predictions, settings, the pool's outcomes on test and validation rows) is enough to judge
 * the same decisions in another currency: ./latency.ts re-chooses operating points in seconds
 * from it without routing again.
 */
import type { OutcomeTable } from "../data/table.js";
import { concatTyped, selectModels } from "../data/table.js";
import { CROSSFIT_NEEDS_VALIDATION } from "../data/splits.js";
import type { EmbeddingMatrix } from "../embed/embedder.js";
import type { PromptBatch, RealisedOutcomes, Router } from "../routers/router.js";
import { realiseChecked } from "../routers/routing.js";
import { InputError } from "../util/errors.js";
import { ROUTERBENCH_LAMBDAS, directCurve, exactCurve, gridCurveWithDecisions, type Curve } from "./curve.js";
import { hullVertexIndices, realiseAt, validatedLambdas } from "./operating-points.js";

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

/** One row's curve, ready to be judged: what it routed and to which models. */
export interface Routed {
  name: string;
  role: RowRole;
  type: string;
  params: Record<string, unknown>;
  pool: string[];
  curve: Curve;
  settings: string[] | null;
  /** Pool-order realised outcomes, for the two-model metrics. */
  poolScores: Float64Array | null;
  /**
   * Realised total latency (ms, NaN where unknown) of the cells the curve's decisions index
   * (pool order for a router, table order for the reference rows); null when the data has none.
   */
  latencyCells: Float64Array | null;
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
export type FoldRouting = {
  base: Omit<Routed, "curve" | "settings">;
} & (
  | {
      kind: "predictive";
      q: Float64Array;
      expectedCosts: Float64Array;
      /** The test rows' outcomes in pool order. */
      sub: OutcomeTable;
      m: number;
      lambdas: number[];
      /** The validation rows' predictions and pool-order outcomes the lambdas were chosen on. */
      validation: { q: Float64Array; sub: OutcomeTable };
    }
  | { kind: "direct"; settings: RealisedOutcomes[]; chosen: { setting: string; cost: number }[]; sub: OutcomeTable; validation: { settings: RealisedOutcomes[]; sub: OutcomeTable } }
  | {
      kind: "unvalidated";
      curve: Curve;
      settings: string[] | null;
      sub: OutcomeTable;
      /** What made the curve: predictions (with expected costs) or a direct router's settings. */
      source: { kind: "predictive"; q: Float64Array; expectedCosts: Float64Array } | { kind: "direct"; settings: RealisedOutcomes[] };
    }
);

export async function routeFold(
  rt: RouterUnderTest,
  table: OutcomeTable,
  embeddings: EmbeddingMatrix | null,
  lambdas: "exact" | "routerbench" | number[] | undefined,
  validation: { table: OutcomeTable; embeddings: EmbeddingMatrix | null } | null,
): Promise<FoldRouting> {
  const { router, name } = rt;
  const pool = router.pool.slice();
  const { batch, sub } = batchOf(router, table, embeddings, name, "test");
  const m = pool.length;
  const base = { name, role: "router" as const, type: router.type, params: { ...router.params }, pool, poolScores: sub.scores, latencyCells: sub.totalLatencyMs ?? null };
  const exact = lambdas === undefined || lambdas === "exact";
  const grid = exact ? [] : lambdas === "routerbench" ? ROUTERBENCH_LAMBDAS : lambdas;
  const curveOf = (q: Float64Array, t: OutcomeTable, costs: Float64Array) =>
    exact ? exactCurve(q, costs, t.scores, t.costs, m) : gridCurveWithDecisions(q, costs, t.scores, t.costs, m, grid);

  if (router.kind === "predictive") {
    const q = await predicted(router, batch, m, name);
    if (!validation) {
      return { base, kind: "unvalidated", curve: curveOf(q, sub, router.expectedCosts), settings: null, sub, source: { kind: "predictive", q, expectedCosts: router.expectedCosts } };
    }
    // Operating points from validation: its curve's hull vertices, as lambdas.
    const v = batchOf(router, validation.table, validation.embeddings, name, "validation");
    const vq = await predicted(router, v.batch, m, name);
    const vPoints = curveOf(vq, v.sub, router.expectedCosts).points;
    return { base, kind: "predictive", q, expectedCosts: router.expectedCosts, sub, m, lambdas: validatedLambdas(vPoints, exact), validation: { q: vq, sub: v.sub } };
  }
  const settings = await realiseChecked(router, batch);
  if (!validation) return { base, kind: "unvalidated", curve: directCurve(settings), settings: settings.map((s) => s.setting), sub, source: { kind: "direct", settings } };
  const v = batchOf(router, validation.table, validation.embeddings, name, "validation");
  const vSettings = await realiseChecked(router, v.batch);
  const vPoints = directCurve(vSettings).points;
  const vertices = hullVertexIndices(vPoints);
  return {
    base,
    kind: "direct",
    settings,
    chosen: vertices.map((k) => ({ setting: vSettings[k].setting, cost: vPoints[k].cost })).sort((a, b) => a.cost - b.cost),
    sub,
    validation: { settings: vSettings, sub: v.sub },
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
export function assembleFolds(parts: readonly FoldRouting[]): Routed {
  const first = parts[0];
  for (const p of parts) {
    if (p.kind !== first.kind || p.base.pool.join("\u0000") !== first.base.pool.join("\u0000")) throw new Error(`router "${first.base.name}": its folds differ in kind or pool`);
  }
  const latency = parts.every((p) => p.base.latencyCells) ? concatTyped(parts.map((p) => p.base.latencyCells!)) : null;
  const base = { ...first.base, params: foldParams(parts), poolScores: concatTyped(parts.map((p) => p.base.poolScores!)), latencyCells: latency };
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

