/**
 * Outcome tables on disk: one Apache Arrow IPC file, one row per prompt, wide columns per
 * model (`score:<j>`, `cost:<j>`, and when the table has them `input_tokens:<j>`,
 * `output_tokens:<j>`, `ttft_ms:<j>`, `total_latency_ms:<j>`, `response:<j>`). The model
 * list, a format tag and a sha256 of the content go in the schema metadata, so model names may hold any character (RouterBench's contain `/` and `|`).
 *
 * Reading is guarded twice. The bytes pass a structural check (arrow-guard.ts) before
 * apache-arrow parses them, so no damage can make the parser loop or run away. Then the
 * decoded table must match its checksum: damage that leaves the structure intact (of 300
 * one-byte flips of a format-1 table, 296 loaded silently, a score of 1 becoming 8.6e-78) is
 * an error naming the file. The checksum covers the decoded content, not the bytes, so a flip
 * in padding that changes nothing is no error.
 */
import { createHash } from "node:crypto";
import { DataType, Field, Schema, Table, Utf8, Vector, makeVector, tableToIPC, vectorFromArray } from "apache-arrow";
import type { OutcomeTable } from "./table.js";
import { validateTable } from "./table.js";
import { InputError } from "../util/errors.js";
import { writeFileAtomic } from "../util/atomic.js";
import { readArrowIpcGuarded } from "./arrow-guard.js";
import { readInputFile } from "./input-file.js";

/** Format 2 added the content checksum (metadata `sha256`); format 1 tables had none. */
export const OUTCOME_FORMAT = "routekit.outcomes/2";
/**
 * Format 3 is format 2 plus latency columns; it is written only for a table that has latencies,
 * so a table without them is written byte for byte as before, and an older routekit given a
 * table with latencies says it does not know the format (rather than calling it damaged).
 */
export const OUTCOME_FORMAT_LATENCY = "routekit.outcomes/3";
const OLD_FORMATS = new Set(["routekit.outcomes/1"]);

/**
 * The sha256 of a table's content in a canonical encoding: every list length-prefixed, strings
 * as UTF-8 (what Arrow stores), numbers as their float64 bytes (NaN payloads included).
 */
export function outcomeTableDigest(t: OutcomeTable): string {
  const h = createHash("sha256");
  const u32 = (x: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(x >>> 0);
    h.update(b);
  };
  const strings = (name: string, a: readonly (string | null)[] | undefined) => {
    h.update(`${name}\0`);
    if (!a) return u32(0xffffffff);
    u32(a.length);
    for (const s of a) {
      if (s === null) {
        u32(0xffffffff);
        continue;
      }
      const b = Buffer.from(s, "utf8");
      u32(b.length);
      h.update(b);
    }
  };
  const numbers = (name: string, a: Float64Array | undefined) => {
    h.update(`${name}\0`);
    if (!a) return u32(0xffffffff);
    u32(a.length);
    h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  };
  h.update(`${OUTCOME_FORMAT}\0`);
  strings("models", t.models);
  strings("ids", t.ids);
  strings("texts", t.texts);
  strings("datasets", t.datasets);
  strings("evals", t.evals);
  numbers("scores", t.scores);
  numbers("costs", t.costs);
  numbers("inputTokens", t.inputTokens);
  numbers("outputTokens", t.outputTokens);
  strings("responses", t.responses);
  // Latencies came later: a table without them hashes as before, so older files still verify.
  if (t.ttftMs) numbers("ttftMs", t.ttftMs);
  if (t.totalLatencyMs) numbers("totalLatencyMs", t.totalLatencyMs);
  return h.digest("hex");
}

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
    if (t.ttftMs) cols[`ttft_ms:${j}`] = makeVector(column(t, t.ttftMs, j));
    if (t.totalLatencyMs) cols[`total_latency_ms:${j}`] = makeVector(column(t, t.totalLatencyMs, j));
    if (t.responses) {
      const m = t.models.length;
      cols[`response:${j}`] = stringVector(t.ids.map((_, i) => t.responses![i * m + j]));
    }
    void model;
  });
  const table = new Table(cols);
  const metadata = new Map([
    ["format", t.ttftMs || t.totalLatencyMs ? OUTCOME_FORMAT_LATENCY : OUTCOME_FORMAT],
    ["models", JSON.stringify(t.models)],
    ["sha256", outcomeTableDigest(t)],
  ]);
  const schema = new Schema(table.schema.fields as Field[], metadata);
  return new Table(schema, table.batches);
}

export function outcomeTableFromArrow(table: Table, source?: string): OutcomeTable {
  const file = source;
  const format = table.schema.metadata.get("format");
  if (format !== undefined && OLD_FORMATS.has(format)) {
    // Format 1 had no checksum, so its content cannot be trusted; re-creating it is cheap.
    throw new InputError(
      `written by an older routekit (${format}, without a content checksum); re-create it with routekit import (or routekit synth)`,
      { file },
    );
  }
  if (format !== OUTCOME_FORMAT && format !== OUTCOME_FORMAT_LATENCY) {
    throw new InputError(`not a routekit outcome table (expected schema metadata format=${OUTCOME_FORMAT})`, { file });
  }
  let models: string[];
  try {
    models = JSON.parse(table.schema.metadata.get("models") ?? "");
  } catch {
    throw new InputError("schema metadata 'models' is not a JSON list", { file, field: "models" });
  }
  if (!Array.isArray(models) || !models.every((m) => typeof m === "string")) {
    throw new InputError("schema metadata 'models' is not a JSON list of names", { file, field: "models" });
  }
  const expected = table.schema.metadata.get("sha256");
  if (!expected || !/^[0-9a-f]{64}$/.test(expected)) throw new InputError("schema metadata 'sha256' is missing or malformed", { file, field: "sha256" });
  const n = table.numRows;
  const m = models.length;
  // Each model has its own score and cost columns; a longer list (damage) must not size the arrays.
  if (2 * m > table.schema.fields.length) throw new InputError(`schema metadata 'models' lists ${m} models but the table has ${table.schema.fields.length} columns`, { file, field: "models" });
  const strings = (name: string): string[] => {
    const v = table.getChild(name);
    if (!v) throw new InputError(`missing column`, { file, field: name });
    if (!DataType.isUtf8(v.type)) throw new InputError(`column is not text (utf8)`, { file, field: name });
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
      if (!DataType.isUtf8(v.type)) throw new InputError(`column is not text (utf8)`, { file, field: `response:${j}` });
      for (let i = 0; i < n; i++) responses[i * m + j] = (v.get(i) as string | null) ?? null;
    }
  }
  const inputTokens = cells("input_tokens", false);
  const outputTokens = cells("output_tokens", false);
  const ttftMs = cells("ttft_ms", false);
  const totalLatencyMs = cells("total_latency_ms", false);
  const t: OutcomeTable = {
    ids: strings("id"),
    texts: strings("text"),
    datasets: strings("dataset"),
    evals: strings("eval"),
    models,
    scores: cells("score", true)!,
    costs: cells("cost", true)!,
    ...(inputTokens ? { inputTokens } : {}),
    ...(outputTokens ? { outputTokens } : {}),
    ...(ttftMs ? { ttftMs } : {}),
    ...(totalLatencyMs ? { totalLatencyMs } : {}),
    ...(responses ? { responses } : {}),
  };
  if (outcomeTableDigest(t) !== expected) {
    throw new InputError("the table's content does not match its checksum: the file is damaged; re-create it (routekit import or routekit synth)", { file });
  }
  validateTable(t, file);
  return t;
}

export async function writeOutcomeTable(path: string, t: OutcomeTable): Promise<void> {
  validateTable(t, path);
  await writeFileAtomic(path, tableToIPC(outcomeTableToArrow(t), "file"));
}

/** An outcome table from the bytes of its file; `file` names it in errors. */
export function decodeOutcomeTable(bytes: Uint8Array, file?: string): OutcomeTable {
  return outcomeTableFromArrow(readArrowIpcGuarded(bytes, file), file);
}

export async function readOutcomeTable(path: string): Promise<OutcomeTable> {
  if (typeof path !== "string" || path === "") throw new InputError("readOutcomeTable needs the path of an outcome table (.arrow)");
  return decodeOutcomeTable(await readInputFile(path, "outcome table"), path);
}
