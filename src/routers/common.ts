/** Pieces every router shares: expected costs and latencies, targets, and checks on the inputs they are given. */
import { completeRows, modelColumnCells, selectRows, type OutcomeTable } from "../data/table.js";
import { selectEmbeddingRows, type EmbeddingMatrix } from "../embed/embedder.js";
import { InputError } from "../util/errors.js";
import type { PromptBatch, TrainingSet } from "./router.js";

/** The router's pool columns of a table (by name, so column order never has to match). */
export function poolColumns(table: OutcomeTable, pool: readonly string[]): number[] {
  return pool.map((name) => {
    const j = table.models.indexOf(name);
    if (j < 0) throw new InputError(`model "${name}" of the router's pool is not in the table (has: ${table.models.join(", ")})`);
    return j;
  });
}

/** Per-pool-model mean of `values` over the table's complete rows (all scores and costs present). */
function meanOverCompleteRows(table: OutcomeTable, pool: readonly string[], values: Float64Array, what: string): Float64Array {
  const cols = poolColumns(table, pool);
  const rows = completeRows(table);
  if (rows.length === 0) throw new InputError(`no training row has every score and cost: cannot learn ${what}`);
  const m0 = table.models.length;
  const out = new Float64Array(pool.length);
  for (const i of rows) for (let j = 0; j < cols.length; j++) out[j] += values[i * m0 + cols[j]];
  for (let j = 0; j < out.length; j++) out[j] /= rows.length;
  return out;
}

/** c_m: mean US$ per query of each pool model on the training rows (complete rows only). */
export function expectedCostsOf(table: OutcomeTable, pool: readonly string[]): Float64Array {
  return meanOverCompleteRows(table, pool, table.costs, "expected costs");
}

/**
 * l_m: mean total latency in seconds of each pool model on the training rows (complete rows
 * whose latency is known; NaN for a model with none), or null when the table has no latencies.
 */
export function expectedLatenciesOf(table: OutcomeTable, pool: readonly string[]): Float64Array | null {
  const lat = table.totalLatencyMs;
  if (!lat) return null;
  const cols = poolColumns(table, pool);
  const rows = completeRows(table);
  const m0 = table.models.length;
  const out = new Float64Array(pool.length);
  cols.forEach((col, j) => {
    let sum = 0;
    let count = 0;
    for (const i of rows) {
      const x = lat[i * m0 + col];
      if (Number.isNaN(x)) continue;
      sum += x;
      count++;
    }
    out[j] = count > 0 ? sum / count / 1000 : NaN;
  });
  return out;
}

/** Mean training score of each pool model (complete rows only). */
export function meanScoresOf(table: OutcomeTable, pool: readonly string[]): Float64Array {
  return meanOverCompleteRows(table, pool, table.scores, "mean scores");
}

/** Scores of the pool's columns, prompts x pool, NaN where missing. */
export function poolScores(table: OutcomeTable, pool: readonly string[]): Float64Array {
  return modelColumnCells(table, table.scores, poolColumns(table, pool));
}

export function requireEmbeddings(set: TrainingSet | PromptBatch, routerType: string, rows: number): EmbeddingMatrix {
  const e = set.embeddings;
  if (!e) throw new InputError(`router ${routerType} needs prompt embeddings, and none were given`);
  if (e.rows !== rows) throw new InputError(`router ${routerType}: ${e.rows} embeddings for ${rows} prompts`);
  if (e.data.length !== e.rows * e.dimension) throw new Error(`embedding matrix holds ${e.data.length} floats, not ${e.rows} x ${e.dimension}`);
  return e;
}

export function requireOutcomes(batch: PromptBatch, routerType: string, pool: readonly string[]): { scores: Float64Array; costs: Float64Array } {
  const o = batch.outcomes;
  if (!o) {
    throw new InputError(`router ${routerType} needs the realised outcomes of the prompts it routes, so it cannot route new prompts`);
  }
  const cells = batch.ids.length * pool.length;
  if (o.scores.length !== cells || o.costs.length !== cells) {
    throw new Error(`router ${routerType}: outcomes hold ${o.scores.length} scores / ${o.costs.length} costs for ${batch.ids.length} prompts x ${pool.length} models`);
  }
  return o;
}

/** Mean squared error of predicted against realised scores over the present (non-NaN) cells. */
export function maskedMse(predicted: Float64Array, actual: Float64Array): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    if (Number.isNaN(a)) continue;
    const d = predicted[i] - a;
    sum += d * d;
    count++;
  }
  return count ? sum / count : NaN;
}

/** Same checks as everywhere: a positive integer hyperparameter. */
export function positiveInt(params: Record<string, unknown>, name: string, fallback: number): number {
  const v = params[name] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) throw new InputError(`${name} must be a positive integer, got ${JSON.stringify(v)}`, { field: name });
  return v;
}

export function nonNegative(params: Record<string, unknown>, name: string, fallback: number): number {
  const v = params[name] ?? fallback;
  if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) throw new InputError(`${name} must be a non-negative number, got ${JSON.stringify(v)}`, { field: name });
  return v;
}

/** Reject hyperparameters a router does not know, so a typo never silently does nothing. */
export function checkKnownParams(type: string, params: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(params)) {
    if (!known.includes(k)) throw new InputError(`router ${type} has no parameter "${k}" (knows: ${known.join(", ") || "none"})`, { field: k });
  }
}

/** A table's rows as prompts to route; outcomes (in pool order) only for routers that need them. */
export function batchOfTable(table: OutcomeTable, embeddings: EmbeddingMatrix | null, pool: readonly string[], withOutcomes: boolean): PromptBatch {
  if (!withOutcomes) return { ids: table.ids, texts: table.texts, evals: table.evals, embeddings };
  const cols = poolColumns(table, pool);
  const outcomes = { scores: modelColumnCells(table, table.scores, cols), costs: modelColumnCells(table, table.costs, cols) };
  return { ids: table.ids, texts: table.texts, evals: table.evals, embeddings, outcomes };
}

/** Rows `rows` of a set (a split's part, a fold, its complete rows), with their embeddings when it has them. */
export function selectSetRows(set: TrainingSet, rows: readonly number[]): TrainingSet {
  return { table: selectRows(set.table, rows), embeddings: set.embeddings ? selectEmbeddingRows(set.embeddings, rows) : null };
}
