/**
 * Outcome tables on disk: one Apache Arrow IPC file, one row per prompt, wide columns per
 * model. The model list and a format tag go in the schema metadata, so model names may hold
 * any character (RouterBench's contain `/` and `|`).
 */
import { readFile } from "node:fs/promises";
import { Field, Schema, Table, Utf8, Vector, makeVector, tableFromIPC, tableToIPC, vectorFromArray } from "apache-arrow";
import type { OutcomeTable } from "./table.js";
import { validateTable } from "./table.js";
import { InputError } from "../util/errors.js";
import { writeFileAtomic } from "../util/atomic.js";

export const OUTCOME_FORMAT = "routekit.outcomes/1";

function stringVector(values: readonly (string | null)[]): Vector {
  return vectorFromArray(values as (string | null)[], new Utf8());
}

function column(t: OutcomeTable, cells: Float64Array, j: number): Float64Array {
  const n = t.ids.length;
  const m = t.models.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = cells[i * m + j];
  return out;
}

export function outcomeTableToArrow(t: OutcomeTable): Table {
  const cols: Record<string, Vector> = {
    id: stringVector(t.ids),
    text: stringVector(t.texts),
    dataset: stringVector(t.datasets),
    eval: stringVector(t.evals),
  };
  t.models.forEach((model, j) => {
    // NaN (missing) is stored as a float NaN: Arrow keeps it bit-exact, and readers see "missing".
    cols[`score:${j}`] = makeVector(column(t, t.scores, j));
    cols[`cost:${j}`] = makeVector(column(t, t.costs, j));
    if (t.inputTokens) cols[`input_tokens:${j}`] = makeVector(column(t, t.inputTokens, j));
    if (t.outputTokens) cols[`output_tokens:${j}`] = makeVector(column(t, t.outputTokens, j));
    if (t.responses) {
      const m = t.models.length;
      cols[`response:${j}`] = stringVector(t.ids.map((_, i) => t.responses![i * m + j]));
    }
    void model;
  });
  const table = new Table(cols);
  const metadata = new Map([
    ["format", OUTCOME_FORMAT],
    ["models", JSON.stringify(t.models)],
  ]);
  const schema = new Schema(table.schema.fields as Field[], metadata);
  return new Table(schema, table.batches);
}

export function outcomeTableFromArrow(table: Table, source?: string): OutcomeTable {
  const file = source;
  if (table.schema.metadata.get("format") !== OUTCOME_FORMAT) {
    throw new InputError(`not a routekit outcome table (expected schema metadata format=${OUTCOME_FORMAT})`, { file });
  }
  let models: string[];
  try {
    models = JSON.parse(table.schema.metadata.get("models") ?? "");
  } catch {
    throw new InputError("schema metadata 'models' is not a JSON list", { file, field: "models" });
  }
  const n = table.numRows;
  const m = models.length;
  const strings = (name: string): string[] => {
    const v = table.getChild(name);
    if (!v) throw new InputError(`missing column`, { file, field: name });
    return Array.from(v.toArray() as ArrayLike<string>, (x) => x ?? "");
  };
  const cells = (prefix: string, required: boolean): Float64Array | undefined => {
    if (!required && !table.getChild(`${prefix}:0`)) return undefined;
    const out = new Float64Array(n * m);
    for (let j = 0; j < m; j++) {
      const v = table.getChild(`${prefix}:${j}`);
      if (!v) throw new InputError(`missing column for model "${models[j]}"`, { file, field: `${prefix}:${j}` });
      const col = v.toArray();
      if (!(col instanceof Float64Array)) throw new InputError(`column is not float64`, { file, field: `${prefix}:${j}` });
      for (let i = 0; i < n; i++) out[i * m + j] = col[i];
    }
    return out;
  };
  let responses: (string | null)[] | undefined;
  if (table.getChild("response:0")) {
    responses = new Array(n * m);
    for (let j = 0; j < m; j++) {
      const v = table.getChild(`response:${j}`);
      if (!v) throw new InputError(`missing column`, { file, field: `response:${j}` });
      for (let i = 0; i < n; i++) responses[i * m + j] = (v.get(i) as string | null) ?? null;
    }
  }
  const t: OutcomeTable = {
    ids: strings("id"),
    texts: strings("text"),
    datasets: strings("dataset"),
    evals: strings("eval"),
    models,
    scores: cells("score", true)!,
    costs: cells("cost", true)!,
    ...(cells("input_tokens", false) ? { inputTokens: cells("input_tokens", false) } : {}),
    ...(cells("output_tokens", false) ? { outputTokens: cells("output_tokens", false) } : {}),
    ...(responses ? { responses } : {}),
  };
  validateTable(t, file);
  return t;
}

export async function writeOutcomeTable(path: string, t: OutcomeTable): Promise<void> {
  validateTable(t, path);
  await writeFileAtomic(path, tableToIPC(outcomeTableToArrow(t), "file"));
}

export async function readOutcomeTable(path: string): Promise<OutcomeTable> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new InputError(`cannot read: ${(err as Error).message}`, { file: path });
  }
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (err) {
    throw new InputError(`not an Arrow IPC file: ${(err as Error).message}`, { file: path });
  }
  return outcomeTableFromArrow(table, path);
}
