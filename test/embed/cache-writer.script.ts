/**
 * One concurrent cache writer for cache-concurrency.test.ts, run as its own process:
 * `node --import tsx cache-writer.script.ts <cacheDir> <count> <barrierDir> <writers>`.
 * Waits until all writers are up (a file each in barrierDir), then embeds `count` generated
 * texts with a deliberately slow hash embedder, so that the writers overlap, and prints its
 * stats as JSON.
 */
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { embedTexts } from "../../src/embed/embed-table.js";
import { slowHashEmbedder, generatedTexts } from "./cache-writers.js";

const [dir, count, barrier, writers] = process.argv.slice(2);
await writeFile(join(barrier, `ready-${process.pid}`), "");
while ((await readdir(barrier)).length < Number(writers)) await new Promise((r) => setTimeout(r, 5));
const r = await embedTexts(generatedTexts(Number(count)), null, { embedder: slowHashEmbedder(30), cacheDir: dir, shardSize: 16 });
process.stdout.write(`${JSON.stringify({ ...r.stats, sum: Array.from(r.matrix.data).reduce((a, b) => a + b, 0) })}\n`);
