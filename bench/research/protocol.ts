/** Shared pieces of the research protocol: cross-validated choices and routekit's evaluator on fixed predictions. */
import type { OutcomeTable } from "../../src/data/table.js";
import { evaluateSplit } from "../../src/evaluate/evaluate.js";
import type { PredictiveRouter } from "../../src/routers/router.js";
import { selectRows } from "./data.js";
import type { Ctx, Hyper, Method } from "./methods.js";

export const FOLDS = 5;

/** routekit's evaluator on a fixed prediction matrix: AIQ - Zero with its bootstrap interval. */
export async function standardEval(t: OutcomeTable, testRows: number[], q: Float64Array, expectedCosts: Float64Array, bootstrap: number) {
  const router: PredictiveRouter = {
    type: "fixed",
    kind: "predictive",
    pool: t.models,
    needsEmbeddings: false,
    needsOutcomes: false,
    params: {},
    expectedCosts,
    fit: async () => ({ chosen: {}, validation: {}, seconds: 0 }),
    predictQuality: async () => q,
  };
  const res = await evaluateSplit({ table: selectRows(t, testRows), embeddings: null }, [{ name: "r", router }], { seed: 0, bootstrap });
  const r = res.rows[0];
  return { aiq: r.aiq, zero: res.rows.find((x) => x.role === "zero")!.aiq, oracle: res.rows.find((x) => x.role === "oracle")!.aiq, diff: r.diffToZero!, ci: r.diffInterval, p: r.pBeatsZero };
}

export function colMeans(t: OutcomeTable, rows: number[], arr: Float64Array): Float64Array {
  const m = t.models.length;
  const out = new Float64Array(m);
  for (const i of rows) for (let j = 0; j < m; j++) out[j] += arr[i * m + j] / rows.length;
  return out;
}
export function cells(t: OutcomeTable, arr: Float64Array, rows: number[]): Float64Array {
  const m = t.models.length;
  const o = new Float64Array(rows.length * m);
  rows.forEach((r, i) => o.set(arr.subarray(r * m, r * m + m), i * m));
  return o;
}
export async function outOfFold(fn: Method, ctx: Ctx, rows: number[], h: Hyper): Promise<Float64Array> {
  const m = ctx.m;
  const out = new Float64Array(rows.length * m);
  for (let f = 0; f < FOLDS; f++) {
    const tr = rows.filter((_, i) => i % FOLDS !== f);
    const vaPos = rows.map((_, i) => i).filter((i) => i % FOLDS === f);
    const q = await fn(ctx, tr, vaPos.map((i) => rows[i]), h);
    vaPos.forEach((p, k) => out.set(q.subarray(k * m, k * m + m), p * m));
  }
  return out;
}
export function brier(q: Float64Array, S: Float64Array): number {
  let s = 0;
  for (let i = 0; i < q.length; i++) s += (q[i] - S[i]) ** 2;
  return s / q.length;
}

