/**
 * Parquet (`df.to_parquet`) through hyparquet, pure JS. Snappy is built in; GZIP, Brotli and
 * (on Node versions that have it) Zstandard come from node:zlib. Read one row group at a time,
 * progress in rows.
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
    ? " (rewrite it with snappy or gzip, e.g. df.to_parquet(path, compression='snappy'))"
    : "";
  return new InputError(`cannot read Parquet: ${msg}${hint}`, { file });
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
  const total = Number(metadata.num_rows);
  if (total === 0) throw new InputError("the Parquet file has no rows (empty file)", { file });
  const comp = cappedCompressors();
  const label = basename(file);
  async function* rows(): AsyncGenerator<SourceRow> {
    let row = 0;
    let start = 0;
    for (const group of metadata.row_groups) {
      const end = start + Number(group.num_rows);
      let objs: Record<string, unknown>[];
      try {
        objs = await parquetReadObjects({ file: buffer, metadata, rowStart: start, rowEnd: end, compressors: comp });
      } catch (err) {
        throw wrap(err, file);
      }
      for (const values of objs) {
        row++;
        yield { row, values };
      }
      start = end;
      onProgress?.(start, total, label);
    }
  }
  return { file, container: "parquet", columns, rows: rows() };
}
