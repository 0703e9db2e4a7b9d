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
  return v as Record<string, unknown>;
}

export async function openJsonl(file: string, onProgress?: ProgressFn): Promise<RecordSource> {
  const size = await checkInputFile(file);
  if (size === 0) throw new InputError("empty file", { file });
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
