/**
 * The embedding cache: vectors keyed by (embedder id, preparation options, sha256 of the
 * prepared text), in shard files.
 *
 * Layout: `<cacheDir>/embeddings/v2/<embedder>/<preparation>/shard-*.rkshard`, one directory
 * per (embedder id, preparation) key, so any change of encoder, version or options lands in a
 * fresh directory. Each shard is written atomically (staged, then renamed) as soon as its
 * vectors exist: an interrupted run keeps every finished shard and the rerun resumes from
 * there. Shards are written under the key directory's lock (lock.ts), so concurrent runs do not
 * compute and store the same rows twice; keys hold no dataset name, so datasets that repeat
 * prompts share vectors.
 *
 * A shard file is `SHARD_MAGIC` (8 bytes), the sha256 of everything after byte 40 (32 bytes),
 * then an Arrow IPC file (columns `hash`, `vector`). The checksum sits outside the Arrow payload
 * and is verified before apache-arrow sees a byte: apache-arrow trusts the lengths and offsets
 * in its input, and some one-byte damages of a shard made it loop for ever (v1 kept its checksum
 * inside the Arrow metadata, so it was only checked after a parse that could hang). A shard
 * that fails the check is deleted and its texts are computed again.
 *
 * v1 -> v2 also flushed vectors computed before use-lite became batch-independent (see
 * use-lite-model.ts): a v1 cache could hold either of two values for some texts.
 */
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Field, FixedSizeList, Float32, Schema, Table, Utf8, makeData, makeVector, tableToIPC, vectorFromArray } from "apache-arrow";
import type { PreparationOptions } from "./embedder.js";
import { readArrowIpcGuarded } from "../data/arrow-guard.js";
import { writeFileAtomic } from "../util/atomic.js";

export const CACHE_FORMAT = "routekit.embeddings/2";
/** The cache path's version segment: bump it with any change of layout or of vector values. */
export const CACHE_VERSION_DIR = "v2";
/** First bytes of every shard file. */
export const SHARD_MAGIC = Buffer.from("RKEMB\0\x02\n", "latin1");
const HEADER_BYTES = SHARD_MAGIC.length + 32;
export const SHARD_PREFIX = "shard-";
export const SHARD_SUFFIX = ".rkshard";
/** Above this many shards in one key directory, they are merged into one. */
export const COMPACT_ABOVE_SHARDS = 16;

export function textHash(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

function shortHash(s: string): string {
  return createHash("sha256").update(s).digest("hex").slice(0, 12);
}

function canonicalPreparation(p: PreparationOptions): string {
  return JSON.stringify({ unwrapList: p.unwrapList, stripSharedPrefix: p.stripSharedPrefix, maxChars: p.maxChars, keep: p.keep });
}

/** The directory of one (embedder, preparation) key. */
export function cacheKeyDir(cacheDir: string, embedderId: string, prep: PreparationOptions): string {
  const slug = embedderId.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 60);
  return join(cacheDir, "embeddings", CACHE_VERSION_DIR, `${slug}-${shortHash(embedderId)}`, shortHash(canonicalPreparation(prep)));
}

/** The lock file of a key directory (see lock.ts). */
export function cacheLockPath(keyDir: string): string {
  return join(keyDir, "lock");
}

export function encodeShard(embedderId: string, prep: PreparationOptions, dim: number, hashes: readonly string[], vectors: Float32Array): Uint8Array {
  const n = hashes.length;
  if (vectors.length !== n * dim) throw new Error(`shard: ${vectors.length} floats for ${n} x ${dim}`);
  const child = makeData({ type: new Float32(), length: n * dim, nullCount: 0, data: vectors });
  const vec = makeVector(makeData({ type: new FixedSizeList(dim, new Field("item", new Float32(), false)), length: n, nullCount: 0, child }));
  const table = new Table({ hash: vectorFromArray(hashes as string[], new Utf8()), vector: vec });
  const metadata = new Map([
    ["format", CACHE_FORMAT],
    ["embedder", embedderId],
    ["preparation", canonicalPreparation(prep)],
    ["dimension", String(dim)],
  ]);
  const payload = tableToIPC(new Table(new Schema(table.schema.fields as Field[], metadata), table.batches), "file");
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  out.set(SHARD_MAGIC, 0);
  out.set(createHash("sha256").update(payload).digest(), SHARD_MAGIC.length);
  out.set(payload, HEADER_BYTES);
  return out;
}

/**
 * Verify and parse one shard; throws on anything unexpected. Nothing reaches apache-arrow
 * unless the whole-file checksum holds, so a damaged file cannot make the parser loop.
 */
export function decodeShard(bytes: Uint8Array, embedderId: string): { dim: number; hashes: string[]; vectors: Float32Array } {
  if (bytes.length < HEADER_BYTES || !Buffer.from(bytes.buffer, bytes.byteOffset, SHARD_MAGIC.length).equals(SHARD_MAGIC)) {
    throw new Error("not a routekit embedding shard");
  }
  const payload = bytes.subarray(HEADER_BYTES);
  const sum = createHash("sha256").update(payload).digest();
  if (!sum.equals(Buffer.from(bytes.buffer, bytes.byteOffset + SHARD_MAGIC.length, 32))) throw new Error("shard checksum mismatch");
  // The checksum rules out damage; the structural guard also bounds the work on a shard that
  // someone wrote with a matching checksum by hand (defence in depth, cheap on our small files).
  const table = readArrowIpcGuarded(payload);
  const md = table.schema.metadata;
  if (md.get("format") !== CACHE_FORMAT) throw new Error("not a routekit embedding shard");
  if (md.get("embedder") !== embedderId) throw new Error(`shard of embedder ${md.get("embedder")}`);
  const dim = Number(md.get("dimension"));
  const hashCol = table.getChild("hash");
  const vecCol = table.getChild("vector");
  if (!hashCol || !vecCol || !(Number.isInteger(dim) && dim > 0)) throw new Error("shard lacks columns");
  const n = table.numRows;
  const hashes = Array.from(hashCol.toArray() as ArrayLike<string>);
  const vectors = new Float32Array(n * dim);
  let off = 0;
  for (const d of vecCol.data) {
    const values = d.children[0].values as Float32Array;
    const part = values.subarray(d.children[0].offset + d.offset * dim, d.children[0].offset + (d.offset + d.length) * dim);
    vectors.set(part, off);
    off += part.length;
  }
  if (off !== n * dim || hashes.length !== n) throw new Error("shard has inconsistent lengths");
  return { dim, hashes, vectors };
}

interface Slot {
  vectors: Float32Array;
  row: number;
}

/** Files a killed writer may leave behind, cleaned up by the next lock holder once this old. */
const LEFTOVER_AGE_MS = 60_000;

export class EmbeddingCache {
  private readonly index = new Map<string, Slot>();
  /** Shard files loaded into the index, with their row counts. */
  private readonly loaded = new Map<string, number>();
  /** Shards found corrupt (unreadable, truncated, failing their checksum) and deleted. */
  readonly discarded: string[] = [];
  private dim = 0;

  private constructor(
    readonly dir: string,
    readonly embedderId: string,
    readonly preparation: PreparationOptions,
    private readonly expectedDim?: number,
  ) {}

  /** Load every shard of the key into an in-memory index (hash -> row). */
  static async open(cacheDir: string, embedderId: string, prep: PreparationOptions, expectedDim?: number): Promise<EmbeddingCache> {
    const c = new EmbeddingCache(cacheKeyDir(cacheDir, embedderId, prep), embedderId, prep, expectedDim);
    await c.refresh();
    return c;
  }

  private async listShards(): Promise<string[]> {
    return (await readdir(this.dir).catch(() => [] as string[])).filter((f) => f.startsWith(SHARD_PREFIX) && f.endsWith(SHARD_SUFFIX)).sort();
  }

  /**
   * Load the shards written since the last look (by another process, typically while we waited
   * for the lock). Shards that vanished were merged by a compaction into a shard we load now;
   * the vectors already indexed stay valid.
   */
  async refresh(): Promise<void> {
    const fresh = (await this.listShards()).filter((n) => !this.loaded.has(n));
    const parts = await Promise.all(
      fresh.map(async (name) => {
        const path = join(this.dir, name);
        let bytes: Buffer;
        try {
          bytes = await readFile(path);
        } catch {
          return null; // removed by a concurrent compaction: its rows are in the merged shard
        }
        try {
          const s = decodeShard(bytes, this.embedderId);
          if (this.expectedDim !== undefined && s.dim !== this.expectedDim) throw new Error(`dimension ${s.dim}, expected ${this.expectedDim}`);
          return { name, ...s };
        } catch {
          this.discarded.push(path);
          await rm(path, { force: true });
          return null;
        }
      }),
    );
    for (const s of parts) {
      if (!s) continue;
      if (this.dim && s.dim !== this.dim) {
        // Shards disagreeing on the dimension cannot both be right: keep the first seen.
        this.discarded.push(join(this.dir, s.name));
        await rm(join(this.dir, s.name), { force: true });
        continue;
      }
      this.dim = s.dim;
      this.loaded.set(s.name, s.hashes.length);
      s.hashes.forEach((h, row) => this.index.set(h, { vectors: s.vectors, row }));
    }
  }

  get size(): number {
    return this.index.size;
  }

  get shards(): number {
    return this.loaded.size;
  }

  /** Rows stored in the loaded shards; above `size` when shards repeat rows. */
  get storedRows(): number {
    let n = 0;
    for (const r of this.loaded.values()) n += r;
    return n;
  }

  get dimension(): number {
    return this.dim;
  }

  /** Many shards, or rows stored twice (by concurrent writers of an older routekit, or a lost lock race). */
  get needsCompaction(): boolean {
    return this.loaded.size > COMPACT_ABOVE_SHARDS || (this.loaded.size > 1 && this.storedRows > this.size);
  }

  has(hash: string): boolean {
    return this.index.has(hash);
  }

  /** Copy the cached vector of `hash` into `out` at row `row`; false if not cached. */
  copyTo(hash: string, out: Float32Array, row: number): boolean {
    const s = this.index.get(hash);
    if (!s) return false;
    const d = this.dim;
    out.set(s.vectors.subarray(s.row * d, (s.row + 1) * d), row * d);
    return true;
  }

  /** Write one shard atomically and index it. Call with the key's lock held (see lock.ts). */
  async append(hashes: readonly string[], vectors: Float32Array, dim: number): Promise<void> {
    if (!hashes.length) return;
    if (this.dim && dim !== this.dim) throw new Error(`cache holds ${this.dim}-dimensional vectors, got ${dim}`);
    const name = `${SHARD_PREFIX}${Date.now().toString(36).padStart(9, "0")}-${process.pid}-${randomBytes(4).toString("hex")}${SHARD_SUFFIX}`;
    await writeFileAtomic(join(this.dir, name), encodeShard(this.embedderId, this.preparation, dim, hashes, vectors));
    await writeFileAtomic(join(this.dir, "key.json"), `${JSON.stringify({ format: CACHE_FORMAT, embedder: this.embedderId, preparation: this.preparation }, null, 2)}\n`);
    this.dim = dim;
    this.loaded.set(name, hashes.length);
    const copy = vectors.slice();
    hashes.forEach((h, row) => this.index.set(h, { vectors: copy, row }));
  }

  /**
   * Merge all loaded shards into one, each row once, when there are many or some rows are
   * stored twice (loading then reads one file). Call with the key's lock held, after refresh().
   */
  async compact(force = false): Promise<boolean> {
    if (!force && !this.needsCompaction) return false;
    if (this.loaded.size <= 1) return false;
    const hashes = [...this.index.keys()];
    const d = this.dim;
    const vectors = new Float32Array(hashes.length * d);
    hashes.forEach((h, i) => this.copyTo(h, vectors, i));
    const old = [...this.loaded.keys()];
    // Write the merged shard first: a crash in between leaves duplicates, never a loss.
    await this.append(hashes, vectors, d);
    for (const f of old) this.loaded.delete(f);
    await Promise.all(old.map((f) => rm(join(this.dir, f), { force: true })));
    return true;
  }

  /**
   * Remove what killed writers left: staging files of shards and private lock files. Call with
   * the lock held (every writer holds it, so no live writer owns them); the age check spares a
   * waiter's lock file that exists for a few milliseconds.
   */
  async removeLeftovers(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const now = Date.now();
    await Promise.all(
      names
        .filter((f) => (f.startsWith(".") && f.includes(".tmp-")) || (f.startsWith("lock.") && f !== "lock"))
        .map(async (f) => {
          const st = await stat(join(this.dir, f)).catch(() => null);
          if (st && now - st.mtimeMs > LEFTOVER_AGE_MS) await rm(join(this.dir, f), { force: true, recursive: true });
        }),
    );
  }
}
