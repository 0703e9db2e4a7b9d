/**
 * An outcome table out, in long form: one row per prompt x model, as Parquet or JSON Lines, so
 * DuckDB, Spark and polars read it directly (`SELECT model, avg(score) FROM 'x.parquet' GROUP BY
 * model`). The columns are the ones the long-form importer reads (long-form.ts), so
 * `routekit import` of an exported file gives the same table back:
 *
 *   prompt_id, dataset, eval, prompt, model, score, cost
 *   [, input_tokens, output_tokens] [, ttft_ms] [, total_latency_ms] [, response]
 *
 * (the bracketed ones only when the table has them). Model names are values of `model`; they
 * are also listed, in table order, in the Parquet key-value metadata `routekit`. A missing
 * outcome (no score) is a row whose score, cost, tokens, latencies and response are all null,
 * never 0 (the importer drops them for such a cell anyway), and every prompt x model pair has its row,
 * so a prompt no model answered survives the round trip. Rows go prompt by prompt, models in
 * table order (the order the importer then assigns the models).
 * One corner does not round-trip: an outcome with a score and token counts but no cost is
 * exported as such, and the importer prices it from the tokens (so it asks for --prices).
 *
 * Parquet is written with hyparquet-writer: the same author and family as hyparquet, which
 * already reads our Parquet imports (so the two agree on the format's corners), pure JS with one
 * dependency (no native binary to install), maintained (0.17, October 2026), and it writes
 * incrementally (`ParquetWriter`: one row group at a time, flushed to the file as it goes).
 * It compresses with its built-in Snappy (the codec every Parquet reader has; GZIP, ZSTD and
 * others need a compressor passed in, and Node 20 has no zstd compressor).
 *
 * Large tables: rows are made and written a row group (Parquet) or about a MiB of lines (JSON
 * Lines) at a time; the file is never held whole in memory. The output is written beside its
 * target and renamed over it when complete (as writeFileAtomic does), so a reader sees the old
 * file or the whole new one.
 */
import type { FileHandle } from "node:fs/promises";
import { basename, extname } from "node:path";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { writeFileAtomicWith } from "../util/atomic.js";
import { InputError } from "../util/errors.js";
import type { ProgressFn } from "../util/progress.js";
import { validateTable, type OutcomeTable } from "./table.js";

export type ExportFormat = "parquet" | "jsonl";
export const EXPORT_FORMATS: readonly ExportFormat[] = ["parquet", "jsonl"];

/**
 * Rows per Parquet row group (hyparquet-writer's own default for every group after the first).
 * A group's columns are built in memory before it is written, so this bounds the writer's memory.
 */
export const EXPORT_ROW_GROUP_ROWS = 100_000;
/** JSON Lines are written in pieces of about this many characters. */
const JSONL_CHUNK_CHARS = 1 << 20;
/** The Parquet key-value metadata key, and the format tag in it. */
export const EXPORT_METADATA_KEY = "routekit";
export const EXPORT_FORMAT_TAG = "routekit.long/1";

export interface ExportOptions {
  format: ExportFormat;
  /** Rows per Parquet row group (default EXPORT_ROW_GROUP_ROWS). */
  rowGroupRows?: number;
  /** Progress in prompts written. */
  onProgress?: ProgressFn;
}

export interface ExportReport {
  out: string;
  format: ExportFormat;
  /** Rows written: prompts x models. */
  rows: number;
  prompts: number;
  models: string[];
  columns: string[];
}

/** The format an output path's extension names (.parquet, .jsonl, .ndjson), or null. */
export function exportFormatOf(path: string): ExportFormat | null {
  const ext = extname(path).toLowerCase();
  if (ext === ".parquet" || ext === ".pq") return "parquet";
  if (ext === ".jsonl" || ext === ".ndjson") return "jsonl";
  return null;
}

interface LongColumn {
  name: string;
  kind: "string" | "number";
  /** Never null (the prompt's fields and the model). */
  required: boolean;
  /** The value for prompt i, model j (cell k = i * m + j). */
  value: (i: number, j: number, k: number) => string | number | null;
}

function longColumns(t: OutcomeTable): LongColumn[] {
  // An outcome is present when its score is (as the importer reads it): a missing one is written
  // with every outcome field null, so no stray cost or token count is read back as a call.
  const has = (k: number) => !Number.isNaN(t.scores[k]);
  const num = (a: Float64Array) => (_i: number, _j: number, k: number) => (has(k) && !Number.isNaN(a[k]) ? a[k] : null);
  const cols: LongColumn[] = [
    { name: "prompt_id", kind: "string", required: true, value: (i) => t.ids[i] },
    { name: "dataset", kind: "string", required: true, value: (i) => t.datasets[i] },
    { name: "eval", kind: "string", required: true, value: (i) => t.evals[i] },
    { name: "prompt", kind: "string", required: true, value: (i) => t.texts[i] },
    { name: "model", kind: "string", required: true, value: (_i, j) => t.models[j] },
    { name: "score", kind: "number", required: false, value: num(t.scores) },
    { name: "cost", kind: "number", required: false, value: num(t.costs) },
  ];
  // Token counts as doubles: the table holds them as float64, so nothing is rounded on the way.
  if (t.inputTokens) cols.push({ name: "input_tokens", kind: "number", required: false, value: num(t.inputTokens) });
  if (t.outputTokens) cols.push({ name: "output_tokens", kind: "number", required: false, value: num(t.outputTokens) });
  if (t.ttftMs) cols.push({ name: "ttft_ms", kind: "number", required: false, value: num(t.ttftMs) });
  if (t.totalLatencyMs) cols.push({ name: "total_latency_ms", kind: "number", required: false, value: num(t.totalLatencyMs) });
  const responses = t.responses;
  if (responses) cols.push({ name: "response", kind: "string", required: false, value: (_i, _j, k) => (has(k) ? responses[k] : null) });
  return cols;
}

/** The long-form column names an export of `t` has, in file order. */
export function exportColumns(t: OutcomeTable): string[] {
  return longColumns(t).map((c) => c.name);
}

/** A hyparquet-writer Writer that hands each finished row group to the file and starts afresh. */
class FileByteWriter extends ByteWriter {
  constructor(private readonly fh: FileHandle) {
    super(1 << 20);
  }
  async flush(): Promise<void> {
    if (this.index === 0) return;
    // A copy: the buffer is reused for the next row group while the write is pending.
    const bytes = new Uint8Array(this.buffer, 0, this.index).slice();
    this.index = 0;
    await this.fh.write(bytes);
  }
  override async finish(): Promise<void> {
    await this.flush();
  }
}

async function writeParquet(t: OutcomeTable, cols: LongColumn[], fh: FileHandle, groupRows: number, progress: (done: number) => void): Promise<void> {
  const n = t.ids.length;
  const m = t.models.length;
  const writer = new FileByteWriter(fh);
  const pw = new ParquetWriter({
    writer,
    schema: [
      { name: "root", num_children: cols.length },
      ...cols.map((c) =>
        c.kind === "string"
          ? { name: c.name, type: "BYTE_ARRAY" as const, converted_type: "UTF8" as const, repetition_type: c.required ? ("REQUIRED" as const) : ("OPTIONAL" as const) }
          : { name: c.name, type: "DOUBLE" as const, repetition_type: "OPTIONAL" as const },
      ),
    ],
    kvMetadata: [{ key: EXPORT_METADATA_KEY, value: JSON.stringify({ format: EXPORT_FORMAT_TAG, models: t.models }) }],
    createdBy: "routekit (hyparquet-writer)",
  });
  const perGroup = Math.max(1, Math.floor(groupRows / Math.max(1, m)));
  for (let start = 0; start < n; start += perGroup) {
    const end = Math.min(n, start + perGroup);
    const rows = (end - start) * m;
    const columnData = cols.map((c) => {
      const data: (string | number | null)[] = new Array(rows);
      let r = 0;
      for (let i = start; i < end; i++) for (let j = 0; j < m; j++) data[r++] = c.value(i, j, i * m + j);
      return { name: c.name, data };
    });
    // One row group per call: the writer flushes it to the file before the next is built.
    await pw.write({ columnData, rowGroupSize: rows });
    progress(end);
  }
  await pw.finish();
}

async function writeJsonl(t: OutcomeTable, cols: LongColumn[], fh: FileHandle, progress: (done: number) => void): Promise<void> {
  const n = t.ids.length;
  const m = t.models.length;
  let parts: string[] = [];
  let size = 0;
  // Keys quoted once; each value through JSON.stringify (a number prints as the shortest text
  // that reads back as the same double, so scores and costs round-trip exactly).
  const keys = cols.map((c, x) => `${x === 0 ? "{" : ","}${JSON.stringify(c.name)}:`);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const k = i * m + j;
      let line = "";
      for (let x = 0; x < cols.length; x++) line += keys[x] + JSON.stringify(cols[x].value(i, j, k));
      line += "}\n";
      parts.push(line);
      size += line.length;
    }
    if (size >= JSONL_CHUNK_CHARS || i === n - 1) {
      await fh.write(parts.join(""));
      parts = [];
      size = 0;
      progress(i + 1);
    }
  }
}

/**
 * Writes `t` to `out` in long form (see the module comment). Check `out` against the inputs
 * first (checkOutputFile): this writes over whatever is there.
 */
export async function exportTable(t: OutcomeTable, out: string, opts: ExportOptions): Promise<ExportReport> {
  validateTable(t);
  if (!opts || !EXPORT_FORMATS.includes(opts.format)) {
    throw new InputError(`unknown export format "${String(opts?.format)}"; one of: ${EXPORT_FORMATS.join(", ")}`, { field: "format" });
  }
  const groupRows = opts.rowGroupRows ?? EXPORT_ROW_GROUP_ROWS;
  if (!Number.isSafeInteger(groupRows) || groupRows < 1) throw new InputError(`rowGroupRows must be a positive integer, got ${groupRows}`, { field: "rowGroupRows" });
  const cols = longColumns(t);
  const n = t.ids.length;
  const label = basename(out);
  const progress = (done: number) => opts.onProgress?.(done, n, label);
  await writeFileAtomicWith(out, (fh) => (opts.format === "parquet" ? writeParquet(t, cols, fh, groupRows, progress) : writeJsonl(t, cols, fh, progress)));
  return { out, format: opts.format, rows: n * t.models.length, prompts: n, models: t.models.slice(), columns: cols.map((c) => c.name) };
}
