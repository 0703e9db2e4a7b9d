import { describe, expect, it } from "vitest";
import { createUseLiteEmbedder } from "../../src/embed/use-lite.js";
import { lengthOrderedBatches } from "../../src/embed/batching.js";
import { createEmbedder } from "../../src/embed/registry.js";
import { checkContract, cosine, SAMPLE } from "./contract.js";

// The real model is slow: a handful of short texts, one in-process and one worker-pool embedder.
describe("use-lite embedder", { timeout: 180_000 }, () => {
  it("keeps the Embedder contract in-process (512 dims, unit rows, deterministic, order-free), fetching nothing", async () => {
    // The weights come from the installed package: any network request here is a bug.
    const fetched: string[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (async (url: string | URL | Request) => {
      fetched.push(String(url));
      throw new Error("network disabled in this test");
    }) as typeof fetch;
    let e;
    try {
      e = await createEmbedder("use-lite", { threads: 1 });
    } finally {
      globalThis.fetch = realFetch;
    }
    expect(fetched).toEqual([]);
    try {
      expect(e.dimension).toBe(512);
      expect(e.id).toMatch(/^use-lite@\d+\.\d+\.\d+$/);
      await checkContract(e, SAMPLE, 1e-4);
    } finally {
      await e.close();
    }
  });

  it("puts similar sentences closer than unrelated ones", async () => {
    const e = createUseLiteEmbedder({ threads: 1 });
    try {
      const v = await e.embed(["How old are you?", "What is your age?", "The stock market fell sharply today.", "Shares dropped steeply on Wall Street."]);
      expect(cosine(v, 512, 0, 1)).toBeGreaterThan(cosine(v, 512, 0, 2));
      expect(cosine(v, 512, 2, 3)).toBeGreaterThan(cosine(v, 512, 1, 3));
    } finally {
      await e.close();
    }
  });

  it("gives bitwise the same vectors from a pool of worker threads as in-process", async () => {
    const texts = [...SAMPLE, "A longer text that goes into its own batch because of its length. ".repeat(8)];
    const one = createUseLiteEmbedder({ threads: 1 });
    const pool = createUseLiteEmbedder({ threads: 2, batchSize: 2 });
    try {
      expect(await pool.backend).toBe(await one.backend);
      const a = await one.embed(texts);
      const b = await pool.embed(texts);
      // Other batches (batchSize 2) and other threads, same bits: vectors depend on the text only.
      expect(Array.from(b)).toEqual(Array.from(a));
    } finally {
      await Promise.all([one.close(), pool.close()]);
    }
  });
});

describe("length-ordered batching", () => {
  it("covers every index once, groups by length and respects both caps", () => {
    const texts = ["a", "bbbbbbbbbb", "cc", "dddddddddddddddddddd", "eee", "ff"];
    const batches = lengthOrderedBatches(texts, 2, 22);
    expect(batches.flat().sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(batches[0]).toEqual([3]); // 20 + 10 chars > 22: the longest goes alone
    for (const b of batches) {
      expect(b.length).toBeLessThanOrEqual(2);
      expect(b.reduce((s, i) => s + texts[i].length, 0) <= 22 || b.length === 1).toBe(true);
    }
    const lens = batches.flat().map((i) => texts[i].length);
    expect(lens).toEqual([...lens].sort((x, y) => y - x));
  });
});
