/**
 * Embed a table's prompts (or new prompts at route time) through the cache: prepare, hash,
 * serve what the cache holds, compute the rest in shards that are saved as they finish.
 * The embedder is only loaded when something is missing, so a cached rerun costs file reads.
 */
import type { Embedder, EmbeddingMatrix, PreparationOptions } from "./embedder.js";
import type { OutcomeTable } from "../data/table.js";
import type { ProgressFn } from "../util/progress.js";
import { EmbeddingCache, cacheLockPath, textHash } from "./cache.js";
import { acquireLock, tryLock } from "./lock.js";
import { DEFAULT_EMBEDDER_SPEC, createEmbedder, embedderIdOf } from "./registry.js";
import { type PrefixMap, learnSharedPrefixes, normalizePreparation, prepareTexts } from "./prepare.js";
import { defaultCacheDir } from "./paths.js";
import { PartialEmbedError } from "./partial.js";

export interface EmbedTableOptions {
  /** Embedder spec (default `use-lite`); ignored when `embedder` is given. */
  spec?: string;
  /** A ready embedder (the caller keeps ownership and closes it). */
  embedder?: Embedder;
  preparation?: PreparationOptions;
  /**
   * Shared prefixes learned at training time (see learnSharedPrefixes). Given: exactly these
   * are stripped. Absent: they are learned from the texts and evals being embedded.
   */
  prefixes?: PrefixMap;
  /** Cache directory (default defaultCacheDir()); `false` disables the cache. */
  cacheDir?: string | false;
  modelDir?: string;
  threads?: number;
  onProgress?: ProgressFn;
  /** Texts per cache shard (default 256, or more for an embedder with more textsInFlight; $ROUTEKIT_EMBED_SHARD_SIZE): the most an interrupt can lose. */
  shardSize?: number;
}

export interface EmbedStats {
  texts: number;
  cacheHits: number;
  computed: number;
  seconds: number;
}

export interface EmbedResult {
  matrix: EmbeddingMatrix;
  stats: EmbedStats;
  /** The prefixes that were stripped, by eval: store them with a router to strip alike at route time. */
  prefixes: PrefixMap;
}

const DEFAULT_SHARD_SIZE = 256;

/** Texts embedded and written per shard: as given (option, $ROUTEKIT_EMBED_SHARD_SIZE), else the default or what the embedder can take at once. */
function shardSizeOf(opts: EmbedTableOptions, embedder: Embedder): number {
  const given = opts.shardSize ?? (process.env.ROUTEKIT_EMBED_SHARD_SIZE ? Number(process.env.ROUTEKIT_EMBED_SHARD_SIZE) : undefined);
  const n = given ?? Math.max(DEFAULT_SHARD_SIZE, embedder.textsInFlight ?? 0);
  if (!Number.isInteger(n) || n < 1) throw new Error(`shard size must be a positive integer, got ${n}`);
  return n;
}

export async function embedTexts(texts: readonly string[], evals: readonly string[] | null, opts: EmbedTableOptions = {}): Promise<EmbedResult> {
  const t0 = performance.now();
  const prep = normalizePreparation(opts.preparation);
  const prefixes = opts.prefixes ?? (prep.stripSharedPrefix && evals ? learnSharedPrefixes(texts, evals, prep) : {});
  const prepared = prepareTexts(texts, evals, prep, prefixes);
  const spec = opts.spec ?? DEFAULT_EMBEDDER_SPEC;
  // use-lite-static builds its table under the cache dir given (else the default one).
  const builtIn = typeof opts.cacheDir === "string" ? opts.cacheDir : undefined;
  const embedderId = opts.embedder?.id ?? (await embedderIdOf(spec, { cacheDir: builtIn }));
  const n = prepared.length;
  const hashes = prepared.map(textHash);
  const progress = opts.onProgress ?? (() => {});

  const cache = opts.cacheDir === false ? null : await EmbeddingCache.open(opts.cacheDir ?? defaultCacheDir(), embedderId, prep, opts.embedder?.dimension);
  // Unique missing texts, in first-seen order.
  const missingOf = () => {
    const list: string[] = [];
    const text = new Map<string, string>();
    for (let i = 0; i < n; i++) {
      const h = hashes[i];
      if (cache?.has(h) || text.has(h)) continue;
      text.set(h, prepared[i]);
      list.push(h);
    }
    return { list, text };
  };
  let { list: missing, text: missingText } = missingOf();

  const computed = new Map<string, { vectors: Float32Array; row: number }>();
  let dim = cache?.dimension || opts.embedder?.dimension || 0;
  // Writers of one cache key take its lock, so that concurrent runs do not all compute the
  // same rows: a waiter reloads the shards written meanwhile and computes only what is left.
  // With nothing to compute, the lock is only wanted for an optional compaction: skip it if it is
  // held, or if the cache cannot be written (a read-only cache still serves its vectors).
  const onWait = (holder: { pid: number } | null) =>
    progress(n - missing.length, n, `waiting for another routekit process${holder ? ` (pid ${holder.pid})` : ""} embedding into the same cache`);
  const lock = !cache
    ? null
    : missing.length
      ? await acquireLock(cacheLockPath(cache.dir), { onWait })
      : cache.needsCompaction
        ? await tryLock(cacheLockPath(cache.dir)).catch(() => null)
        : null;
  let hits = 0;
  try {
    if (lock && cache) {
      await cache.refresh();
      await cache.removeLeftovers();
      ({ list: missing, text: missingText } = missingOf());
      dim ||= cache.dimension;
    }
    for (const h of hashes) if (cache?.has(h)) hits++;
    progress(hits, n, "cached");
    if (missing.length) {
      const embedder = opts.embedder ?? (await createEmbedder(spec, { modelDir: opts.modelDir, threads: opts.threads, cacheDir: builtIn }));
      try {
        dim = embedder.dimension;
        if (cache?.dimension && cache.dimension !== dim) {
          // Same id, another dimension: a remote endpoint now serves another model under the name.
          throw new Error(`${embedder.id} now gives ${dim}-dimensional vectors, but the cache holds ${cache.dimension}-dimensional ones under that id (${cache.dir}); remove that directory or use another --cache-dir`);
        }
        const size = shardSizeOf(opts, embedder);
        // Rows still to fill per hash, to report progress in rows (duplicates count once each).
        const rowsOf = new Map<string, number>();
        for (const h of hashes) if (missingText.has(h)) rowsOf.set(h, (rowsOf.get(h) ?? 0) + 1);
        let done = hits;
        for (let s = 0; s < missing.length; s += size) {
          const chunk = missing.slice(s, s + size);
          const before = done;
          let vectors: Float32Array;
          try {
            vectors = await embedder.embed(
              chunk.map((h) => missingText.get(h)!),
              (k, total) => progress(before + Math.round((k / total) * chunk.reduce((a, h) => a + rowsOf.get(h)!, 0)), n),
            );
          } catch (err) {
            // The rows an embedder finished before failing (a remote endpoint that stopped
            // answering) are stored first, so that the rerun asks only for the rest.
            if (cache && err instanceof PartialEmbedError && err.rows.length && err.vectors.length === err.rows.length * dim) {
              await cache.append(err.rows.map((r) => chunk[r]), err.vectors, dim).catch(() => {}); // the embedder's error is the one to report
            }
            throw err;
          }
          if (vectors.length !== chunk.length * dim) throw new Error(`embedder ${embedder.id} returned ${vectors.length} floats for ${chunk.length} x ${dim}`);
          if (cache) await cache.append(chunk, vectors, dim);
          chunk.forEach((h, row) => computed.set(h, { vectors, row }));
          for (const h of chunk) done += rowsOf.get(h)!;
          progress(done, n);
        }
      } finally {
        if (!opts.embedder) await embedder.close();
      }
    }
    if (lock && cache) await cache.compact();
  } finally {
    await lock?.release();
  }
  if (!dim) {
    // Nothing to embed and nothing cached (no texts): the dimension still has to be known.
    const e = opts.embedder ?? (await createEmbedder(spec, { modelDir: opts.modelDir, threads: opts.threads, cacheDir: builtIn }));
    dim = e.dimension;
    if (!opts.embedder) await e.close();
  }
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const h = hashes[i];
    const c = computed.get(h);
    if (c) data.set(c.vectors.subarray(c.row * dim, (c.row + 1) * dim), i * dim);
    else if (!cache?.copyTo(h, data, i)) throw new Error(`internal: no vector for row ${i}`);
  }
  progress(n, n);
  return {
    matrix: { rows: n, dimension: dim, data, embedderId, preparation: prep },
    stats: { texts: n, cacheHits: hits, computed: missing.length, seconds: (performance.now() - t0) / 1000 },
    prefixes,
  };
}

/** Embeddings of a table's prompts, aligned with its rows, through the cache. */
export function embedTable(t: OutcomeTable, opts: EmbedTableOptions = {}): Promise<EmbedResult> {
  return embedTexts(t.texts, t.evals, opts);
}
