/**
 * Worker for shard-damage.test.ts (run under hang-guard.ts): damages a small embedding cache
 * shard in every way listed and checks that each damage is detected; reports each case's start
 * and end so that the test thread can name a case that hangs.
 */
import { parentPort, workerData } from "node:worker_threads";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DEFAULT_PREPARATION } from "../../src/embed/embedder.js";
import { cacheKeyDir, decodeShard, EmbeddingCache } from "../../src/embed/cache.js";
import { embedTexts } from "../../src/embed/embed-table.js";
import { hashEmbedderId } from "../../src/embed/hash.js";
import { makeRng } from "../../src/util/rng.js";

const port = parentPort!;
const { dir, seed, fullPathCases } = workerData as { dir: string; seed: number; fullPathCases: number };
const DIM = 8;
const SPEC = `hash:${DIM}`;
const ID = hashEmbedderId(DIM);
const texts = ["What is two plus two?", "Name a prime number above 10.", "Translate 'cat' to French.", "Who wrote Hamlet?", "Sort [3, 1, 2]."];

async function run(label: string, f: () => Promise<string | undefined> | string | undefined): Promise<void> {
  port.postMessage({ start: label });
  let failure: string | undefined;
  try {
    failure = await f();
  } catch (err) {
    failure = `threw ${(err as Error)?.stack ?? err}`;
  }
  port.postMessage({ end: label, failure });
}

async function shardPaths(): Promise<string[]> {
  const d = cacheKeyDir(dir, ID, DEFAULT_PREPARATION);
  return (await readdir(d)).filter((f) => f.startsWith("shard-")).map((f) => join(d, f));
}

function rejects(bytes: Uint8Array): string | undefined {
  try {
    decodeShard(bytes, ID);
  } catch {
    return undefined;
  }
  return "damaged shard decoded without error";
}

async function main(): Promise<unknown> {
  const good = await embedTexts(texts, null, { spec: SPEC, cacheDir: dir });
  const [path] = await shardPaths();
  const original = new Uint8Array(await readFile(path));
  let decodeCases = 0;
  // Every single-byte flip, with several flip patterns (a low bit, a high bit, all bits).
  for (let i = 0; i < original.length; i++) {
    for (const x of [0x01, 0x10, 0x80, 0xff]) {
      const b = original.slice();
      b[i] ^= x;
      decodeCases++;
      await run(`flip byte ${i} ^ 0x${x.toString(16)}`, () => rejects(b));
    }
  }
  // Every truncation, and bytes appended.
  for (let len = 0; len < original.length; len++) {
    decodeCases++;
    await run(`truncate to ${len} bytes`, () => rejects(original.subarray(0, len)));
  }
  decodeCases++;
  await run("one byte appended", () => rejects(new Uint8Array([...original, 0])));

  // The whole path on a seeded sample of flips: the shard is found damaged, deleted, and its
  // rows recomputed to the same vectors.
  const rng = makeRng(seed);
  for (let k = 0; k < fullPathCases; k++) {
    const i = Math.floor(rng() * original.length);
    const x = 1 + Math.floor(rng() * 255);
    await run(`cache with byte ${i} ^ 0x${x.toString(16)}`, async () => {
      const [p] = await shardPaths();
      const b = original.slice();
      b[i] ^= x;
      await writeFile(p, b);
      const c = await EmbeddingCache.open(dir, ID, DEFAULT_PREPARATION);
      if (c.discarded.length !== 1 || c.discarded[0] !== p || c.size !== 0) return `open: discarded ${JSON.stringify(c.discarded)}, size ${c.size}`;
      if ((await shardPaths()).length !== 0) return "damaged shard not deleted";
      const r = await embedTexts(texts, null, { spec: SPEC, cacheDir: dir });
      if (r.stats.computed !== texts.length) return `recomputed ${r.stats.computed} of ${texts.length}`;
      if (Buffer.compare(Buffer.from(r.matrix.data.buffer), Buffer.from(good.matrix.data.buffer)) !== 0) return "recomputed vectors differ";
      const after = await shardPaths();
      if (after.length !== 1) return `${after.length} shards after recomputing`;
      if (Buffer.compare(await readFile(after[0]), Buffer.from(original)) !== 0) return "rewritten shard differs from the original";
      return undefined;
    });
  }
  return { bytes: original.length, decodeCases, fullPathCases };
}

main().then(
  (result) => port.postMessage({ done: true, result }),
  (err: unknown) => port.postMessage({ error: (err as Error)?.stack ?? String(err) }),
);
