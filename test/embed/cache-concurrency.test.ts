import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_PREPARATION } from "../../src/embed/embedder.js";
import { cacheKeyDir, cacheLockPath, EmbeddingCache } from "../../src/embed/cache.js";
import { embedTexts } from "../../src/embed/embed-table.js";
import { createHashEmbedder } from "../../src/embed/hash.js";
import { acquireLock, tryLock } from "../../src/embed/lock.js";
import { generatedTexts, slowHashEmbedder, WRITER_DIM } from "./cache-writers.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ID = createHashEmbedder(WRITER_DIM).id;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "routekit-cache-conc-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cacheState() {
  const c = await EmbeddingCache.open(dir, ID, DEFAULT_PREPARATION);
  const files = await readdir(c.dir);
  return { size: c.size, storedRows: c.storedRows, shards: c.shards, files };
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((r) => child.once("exit", r));
  return child.pid!;
}

describe("concurrent cache writers", () => {
  it("four processes embedding the same texts store each row once and compute it once", async () => {
    const n = 200;
    const barrier = join(dir, "barrier");
    await mkdir(barrier);
    const outs = await Promise.all(
      Array.from({ length: 4 }, () => run(process.execPath, ["--import", "tsx", "test/embed/cache-writer.script.ts", dir, String(n), barrier, "4"], { cwd: ROOT })),
    );
    const stats = outs.map((o) => JSON.parse(o.stdout) as { texts: number; computed: number; cacheHits: number; sum: number });
    expect(stats.map((s) => s.texts)).toEqual([n, n, n, n]);
    // One writer computed everything (or they split it); nobody computed a row twice.
    expect(stats.reduce((a, s) => a + s.computed, 0)).toBe(n);
    expect(new Set(stats.map((s) => s.sum)).size).toBe(1);
    const st = await cacheState();
    expect(st).toMatchObject({ size: n, storedRows: n });
    expect(st.files.filter((f) => f.startsWith("lock"))).toEqual([]);
  });

  it("interleaved writers in one process store each row once", async () => {
    const texts = generatedTexts(120);
    const embedders = [0, 1, 2, 3].map(() => slowHashEmbedder(5));
    // Overlapping subsets, started together.
    const parts = [texts.slice(0, 80), texts.slice(40, 120), texts, texts.slice(20, 100)];
    const results = await Promise.all(parts.map((p, k) => embedTexts(p, null, { embedder: embedders[k], cacheDir: dir, shardSize: 8 })));
    expect(embedders.reduce((a, e) => a + e.computed, 0)).toBe(120);
    const fresh = await embedTexts(texts, null, { embedder: createHashEmbedder(WRITER_DIM), cacheDir: false });
    expect(Array.from(results[2].matrix.data)).toEqual(Array.from(fresh.matrix.data));
    expect(await cacheState()).toMatchObject({ size: 120, storedRows: 120 });
  });

  it("rows stored twice (older writers) are merged away at the next run", async () => {
    const texts = generatedTexts(30);
    const vectors = await createHashEmbedder(WRITER_DIM).embed(texts);
    const { textHash } = await import("../../src/embed/cache.js");
    const c = await EmbeddingCache.open(dir, ID, DEFAULT_PREPARATION);
    for (let k = 0; k < 3; k++) await c.append(texts.map(textHash), vectors, WRITER_DIM);
    expect(await cacheState()).toMatchObject({ size: 30, storedRows: 90, shards: 3 });
    const r = await embedTexts(texts, null, { embedder: slowHashEmbedder(), cacheDir: dir });
    expect(r.stats.cacheHits).toBe(30);
    expect(await cacheState()).toMatchObject({ size: 30, storedRows: 30, shards: 1 });
  });

  it("takes over a lock left by a dead process or not touched for long, and waits for a live one", async () => {
    const keyDir = cacheKeyDir(dir, ID, DEFAULT_PREPARATION);
    const lock = cacheLockPath(keyDir);
    const e = slowHashEmbedder(0);
    // A killed routekit on this machine.
    await rm(keyDir, { recursive: true, force: true });
    await mkdir(keyDir, { recursive: true });
    await writeFile(lock, JSON.stringify({ pid: await deadPid(), host: hostname(), token: "dead", started: "" }));
    expect((await embedTexts(generatedTexts(10), null, { embedder: e, cacheDir: dir })).stats.computed).toBe(10);
    await expect(stat(lock)).rejects.toThrow();
    // A process on another host that stopped touching its lock 10 minutes ago.
    await writeFile(lock, JSON.stringify({ pid: 1, host: "elsewhere", token: "old", started: "" }));
    const old = new Date(Date.now() - 600_000);
    await utimes(lock, old, old);
    expect((await embedTexts(generatedTexts(20), null, { embedder: e, cacheDir: dir })).stats.computed).toBe(10);
    // A live holder: tryLock declines, acquireLock waits until it is released.
    const held = await acquireLock(lock);
    expect(await tryLock(lock)).toBeNull();
    let waited = false;
    const waiting = acquireLock(lock, { pollMs: 5, onWait: () => (waited = true) });
    await new Promise((r) => setTimeout(r, 50));
    await held.release();
    const second = await waiting;
    expect(waited).toBe(true);
    await second.release();
    await expect(stat(lock)).rejects.toThrow();
  });

  it("cleans up staging files of killed writers", async () => {
    const keyDir = cacheKeyDir(dir, ID, DEFAULT_PREPARATION);
    await mkdir(keyDir, { recursive: true });
    const staged = join(keyDir, ".shard-0-1-abcd.rkshard.tmp-12345-abcd");
    await writeFile(staged, "partial");
    const old = new Date(Date.now() - 600_000);
    await utimes(staged, old, old);
    await embedTexts(generatedTexts(5), null, { embedder: slowHashEmbedder(0), cacheDir: dir });
    expect((await readdir(keyDir)).filter((f) => f.startsWith("."))).toEqual([]);
  });
});
