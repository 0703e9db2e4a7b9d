/**
 * Parquet (`df.to_parquet`, polars' `write_parquet`) through hyparquet, pure JS. Snappy is built
 * in; GZIP and Brotli come from node:zlib, Zstandard from hyparquet-compressors (see
 * parquet-guard.ts). Read one row group at a time, progress in rows.
 */
import { basename } from "node:path";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from "hyparquet";
import type { FileMetaData } from "hyparquet";
import { InputError } from "../../util/errors.js";
import type { ProgressFn } from "../../util/progress.js";
import { checkInputFile } from "../input-file.js";
import { ParquetDamage, cappedCompressors, checkParquetPlan } from "./parquet-guard.js";
import type { RecordSource, SourceRow } from "./source.js";

function wrap(err: unknown, file: string): InputError {
  if (err instanceof InputError) return err;
  if (err instanceof ParquetDamage) return new InputError(`damaged Parquet file: ${err.message}`, { file });
  // hyparquet's messages may quote the file's bytes: keep the first line, briefly.
  const msg = String((err as Error)?.message ?? err).split("\n")[0].slice(0, 200);
  const hint = /unsupported compression codec/.test(msg)
    ? " (rewrite it with snappy, gzip or zstd, e.g. df.to_parquet(path, compression='snappy'))"
    : "";
  return new InputError(`cannot read Parquet: ${msg}${hint}`, { file });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Strings arrive as bytes (`utf8: false`) and are decoded here strictly: hyparquet's own decoding
 * would turn invalid bytes into U+FFFD without a word.
 */
function decodeText(values: Record<string, unknown>, file: string, row: number): void {
  for (const [k, v] of Object.entries(values)) {
    if (!(v instanceof Uint8Array)) continue;
    try {
      values[k] = utf8.decode(v);
    } catch {
      throw new InputError("the text is not valid UTF-8 (Latin-1 bytes or an encoded lone surrogate?)", { file, row, field: k });
    }
  }
}

export async function openParquet(file: string, onProgress?: ProgressFn): Promise<RecordSource> {
  let metadata: FileMetaData;
  let buffer: Awaited<ReturnType<typeof asyncBufferFromFile>>;
  await checkInputFile(file);
  try {
    buffer = await asyncBufferFromFile(file);
    if (buffer.byteLength === 0) throw new InputError("empty file", { file });
    metadata = await parquetMetadataAsync(buffer);
    // Before any page is decoded: hyparquet trusts the counts and sizes the file declares.
    await checkParquetPlan(buffer, metadata);
  } catch (err) {
    throw wrap(err, file);
  }
  let columns: string[];
  try {
    columns = parquetSchema(metadata).children.map((c) => c.element.name);
  } catch (err) {
    throw wrap(err, file);
  }
  if (!columns.every((c) => typeof c === "string")) throw new InputError("damaged Parquet file: a column has no name", { file });
  const total = Number(metadata.num_rows);
  if (total === 0) throw new InputError("the Parquet file has no rows (empty file)", { file });
  const comp = cappedCompressors();
  const label = basename(file);
  async function* rows(): AsyncGenerator<SourceRow> {
    let row = 0;
    let start = 0;
    for (const group of metadata.row_groups) {
      const end = start + Number(group.num_rows);
      // One column at a time: hyparquet reads a row group's columns as parallel promises, and
      // when two of them fail (damage in two columns) the second rejection goes unhandled and
      // kills the process. With one column per call there is one promise, which we await.
      const objs: Record<string, unknown>[] = Array.from({ length: end - start }, () => ({}));
      for (const name of columns) {
        let part: Record<string, unknown>[];
        try {
          part = await parquetReadObjects({ file: buffer, metadata, rowStart: start, rowEnd: end, columns: [name], compressors: comp, utf8: false });
        } catch (err) {
          throw wrap(err, file);
        }
        if (part.length !== objs.length) throw new InputError(`damaged Parquet file: column "${name}" has ${part.length} rows in a row group of ${objs.length}`, { file });
        for (let i = 0; i < part.length; i++) objs[i][name] = part[i][name];
      }
      for (const values of objs) {
        row++;
        decodeText(values, file, row);
        yield { row, values };
      }
      start = end;
      onProgress?.(start, total, label);
    }
  }
  return { file, container: "parquet", columns, rows: rows() };
}
