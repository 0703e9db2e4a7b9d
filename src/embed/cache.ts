/**
 * The embedding cache: vectors keyed by (embedder id, preparation options, sha256 of the
 * prepared text), in Apache Arrow IPC files.
 *
 * Layout: `<cacheDir>/embeddings/v1/<embedder>/<preparation>/shard-*.arrow`, one directory per
 * (embedder id, preparation) key, so any change of encoder, version or options lands in a
 * fresh directory. Each shard is written atomically (staged, then renamed) as soon as its
 * vectors exist: an interrupted run keeps every finished shard and the rerun resumes from
 * there. A shard carries a sha256 of its content; one that fails to parse or to verify is
 * deleted and its texts are computed again. Keys hold no dataset name, so datasets that
 * repeat prompts share vectors, and concurrent runs only ever add files.
 */
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { Field, FixedSizeList, Float32, Schema, Table, Utf8, makeData, makeVector, tableFromIPC, tableToIPC, vectorFromArray } from "apache-arrow";
import type { PreparationOptions } from "./embedder.js";
import { writeFileAtomic } from "../util/atomic.js";

export const CACHE_FORMAT = "routekit.embeddings/1";
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
  return join(cacheDir, "embeddings", "v1", `${slug}-${shortHash(embedderId)}`, shortHash(canonicalPreparation(prep)));
}

function checksum(hashes: readonly string[], vectors: Float32Array): string {
  const h = createHash("sha256");
  h.update(hashes.join("\n"));
  h.update(new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength));
  return h.digest("hex");
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
    ["sha256", checksum(hashes, vectors)],
  ]);
  return tableToIPC(new Table(new Schema(table.schema.fields as Field[], metadata), table.batches), "file");
}

/** Parse and verify one shard; throws on anything unexpected. */
export function decodeShard(bytes: Uint8Array, embedderId: string): { dim: number; hashes: string[]; vectors: Float32Array } {
  const table = tableFromIPC(bytes);
  const md = table.schema.metadata;
  if (md.get("format") !== CACHE_FORMAT) throw new Error("not a routekit embedding shard");
  if (md.get("embedder") !== embedderId) throw new Error(`shard of embedder ${md.get("embedder")}`);
  const dim = Number(md.get("dimension"));
  const hashCol = table.getChild("hash");
  const vecCol = table.getChild("vector");
  if (!hashCol || !vecCol || !(dim > 0)) throw new Error("shard lacks columns");
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
  if (checksum(hashes, vectors) !== md.get("sha256")) throw new Error("shard checksum mismatch");
  return { dim, hashes, vectors };
}

interface Slot {
  vectors: Float32Array;
  row: number;
}

export class EmbeddingCache {
  private readonly index = new Map<string, Slot>();
  private shardFiles: string[] = [];
  /** Shards found corrupt (unreadable, truncated, failing their checksum) and deleted. */
  readonly discarded: string[] = [];
  private dim = 0;

  private constructor(
    readonly dir: string,
    readonly embedderId: string,
    readonly preparation: PreparationOptions,
  ) {}

  /** Load every shard of the key into an in-memory index (hash -> row). */
  static async open(cacheDir: string, embedderId: string, prep: PreparationOptions, expectedDim?: number): Promise<EmbeddingCache> {
    const c = new EmbeddingCache(cacheKeyDir(cacheDir, embedderId, prep), embedderId, prep);
    const names = (await readdir(c.dir).catch(() => [] as string[])).filter((f) => f.startsWith("shard-") && f.endsWith(".arrow")).sort();
    const loaded = await Promise.all(
      names.map(async (name) => {
        const path = join(c.dir, name);
        let bytes: Buffer;
        try {
          bytes = await readFile(path);
        } catch {
          return null; // removed by a concurrent compaction: its rows are in the merged shard
        }
        try {
          const s = decodeShard(bytes, embedderId);
          if (expectedDim !== undefined && s.dim !== expectedDim) throw new Error(`dimension ${s.dim}, expected ${expectedDim}`);
          return { name, ...s };
        } catch {
          c.discarded.push(path);
          await rm(path, { force: true });
          return null;
        }
      }),
    );
    for (const s of loaded) {
      if (!s) continue;
      if (c.dim && s.dim !== c.dim) {
        // Shards disagreeing on the dimension cannot both be right: keep the first seen.
        c.discarded.push(join(c.dir, s.name));
        await rm(join(c.dir, s.name), { force: true });
        continue;
      }
      c.dim = s.dim;
      c.shardFiles.push(s.name);
      s.hashes.forEach((h, row) => c.index.set(h, { vectors: s.vectors, row }));
    }
    return c;
  }

  get size(): number {
    return this.index.size;
  }

  get shards(): number {
    return this.shardFiles.length;
  }

  get dimension(): number {
    return this.dim;
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

  /** Write one shard atomically and index it. */
  async append(hashes: readonly string[], vectors: Float32Array, dim: number): Promise<void> {
    if (!hashes.length) return;
    if (this.dim && dim !== this.dim) throw new Error(`cache holds ${this.dim}-dimensional vectors, got ${dim}`);
    const name = `shard-${Date.now().toString(36).padStart(9, "0")}-${process.pid}-${randomBytes(4).toString("hex")}.arrow`;
    await writeFileAtomic(join(this.dir, name), encodeShard(this.embedderId, this.preparation, dim, hashes, vectors));
    await writeFileAtomic(join(this.dir, "key.json"), `${JSON.stringify({ format: CACHE_FORMAT, embedder: this.embedderId, preparation: this.preparation }, null, 2)}\n`);
    this.dim = dim;
    this.shardFiles.push(name);
    const copy = vectors.slice();
    hashes.forEach((h, row) => this.index.set(h, { vectors: copy, row }));
  }

  /** Merge all shards into one when there are many (loading then reads one file). */
  async compact(force = false): Promise<boolean> {
    if (!force && this.shardFiles.length <= COMPACT_ABOVE_SHARDS) return false;
    if (this.shardFiles.length <= 1) return false;
    const hashes = [...this.index.keys()];
    const d = this.dim;
    const vectors = new Float32Array(hashes.length * d);
    hashes.forEach((h, i) => this.copyTo(h, vectors, i));
    const old = this.shardFiles;
    this.shardFiles = [];
    // Write the merged shard first: a crash in between leaves duplicates, never a loss.
    await this.append(hashes, vectors, d);
    await Promise.all(old.map((f) => rm(join(this.dir, f), { force: true })));
    return true;
  }
}
