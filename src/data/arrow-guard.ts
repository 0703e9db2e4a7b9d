/**
 * A structural check of an Arrow IPC file, run before apache-arrow sees its bytes.
 *
 * Why: apache-arrow trusts every length and offset in its input. In one damaged outcome table
 * (byte 36 of data/default.arrow flipped) the record batch's flatbuffer root points at a bogus
 * vtable, so the message's header type reads as NONE. `RecordBatchFileReader.next()` loops
 * `while (message = readNextMessage())` and only advances its batch index for record batches
 * and dictionaries, so it re-reads the same block for ever. Other damage makes it allocate or
 * iterate by a corrupt count (a row count of 2^50, a vector length of 2^31, offsets that make
 * every string span the whole buffer).
 *
 * So before parsing we verify, reading the bytes exactly as the flatbuffers runtime does
 * (signed 32-bit offsets, 16-bit vtable entries), that:
 * - the file starts and ends with `ARROW1` and its footer length fits the file;
 * - every flatbuffer table, vtable, vector and string of the footer and of each record batch
 *   message lies inside its buffer, and the nesting of fields is shallow;
 * - each record batch block lies between the leading magic and the footer, blocks do not
 *   overlap, and each block's message is a record batch whose body length matches the block;
 * - the body's buffers lie inside the body, in order, without overlapping;
 * - every field node's length is backed by its buffers (a float64 column of n rows has 8n
 *   bytes of data, a string column n+1 ascending offsets that end inside its data), so the
 *   rows, cells and characters apache-arrow will make are bounded by the file size.
 * Only the column types routekit writes and reads (integers, floats, bool, strings, binary,
 * lists, fixed-size lists, structs) are accepted; dictionaries, compression and the rest are
 * refused as unsupported rather than checked. All of this is linear in the input size.
 *
 * Damage that keeps the structure intact (a flipped score) passes this check; callers that
 * must not load silently damaged data verify a content checksum as well (see arrow-io.ts).
 */
import { tableFromIPC, type Table } from "apache-arrow";
import { InputError } from "../util/errors.js";

const MAGIC = [0x41, 0x52, 0x52, 0x4f, 0x57, 0x31]; // "ARROW1"
/** Leading magic + padding; trailing footer length + magic. */
const HEAD = 8;
const TAIL = 10;
const MAX_DEPTH = 32;

/** Metadata versions V4 and V5 (enum values 3 and 4); earlier ones lay out buffers differently. */
const METADATA_VERSIONS = new Set([3, 4]);
const HEADER_RECORD_BATCH = 3;

/** Arrow `Type` union tags routekit accepts. */
const T = { Int: 2, FloatingPoint: 3, Binary: 4, Utf8: 5, Bool: 6, List: 12, Struct: 13, FixedSizeBinary: 15, FixedSizeList: 16 } as const;
const TYPE_NAMES = [
  "NONE", "Null", "Int", "FloatingPoint", "Binary", "Utf8", "Bool", "Decimal", "Date", "Time", "Timestamp", "Interval", "List",
  "Struct", "Union", "FixedSizeBinary", "FixedSizeList", "Map", "Duration", "LargeBinary", "LargeUtf8", "LargeList",
  "RunEndEncoded", "BinaryView", "Utf8View", "ListView", "LargeListView",
];

/** A structural problem; turned into an InputError naming the file at the API boundary. */
class Malformed extends Error {}
/** Not an Arrow file at all (no leading magic): a different message, as the cause differs. */
class NotArrow extends Error {}

function fail(message: string): never {
  throw new Malformed(message);
}

interface FbTable {
  pos: number;
  vt: number;
  vtSize: number;
  size: number;
}

/** One flatbuffer (footer or message metadata), read as flatbuffers' JS runtime reads it, with bounds checks. */
class Flatbuffer {
  constructor(
    private readonly b: Uint8Array,
    private readonly what: string,
  ) {}

  private need(p: number, n: number): void {
    if (!(Number.isInteger(p) && p >= 0 && p + n <= this.b.length)) fail(`${this.what}: offset ${p} is outside its ${this.b.length} bytes`);
  }

  i32(p: number): number {
    this.need(p, 4);
    const b = this.b;
    return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
  }

  i16(p: number): number {
    this.need(p, 2);
    return ((this.b[p] | (this.b[p + 1] << 8)) << 16) >> 16;
  }

  u8(p: number): number {
    this.need(p, 1);
    return this.b[p];
  }

  /** A non-negative int64 that a double holds exactly. */
  i64(p: number, name: string): number {
    this.need(p, 8);
    const lo = this.i32(p) >>> 0;
    const hi = this.i32(p + 4);
    if (hi < 0 || hi > 0x1fffff) fail(`${this.what}: ${name} ${hi < 0 ? "is negative" : "is too large"}`);
    return hi * 2 ** 32 + lo;
  }

  root(): FbTable {
    return this.table(this.i32(0));
  }

  table(pos: number): FbTable {
    const vt = pos - this.i32(pos);
    const vtSize = this.i16(vt);
    const size = this.i16(vt + 2);
    if (vtSize < 4 || vtSize % 2 !== 0 || size < 4) fail(`${this.what}: bad vtable at ${vt}`);
    this.need(vt, vtSize);
    this.need(pos, size);
    return { pos, vt, vtSize, size };
  }

  /** Absolute position of a field of `width` bytes, or 0 when absent (its default applies). */
  field(t: FbTable, slot: number, width: number): number {
    if (slot >= t.vtSize) return 0;
    const off = this.i16(t.vt + slot);
    if (off === 0) return 0;
    if (off < 4 || off + width > t.size) fail(`${this.what}: field outside its table at ${t.pos}`);
    return t.pos + off;
  }

  scalar(t: FbTable, slot: number, width: 1 | 2 | 4, dflt: number): number {
    const p = this.field(t, slot, width);
    if (!p) return dflt;
    return width === 1 ? this.u8(p) : width === 2 ? this.i16(p) : this.i32(p);
  }

  indirect(p: number): number {
    const q = p + this.i32(p);
    this.need(q, 4);
    return q;
  }

  child(t: FbTable, slot: number): FbTable | null {
    const p = this.field(t, slot, 4);
    return p ? this.table(this.indirect(p)) : null;
  }

  /** A vector's first element and length (elements of `elem` bytes), or null when absent. */
  vector(t: FbTable, slot: number, elem: number): { start: number; n: number } | null {
    const p = this.field(t, slot, 4);
    if (!p) return null;
    const v = this.indirect(p);
    const n = this.i32(v);
    if (n < 0) fail(`${this.what}: negative vector length`);
    if (n > 0) this.need(v + 4, n * elem);
    return { start: v + 4, n };
  }

  tables(t: FbTable, slot: number): FbTable[] {
    const v = this.vector(t, slot, 4);
    if (!v) return [];
    const out: FbTable[] = [];
    for (let i = 0; i < v.n; i++) out.push(this.table(this.indirect(v.start + 4 * i)));
    return out;
  }

  string(t: FbTable, slot: number): void {
    this.vector(t, slot, 1);
  }

  keyValues(t: FbTable, slot: number): void {
    for (const kv of this.tables(t, slot)) {
      this.string(kv, 4);
      this.string(kv, 6);
    }
  }
}

/** A field of the schema, reduced to what the body check needs. */
interface FieldShape {
  name: string;
  type: number;
  /** Bytes per value for fixed-width types (Int, FloatingPoint, FixedSizeBinary); list size for FixedSizeList. */
  width: number;
  children: FieldShape[];
}

function fieldName(fb: Flatbuffer, bytes: Uint8Array, base: number, t: FbTable): string {
  const v = fb.vector(t, 4, 1);
  if (!v) return "";
  return Buffer.from(bytes.buffer, bytes.byteOffset + base + v.start, Math.min(v.n, 200)).toString("utf8");
}

function checkField(fb: Flatbuffer, bytes: Uint8Array, base: number, t: FbTable, depth: number): FieldShape {
  if (depth > MAX_DEPTH) fail(`fields nested more than ${MAX_DEPTH} deep`);
  const name = fieldName(fb, bytes, base, t);
  const type = fb.scalar(t, 8, 1, 0);
  const typeTable = fb.child(t, 10);
  if (fb.field(t, 12, 4)) fail(`column "${name}" is dictionary-encoded, which routekit does not read`);
  fb.keyValues(t, 16);
  const children = fb.tables(t, 14).map((c) => checkField(fb, bytes, base, c, depth + 1));
  if (!typeTable) fail(`column "${name}" has no type`);
  let width = 0;
  switch (type) {
    case T.Int: {
      const bits = fb.scalar(typeTable, 4, 4, 0);
      if (![8, 16, 32, 64].includes(bits)) fail(`column "${name}": integer width ${bits}`);
      width = bits / 8;
      break;
    }
    case T.FloatingPoint: {
      const precision = fb.scalar(typeTable, 4, 2, 0);
      if (![0, 1, 2].includes(precision)) fail(`column "${name}": float precision ${precision}`);
      width = [2, 4, 8][precision];
      break;
    }
    case T.FixedSizeBinary:
      width = fb.scalar(typeTable, 4, 4, 0);
      if (width < 1) fail(`column "${name}": fixed-size binary width ${width}`);
      break;
    case T.FixedSizeList:
      width = fb.scalar(typeTable, 4, 4, 0);
      if (width < 1) fail(`column "${name}": fixed-size list size ${width}`);
      break;
    case T.Binary:
    case T.Utf8:
    case T.Bool:
    case T.List:
    case T.Struct:
      break;
    default:
      fail(`column "${name}" has type ${TYPE_NAMES[type] ?? type}, which routekit does not read`);
  }
  const nested = type === T.List || type === T.FixedSizeList || type === T.Struct;
  if (nested ? (type === T.Struct ? children.length < 1 : children.length !== 1) : children.length !== 0) {
    fail(`column "${name}" (${TYPE_NAMES[type]}) has ${children.length} child fields`);
  }
  return { name, type, width, children };
}

interface Block {
  offset: number;
  metaLength: number;
  bodyLength: number;
}

function readBlocks(fb: Flatbuffer, root: FbTable, slot: number): Block[] {
  const v = fb.vector(root, slot, 24);
  if (!v) return [];
  const out: Block[] = [];
  for (let i = 0; i < v.n; i++) {
    const p = v.start + 24 * i;
    out.push({ offset: fb.i64(p, "block offset"), metaLength: fb.i32(p + 8), bodyLength: fb.i64(p + 16, "block body length") });
  }
  return out;
}

/** Little-endian int32 of a Uint8Array, which may start anywhere. */
function le32(b: Uint8Array, p: number): number {
  return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
}

/** Checks one record batch's nodes and buffers against the schema. */
class BodyCheck {
  private node = 0;
  private buffer = 0;
  constructor(
    private readonly fb: Flatbuffer,
    private readonly nodes: { start: number; n: number },
    private readonly buffers: { start: number; n: number },
    private readonly body: Uint8Array,
    private readonly where: string,
  ) {}

  private nextNode(f: FieldShape): { length: number; nulls: number } {
    if (this.node >= this.nodes.n) fail(`${this.where}: fewer field nodes than columns`);
    const p = this.nodes.start + 16 * this.node++;
    const length = this.fb.i64(p, `length of column "${f.name}"`);
    const nulls = this.fb.i64(p + 8, `null count of column "${f.name}"`);
    if (nulls > length) fail(`${this.where}: column "${f.name}" has more nulls than rows`);
    return { length, nulls };
  }

  private lastEnd = 0;
  private nextBuffer(f: FieldShape): { offset: number; length: number } {
    if (this.buffer >= this.buffers.n) fail(`${this.where}: fewer buffers than columns need`);
    const p = this.buffers.start + 16 * this.buffer++;
    const offset = this.fb.i64(p, `buffer offset of column "${f.name}"`);
    const length = this.fb.i64(p + 8, `buffer length of column "${f.name}"`);
    // In order and disjoint, so that the values decoded from all columns add up to at most the body.
    if (length > 0 && (offset < this.lastEnd || offset % 8 !== 0)) fail(`${this.where}: buffers of column "${f.name}" overlap or are misaligned`);
    if (offset + length > this.body.length) fail(`${this.where}: a buffer of column "${f.name}" runs past the body`);
    if (length > 0) this.lastEnd = offset + length;
    return { offset, length };
  }

  private need(have: number, want: number, f: FieldShape, what: string): void {
    if (have < want) fail(`${this.where}: column "${f.name}" has ${have} bytes of ${what}, needs ${want}`);
  }

  /** Ascending offsets inside [0, limit]; returns the last one (the child's or data's used length). */
  private offsets(buf: { offset: number; length: number }, rows: number, limit: number, f: FieldShape): number {
    if (rows === 0) return 0;
    this.need(buf.length, 4 * (rows + 1), f, "offsets");
    let prev = le32(this.body, buf.offset);
    if (prev < 0) fail(`${this.where}: column "${f.name}" has a negative offset`);
    for (let i = 1; i <= rows; i++) {
      const o = le32(this.body, buf.offset + 4 * i);
      if (o < prev) fail(`${this.where}: column "${f.name}" has descending offsets at row ${i}`);
      prev = o;
    }
    if (prev > limit) fail(`${this.where}: column "${f.name}" has offsets past its data`);
    return prev;
  }

  /** Consumes the node and buffers of `f` (and its children), as apache-arrow's VectorLoader will. */
  column(f: FieldShape, minRows: number, exact = false): void {
    const { length, nulls } = this.nextNode(f);
    // A top-level column has exactly the batch's rows; a child at least what its parent uses.
    if (exact && length !== minRows) fail(`${this.where}: column "${f.name}" has ${length} rows, the batch ${minRows}`);
    if (length < minRows) fail(`${this.where}: column "${f.name}" has ${length} rows, fewer than its parent needs (${minRows})`);
    const validity = this.nextBuffer(f);
    if (nulls > 0) this.need(validity.length, Math.ceil(length / 8), f, "validity bitmap");
    switch (f.type) {
      case T.Int:
      case T.FloatingPoint:
      case T.FixedSizeBinary:
        this.need(this.nextBuffer(f).length, length * f.width, f, "values");
        return;
      case T.Bool:
        this.need(this.nextBuffer(f).length, Math.ceil(length / 8), f, "values");
        return;
      case T.Utf8:
      case T.Binary: {
        const offsets = this.nextBuffer(f);
        const data = this.nextBuffer(f);
        this.offsets(offsets, length, data.length, f);
        return;
      }
      case T.List: {
        const offsets = this.nextBuffer(f);
        const childNode = this.nodes.start + 16 * this.node;
        const childLength = this.node < this.nodes.n ? this.fb.i64(childNode, `length of column "${f.children[0].name}"`) : 0;
        const used = this.offsets(offsets, length, childLength, f);
        this.column(f.children[0], used);
        return;
      }
      case T.FixedSizeList:
        this.column(f.children[0], length * f.width);
        return;
      case T.Struct:
        for (const c of f.children) this.column(c, length);
        return;
    }
  }

  finish(): void {
    if (this.node !== this.nodes.n || this.buffer !== this.buffers.n) fail(`${this.where}: field nodes or buffers do not match the schema`);
  }
}

export interface ArrowIpcSummary {
  /** Record batches in the file. */
  batches: number;
  /** Rows over all record batches. */
  rows: number;
}

function checkStructure(bytes: Uint8Array): ArrowIpcSummary {
  const n = bytes.length;
  for (let i = 0; i < 6; i++) if (bytes[i] !== MAGIC[i]) throw new NotArrow();
  if (n < HEAD + TAIL + 8) fail(`too short for an Arrow IPC file (${n} bytes; truncated?)`);
  for (let i = 0; i < 6; i++) if (bytes[n - 6 + i] !== MAGIC[i]) fail("does not end with the Arrow file magic ARROW1 (truncated?)");
  const footerLength = le32(bytes, n - TAIL);
  if (footerLength <= 0 || footerLength > n - HEAD - TAIL) fail(`footer length ${footerLength} does not fit the file`);
  const footerStart = n - TAIL - footerLength;
  const footer = new Flatbuffer(bytes.subarray(footerStart, n - TAIL), "footer");
  const root = footer.root();
  const version = footer.scalar(root, 4, 2, 0);
  if (!METADATA_VERSIONS.has(version)) fail(`footer: metadata version ${version} (routekit reads V4 and V5)`);
  const schema = footer.child(root, 6);
  if (!schema) fail("footer: no schema");
  if (footer.scalar(schema, 4, 2, 0) !== 0) fail("schema: big-endian data");
  const fields = footer.tables(schema, 6).map((f) => checkField(footer, bytes, footerStart, f, 0));
  footer.keyValues(schema, 8);
  footer.vector(schema, 10, 8);
  footer.keyValues(root, 12);
  if (readBlocks(footer, root, 8).length) fail("the file has dictionary batches, which routekit does not read");
  const blocks = readBlocks(footer, root, 10);

  let prevEnd = HEAD;
  let rows = 0;
  blocks.forEach((block, k) => {
    const where = `record batch ${k + 1}`;
    const { offset, metaLength, bodyLength } = block;
    if (offset % 8 !== 0 || metaLength <= 0 || metaLength % 8 !== 0) fail(`${where}: misaligned block`);
    // Blocks in file order and disjoint: no message is decoded twice, so work stays linear.
    if (offset < prevEnd || offset + metaLength + bodyLength > footerStart) fail(`${where}: block outside the message area or overlapping another`);
    prevEnd = offset + metaLength + bodyLength;
    // apache-arrow reads a 0xFFFFFFFF continuation marker and the flatbuffer's length (or, before
    // Arrow 0.15, the length alone), then the body right after the flatbuffer.
    let prefix = 4;
    let length = le32(bytes, offset);
    if (length === -1) {
      prefix = 8;
      length = le32(bytes, offset + 4);
    }
    if (length <= 0 || prefix + length !== metaLength) fail(`${where}: message length ${length} disagrees with its block (${metaLength})`);
    const fb = new Flatbuffer(bytes.subarray(offset + prefix, offset + metaLength), `${where} metadata`);
    const msg = fb.root();
    if (!METADATA_VERSIONS.has(fb.scalar(msg, 4, 2, 0))) fail(`${where}: unsupported metadata version`);
    if (fb.scalar(msg, 6, 1, 0) !== HEADER_RECORD_BATCH) fail(`${where}: the message is not a record batch`);
    const header = fb.child(msg, 8);
    if (!header) fail(`${where}: no record batch header`);
    const bodyLen = fb.field(msg, 10, 8) ? fb.i64(fb.field(msg, 10, 8), "body length") : 0;
    if (bodyLen !== bodyLength) fail(`${where}: body length ${bodyLen} disagrees with its block (${bodyLength})`);
    fb.keyValues(msg, 12);
    const rbLength = fb.field(header, 4, 8) ? fb.i64(fb.field(header, 4, 8), "row count") : 0;
    const nodes = fb.vector(header, 6, 16) ?? { start: 0, n: 0 };
    const buffers = fb.vector(header, 8, 16) ?? { start: 0, n: 0 };
    if (fb.field(header, 10, 4)) fail(`${where}: compressed buffers, which routekit does not read`);
    const variadic = fb.vector(header, 12, 8);
    if (variadic && variadic.n > 0) fail(`${where}: variadic buffers, which routekit does not read`);
    // Every accepted column type spends at least one bit per row, so rows <= 8 x body bytes.
    if (rbLength > 8 * bodyLength) fail(`${where}: ${rbLength} rows in a ${bodyLength}-byte body`);
    const bodyStart = offset + metaLength;
    const check = new BodyCheck(fb, nodes, buffers, bytes.subarray(bodyStart, bodyStart + bodyLength), where);
    for (const f of fields) check.column(f, rbLength, true);
    check.finish();
    rows += rbLength;
  });
  return { batches: blocks.length, rows };
}

/**
 * Checks that `bytes` are an Arrow IPC file that apache-arrow can decode with work bounded by
 * its size (see the module comment). Throws an InputError naming `file` otherwise.
 */
export function checkArrowIpcFile(bytes: Uint8Array, file?: string): ArrowIpcSummary {
  try {
    return checkStructure(bytes);
  } catch (err) {
    if (err instanceof NotArrow) throw new InputError("not an Arrow IPC file (it does not start with ARROW1)", { file });
    if (err instanceof Malformed) throw new InputError(`damaged or unsupported Arrow file: ${err.message}`, { file });
    throw err;
  }
}

/**
 * `tableFromIPC` behind `checkArrowIpcFile`: the one way routekit turns untrusted bytes into an
 * Arrow table. Every failure, the check's or apache-arrow's own, is one InputError naming `file`.
 */
export function readArrowIpcGuarded(bytes: Uint8Array, file?: string): Table {
  checkArrowIpcFile(bytes, file);
  // apache-arrow views float64 buffers in place, which needs the file's bytes 8-byte aligned.
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  try {
    return tableFromIPC(aligned);
  } catch (err) {
    throw new InputError(`damaged Arrow file: ${(err as Error).message}`, { file });
  }
}
