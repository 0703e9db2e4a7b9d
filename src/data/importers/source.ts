/**
 * What every file reader produces: the column names and the data rows as objects, each with
 * its 1-based row number in the file, so that every later error can name file, row and field.
 * The readers know nothing about RouterBench or long form; the ingesters know nothing about
 * file formats.
 */
import { InputError } from "../../util/errors.js";

export type Container = "csv" | "jsonl" | "parquet" | "pickle";

export interface SourceRow {
  /** 1-based data row (the CSV header is not counted; for JSON Lines it is the line number). */
  row: number;
  values: Record<string, unknown>;
}

export interface RecordSource {
  file: string;
  container: Container;
  /** Column names in file order (for JSON Lines: the keys of the first object). */
  columns: string[];
  rows: AsyncIterable<SourceRow>;
}

/** Columns that pandas adds for its index and that carry no data for us. */
export function isIndexColumn(name: string): boolean {
  return name === "" || /^Unnamed: \d+$/.test(name) || /^__index_level_\d+__$/.test(name);
}

const MISSING_WORDS = new Set(["", "nan", "NaN", "NAN", "NA", "N/A", "null", "NULL", "None"]);
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** True for the values that mean "no value": null, undefined, NaN, or an empty/NaN string. */
export function isMissing(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (typeof v === "number") return Number.isNaN(v);
  if (typeof v === "string") return MISSING_WORDS.has(v.trim());
  return false;
}

/**
 * A number from a cell: NaN when missing; an InputError (file, row, field) when the cell holds
 * something that is not a plain decimal number.
 */
export function numberCell(v: unknown, file: string, row: number, field: string): number {
  if (isMissing(v)) return NaN;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new InputError(`bad number ${v}`, { file, row, field });
    return v;
  }
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "string") {
    const s = v.trim();
    if (DECIMAL.test(s)) return Number(s);
  }
  const shown = typeof v === "string" ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v) : String(v);
  throw new InputError(`bad number ${shown}`, { file, row, field });
}

/** A text cell: null when missing (null, undefined, NaN); numbers become their decimal text. */
export function textCell(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return v;
  if (typeof v === "number") return Number.isNaN(v) ? null : String(v);
  if (typeof v === "bigint" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/** An identifier-like cell (id, model, eval): required and non-empty. */
export function requiredText(v: unknown, file: string, row: number, field: string): string {
  const s = textCell(v);
  if (s === null || s.trim() === "") {
    throw new InputError("missing value", { file, row, field });
  }
  return s.trim();
}

export function requireColumns(columns: readonly string[], needed: readonly string[], file: string, what: string): void {
  const have = new Set(columns);
  for (const c of needed) {
    if (!have.has(c)) {
      throw new InputError(`missing column (${what} needs: ${needed.join(", ")}); the file has: ${preview(columns)}`, { file, field: c });
    }
  }
}

export function preview(items: readonly string[], max = 8): string {
  const shown = items.slice(0, max).map((c) => (c === "" ? '""' : c));
  return items.length > max ? `${shown.join(", ")}, ... (${items.length} in all)` : shown.join(", ");
}
