/**
 * The `use-lite-static` embedder: a static token table distilled from use-lite itself
 * (model2vec-style), about a hundred times faster than running the model.
 *
 * The table: every piece of use-lite's own 8,000-piece SentencePiece vocabulary is run through
 * use-lite once, alone (a one-token text), giving 8,000 x 512 vectors. Each is centred on the
 * table's mean (what every token shares says nothing about a prompt) and multiplied by its SIF
 * weight a / (a + p(piece)), where p is the piece's unigram probability, exp of its score in the
 * SentencePiece model, so frequent pieces ("the", ".", "s") weigh little. At run time a text is
 * tokenised with use-lite's tokenizer and its vector is the L2-normalised sum of its pieces' rows.
 *
 * Why it is built on first use instead of shipped: the build reads only the use-lite weights
 * that npm already installed (no download) and takes about 5 s on one core, while the table is
 * 16 MB of float32 (8,000 x 512), more than the rest of the package's own files together. It is
 * written once to `<cache dir>/static/` (the embedding cache's directory: `--cache-dir`, else
 * $ROUTEKIT_CACHE_DIR, else ~/.cache/routekit) and reused. Two processes building it at once each write the same bytes
 * atomically; the later rename wins, and both are the same file.
 *
 * Identity: the embedder id carries the recipe version and a hash of the table's bytes, so the
 * embedding cache keeps apart vectors of different tables (another use-lite version, another
 * recipe, or a machine whose wasm build rounds differently: the table is always built on the wasm
 * backend, so that it does not depend on whether tfjs-node is installed). Vectors are a function of
 * the text alone, bitwise: the sum runs in float64 in token order, then is rounded once.
 *
 * The weighting (SIF with a = 1e-4, centring on the plain mean, no principal component removed)
 * was chosen among a few variants by how well the neighbours of RouterBench-subset prompts agree
 * with use-lite's (the first 400 prompts of each dataset), not by routing AIQ;
 * `npm run bench -- encoder` judges its routing against use-lite's.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Embedder } from "./embedder.js";
import { defaultCacheDir } from "./paths.js";
import { UseTokenizer, type Vocabulary } from "./use-tokenizer.js";
import { USE_LITE_DIM, useLiteModelDir, useLiteModelVersion } from "./use-lite-model.js";
import { InputError } from "../util/errors.js";
import { writeFileAtomic } from "../util/atomic.js";

/** Bump whenever the build recipe changes (what is embedded, centring, weighting, the file format). */
export const STATIC_RECIPE = 1;
/** SIF's smoothing constant: weight a / (a + p) for a piece of unigram probability p. */
export const STATIC_SIF_A = 1e-4;
const FORMAT = "routekit.static-table/1";
const MAGIC = Buffer.from("RKSTATIC\x01\n", "latin1");
/** The TensorFlow.js backend the table is built with (see loadOrBuildStaticTable). */
export const STATIC_BUILD_BACKEND = "wasm";
/** Texts per model call while building: one-token texts are never padded, so this changes no bit. */
const BUILD_CHUNK = 500;

export interface StaticTableHeader {
  format: string;
  recipe: number;
  /** The encoder the rows come from, e.g. `use-lite@0.2.0`. */
  source: string;
  /** The TensorFlow.js backend that ran it (its rounding shapes the rows). */
  backend: string;
  sifA: number;
  vocabulary: number;
  dimension: number;
  /** Rows built, when only some were (tests); null: all. Other rows are zero. */
  ids: number[] | null;
  /** sha256 of the float32 payload. */
  sha256: string;
}

export interface StaticTable {
  header: StaticTableHeader;
  /** vocabulary x dimension, row-major: weighted, centred token vectors. */
  rows: Float32Array;
}

/** What the build needs from use-lite: one-token texts in, unit vectors out (UseLiteModel). */
export interface TokenEncoder {
  readonly backend: string;
  embedTokens(tokens: readonly number[][]): Promise<Float32Array>;
}

export function useLiteVocabulary(): Promise<Vocabulary> {
  return readFile(join(useLiteModelDir(), "vocab.json"), "utf8").then((s) => JSON.parse(s) as Vocabulary);
}

/** Where the table for this use-lite version and recipe lives. */
export function staticTablePath(cacheDir: string = defaultCacheDir()): string {
  return join(cacheDir, "static", `use-lite-static-r${STATIC_RECIPE}-use-lite-${useLiteModelVersion()}.rktable`);
}

/**
 * Build the table (the recipe in the file comment). `ids`: build only these rows (tests), the
 * others stay zero. Deterministic: the same model and backend give the same bytes whatever `chunk`.
 */
export async function buildStaticTable(model: TokenEncoder, vocab: Vocabulary, opts: { ids?: readonly number[]; chunk?: number } = {}): Promise<StaticTable> {
  const dim = USE_LITE_DIM;
  const V = vocab.length;
  const ids = opts.ids ? [...new Set(opts.ids)].sort((a, b) => a - b) : Array.from({ length: V }, (_, i) => i);
  for (const id of ids) if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new RangeError(`token id ${id} out of range 0..${V - 1}`);
  const chunk = opts.chunk ?? BUILD_CHUNK;
  const raw = new Float32Array(ids.length * dim);
  for (let s = 0; s < ids.length; s += chunk) {
    const part = ids.slice(s, s + chunk);
    const v = await model.embedTokens(part.map((id) => [id]));
    if (v.length !== part.length * dim) throw new Error(`use-lite returned ${v.length} floats for ${part.length} tokens`);
    raw.set(v, s * dim);
  }
  const mean = new Float64Array(dim);
  for (let k = 0; k < ids.length; k++) for (let j = 0; j < dim; j++) mean[j] += raw[k * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= ids.length;
  const rows = new Float32Array(V * dim);
  ids.forEach((id, k) => {
    const w = STATIC_SIF_A / (STATIC_SIF_A + Math.exp(vocab[id][1]));
    for (let j = 0; j < dim; j++) rows[id * dim + j] = w * (raw[k * dim + j] - mean[j]);
  });
  const header: StaticTableHeader = {
    format: FORMAT,
    recipe: STATIC_RECIPE,
    source: `use-lite@${useLiteModelVersion()}`,
    backend: model.backend,
    sifA: STATIC_SIF_A,
    vocabulary: V,
    dimension: dim,
    ids: opts.ids ? ids : null,
    sha256: payloadHash(rows),
  };
  return { header, rows };
}

function payloadHash(rows: Float32Array): string {
  return createHash("sha256").update(new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength)).digest("hex");
}

/** The file: magic, u32 LE header length, header JSON, zero padding to 4 bytes, float32 LE rows. */
export function encodeStaticTable(t: StaticTable): Uint8Array {
  const json = Buffer.from(JSON.stringify(t.header), "utf8");
  const start = MAGIC.length + 4 + json.length;
  const pad = (4 - (start % 4)) % 4;
  const out = Buffer.alloc(start + pad + t.rows.byteLength);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(json.length, MAGIC.length);
  json.copy(out, MAGIC.length + 4);
  Buffer.from(t.rows.buffer, t.rows.byteOffset, t.rows.byteLength).copy(out, start + pad);
  return out;
}

/** Parse and check a table file's bytes; any damage is one InputError line naming the file. */
export function decodeStaticTable(bytes: Uint8Array, file: string): StaticTable {
  const damaged = (why: string) => new InputError(`the use-lite-static token table is damaged (${why}); delete the file and it is rebuilt on next use`, { file });
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw damaged("not a routekit static table: wrong magic bytes");
  const len = buf.readUInt32LE(MAGIC.length);
  if (len > buf.length - MAGIC.length - 4) throw damaged(`header length ${len} runs past the end of the file`);
  let header: StaticTableHeader;
  try {
    header = JSON.parse(buf.subarray(MAGIC.length + 4, MAGIC.length + 4 + len).toString("utf8"));
  } catch {
    throw damaged("its header is not JSON");
  }
  if (header?.format !== FORMAT) throw damaged(`format ${JSON.stringify(header?.format)}, expected ${FORMAT}`);
  const { vocabulary: V, dimension: D } = header;
  if (!Number.isInteger(V) || !Number.isInteger(D) || V < 1 || D < 1 || V * D > 1 << 28) throw damaged(`bad shape ${V} x ${D}`);
  const start = MAGIC.length + 4 + len;
  const offset = start + ((4 - (start % 4)) % 4);
  if (buf.length - offset !== V * D * 4) throw damaged(`${buf.length - offset} payload bytes for ${V} x ${D} floats`);
  const rows = new Float32Array(V * D);
  new Uint8Array(rows.buffer).set(buf.subarray(offset));
  if (payloadHash(rows) !== header.sha256) throw damaged("payload checksum mismatch");
  return { header, rows };
}

/**
 * The table at `path`, built (in this thread, from the installed use-lite weights) and written
 * there if absent. A table for another recipe, use-lite version or vocabulary is refused.
 */
export async function loadOrBuildStaticTable(path: string = staticTablePath()): Promise<StaticTable> {
  let bytes: Buffer | null = null;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new InputError(`cannot read the use-lite-static token table: ${(err as Error).message}`, { file: path });
  }
  if (bytes) {
    const t = decodeStaticTable(bytes, path);
    const want = `use-lite@${useLiteModelVersion()}`;
    if (t.header.recipe !== STATIC_RECIPE || t.header.source !== want || t.header.ids !== null) {
      throw new InputError(`the use-lite-static token table was built by recipe ${t.header.recipe} from ${t.header.source}${t.header.ids ? " on a subset of the vocabulary" : ""}, not recipe ${STATIC_RECIPE} from ${want}; delete the file to rebuild it`, { file: path });
    }
    return t;
  }
  const { UseLiteModel } = await import("./use-lite-model.js");
  // Always the wasm backend (a dependency, so present everywhere), never the fastest one present:
  // tfjs-node rounds differently, and the table, hence the id a saved router records, would then
  // depend on what else the machine has installed. The build is a one-off 5 s either way.
  const model = await UseLiteModel.load(STATIC_BUILD_BACKEND);
  let t: StaticTable;
  try {
    t = await buildStaticTable(model, await useLiteVocabulary());
  } finally {
    model.dispose();
  }
  await writeFileAtomic(path, encodeStaticTable(t));
  return t;
}

const loaded = new Map<string, Promise<StaticTable>>();

/** loadOrBuildStaticTable, once per path and process (the id and the embedder both need it). */
function tableAt(path: string): Promise<StaticTable> {
  let p = loaded.get(path);
  if (!p) {
    p = loadOrBuildStaticTable(path);
    loaded.set(path, p);
    // A failure is not remembered: the user may delete a damaged file and retry.
    p.catch(() => loaded.delete(path));
  }
  return p;
}

/** The cache identity: recipe and use-lite version, and a hash of the table's bytes. */
export function staticEmbedderIdOf(header: StaticTableHeader): string {
  return `use-lite-static@${header.source.replace(/^use-lite@/, "")}-r${header.recipe}:${header.sha256.slice(0, 16)}`;
}

/** The id of the table at `path` (built first if absent). */
export async function useLiteStaticEmbedderId(path: string = staticTablePath()): Promise<string> {
  return staticEmbedderIdOf((await tableAt(path)).header);
}

/** An embedder over a table already in memory (tests build small ones). */
export function staticEmbedderFrom(table: StaticTable, tokenizer: UseTokenizer): Embedder {
  const { rows } = table;
  const dim = table.header.dimension;
  const V = table.header.vocabulary;
  const acc = new Float64Array(dim);
  const embedOne = (text: string, out: Float32Array, at: number) => {
    let ids = tokenizer.encode(text);
    // An empty text has no token; use-lite gives it the unknown token, and so do we.
    if (ids.length === 0) ids = [0];
    acc.fill(0);
    for (const id of ids) {
      if (!(id >= 0 && id < V)) throw new Error(`token id ${id} outside the table's ${V} rows`);
      const o = id * dim;
      for (let j = 0; j < dim; j++) acc[j] += rows[o + j];
    }
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += acc[j] * acc[j];
    if (ss > 0) {
      const inv = 1 / Math.sqrt(ss);
      for (let j = 0; j < dim; j++) out[at + j] = acc[j] * inv;
    } else {
      // Only tokens whose rows are zero (a subset table): a fixed unit vector keeps rows unit-norm.
      out[at] = 1;
    }
  };
  return {
    id: staticEmbedderIdOf(table.header),
    dimension: dim,
    async embed(texts, onProgress) {
      const out = new Float32Array(texts.length * dim);
      for (let i = 0; i < texts.length; i++) {
        embedOne(texts[i], out, i * dim);
        if (onProgress && (i % 256 === 255 || i === texts.length - 1)) onProgress(i + 1, texts.length);
      }
      return out;
    },
    async close() {},
  };
}

export interface UseLiteStaticOptions {
  /** The table file (default staticTablePath(): under the default cache dir). Built there if absent. */
  tablePath?: string;
}

export async function createUseLiteStaticEmbedder(opts: UseLiteStaticOptions = {}): Promise<Embedder> {
  const [table, vocab] = await Promise.all([tableAt(opts.tablePath ?? staticTablePath()), useLiteVocabulary()]);
  if (vocab.length !== table.header.vocabulary) {
    throw new InputError(`the use-lite-static token table has ${table.header.vocabulary} rows for a vocabulary of ${vocab.length}; delete it to rebuild it`, { file: opts.tablePath ?? staticTablePath() });
  }
  return staticEmbedderFrom(table, new UseTokenizer(vocab));
}
