/**
 * Exact int16 prefilter for the KNN router's tf engine on the wasm backend (used by knn.ts):
 * Int16Index quantises the training rows to int16 in a WebAssembly memory, a hand-assembled
 * wasm SIMD kernel computes integer similarities, and only the rows that can still reach the top
 * k get the float32 dot product. Hand-written because the float32 matMul was ~90% of a search
 * and no library offers an exact int16 SIMD dot product whose results are bitwise equal to
 * XNNPACK's float32 sequence; see the Int16Index class comment for the bound that makes it exact.
 */
import type { KnnIndex } from "./knn.js";
import { TopK } from "./top-k.js";

/** Queries per prefilter block: 128 x 30,000 int32 approximate similarities = 15 MB. */
export const PREFILTER_BLOCK = 128;
/** Training rows per kernel call (256 x 512 int16 = 256 KB: stays in L2 across a query block). */
const PREFILTER_CHUNK = 256;
/** Integer scale: a row of largest norm is quantised to norm 2^14, so no int32 sum can overflow. */
const QUANT = 16384;
/** A query with more candidates than this (or a block with more than this on average) is left to matMul. */
const MAX_CANDIDATES = 2048;
const MEAN_CANDIDATES = 256;

/**
 * Exact neighbour search through an int16 prefilter, for the tf engine on the wasm backend.
 *
 * The wasm backend's matMul (XNNPACK, float32, no FMA) computes each similarity as the
 * sequential float32 dot product s = fl(s + fl(q[t] * x[t])), t = 0..d-1 (checked bitwise by
 * test/routers/knn-search.test.ts); that float32 matMul was ~90% of a search. Here a wasm SIMD
 * kernel (i32x4.dot_i16x8_s, 4 queries x 2 rows a step, ~2.5x the matMul's speed) computes
 * every similarity approximately from int16-quantised rows, exactly in integers. With
 * E = a bound on |integer similarity - scale x float32 similarity| (quantisation error
 * 0.5 ||.||_1 per side, plus the float32 rounding bound gamma_d ||q|| ||x||), every row whose
 * float32 similarity reaches the k-th largest has an integer similarity >= (k-th largest
 * integer) - 2E. Only those candidates (~50 of 30,000 for k = 40 on random 512-dim data) get
 * the float32 dot product, in the same sequential order as XNNPACK; the top k of them, equal
 * values in row order, are bitwise the neighbours and similarities matMul + topk return.
 */
class Int16Index {
  private rows = 0;
  private d = 0;
  private dPad = 0;
  private rowsPad = 0;
  private scaleX = 1;
  private l1X = 0;
  private l2X = 0;
  private qOff = 0;
  private outOff = 0;
  /** The training array quantised here; weakly held, so an arena never keeps one alive. */
  private loaded: WeakRef<Float32Array> | null = null;
  private readonly candidates = new Int32Array(MAX_CANDIDATES);
  private readonly exact = new Float64Array(MAX_CANDIDATES);

  private constructor(
    private readonly memory: WasmMemory,
    private readonly dots: (q: number, nq: number, x: number, nx: number, rowBytes: number, out: number, outStride: number) => void,
  ) {}

  /** An empty arena, or null where WebAssembly SIMD is unavailable. */
  static create(): Int16Index | null {
    const kernel = int16Kernel();
    if (!kernel) return null;
    const exports = new wasmApi!.Instance(kernel).exports as { memory: WasmMemory; dots: Int16Index["dots"] };
    return new Int16Index(exports.memory, exports.dots);
  }

  holds(index: KnnIndex): boolean {
    return this.loaded !== null && this.loaded.deref() === index.embeddings && this.rows === index.rows && this.d === index.dimension;
  }

  /** Quantises the index's rows into this arena (its memory reused); false where the prefilter does not apply (non-finite or huge values). */
  load(index: KnnIndex): boolean {
    const { rows, dimension: d, embeddings: x } = index;
    this.loaded = null;
    const stats = rowNorms(x, rows, d);
    if (!stats || stats.l2 === 0) return false;
    this.rows = rows;
    this.d = d;
    this.dPad = Math.ceil(d / 8) * 8;
    this.rowsPad = Math.ceil(rows / 2) * 2;
    this.scaleX = QUANT / stats.l2;
    this.l1X = stats.l1;
    this.l2X = stats.l2;
    this.qOff = this.rowsPad * this.dPad * 2;
    this.outOff = this.qOff + PREFILTER_BLOCK * this.dPad * 2;
    const need = this.outOff + PREFILTER_BLOCK * this.rowsPad * 4;
    this.memory.grow(Math.ceil(Math.max(0, need - this.memory.buffer.byteLength) / 65536));
    // The padding (rows to an even count, columns to a multiple of 8) must be zero.
    const q16 = new Int16Array(this.memory.buffer, 0, this.rowsPad * this.dPad);
    if (this.dPad !== d || this.rowsPad !== rows) q16.fill(0);
    quantise(x, rows, d, this.scaleX, q16, this.dPad);
    this.loaded = new WeakRef(x);
    return true;
  }

  /**
   * Neighbours of queries [start, end) into sims / neighbours (stride k); false, having decided
   * nothing, when the block is left to matMul (a non-finite query, or too many candidates).
   */
  search(index: KnnIndex, queries: Float32Array, start: number, end: number, k: number, sims: Float32Array, neighbours: Int32Array): boolean {
    const { rows, dimension: d, embeddings: x } = index;
    const { dPad, rowsPad } = this;
    const nb = end - start;
    const block = queries.subarray(start * d, end * d);
    const stats = rowNorms(block, nb, d);
    if (!stats) return false;
    const scaleQ = stats.l2 > 0 ? QUANT / stats.l2 : 1;
    const nbPad = Math.ceil(nb / 4) * 4;
    const q16 = new Int16Array(this.memory.buffer, this.qOff, nbPad * dPad).fill(0);
    quantise(block, nb, d, scaleQ, q16, dPad);
    for (let c0 = 0; c0 < rowsPad; c0 += PREFILTER_CHUNK) {
      this.dots(this.qOff, nbPad, dPad * 2 * c0, Math.min(PREFILTER_CHUNK, rowsPad - c0), dPad * 2, this.outOff + 4 * c0, rowsPad * 4);
    }
    const approx = new Int32Array(this.memory.buffer, this.outOff, nb * rowsPad);
    const u = 2 ** -24;
    const gamma = (d * u) / (1 - d * u);
    const topA = new Float64Array(k);
    const top = new TopK(k);
    const f = Math.fround;
    let total = 0;
    for (let i = 0; i < nb; i++) {
      const base = i * rowsPad;
      // The k-th largest integer similarity (kth: topA[k - 1] once k are in, kept in a local).
      let filled = 0;
      let kth = -Infinity;
      for (let j = 0; j < rows; j++) {
        const v = approx[base + j];
        if (v <= kth) continue;
        let p = filled < k ? filled++ : k - 1;
        while (p > 0 && topA[p - 1] < v) {
          topA[p] = topA[p - 1];
          p--;
        }
        topA[p] = v;
        if (filled === k) kth = topA[k - 1];
      }
      let l1q = 0;
      let l2q = 0;
      for (let t = 0; t < d; t++) {
        const v = block[i * d + t];
        l1q += Math.abs(v);
        l2q += v * v;
      }
      const e = 0.5 * scaleQ * l1q + 0.5 * this.scaleX * this.l1X + 0.25 * dPad + scaleQ * this.scaleX * gamma * Math.sqrt(l2q) * this.l2X;
      const threshold = topA[k - 1] - 2 * e * (1 + 1e-9) - 4;
      let n = 0;
      for (let j = 0; j < rows; j++) {
        if (approx[base + j] < threshold) continue;
        if (n === MAX_CANDIDATES) return false;
        this.candidates[n++] = j;
      }
      total += n;
      if (total > MEAN_CANDIDATES * nb) return false;
      // The float32 similarity of each candidate, as matMul computes it; then the top k, equal
      // values in row order (candidates come in row order; insertion moves past strictly smaller).
      const qo = (start + i) * d;
      const cand = this.candidates;
      const exact = this.exact;
      // Four candidates at a time: each sum is a serial chain (add, round, add, ...), so four
      // independent chains run ~3x faster than one after another.
      let c = 0;
      for (; c + 4 <= n; c += 4) {
        const x0 = cand[c] * d;
        const x1 = cand[c + 1] * d;
        const x2 = cand[c + 2] * d;
        const x3 = cand[c + 3] * d;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let t = 0; t < d; t++) {
          const q = queries[qo + t];
          s0 = f(s0 + f(q * x[x0 + t]));
          s1 = f(s1 + f(q * x[x1 + t]));
          s2 = f(s2 + f(q * x[x2 + t]));
          s3 = f(s3 + f(q * x[x3 + t]));
        }
        exact[c] = s0;
        exact[c + 1] = s1;
        exact[c + 2] = s2;
        exact[c + 3] = s3;
      }
      for (; c < n; c++) {
        const xo = cand[c] * d;
        let s = 0;
        for (let t = 0; t < d; t++) s = f(s + f(queries[qo + t] * x[xo + t]));
        exact[c] = s;
      }
      top.reset();
      for (c = 0; c < n; c++) top.push(exact[c], cand[c]);
      top.writeTo(sims, neighbours, (start + i) * k);
    }
    return true;
  }
}

/**
 * Rows of x times scale (|y| <= 2^14), rounded to int16 rows of dPad values as
 * floor(y + 0.5), computed branch-free as ((y + 16384.5) | 0) - 16384 (Math.round, or a branch
 * on the sign of random data, was 2-3x slower); the error is at most 0.5 plus the rounding of
 * y + 16384.5 (~2^-38), which the prefilter's slack covers.
 */
function quantise(x: Float32Array, rows: number, d: number, scale: number, out: Int16Array, dPad: number): void {
  for (let i = 0; i < rows; i++) {
    const o = i * d;
    const p = i * dPad;
    for (let t = 0; t < d; t++) out[p + t] = ((x[o + t] * scale + 16384.5) | 0) - 16384;
  }
}

/** Largest row L1 and L2 norms, or null if a value is not finite or so large a float32 product could overflow. */
function rowNorms(x: Float32Array, rows: number, d: number): { l1: number; l2: number } | null {
  let l1 = 0;
  let l2 = 0;
  for (let i = 0; i < rows; i++) {
    let a = 0;
    let b = 0;
    for (let t = 0; t < d; t++) {
      const v = x[i * d + t];
      a += Math.abs(v);
      b += v * v;
    }
    if (!(b < 1e30)) return null; // NaN, Infinity, or norms near float32's range
    l1 = Math.max(l1, a);
    l2 = Math.max(l2, Math.sqrt(b));
  }
  return { l1, l2 };
}

/** Query blocks the prefilter searched and declined (left to matMul), since start: for tests and benchmarks. */
export const prefilterCounts = { searched: 0, declined: 0 };

/**
 * Prefilter arenas, most recently used first: each a wasm instance whose memory holds one
 * training matrix as int16 plus a query block's workspace (30,000 x 512: 30 MB + 15 MB). Fresh
 * wasm memory is slow to touch the first time (~0.15 s for 30 MB here), so a new training array
 * reuses the least recently used arena rather than a new instance. Bounded: ARENAS instances
 * (wasm memory does not shrink: each keeps the largest matrix it held), and no arena keeps a
 * training array alive.
 */
const ARENAS = 2;
const arenas: Int16Index[] = [];
/** Training arrays the prefilter does not apply to (weakly held). */
const unfiltered = new WeakSet<Float32Array>();

export function int16IndexOf(index: KnnIndex): Int16Index | null {
  if (unfiltered.has(index.embeddings)) return null;
  const i = arenas.findIndex((a) => a.holds(index));
  if (i >= 0) {
    arenas.unshift(...arenas.splice(i, 1));
    return arenas[0];
  }
  const arena = arenas.length < ARENAS ? Int16Index.create() : arenas.pop()!;
  if (!arena) return null;
  if (!arena.load(index)) {
    unfiltered.add(index.embeddings);
    arenas.push(arena);
    return null;
  }
  arenas.unshift(arena);
  return arena;
}

/** The WebAssembly API as used here (the project's TS libs have no DOM/WebAssembly types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
let kernelModule: object | null | undefined;

/** The compiled kernel, or null where WebAssembly SIMD is unavailable. */
function int16Kernel(): object | null {
  if (kernelModule === undefined) {
    try {
      kernelModule = wasmApi ? new wasmApi.Module(int16KernelBytes()) : null;
    } catch {
      kernelModule = null;
    }
  }
  return kernelModule;
}

/**
 * The kernel, assembled here (no build step): dots(q, nq, x, nx, rowBytes, out, outStride)
 * writes out[i * outStride + 4 j] = sum_t q_i[t] x_j[t] (int32) for int16 rows of rowBytes bytes
 * (a multiple of 16), nq a multiple of 4, nx of 2; a step takes 4 queries x 2 rows x 8 values.
 * It exports its memory (layout: Int16Index).
 */
function int16KernelBytes(): Uint8Array {
  const uleb = (n: number): number[] => {
    const o: number[] = [];
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n) b |= 0x80;
      o.push(b);
    } while (n);
    return o;
  };
  const name = (s: string) => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
  const get = (i: number) => [0x20, ...uleb(i)];
  const set = (i: number) => [0x21, ...uleb(i)];
  const c = (n: number) => [0x41, ...uleb(n)]; // non-negative constants below 64 (sleb128 = uleb128)
  const [add, mul, ltu, geu] = [[0x6a], [0x6c], [0x49], [0x4f]];
  const [block, loop, end] = [[0x02, 0x40], [0x03, 0x40], [0x0b]];
  const br = (depth: number) => [0x0c, depth];
  const brIf = (depth: number) => [0x0d, depth];
  const store32 = (offset: number) => [0x36, 2, ...uleb(offset)];
  const vload = [0xfd, 0x00, 0, 0]; // v128.load, align 1, offset 0
  const splat = [0xfd, 0x11]; // i32x4.splat
  const lane = (l: number) => [0xfd, 0x1b, l]; // i32x4.extract_lane
  const vadd = [0xfd, 0xae, 0x01]; // i32x4.add
  const vdot = [0xfd, 0xba, 0x01]; // i32x4.dot_i16x8_s
  // Params 0-6: q nq x nx rowBytes out outStride. Locals: i32 g j t xr q0..q3 o (7-15), v128 acc 8 (16-23), rows 2 (24, 25), query (26).
  const [Q, NQ, X, NX, RB, OUT, ST, G, J, T, XR, QA, O, A, XV] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 16, 24];
  const hsum = (a: number) => [...get(a), ...lane(0), ...get(a), ...lane(1), ...add, ...get(a), ...lane(2), ...get(a), ...lane(3), ...add, ...add];
  const body = [
    ...c(0), ...set(G),
    ...block, ...loop, // for g = 0; g < nq; g += 4
    ...get(G), ...get(NQ), ...geu, ...brIf(1),
    ...get(Q), ...get(G), ...get(RB), ...mul, ...add, ...set(QA),
    ...[1, 2, 3].flatMap((b) => [...get(QA + b - 1), ...get(RB), ...add, ...set(QA + b)]),
    ...get(OUT), ...get(G), ...get(ST), ...mul, ...add, ...set(O),
    ...c(0), ...set(J), ...get(X), ...set(XR),
    ...block, ...loop, // for j = 0; j < nx; j += 2
    ...get(J), ...get(NX), ...geu, ...brIf(1),
    ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap((i) => [...c(0), ...splat, ...set(A + i)]),
    ...c(0), ...set(T),
    ...loop, // for t = 0; t < rowBytes; t += 16
    ...get(XR), ...get(T), ...add, ...vload, ...set(XV),
    ...get(XR), ...get(RB), ...add, ...get(T), ...add, ...vload, ...set(XV + 1),
    ...[0, 1, 2, 3].flatMap((b) => [
      ...get(QA + b), ...get(T), ...add, ...vload, ...set(XV + 2),
      ...get(A + 2 * b), ...get(XV + 2), ...get(XV), ...vdot, ...vadd, ...set(A + 2 * b),
      ...get(A + 2 * b + 1), ...get(XV + 2), ...get(XV + 1), ...vdot, ...vadd, ...set(A + 2 * b + 1),
    ]),
    ...get(T), ...c(16), ...add, ...set(T),
    ...get(T), ...get(RB), ...ltu, ...brIf(0),
    ...end,
    ...[0, 1, 2, 3].flatMap((b) => [0, 1].flatMap((r) => [...get(O), ...get(ST), ...c(b), ...mul, ...add, ...hsum(A + 2 * b + r), ...store32(4 * r)])),
    ...get(O), ...c(8), ...add, ...set(O),
    ...get(XR), ...get(RB), ...c(2), ...mul, ...add, ...set(XR),
    ...get(J), ...c(2), ...add, ...set(J),
    ...br(0),
    ...end, ...end,
    ...get(G), ...c(4), ...add, ...set(G),
    ...br(0),
    ...end, ...end,
  ];
  const fn = [2, 9, 0x7f, 11, 0x7b, ...body, ...end]; // locals: 9 i32, 11 v128
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [1, 0x60, 7, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0, 1]),
    ...section(7, [2, ...name("memory"), 2, 0, ...name("dots"), 0, 0]),
    ...section(10, [1, ...uleb(fn.length), ...fn]),
  ]);
}
