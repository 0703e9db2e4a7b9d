/**
 * CSV as pandas writes it (`df.to_csv`): RFC 4180 quoting, a header row, maybe a leading unnamed
 * index column. Streamed with csv-parse, so a file of hundreds of MB is never held as one string;
 * progress is reported in bytes.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { basename } from "node:path";
import { parse } from "csv-parse";
import { InputError } from "../../util/errors.js";
import type { ProgressFn } from "../../util/progress.js";
import { checkInputFile } from "../input-file.js";
import { checkUtf8File } from "./text-encoding.js";
import type { RecordSource, SourceRow } from "./source.js";

function csvErrorToInput(err: unknown, file: string, nextRow: number): InputError {
  if (err instanceof InputError) return err;
  const e = err as Error & { code?: string; lines?: number; records?: number };
  const line = e.lines !== undefined ? ` (line ${e.lines})` : "";
  // csv-parse counts the header among its records, so the failing data row is `records`.
  const row = typeof e.records === "number" ? e.records : nextRow;
  return new InputError(`malformed CSV${line}: ${e.message}`, { file, row });
}

/**
 * The field delimiter, from the header line: `,` unless the header has none outside quotes and
 * has `;` or tabs (European spreadsheets write `;`, and .tsv files tabs). Without this, such a
 * file failed with csv-parse's "Invalid Opening Quote".
 */
export function detectDelimiter(headerLine: string): "," | ";" | "\t" {
  const counts = { ",": 0, ";": 0, "\t": 0 };
  let quoted = false;
  for (const ch of headerLine) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch in counts) counts[ch as keyof typeof counts]++;
  }
  if (counts[","] > 0) return ",";
  if (counts["\t"] > counts[";"]) return "\t";
  return counts[";"] > 0 ? ";" : ",";
}

async function headerLine(file: string): Promise<string> {
  const fh = await open(file, "r");
  try {
    const buf = Buffer.alloc(65536);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString("utf8");
    const nl = text.search(/\r?\n/);
    return nl < 0 ? text : text.slice(0, nl);
  } finally {
    await fh.close();
  }
}

export async function openCsv(file: string, onProgress?: ProgressFn): Promise<RecordSource> {
  const size = await checkInputFile(file);
  if (size === 0) throw new InputError("empty file", { file });
  // csv-parse would turn invalid bytes into U+FFFD silently: check the whole file is UTF-8 first.
  await checkUtf8File(file);
  const delimiter = detectDelimiter(await headerLine(file));
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
      delimiter,
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
