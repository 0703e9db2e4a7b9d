import { mkdtemp, readdir, readFile, rm, truncate as truncateFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_PREPARATION, type Embedder } from "../../src/embed/embedder.js";
import { createHashEmbedder } from "../../src/embed/hash.js";
import { cacheKeyDir, EmbeddingCache } from "../../src/embed/cache.js";
import { embedTexts } from "../../src/embed/embed-table.js";
import { defaultCacheDir } from "../../src/embed/paths.js";

/** A hash embedder that counts the texts it was asked to embed. */
function counting(dim = 32): Embedder & { calls: string[][] } {
  const inner = createHashEmbedder(dim);
  const calls: string[][] = [];
  return {
    id: inner.id,
    dimension: dim,
    calls,
    embed(texts, p) {
      calls.push([...texts]);
      return inner.embed(texts, p);
    },
    close: () => inner.close(),
  };
}

const texts = Array.from({ length: 40 }, (_, i) => `prompt number ${i} about topic ${i % 7}`);
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "routekit-cache-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function shardFiles(embedderId: string, prep = DEFAULT_PREPARATION): Promise<string[]> {
  const d = cacheKeyDir(dir, embedderId, prep);
  return (await readdir(d)).filter((f) => f.startsWith("shard-")).map((f) => join(d, f));
}

describe("embedding cache", () => {
  it("misses, then hits with identical vectors and no embedder call", async () => {
    const e = counting();
    const first = await embedTexts(texts, null, { embedder: e, cacheDir: dir });
    expect(first.stats).toMatchObject({ texts: 40, cacheHits: 0, computed: 40 });
    expect(e.calls.flat()).toHaveLength(40);
    const second = await embedTexts(texts, null, { embedder: e, cacheDir: dir });
    expect(second.stats).toMatchObject({ texts: 40, cacheHits: 40, computed: 0 });
    expect(e.calls.flat()).toHaveLength(40);
    expect(second.matrix.data).toEqual(first.matrix.data);
    expect(second.matrix).toMatchObject({ rows: 40, dimension: 32, embedderId: e.id });
  });

  it("serves a spec-built embedder from the cache without loading it", async () => {
    await embedTexts(texts, null, { spec: "hash:16", cacheDir: dir });
    const again = await embedTexts(texts, null, { spec: "hash:16", cacheDir: dir });
    expect(again.stats.cacheHits).toBe(40);
    expect(again.matrix.dimension).toBe(16);
  });

  it("computes only the new texts and each repeated text once; shared across datasets", async () => {
    const e = counting();
    await embedTexts(texts.slice(0, 20), null, { embedder: e, cacheDir: dir });
    const other = [...texts.slice(10, 30), texts[25], texts[25]];
    const r = await embedTexts(other, null, { embedder: e, cacheDir: dir });
    expect(r.stats).toMatchObject({ texts: 22, cacheHits: 10, computed: 10 });
    expect(e.calls[1]).toEqual(texts.slice(20, 30));
    const fresh = await embedTexts(other, null, { embedder: counting(), cacheDir: false });
    expect(r.matrix.data).toEqual(fresh.matrix.data);
  });

  it("invalidates on any change of encoder or preparation", async () => {
    const e = counting();
    await embedTexts(texts, null, { embedder: e, cacheDir: dir });
    const otherDim = await embedTexts(texts, null, { embedder: counting(64), cacheDir: dir });
    expect(otherDim.stats.cacheHits).toBe(0);
    for (const change of [{ maxChars: 10 }, { keep: "tail" as const, maxChars: 10 }, { unwrapList: false }, { stripSharedPrefix: false }]) {
      const r = await embedTexts(texts, null, { embedder: e, cacheDir: dir, preparation: { ...DEFAULT_PREPARATION, ...change } });
      expect(r.stats.cacheHits, JSON.stringify(change)).toBe(0);
    }
    // A different version of the same encoder is a different id, hence a miss.
    const bumped = { ...counting(), id: `${e.id}-next` };
    expect((await embedTexts(texts, null, { embedder: bumped, cacheDir: dir })).stats.cacheHits).toBe(0);
  });

  it("keeps finished shards when a run dies mid-way, and resumes from them", async () => {
    const e = counting();
    let batches = 0;
    const dying: Embedder = {
      ...e,
      async embed(t, p) {
        if (++batches === 3) throw new Error("killed");
        return e.embed(t, p);
      },
    };
    await expect(embedTexts(texts, null, { embedder: dying, cacheDir: dir, shardSize: 8 })).rejects.toThrow("killed");
    expect(await shardFiles(e.id)).toHaveLength(2);
    const resumed = await embedTexts(texts, null, { embedder: e, cacheDir: dir, shardSize: 8 });
    expect(resumed.stats).toMatchObject({ cacheHits: 16, computed: 24 });
  });

  it("detects a truncated or corrupted shard, deletes it and recomputes its rows", async () => {
    const e = counting();
    const good = await embedTexts(texts, null, { embedder: e, cacheDir: dir, shardSize: 10 });
    const files = (await shardFiles(e.id)).sort();
    expect(files).toHaveLength(4);
    await truncateFile(files[0], 100);
    const bytes = await readFile(files[1]);
    // Flip bytes inside the vector data (keeps the Arrow structure readable: only the checksum notices).
    for (let k = 0; k < 8; k++) bytes[Math.floor(bytes.length / 2) + k] ^= 0xff;
    await writeFile(files[1], bytes);
    const c = await EmbeddingCache.open(dir, e.id, DEFAULT_PREPARATION);
    expect(c.discarded.sort()).toEqual([files[0], files[1]]);
    expect(c.size).toBe(20);
    const r = await embedTexts(texts, null, { embedder: e, cacheDir: dir, shardSize: 10 });
    expect(r.stats).toMatchObject({ cacheHits: 20, computed: 20 });
    expect(r.matrix.data).toEqual(good.matrix.data);
  });

  it("merges many small shards into one, losing nothing", async () => {
    const e = counting();
    const r1 = await embedTexts(texts, null, { embedder: e, cacheDir: dir, shardSize: 2 });
    expect(await shardFiles(e.id)).toHaveLength(1);
    const r2 = await embedTexts(texts, null, { embedder: e, cacheDir: dir });
    expect(r2.stats.cacheHits).toBe(40);
    expect(r2.matrix.data).toEqual(r1.matrix.data);
  });

  it("strips shared prefixes learned from the evals, and returns them for route time", async () => {
    const block = "Example question one?\nAnswer: yes\n\nExample question two?\nAnswer: no\n\n";
    const t = ["['" + block.replace(/\n/g, "\\n") + "Is the sky blue?']", "['" + block.replace(/\n/g, "\\n") + "Is grass red?']"];
    const r = await embedTexts(t, ["e", "e"], { spec: "hash:32", cacheDir: false });
    expect(r.prefixes).toEqual({ e: block });
    const direct = await createHashEmbedder(32).embed(["Is the sky blue?", "Is grass red?"]);
    expect(r.matrix.data).toEqual(direct);
    const routed = await embedTexts([block + "Is grass red?"], null, { spec: "hash:32", cacheDir: false, prefixes: r.prefixes });
    expect(routed.matrix.data).toEqual(direct.subarray(32));
  });

  it("defaults to $ROUTEKIT_CACHE_DIR, else XDG_CACHE_HOME/routekit, else ~/.cache/routekit", () => {
    const saved = { ...process.env };
    try {
      process.env.ROUTEKIT_CACHE_DIR = "/x/rk";
      expect(defaultCacheDir()).toBe("/x/rk");
      delete process.env.ROUTEKIT_CACHE_DIR;
      process.env.XDG_CACHE_HOME = "/x/xdg";
      expect(defaultCacheDir()).toBe("/x/xdg/routekit");
      delete process.env.XDG_CACHE_HOME;
      expect(defaultCacheDir()).toMatch(/\.cache\/routekit$/);
    } finally {
      process.env = saved;
    }
  });
});
