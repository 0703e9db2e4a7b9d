/**
 * The acceptance test: two caches filled in different orders give byte-identical
 * results.json. Cache A is filled dataset by dataset in one thread and small batches, cache B
 * by one embed of everything on a pool of two worker threads; `runExperiment` then reads each (all hits) into
 * its own folder. Before use-lite batched only texts of equal token count, a text's vector
 * depended on the batch it had been computed in, hence on the cache's history.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readOutcomeTable, writeOutcomeTable } from "../../src/data/arrow-io.js";
import { selectRows, type OutcomeTable } from "../../src/data/table.js";
import { embedTable, embedTexts } from "../../src/embed/embed-table.js";
import { createUseLiteEmbedder } from "../../src/embed/use-lite.js";
import { parseExperiment } from "../../src/experiments/config.js";
import { runExperiment } from "../../src/workflow/experiment.js";

const DATASETS = ["mmlu", "hellaswag", "grade-school-math"];
let dir: string;
let table: OutcomeTable;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "routekit-cache-order-"));
  // 20 bundled demo prompts from each of three datasets (project data; use-lite is slow).
  const all = await readOutcomeTable(new URL("../../data/default.arrow", import.meta.url).pathname);
  const rows: number[] = [];
  for (const d of DATASETS) rows.push(...all.datasets.flatMap((x, i) => (x === d ? [i] : [])).slice(0, 20));
  table = selectRows(all, rows);
  await writeOutcomeTable(join(dir, "t.arrow"), table);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// results.json echoes the config, so both runs use this one; the caches differ in how they were filled.
const config = () => `
name: cache-order
seed: 3
data:
  table: ${join(dir, "t.arrow")}
splits:
  - kind: in-distribution
    testFraction: 0.3
    validationFraction: 0.2
  - kind: in-distribution
    pooled: true
embedder:
  spec: use-lite
  threads: 1
routers:
  - type: knn
    grid:
      k: [3]
  - type: linear
  - name: mlp-small
    type: mlp
    params:
      hidden: "8"
      epochs: 5
evaluation:
  bootstrap: 50
`;

describe("embedding cache history", { timeout: 300_000 }, () => {
  it("two caches filled in different orders give byte-identical results.json", async () => {
    const cacheA = join(dir, "cache-a");
    const cacheB = join(dir, "cache-b");
    const cfg = parseExperiment(config(), "cache-order.yaml");
    const prep = cfg.embedder.preparation;
    // One model per cache, loaded once (loading is most of the time here). Cache A: datasets
    // in reverse order, small batches (most texts computed next to few, shorter, batchmates);
    // cache B: everything at once on two threads (most texts padded to a longer batchmate).
    const one = createUseLiteEmbedder({ threads: 1, batchSize: 4 });
    const pool = createUseLiteEmbedder({ threads: 2 });
    try {
      for (const d of [...DATASETS].reverse()) {
        const rows = table.datasets.flatMap((x, i) => (x === d ? [i] : []));
        await embedTexts(rows.map((i) => table.texts[i]), rows.map((i) => table.evals[i]), { embedder: one, cacheDir: cacheA, preparation: prep });
      }
      await embedTable(table, { embedder: pool, cacheDir: cacheB, preparation: prep });
    } finally {
      await Promise.all([one.close(), pool.close()]);
    }

    // Both caches now serve every prompt of the run, and serve the same bits.
    const a = await embedTable(table, { spec: "use-lite", cacheDir: cacheA, preparation: prep });
    const b = await embedTable(table, { spec: "use-lite", cacheDir: cacheB, preparation: prep });
    expect([a.stats.computed, b.stats.computed]).toEqual([0, 0]);
    expect(Buffer.from(a.matrix.data.buffer).equals(Buffer.from(b.matrix.data.buffer))).toBe(true);

    await runExperiment(cfg, { outDir: join(dir, "out-a"), cacheDir: cacheA });
    await runExperiment(cfg, { outDir: join(dir, "out-b"), cacheDir: cacheB });
    const ra = await readFile(join(dir, "out-a", "results.json"));
    const rb = await readFile(join(dir, "out-b", "results.json"));
    expect(ra.length).toBeGreaterThan(1000);
    expect(ra.equals(rb)).toBe(true);
  });
});
