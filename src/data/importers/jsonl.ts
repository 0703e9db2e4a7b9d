/**
 * JSON Lines: one JSON object per line (`df.to_json(orient="records", lines=True)` writes this).
 * Streamed line by line; blank lines are skipped; the row number is the line number.
 */
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { createInterface } from "node:readline";
import { InputError } from "../../util/errors.js";
import type { ProgressFn } from "../../util/progress.js";
import { checkInputFile } from "../input-file.js";
import { checkUtf8File, loneSurrogateField } from "./text-encoding.js";
import type { RecordSource, SourceRow } from "./source.js";

function parseLine(line: string, file: string, row: number): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new InputError(`not valid JSON: ${(err as Error).message}`, { file, row });
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new InputError("expected one JSON object per line", { file, row });
  }
  // A `\ud800` escape makes a lone surrogate, which UTF-8 (and so Arrow) cannot store.
  const bad = loneSurrogateField(v as Record<string, unknown>);
  if (bad !== undefined) throw new InputError("the text holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which is not valid Unicode", { file, row, field: bad });
  return v as Record<string, unknown>;
}

export async function openJsonl(file: string, onProgress?: ProgressFn): Promise<RecordSource> {
  const size = await checkInputFile(file);
  if (size === 0) throw new InputError("empty file", { file });
  // The utf8 stream would turn invalid bytes into U+FFFD silently: check the whole file first.
  await checkUtf8File(file);
  const stream = createReadStream(file, { encoding: "utf8" });
  let bytes = 0;
  const label = basename(file);
  stream.on("data", (chunk) => {
    bytes += Buffer.byteLength(chunk as string);
    onProgress?.(bytes, size, label);
  });
  const lines = createInterface({ input: stream, crlfDelay: Infinity })[Symbol.asyncIterator]();
  let lineNo = 0;
  let first: SourceRow | undefined;
  for (;;) {
    const next = await lines.next();
    if (next.done) break;
    lineNo++;
    const text = next.value.replace(/^\uFEFF/, "");
    if (text.trim() === "") continue;
    first = { row: lineNo, values: parseLine(text, file, lineNo) };
    break;
  }
  if (!first) {
    stream.destroy();
    throw new InputError("empty file (no JSON object)", { file });
  }
  const columns = Object.keys(first.values);
  const head = first;
  async function* rows(): AsyncGenerator<SourceRow> {
    try {
      yield head;
      for (;;) {
        const next = await lines.next();
        if (next.done) break;
        lineNo++;
        if (next.value.trim() === "") continue;
        yield { row: lineNo, values: parseLine(next.value, file, lineNo) };
      }
    } finally {
      stream.destroy();
    }
  }
  return { file, container: "jsonl", columns, rows: rows() };
}
