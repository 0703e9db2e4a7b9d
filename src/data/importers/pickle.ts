/**
 * RouterBench's own files are pandas DataFrames pickled with `DataFrame.to_pickle`. A pickle is
 * a small stack-machine program; `pickleparser` runs its opcodes without executing any Python,
 * and we interpret the resulting tree of "calls" ourselves: numpy arrays (`_reconstruct`,
 * `_frombuffer`, `_codecs.encode` bytes), pandas Index objects (`_new_Index`), blocks
 * (`_unpickle_block`, or the older `"0.14.1"` state) and the BlockManager that ties them to
 * the column names. Nothing in the file is ever executed.
 *
 * Verified on pickles that pandas 1.5.3 / numpy 1.24 write with protocols 2-5, including
 * categorical and `string` (python storage) columns (see test/fixtures/data/make_fixtures.py).
 * Other extension arrays (e.g. `string[pyarrow]`, which pandas 3 uses for strings by default,
 * datetimes) are refused with a message that shows the one-line conversion to Parquet.
 */
import { basename } from "node:path";
import { Parser } from "pickleparser";
import { InputError } from "../../util/errors.js";
import type { ProgressFn } from "../../util/progress.js";
import { readInputFile } from "../input-file.js";
import type { RecordSource, SourceRow } from "./source.js";

export const PICKLE_TO_PARQUET = `python -c "import pandas as pd; pd.read_pickle('IN.pkl').to_parquet('OUT.parquet')"`;

/** A Python call or object as the pickle describes it: a dotted name, its args, and its state. */
class PyNode {
  constructor(
    readonly py: string,
    readonly args: unknown[],
  ) {}
  state: unknown = undefined;
}

function nameResolver(module: string, name: string) {
  const fq = `${module}.${name}`;
  // Used both as a function (REDUCE) and as a class (NEWOBJ); returns a node either way.
  const F = function (...args: unknown[]) {
    const node = new PyNode(fq, args) as PyNode & { __setstate__?: (s: unknown) => void };
    Object.defineProperty(node, "__setstate__", {
      value: (s: unknown) => {
        node.state = s;
      },
      enumerable: false,
    });
    return node;
  };
  Object.defineProperty(F, "pyName", { value: fq });
  return F;
}

class Unsupported extends Error {}

function isNode(v: unknown, suffix?: string): v is PyNode {
  return v instanceof PyNode && (suffix === undefined || v.py.endsWith(suffix));
}

function get(m: unknown, key: string): unknown {
  if (m instanceof Map) return m.get(key);
  if (m && typeof m === "object") return (m as Record<string, unknown>)[key];
  return undefined;
}

function bytesOf(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  // Protocol 2 stores bytes as _codecs.encode(latin-1 text, 'latin1').
  if (isNode(v, "_codecs.encode") && typeof v.args[0] === "string") {
    const s = v.args[0];
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  if (isNode(v, "builtins.bytearray") || isNode(v, "__builtin__.bytearray")) return bytesOf(v.args[0]);
  if (Array.isArray(v) && v.length === 0) return new Uint8Array(0);
  throw new Unsupported(`array data of an unknown kind (${describe(v)})`);
}

function describe(v: unknown): string {
  if (v instanceof PyNode) return v.py;
  if (Array.isArray(v)) return "list";
  return typeof v;
}

interface DType {
  kind: string; // f, i, u, b, O, ...
  size: number;
  little: boolean;
}

function dtypeOf(v: unknown): DType {
  if (!isNode(v, "numpy.dtype")) throw new Unsupported(`dtype of an unknown kind (${describe(v)})`);
  const code = String(v.args[0]);
  const m = /^([a-zA-Z])(\d*)$/.exec(code);
  if (!m) throw new Unsupported(`numpy dtype "${code}"`);
  const order = Array.isArray(v.state) ? v.state[1] : "<";
  return { kind: m[1], size: Number(m[2] || 0), little: order !== ">" };
}

/** A numpy array as a flat JS array (C order) and its shape. */
interface NdArray {
  shape: number[];
  values: ArrayLike<unknown>;
}

function decodeNumeric(bytes: Uint8Array, dt: DType, count: number): ArrayLike<unknown> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const need = count * dt.size;
  if (bytes.byteLength < need) throw new Unsupported(`array data is ${bytes.byteLength} bytes, expected ${need}`);
  const le = dt.little;
  const key = `${dt.kind}${dt.size}`;
  if (key === "f8") {
    if (le && bytes.byteOffset % 8 === 0) return new Float64Array(bytes.buffer, bytes.byteOffset, count);
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, le);
    return out;
  }
  const out = new Array<unknown>(count);
  for (let i = 0; i < count; i++) {
    const o = i * dt.size;
    switch (key) {
      case "f4": out[i] = view.getFloat32(o, le); break;
      case "f2": throw new Unsupported("float16 columns");
      case "i8": out[i] = Number(view.getBigInt64(o, le)); break;
      case "i4": out[i] = view.getInt32(o, le); break;
      case "i2": out[i] = view.getInt16(o, le); break;
      case "i1": out[i] = view.getInt8(o); break;
      case "u8": out[i] = Number(view.getBigUint64(o, le)); break;
      case "u4": out[i] = view.getUint32(o, le); break;
      case "u2": out[i] = view.getUint16(o, le); break;
      case "u1": out[i] = view.getUint8(o); break;
      case "b1": out[i] = view.getUint8(o) !== 0; break;
      default: throw new Unsupported(`numpy dtype "${key}"`);
    }
  }
  return out;
}

/**
 * The most items (array elements, index entries, placements) a pickle of this many bytes can
 * describe; set per file by readPickleFrame. Shapes, ranges and slices come from the file, and
 * a damaged one (a range stop of 2^60, a step of 0) would otherwise size a loop or an array.
 */
let itemBudget = Infinity;

function checkCount(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new Unsupported(`${what} ${n} (damaged file?)`);
  if (n > itemBudget) throw new Unsupported(`${what} ${n}, more than a file of this size can hold (damaged file?)`);
  return n;
}

function product(shape: number[]): number {
  return checkCount(shape.reduce((a, b) => a * checkCount(b, "array dimension"), 1), "array size");
}

/** The numbers of a Python range(start, stop, step), bounded by the file's item budget. */
function rangeValues(start: number, stop: number, step: number): number[] {
  if (![start, stop, step].every(Number.isSafeInteger) || step === 0) throw new Unsupported(`range(${start}, ${stop}, ${step}) (damaged file?)`);
  const n = checkCount(Math.max(0, Math.ceil((stop - start) / step)), "range length");
  return Array.from({ length: n }, (_, i) => start + i * step);
}

/** Fortran-ordered 2-D data to C order. */
function toCOrder(values: ArrayLike<unknown>, shape: number[]): unknown[] {
  const [r, c] = shape;
  const out = new Array<unknown>(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[i * c + j] = values[j * r + i];
  return out;
}

function ndarray(v: unknown): NdArray {
  if (isNode(v, "multiarray._reconstruct")) {
    const st = v.state;
    if (!Array.isArray(st) || st.length < 5) throw new Unsupported("numpy array state");
    if (!Array.isArray(st[1])) throw new Unsupported("numpy array shape");
    const shape = (st[1] as unknown[]).map(Number);
    const dt = dtypeOf(st[2]);
    const fortran = st[3] === true;
    const count = product(shape);
    let values: ArrayLike<unknown>;
    if (dt.kind === "O") {
      if (!Array.isArray(st[4])) throw new Unsupported("object array without a list of items");
      if (st[4].length !== count) throw new Unsupported(`object array of ${st[4].length} items for shape [${shape.join(", ")}] (damaged file?)`);
      values = st[4];
    } else {
      values = decodeNumeric(bytesOf(st[4]), dt, count);
    }
    if (fortran && shape.length === 2) values = toCOrder(values, shape);
    return { shape, values };
  }
  if (isNode(v, "numeric._frombuffer")) {
    const [buf, dtNode, shapeArg, order] = v.args;
    if (!Array.isArray(shapeArg)) throw new Unsupported("numpy array shape");
    const shape = (shapeArg as unknown[]).map(Number);
    const dt = dtypeOf(dtNode);
    let values = decodeNumeric(bytesOf(buf), dt, product(shape));
    if (order === "F" && shape.length === 2) values = toCOrder(values, shape);
    return { shape, values };
  }
  // pandas' NDArrayBacked extension arrays (Categorical, StringArray): state = [dtype, ndarray, attrs].
  if (isNode(v, "__pyx_unpickle_NDArrayBacked") && Array.isArray(v.state)) {
    const [dtype, data] = v.state as [unknown, unknown];
    const inner = ndarray(data);
    if (isNode(dtype, "CategoricalDtype")) {
      const categories = indexValues(get(dtype.state, "categories"));
      return { shape: inner.shape, values: Array.from(inner.values, (c) => (Number(c) < 0 ? null : categories[Number(c)])) };
    }
    if (isNode(dtype, "StringDtype")) return inner;
    throw new Unsupported(`a column of dtype ${describe(dtype)}`);
  }
  // pandas' own NumPy-backed extension arrays keep their data in `_ndarray`.
  if (isNode(v) && get(v.state, "_ndarray") !== undefined) return ndarray(get(v.state, "_ndarray"));
  if (isNode(v)) {
    throw new Unsupported(`a column stored as ${v.py}`);
  }
  throw new Unsupported(`array of an unknown kind (${describe(v)})`);
}

function indexValues(v: unknown): unknown[] {
  if (isNode(v, "_new_Index")) {
    const cls = v.args[0] as { pyName?: string } | undefined;
    const d = v.args[1];
    if (cls?.pyName?.endsWith("RangeIndex")) {
      return rangeValues(Number(get(d, "start") ?? 0), Number(get(d, "stop")), Number(get(d, "step") ?? 1));
    }
    return Array.from(ndarray(get(d, "data")).values);
  }
  throw new Unsupported(`an index stored as ${describe(v)}`);
}

function placement(v: unknown): number[] {
  if (isNode(v, "BlockPlacement")) return placement(v.args[0]);
  if (isNode(v, "builtins.slice") || isNode(v, "__builtin__.slice")) {
    const [start, stop, step] = v.args.map((x) => (x === null || x === undefined ? undefined : Number(x)));
    return rangeValues(start ?? 0, stop ?? 0, step ?? 1);
  }
  if (Array.isArray(v)) return v.map(Number);
  return Array.from(ndarray(v).values, Number);
}

interface Frame {
  columns: string[];
  data: ArrayLike<unknown>[];
  rows: number;
}

function frameFrom(root: unknown): Frame {
  if (isNode(root, ".Series")) throw new Unsupported("the pickle holds a pandas Series, not a DataFrame");
  if (!isNode(root, ".DataFrame")) throw new Unsupported(`the pickle holds ${describe(root)}, not a pandas DataFrame`);
  const mgr = get(root.state, "_mgr") ?? get(root.state, "_data");
  if (!isNode(mgr, "BlockManager")) throw new Unsupported(`a DataFrame whose data is ${describe(mgr)}`);
  let axes: unknown[];
  let blocks: { values: unknown; locs: unknown }[];
  const st = mgr.state;
  if (Array.isArray(mgr.args[0]) && Array.isArray(mgr.args[1])) {
    axes = mgr.args[1];
    blocks = (mgr.args[0] as unknown[]).map((b) => {
      if (!isNode(b, "_unpickle_block")) throw new Unsupported(`a block stored as ${describe(b)}`);
      return { values: b.args[0], locs: b.args[1] };
    });
  } else if (Array.isArray(st) && st.length >= 4 && get(st[3], "0.14.1") !== undefined) {
    const s = get(st[3], "0.14.1");
    axes = get(s, "axes") as unknown[];
    blocks = (get(s, "blocks") as unknown[]).map((b) => ({ values: get(b, "values"), locs: get(b, "mgr_locs") }));
  } else {
    throw new Unsupported("a BlockManager layout this reader does not know");
  }
  const columns = indexValues(axes[0]).map((c) => String(c));
  const data: ArrayLike<unknown>[] = new Array(columns.length);
  let rows = -1;
  for (const b of blocks) {
    const arr = ndarray(b.values);
    const locs = placement(b.locs);
    const n = arr.shape.length === 2 ? arr.shape[1] : arr.shape[0];
    if (rows >= 0 && n !== rows) throw new Unsupported("blocks of different lengths");
    rows = n;
    if (arr.shape.length === 1) {
      if (locs.length !== 1) throw new Unsupported("a 1-D block placed in several columns");
      data[locs[0]] = arr.values;
      continue;
    }
    if (arr.shape[0] !== locs.length) throw new Unsupported("a block whose placement does not match its shape");
    for (let k = 0; k < locs.length; k++) {
      const start = k * n;
      data[locs[k]] =
        arr.values instanceof Float64Array
          ? arr.values.subarray(start, start + n)
          : Array.prototype.slice.call(arr.values, start, start + n);
    }
  }
  for (let j = 0; j < columns.length; j++) {
    if (!data[j]) throw new Unsupported(`no data for column "${columns[j]}"`);
  }
  return { columns, data, rows: Math.max(rows, 0) };
}

/** Reads a pandas DataFrame pickle into columns; throws InputError naming the file on failure. */
export async function readPickleFrame(file: string): Promise<Frame> {
  const bytes = await readInputFile(file);
  if (bytes.length === 0) throw new InputError("empty file", { file });
  let root: unknown;
  // pickleparser prints a console warning for 8-byte lengths above 2^53, which only damaged
  // files hold and which then fail anyway: keep the CLI's output to its one-line error.
  const warn = console.warn;
  const Decoder = globalThis.TextDecoder;
  try {
    console.warn = () => {};
    // pickleparser decodes str with a lenient TextDecoder, which turns bytes that are not UTF-8
    // (Python writes lone surrogates with 'surrogatepass') into U+FFFD without a word. For the
    // length of this synchronous parse, its decoders are strict.
    globalThis.TextDecoder = class extends Decoder {
      constructor(label?: string, options?: ConstructorParameters<typeof TextDecoder>[1]) {
        super(label, { ...options, fatal: label === undefined || /^utf-?8$/i.test(label) ? true : options?.fatal });
      }
    };
    // Each opcode consumes input and lengths are checked against it, so this is linear in the file.
    root = new Parser({ nameResolver: { resolve: nameResolver }, unpicklingTypeOfDictionary: "Map" }).parse(bytes);
  } catch (err) {
    if ((err as NodeJS.ErrnoException)?.code === "ERR_ENCODING_INVALID_ENCODED_DATA") {
      throw new InputError("a text in the pickle is not valid UTF-8 (a lone surrogate written with 'surrogatepass'?)", { file });
    }
    const msg = String((err as Error)?.message ?? err).split("\n")[0].slice(0, 200);
    throw new InputError(`cannot read the pickle: ${msg}; convert it to Parquet with: ${PICKLE_TO_PARQUET}`, { file });
  } finally {
    console.warn = warn;
    globalThis.TextDecoder = Decoder;
  }
  try {
    // An item needs at least a byte of the file (a memo reference takes two).
    itemBudget = bytes.length;
    return frameFrom(root);
  } catch (err) {
    if (!(err instanceof Unsupported)) {
      // The tree is the file's: a damaged one may hold anything where a list or a number belongs.
      if (err instanceof TypeError || err instanceof RangeError) {
        throw new InputError(`damaged or unsupported pandas pickle (${err.message}); convert it to Parquet with: ${PICKLE_TO_PARQUET}`, { file });
      }
      throw err;
    }
    throw new InputError(`unsupported pandas pickle: ${err.message}; convert it to Parquet with: ${PICKLE_TO_PARQUET}`, { file });
  } finally {
    itemBudget = Infinity;
  }
}

export async function openPickle(file: string, onProgress?: ProgressFn): Promise<RecordSource> {
  const frame = await readPickleFrame(file);
  if (frame.rows === 0) throw new InputError("the DataFrame has no rows (empty file)", { file });
  const label = basename(file);
  const { columns, data } = frame;
  async function* rows(): AsyncGenerator<SourceRow> {
    for (let i = 0; i < frame.rows; i++) {
      const values: Record<string, unknown> = {};
      for (let j = 0; j < columns.length; j++) values[columns[j]] = data[j][i];
      yield { row: i + 1, values };
      if ((i + 1) % 5000 === 0 || i + 1 === frame.rows) onProgress?.(i + 1, frame.rows, label);
    }
  }
  return { file, container: "pickle", columns, rows: rows() };
}
