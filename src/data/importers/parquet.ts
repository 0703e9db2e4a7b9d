/**
 * Parquet (`df.to_parquet`) through hyparquet, pure JS. Snappy is built in; GZIP, Brotli and
 * (on Node versions that have it) Zstandard come from node:zlib. Read one row group at a time,
 * progress in rows.
 */
import { basename } from "node:path";
import * as zlib from "node:zlib";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from "hyparquet";
import type { Compressors, FileMetaData } from "hyparquet";
import { InputError } from "../../util/errors.js";
import type { ProgressFn } from "../../util/progress.js";
import type { RecordSource, SourceRow } from "./source.js";

function compressors(): Compressors {
  const c: Compressors = {
    GZIP: (input) => new Uint8Array(zlib.gunzipSync(input)),
    BROTLI: (input) => new Uint8Array(zlib.brotliDecompressSync(input)),
  };
  const zstd = (zlib as unknown as { zstdDecompressSync?: (b: Uint8Array) => Buffer }).zstdDecompressSync;
  if (zstd) c.ZSTD = (input) => new Uint8Array(zstd(input));
  return c;
}

function wrap(err: unknown, file: string): InputError {
  if (err instanceof InputError) return err;
  const msg = (err as Error).message ?? String(err);
  const hint = /unsupported compression codec/.test(msg)
    ? " (rewrite it with snappy or gzip, e.g. df.to_parquet(path, compression='snappy'))"
    : "";
  return new InputError(`cannot read Parquet: ${msg}${hint}`, { file });
}

export async function openParquet(file: string, onProgress?: ProgressFn): Promise<RecordSource> {
  let metadata: FileMetaData;
  let buffer: Awaited<ReturnType<typeof asyncBufferFromFile>>;
  try {
    buffer = await asyncBufferFromFile(file);
    if (buffer.byteLength === 0) throw new InputError("empty file", { file });
    metadata = await parquetMetadataAsync(buffer);
  } catch (err) {
    throw wrap(err, file);
  }
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  const total = Number(metadata.num_rows);
  if (total === 0) throw new InputError("the Parquet file has no rows (empty file)", { file });
  const comp = compressors();
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
