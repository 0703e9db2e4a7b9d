/**
 * The outcome table: prompts x models, the one type every loader produces and everything
 * downstream consumes. Columnar, with per-(prompt, model) numbers in row-major typed arrays
 * (index = prompt * models.length + model) so that 36k x 11 tables stay compact and fast.
 */
import { InputError } from "../util/errors.js";

export interface OutcomeTable {
  /** Unique prompt ids (RouterBench `sample_id`). */
  readonly ids: string[];
  /** Prompt text, already unwrapped from RouterBench's stringified Python list. */
  readonly texts: string[];
  /** Dataset = group of eval names (`mmlu-anatomy` -> `mmlu`). */
  readonly datasets: string[];
  /** Eval (sub-task) name, RouterBench `eval_name`. */
  readonly evals: string[];
  /** Model names; their order fixes the column index m. */
  readonly models: string[];
  /** Score in [0,1]; NaN where the outcome is missing. Row-major prompts x models. */
  readonly scores: Float64Array;
  /** US$ for the prompt + response; NaN where missing. Row-major prompts x models. */
  readonly costs: Float64Array;
  /** Optional token counts (NaN where unknown). Row-major prompts x models. */
  readonly inputTokens?: Float64Array;
  readonly outputTokens?: Float64Array;
  /**
   * Optional latencies in ms (NaN where unknown: missing stays missing, never 0). Row-major
   * prompts x models. `ttftMs`: time to the first token; `totalLatencyMs`: request to last token.
   */
  readonly ttftMs?: Float64Array;
  readonly totalLatencyMs?: Float64Array;
  /** Optional responses (null where unknown). Row-major prompts x models. */
  readonly responses?: (string | null)[];
}

export function promptCount(t: OutcomeTable): number {
  return t.ids.length;
}

export function cell(t: OutcomeTable, prompt: number, model: number): number {
  return prompt * t.models.length + model;
}

/** The rows `rows` (indices into `t`) as a new table, in that order. */
export function selectRows(t: OutcomeTable, rows: ArrayLike<number>): OutcomeTable {
  const m = t.models.length;
  const n = rows.length;
  const pick = <T>(a: readonly T[]) => Array.from({ length: n }, (_, i) => a[rows[i]]);
  const pickCells = (a: Float64Array) => {
    const out = new Float64Array(n * m);
    for (let i = 0; i < n; i++) out.set(a.subarray(rows[i] * m, rows[i] * m + m), i * m);
    return out;
  };
  const pickCellList = <T>(a: readonly T[]) => {
    const out: T[] = new Array(n * m);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[i * m + j] = a[rows[i] * m + j];
    return out;
  };
  return {
    ids: pick(t.ids),
    texts: pick(t.texts),
    datasets: pick(t.datasets),
    evals: pick(t.evals),
    models: t.models.slice(),
    scores: pickCells(t.scores),
    costs: pickCells(t.costs),
    ...(t.inputTokens ? { inputTokens: pickCells(t.inputTokens) } : {}),
    ...(t.outputTokens ? { outputTokens: pickCells(t.outputTokens) } : {}),
    ...(t.ttftMs ? { ttftMs: pickCells(t.ttftMs) } : {}),
    ...(t.totalLatencyMs ? { totalLatencyMs: pickCells(t.totalLatencyMs) } : {}),
    ...(t.responses ? { responses: pickCellList(t.responses) } : {}),
  };
}

/** Typed arrays one after another, in one array of the same type; one array is returned as it is. */
export function concatTyped<T extends Float64Array | Int32Array>(parts: readonly T[]): T {
  if (parts.length === 1) return parts[0];
  const out = new (parts[0].constructor as new (n: number) => T)(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Tables with the same models, one after another (e.g. the test parts of cross-fitting folds); one table is returned as it is. */
export function concatRows(tables: readonly OutcomeTable[]): OutcomeTable {
  if (tables.length === 0) throw new Error("concatRows needs at least one table");
  if (tables.length === 1) return tables[0];
  const models = tables[0].models;
  for (const t of tables) if (t.models.join("\u0000") !== models.join("\u0000")) throw new Error("concatRows: the tables' models differ");
  const cells = (pick: (t: OutcomeTable) => Float64Array | undefined): Float64Array | undefined => {
    const parts = tables.map(pick);
    return parts.every((p) => p) ? concatTyped(parts as Float64Array[]) : undefined;
  };
  const inputTokens = cells((t) => t.inputTokens);
  const outputTokens = cells((t) => t.outputTokens);
  const ttftMs = latencyCells(tables, (t) => t.ttftMs);
  const totalLatencyMs = latencyCells(tables, (t) => t.totalLatencyMs);
  const responses = tables.every((t) => t.responses) ? tables.flatMap((t) => t.responses!) : undefined;
  return {
    ids: tables.flatMap((t) => t.ids),
    texts: tables.flatMap((t) => t.texts),
    datasets: tables.flatMap((t) => t.datasets),
    evals: tables.flatMap((t) => t.evals),
    models: models.slice(),
    scores: cells((t) => t.scores)!,
    costs: cells((t) => t.costs)!,
    ...(inputTokens ? { inputTokens } : {}),
    ...(outputTokens ? { outputTokens } : {}),
    ...(ttftMs ? { ttftMs } : {}),
    ...(totalLatencyMs ? { totalLatencyMs } : {}),
    ...(responses ? { responses } : {}),
  };
}

/** Latencies of tables one after another: kept when any table has them, NaN (unknown) for the rows of those without. */
function latencyCells(tables: readonly OutcomeTable[], pick: (t: OutcomeTable) => Float64Array | undefined): Float64Array | undefined {
  if (!tables.some(pick)) return undefined;
  return concatTyped(tables.map((t) => pick(t) ?? new Float64Array(t.ids.length * t.models.length).fill(NaN)));
}

/** The cells of model columns `cols` (indices into t.models), prompts x cols.length row-major. */
export function modelColumnCells(t: OutcomeTable, cells: Float64Array, cols: readonly number[]): Float64Array {
  const n = t.ids.length;
  const m0 = t.models.length;
  const m = cols.length;
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[i * m + j] = cells[i * m0 + cols[j]];
  return out;
}

/** Keep only the named models (in the given order). */
export function selectModels(t: OutcomeTable, models: readonly string[]): OutcomeTable {
  const idx = models.map((name) => {
    const j = t.models.indexOf(name);
    if (j < 0) throw new InputError(`unknown model "${name}"; the table has: ${t.models.join(", ")}`);
    return j;
  });
  const n = t.ids.length;
  const m0 = t.models.length;
  const m = idx.length;
  const pickCells = (a: Float64Array) => modelColumnCells(t, a, idx);
  let responses: (string | null)[] | undefined;
  if (t.responses) {
    responses = new Array(n * m);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) responses[i * m + j] = t.responses[i * m0 + idx[j]];
  }
  return {
    ids: t.ids.slice(),
    texts: t.texts.slice(),
    datasets: t.datasets.slice(),
    evals: t.evals.slice(),
    models: models.slice(),
    scores: pickCells(t.scores),
    costs: pickCells(t.costs),
    ...(t.inputTokens ? { inputTokens: pickCells(t.inputTokens) } : {}),
    ...(t.outputTokens ? { outputTokens: pickCells(t.outputTokens) } : {}),
    ...(t.ttftMs ? { ttftMs: pickCells(t.ttftMs) } : {}),
    ...(t.totalLatencyMs ? { totalLatencyMs: pickCells(t.totalLatencyMs) } : {}),
    ...(responses ? { responses } : {}),
  };
}

/** Rows whose every score and cost is present (routers train and evaluate on these). */
export function completeRows(t: OutcomeTable): number[] {
  const m = t.models.length;
  const out: number[] = [];
  for (let i = 0; i < t.ids.length; i++) {
    let ok = true;
    for (let j = 0; j < m && ok; j++) ok = Number.isFinite(t.scores[i * m + j]) && Number.isFinite(t.costs[i * m + j]);
    if (ok) out.push(i);
  }
  return out;
}

/**
 * The fields' kinds, so that a library call given null or a wrong object gets an InputError
 * saying which field is wrong, not a TypeError from deep inside.
 */
function checkTableShape(t: unknown, file?: string): asserts t is OutcomeTable {
  if (t === null || typeof t !== "object") throw new InputError(`expected an outcome table, got ${t === null ? "null" : typeof t}`, { file });
  const o = t as Record<string, unknown>;
  for (const f of ["ids", "texts", "datasets", "evals", "models"]) {
    if (!Array.isArray(o[f]) || !(o[f] as unknown[]).every((x) => typeof x === "string")) throw new InputError(`the table's ${f} is not a list of strings`, { file, field: f });
  }
  for (const f of ["scores", "costs", "inputTokens", "outputTokens", "ttftMs", "totalLatencyMs"]) {
    const required = f === "scores" || f === "costs";
    if ((required || o[f] !== undefined) && !(o[f] instanceof Float64Array)) throw new InputError(`the table's ${f} is not a Float64Array`, { file, field: f });
  }
  if (o.responses !== undefined && !(Array.isArray(o.responses) && o.responses.every((x) => x === null || typeof x === "string"))) {
    throw new InputError("the table's responses is not a list of strings or nulls", { file, field: "responses" });
  }
}

/**
 * Check the invariants every producer must keep; `source` names the file in the error.
 * Unique ids, consistent lengths, scores in [0,1] or NaN, costs >= 0 or NaN.
 */
export function validateTable(t: OutcomeTable, source?: string): void {
  checkTableShape(t, source);
  const n = t.ids.length;
  const m = t.models.length;
  const file = source;
  if (m === 0) throw new InputError("the table has no models", { file });
  if (new Set(t.models).size !== m) throw new InputError("duplicate model names", { file });
  for (const [name, arr] of [["texts", t.texts], ["datasets", t.datasets], ["evals", t.evals]] as const) {
    if (arr.length !== n) throw new InputError(`column ${name} has ${arr.length} entries for ${n} prompts`, { file });
  }
  for (const [name, arr] of [["scores", t.scores], ["costs", t.costs], ["inputTokens", t.inputTokens], ["outputTokens", t.outputTokens], ["ttftMs", t.ttftMs], ["totalLatencyMs", t.totalLatencyMs]] as const) {
    if (arr && arr.length !== n * m) throw new InputError(`${name} has ${arr.length} cells for ${n}x${m}`, { file });
  }
  if (t.responses && t.responses.length !== n * m) throw new InputError(`responses has ${t.responses.length} cells for ${n}x${m}`, { file });
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const prev = seen.get(t.ids[i]);
    if (prev !== undefined) throw new InputError(`duplicate prompt id "${t.ids[i]}" (also row ${prev + 1})`, { file, row: i + 1, field: "id" });
    seen.set(t.ids[i], i);
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const s = t.scores[i * m + j];
      if (!Number.isNaN(s) && !(s >= 0 && s <= 1)) {
        throw new InputError(`score ${s} is outside [0,1]`, { file, row: i + 1, field: t.models[j] });
      }
      const c = t.costs[i * m + j];
      if (!Number.isNaN(c) && !(c >= 0 && Number.isFinite(c))) {
        throw new InputError(`cost ${c} is not a non-negative number`, { file, row: i + 1, field: `${t.models[j]}|total_cost` });
      }
    }
  }
  for (const [name, arr] of [["ttft_ms", t.ttftMs], ["total_latency_ms", t.totalLatencyMs]] as const) {
    if (!arr) continue;
    for (let k = 0; k < arr.length; k++) {
      const x = arr[k];
      if (!Number.isNaN(x) && !(x >= 0 && Number.isFinite(x))) {
        throw new InputError(`latency ${x} ms is not a non-negative number`, { file, row: Math.floor(k / m) + 1, field: `${t.models[k % m]}|${name}` });
      }
    }
  }
}

/**
 * Eval names that are sub-tasks of one dataset share a prefix (`mmlu-anatomy` -> `mmlu`).
 * Only listed prefixes group: RouterBench also has dashed names that are whole datasets
 * (`arc-challenge`, `grade-school-math`), which must stay as they are.
 */
export const DEFAULT_GROUP_PREFIXES: readonly string[] = ["mmlu"];

export function datasetOfEval(evalName: string, groupPrefixes: readonly string[] = DEFAULT_GROUP_PREFIXES): string {
  for (const p of groupPrefixes) if (evalName.startsWith(`${p}-`)) return p;
  return evalName;
}
