/**
 * Format detection from the content, not the file name: the container from the first bytes
 * (Parquet's `PAR1`, a pickle's PROTO opcode, a JSON object, else CSV), the shape (RouterBench
 * wide or long form) from the column names.
 */
import { open } from "node:fs/promises";
import { InputError } from "../../util/errors.js";
import { checkInputFile, readErrorText } from "../input-file.js";
import { utf16Kind, utf16Message } from "./text-encoding.js";
import { preview, type Container } from "./source.js";

export type Shape = "wide" | "long";

const PARQUET_MAGIC = "PAR1";

/** Reads up to `n` bytes from the start of the file. */
async function head(file: string, n: number): Promise<Buffer> {
  // A directory opens fine and fails only on read, with bare EISDIR: check first.
  await checkInputFile(file);
  let fh;
  try {
    fh = await open(file, "r");
  } catch (err) {
    throw new InputError(`cannot read: ${readErrorText(err)}`, { file });
  }
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function sniffContainer(file: string): Promise<Container> {
  const b = await head(file, 4096);
  if (b.length === 0) throw new InputError("empty file", { file });
  if (b.subarray(0, 4).toString("latin1") === PARQUET_MAGIC) return "parquet";
  // Pickle protocol 2+ starts with PROTO (0x80) and the protocol number.
  if (b[0] === 0x80 && b.length > 1 && b[1] >= 2 && b[1] <= 5) return "pickle";
  if (b[0] === 0x1f && b[1] === 0x8b) {
    throw new InputError("the file is gzip-compressed: decompress it first (gunzip), then import", { file });
  }
  if (b[0] === 0x50 && b[1] === 0x4b) {
    throw new InputError("the file is a zip archive: unzip it first, then import", { file });
  }
  const utf16 = utf16Kind(b);
  if (utf16) throw new InputError(utf16Message(utf16), { file });
  const text = b.toString("utf8").replace(/^\uFEFF/, "");
  const trimmed = text.trimStart();
  if (trimmed.length === 0) throw new InputError("empty file (only whitespace)", { file });
  if (trimmed[0] === "{") return "jsonl";
  if (trimmed[0] === "[") {
    throw new InputError("looks like a JSON array: write one JSON object per line (JSON Lines) instead", { file });
  }
  if (b.includes(0)) throw new InputError("binary content of an unknown kind (not CSV, JSON Lines, Parquet or a pandas pickle)", { file });
  return "csv";
}

/** Wide if any column is `<model>|model_response` or `<model>|total_cost`; long if it has model and score. */
export function classifyColumns(columns: readonly string[], file: string): Shape {
  if (columns.some((c) => c.endsWith("|model_response") || c.endsWith("|total_cost"))) return "wide";
  if (columns.includes("model") && columns.includes("score")) return "long";
  throw new InputError(
    `cannot tell the layout from the columns (${preview(columns)}): expected RouterBench wide columns ` +
      `("<model>|total_cost", "<model>|model_response") or long-form columns ("model", "score"); use --format to force one`,
    { file },
  );
}
