/**
 * `importFiles`: any mix of RouterBench wide files (CSV, Parquet, JSON Lines, pandas pickle) and
 * long-form outcome files (JSON Lines, CSV, Parquet) into one OutcomeTable, with a report of
 * what was merged, what is missing and anything else worth a look. Nothing is dropped silently:
 * every row is either in the table, merged into another (counted), or an error.
 */
import { InputError } from "../../util/errors.js";
import type { ProgressFn } from "../../util/progress.js";
import { DEFAULT_GROUP_PREFIXES, datasetOfEval, validateTable, type OutcomeTable } from "../table.js";
import { Accumulator } from "./accumulate.js";
import { openCsv } from "./csv.js";
import { classifyColumns, sniffContainer, type Shape } from "./detect.js";
import { openJsonl } from "./jsonl.js";
import { checkPrices, ingestLong } from "./long-form.js";
import { openParquet } from "./parquet.js";
import { PICKLE_TO_PARQUET, openPickle } from "./pickle.js";
import { ingestWide } from "./routerbench.js";
import type { Container, RecordSource } from "./source.js";

export type ImportFormat =
  | "routerbench-csv"
  | "routerbench-parquet"
  | "routerbench-jsonl"
  | "routerbench-pkl"
  | "long-jsonl"
  | "long-csv"
  | "long-parquet";

export const IMPORT_FORMATS: readonly ImportFormat[] = [
  "routerbench-csv",
  "routerbench-parquet",
  "routerbench-jsonl",
  "routerbench-pkl",
  "long-jsonl",
  "long-csv",
  "long-parquet",
];

export interface ImportOptions {
  /** Force a format instead of detecting it from the content. */
  format?: ImportFormat;
  /** US$ per 1M tokens, for long-form rows that give tokens instead of a cost. */
  prices?: Record<string, { input: number; output: number }>;
  /** Eval-name prefixes that group into one dataset (default: ["mmlu"]). */
  groupPrefixes?: readonly string[];
  /** Progress: (done, total, label); bytes for CSV/JSON Lines, rows for Parquet/pickle. */
  onProgress?: ProgressFn;
  /** Only to name the price table in messages. */
  pricesFile?: string;
}

export interface ImportReport {
  files: { file: string; format: ImportFormat; rows: number }[];
  prompts: number;
  models: string[];
  /** Rows (wide) or (prompt, model) rows (long) merged into one seen before. */
  mergedDuplicates: number;
  rowsWithMissingScores: { id: string; models: string[] }[];
  warnings: string[];
}

const CONTAINER_NAME: Record<Container, string> = { csv: "csv", jsonl: "jsonl", parquet: "parquet", pickle: "pkl" };

function formatOf(shape: Shape, container: Container): ImportFormat {
  return `${shape === "wide" ? "routerbench" : "long"}-${CONTAINER_NAME[container]}` as ImportFormat;
}

function parseFormat(f: ImportFormat): { shape: Shape; container: Container } {
  const [shape, c] = f.split("-") as [string, string];
  const container = (Object.entries(CONTAINER_NAME).find(([, v]) => v === c)?.[0] ?? "csv") as Container;
  return { shape: shape === "routerbench" ? "wide" : "long", container };
}

async function openSource(file: string, container: Container, onProgress?: ProgressFn): Promise<RecordSource> {
  switch (container) {
    case "csv":
      return openCsv(file, onProgress);
    case "jsonl":
      return openJsonl(file, onProgress);
    case "parquet":
      return openParquet(file, onProgress);
    case "pickle":
      return openPickle(file, onProgress);
  }
}

export async function importFiles(files: string[], options: ImportOptions | null = {}): Promise<{ table: OutcomeTable; report: ImportReport }> {
  const opts = options ?? {};
  if (!Array.isArray(files) || !files.every((f) => typeof f === "string" && f !== "")) throw new InputError("importFiles needs a list of file paths");
  if (typeof opts !== "object") throw new InputError("importFiles options must be an object");
  if (files.length === 0) throw new InputError("no input files");
  if (opts.format && !IMPORT_FORMATS.includes(opts.format)) {
    throw new InputError(`unknown format "${opts.format}"; one of: ${IMPORT_FORMATS.join(", ")}`, { field: "format" });
  }
  const prices = opts.prices ? checkPrices(opts.prices, opts.pricesFile) : undefined;
  const prefixes = opts.groupPrefixes ?? DEFAULT_GROUP_PREFIXES;
  const acc = new Accumulator();
  const reportFiles: ImportReport["files"] = [];
  for (const file of files) {
    const forced = opts.format ? parseFormat(opts.format) : undefined;
    const container = forced?.container ?? (await sniffContainer(file));
    const src = await openSource(file, container, opts.onProgress);
    const shape = forced?.shape ?? classifyColumns(src.columns, file);
    if (shape === "long" && container === "pickle") {
      throw new InputError(`long-form pickles are not supported; convert it to Parquet with: ${PICKLE_TO_PARQUET}`, { file });
    }
    const { rows } = shape === "wide" ? await ingestWide(src, acc) : await ingestLong(src, acc, { prices, pricesFile: opts.pricesFile });
    reportFiles.push({ file, format: formatOf(shape, container), rows });
  }
  const { table, rowsWithMissingScores, warnings } = acc.build((ev) => datasetOfEval(ev, prefixes));
  validateTable(table, files.length === 1 ? files[0] : undefined);
  return {
    table,
    report: {
      files: reportFiles,
      prompts: table.ids.length,
      models: table.models.slice(),
      mergedDuplicates: acc.mergedDuplicates,
      rowsWithMissingScores,
      warnings,
    },
  };
}

export { parsePythonStringList, PythonLiteralError } from "./python-literal.js";
export { loadPrices, type PriceTable } from "./long-form.js";
export { PICKLE_TO_PARQUET } from "./pickle.js";
