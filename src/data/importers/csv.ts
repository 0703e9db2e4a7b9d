/**
 * CSV as pandas writes it (`df.to_csv`): RFC 4180 quoting, a header row, maybe a leading unnamed
 * index column. Streamed with csv-parse, so a file of hundreds of MB is never held as one string;
 * progress is reported in bytes.
 */
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { parse } from "csv-parse";
import { InputError } from "../../util/errors.js";
import type { ProgressFn } from "../../util/progress.js";
import { checkInputFile } from "../input-file.js";
import type { RecordSource, SourceRow } from "./source.js";

function csvErrorToInput(err: unknown, file: string, nextRow: number): InputError {
  if (err instanceof InputError) return err;
  const e = err as Error & { code?: string; lines?: number; records?: number };
  const line = e.lines !== undefined ? ` (line ${e.lines})` : "";
  // csv-parse counts the header among its records, so the failing data row is `records`.
  const row = typeof e.records === "number" ? e.records : nextRow;
  return new InputError(`malformed CSV${line}: ${e.message}`, { file, row });
}

export async function openCsv(file: string, onProgress?: ProgressFn): Promise<RecordSource> {
  const size = await checkInputFile(file);
  if (size === 0) throw new InputError("empty file", { file });
  const stream = createReadStream(file);
  let bytes = 0;
  const label = basename(file);
  if (onProgress) {
    stream.on("data", (chunk) => {
      bytes += chunk.length;
      onProgress(bytes, size, label);
    });
  }
  const parser = stream.pipe(
    parse({
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      // Prompts can be long (5-shot prompts run to tens of kB); no per-field cap.
      max_record_size: 0,
    }),
  );
  stream.on("error", (err) => parser.destroy(err));
  const it = parser[Symbol.asyncIterator]() as AsyncIterator<string[]>;
  let first: IteratorResult<string[]>;
  try {
    first = await it.next();
  } catch (err) {
    throw csvErrorToInput(err, file, 0);
  }
  if (first.done) {
    throw new InputError("empty file (no header row)", { file });
  }
  const columns = first.value;
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c)) {
      stream.destroy();
      throw new InputError("duplicate column name in the header", { file, row: 0, field: c });
    }
    seen.add(c);
  }
  async function* rows(): AsyncGenerator<SourceRow> {
    let row = 0;
    try {
      for (;;) {
        let next: IteratorResult<string[]>;
        try {
          next = await it.next();
        } catch (err) {
          throw csvErrorToInput(err, file, row + 1);
        }
        if (next.done) break;
        row++;
        const rec = next.value;
        if (rec.length !== columns.length) {
          throw new InputError(`has ${rec.length} fields but the header has ${columns.length}`, { file, row });
        }
        const values: Record<string, unknown> = {};
        for (let j = 0; j < columns.length; j++) values[columns[j]] = rec[j];
        yield { row, values };
      }
      if (row === 0) throw new InputError("the file has a header but no data rows (empty file)", { file });
    } finally {
      stream.destroy();
    }
  }
  return { file, container: "csv", columns, rows: rows() };
}
