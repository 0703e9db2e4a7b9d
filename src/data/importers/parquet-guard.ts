/**
 * A check of a Parquet file's counts and sizes before hyparquet decodes its pages.
 *
 * Why: hyparquet sizes its work by the counts the file declares. A page header whose value
 * count was damaged to 2^31 makes it fill a 2^31-entry array (one 8-byte edit of a test
 * fixture ran for ever); a damaged uncompressed size makes it allocate that many bytes. Its
 * thrift reader, by contrast, consumes at least one byte per element, so the footer and page
 * headers themselves parse in time linear in the file.
 *
 * So we walk the footer and every page header (not the page data) and require:
 * - row groups whose rows add up to the file's, and rows x columns within a budget that grows
 *   with the file size (`CELLS_PER_BYTE`);
 * - each column chunk inside the file, each page inside its chunk, no page declaring more values
 *   than its chunk, no data page more rows than its row group;
 * - uncompressed page sizes that add up to at most `EXPANSION` times the file (plus a constant),
 *   so decompression cannot exhaust memory; the gzip, brotli and zstd decompressors are also capped
 *   at each page's declared size.
 * A file over a budget is refused with a message saying which; real RouterBench and pandas
 * files are far inside them (their text compresses a few times, not 64).
 */
import * as zlib from "node:zlib";
import type { AsyncBuffer, Compressors, FileMetaData } from "hyparquet";
import { parquetHeader } from "hyparquet/src/column.js";
import { decompressZstd } from "hyparquet-compressors";

/** Rows x columns allowed per byte of file (plus `BASE_CELLS`): a cell costs at least a few bits. */
const CELLS_PER_BYTE = 64;
const BASE_CELLS = 1_000_000;
/** Uncompressed page bytes allowed per byte of file (plus `BASE_BYTES`). */
const EXPANSION = 64;
const BASE_BYTES = 64 * 2 ** 20;

export class ParquetDamage extends Error {}

function damage(message: string): never {
  throw new ParquetDamage(message);
}

function num(v: unknown, what: string): number {
  const x = typeof v === "bigint" ? Number(v) : typeof v === "number" ? v : NaN;
  if (!Number.isSafeInteger(x) || x < 0) damage(`${what} is ${String(v)}`);
  return x;
}

/** Throws ParquetDamage unless the declared counts and sizes are consistent and within budget. */
export async function checkParquetPlan(file: AsyncBuffer, metadata: FileMetaData): Promise<void> {
  const size = file.byteLength;
  const rows = num(metadata.num_rows, "the row count");
  let groupRows = 0;
  for (const g of metadata.row_groups) groupRows += num(g.num_rows, "a row group's row count");
  if (groupRows !== rows) damage(`its row groups hold ${groupRows} rows, the footer says ${rows}`);
  const leaves = Math.max(1, metadata.schema.filter((e) => !e.num_children).length);
  const cellBudget = BASE_CELLS + CELLS_PER_BYTE * size;
  if (rows * leaves > cellBudget) damage(`it declares ${rows} rows x ${leaves} columns, more than a ${size}-byte file can hold`);
  const byteBudget = BASE_BYTES + EXPANSION * size;
  let uncompressed = 0;
  for (const [gi, g] of metadata.row_groups.entries()) {
    const gRows = num(g.num_rows, "a row group's row count");
    for (const chunk of g.columns) {
      const meta = chunk.meta_data;
      if (!meta) damage(`row group ${gi + 1} has a column without metadata`);
      const name = meta.path_in_schema.join(".");
      const start = num(meta.dictionary_page_offset || meta.data_page_offset, `column "${name}": the data offset`);
      const end = start + num(meta.total_compressed_size, `column "${name}": the compressed size`);
      if (end > size) damage(`column "${name}" runs past the end of the file`);
      const values = num(meta.num_values, `column "${name}": the value count`);
      if (values > cellBudget) damage(`column "${name}" declares ${values} values`);
      const bytes = new Uint8Array(await file.slice(start, end));
      const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
      let pageValues = 0;
      while (reader.offset < bytes.length - 1) {
        let h: ReturnType<typeof parquetHeader>;
        try {
          h = parquetHeader(reader);
        } catch (err) {
          damage(`column "${name}": unreadable page header (${(err as Error).message})`);
        }
        const compressed = num(h.compressed_page_size, `column "${name}": a page's compressed size`);
        const plain = num(h.uncompressed_page_size, `column "${name}": a page's uncompressed size`);
        if (reader.offset + compressed > bytes.length) damage(`column "${name}": a page runs past its column chunk`);
        reader.offset += compressed;
        uncompressed += plain;
        if (uncompressed > byteBudget) damage(`its pages declare ${uncompressed} bytes uncompressed, over ${EXPANSION}x the file's ${size}`);
        const v1 = h.data_page_header;
        const v2 = h.data_page_header_v2;
        const dict = h.dictionary_page_header;
        if (v1) pageValues += num(v1.num_values, `column "${name}": a page's value count`);
        if (v2) {
          pageValues += num(v2.num_values, `column "${name}": a page's value count`);
          if (num(v2.num_rows, `column "${name}": a page's row count`) > gRows) damage(`column "${name}": a page holds more rows than its row group`);
          if (num(v2.num_nulls, `column "${name}": a page's null count`) > v2.num_values) damage(`column "${name}": a page has more nulls than values`);
          const levels = num(v2.definition_levels_byte_length, "level bytes") + num(v2.repetition_levels_byte_length, "level bytes");
          if (levels > compressed || levels > plain) damage(`column "${name}": a page's levels are longer than the page`);
        }
        if (dict && num(dict.num_values, `column "${name}": the dictionary size`) > 8 * plain + 8) damage(`column "${name}": a dictionary of ${dict.num_values} values in ${plain} bytes`);
        if (pageValues > values) damage(`column "${name}": its pages hold more values than the column declares (${values})`);
      }
    }
  }
}

/**
 * The declared content size of a Zstandard frame (RFC 8878 3.1.1.1), or null when the frame
 * does not declare it (or is not a Zstandard frame: the decompressor then says so).
 */
function zstdContentSize(b: Uint8Array): number | null {
  if (b.length < 6 || b[0] !== 0x28 || b[1] !== 0xb5 || b[2] !== 0x2f || b[3] !== 0xfd) return null;
  const flags = b[4];
  const fcsFlag = flags >> 6;
  const single = (flags >> 5) & 1;
  const dictBytes = [0, 1, 2, 4][flags & 3];
  const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
  if (fcsBytes === 0) return null;
  const at = 5 + (single ? 0 : 1) + dictBytes;
  if (b.length < at + fcsBytes) return null;
  let size = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) size = size * 256 + b[at + i];
  return fcsBytes === 2 ? size + 256 : size;
}

/**
 * Zstandard (polars writes it by default) through hyparquet-compressors' decoder (fzstd, pure
 * JS: Node 20 has no zstd in node:zlib), always this one, so a file reads the same on every Node.
 * It decodes into a buffer of the page's declared size, which checkParquetPlan has bounded, so a
 * damaged or hostile stream cannot inflate past it (without a buffer it would allocate the window
 * the frame declares, up to 2 GB). A frame that declares a different size is refused, so a short
 * stream cannot pass as a page padded with zeros.
 */
function zstdDecompress(input: Uint8Array, n: number): Uint8Array {
  const declared = zstdContentSize(input);
  if (declared !== null && declared !== n) throw new ParquetDamage(`a ZSTD page holds ${declared} bytes, its header says ${n}`);
  return decompressZstd(input, new Uint8Array(n));
}

/**
 * Decompressors whose output is capped at the page's declared size (which checkParquetPlan has
 * bounded): a damaged or hostile stream cannot inflate past it. Snappy is hyparquet's own, which
 * writes into a buffer of the declared size.
 */
export function cappedCompressors(): Compressors {
  const cap = (n: number) => ({ maxOutputLength: Math.max(1, n) });
  return {
    GZIP: (input, n) => new Uint8Array(zlib.gunzipSync(input, cap(n))),
    BROTLI: (input, n) => new Uint8Array(zlib.brotliDecompressSync(input, cap(n))),
    ZSTD: zstdDecompress,
  };
}
