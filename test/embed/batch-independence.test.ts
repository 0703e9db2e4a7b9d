/**
 * An embedding is a function of the text and the encoder alone: bitwise the same vector whether
 * the text is embedded alone, among short texts or next to a long one (which pads the batch).
 * Before use-lite batched only equal token counts, most bundled demo prompts moved by ~1e-7
 * next to a longer text, so results depended on how the cache had been filled.
 */
import { describe, expect, it } from "vitest";
import { readOutcomeTable } from "../../src/data/arrow-io.js";
import type { Embedder } from "../../src/embed/embedder.js";
import { equalLengthBatches } from "../../src/embed/batching.js";
import { createHashEmbedder } from "../../src/embed/hash.js";
import { createHfEmbedder } from "../../src/embed/hf.js";
import { createUseLiteEmbedder } from "../../src/embed/use-lite.js";
import { TINY_MODEL_DIR, TINY_MODEL_ID } from "../fixtures/embed/make-tiny-model.js";

const SHORT = ["Hi.", "Why?", "Add two and three.", "Name a colour."];

/** Each target's vector alone, then in several batch compositions: all must be bitwise equal. */
async function expectBatchIndependent(e: Embedder, targets: string[], long: string): Promise<void> {
  const d = e.dimension;
  const row = (v: Float32Array, i: number) => Array.from(v.subarray(i * d, (i + 1) * d));
  for (const t of targets) {
    const alone = row(await e.embed([t]), 0);
    const compositions: [string, string[], number][] = [
      ["with short texts", [...SHORT, t], SHORT.length],
      ["first, with a long text", [t, long], 0],
      ["last, with a long text and short ones", [long, ...SHORT, t], SHORT.length + 1],
      ["with all the others", [...targets, long, ...SHORT], targets.indexOf(t)],
    ];
    for (const [label, batch, at] of compositions) expect(row(await e.embed(batch), at), `${label}: ${JSON.stringify(t.slice(0, 40))}`).toEqual(alone);
  }
}

describe("batch independence", { timeout: 180_000 }, () => {
  it("use-lite: a text's vector does not depend on its batchmates", async () => {
    // Bundled demo prompts (project data); the longest of the first 200 pads every batch it joins.
    const t = await readOutcomeTable(new URL("../../data/default.arrow", import.meta.url).pathname);
    const pool = [...new Set(t.texts)].slice(0, 200);
    const long = pool.reduce((a, b) => (b.length > a.length ? b : a));
    const targets = pool.filter((x) => x !== long).slice(0, 6);
    const e = createUseLiteEmbedder({ threads: 1 });
    try {
      await expectBatchIndependent(e, targets, long);
    } finally {
      await e.close();
    }
  });

  it("hf: (tiny local model) a text's vector does not depend on its batchmates", async () => {
    const e = await createHfEmbedder(TINY_MODEL_ID, { modelDir: TINY_MODEL_DIR, batchSize: 3 });
    try {
      await expectBatchIndependent(e, ["the cat is a pet", "write python code", "what is the capital of france"], "the dog and the fish are animals too and the bird is a pet of the city");
    } finally {
      await e.close();
    }
  });

  it("hash: a text's vector does not depend on its batchmates", async () => {
    await expectBatchIndependent(createHashEmbedder(64), ["the cat is a pet", "write python code"], "a much longer text ".repeat(20));
  });

  it("equal-length batches: every index once, one length per batch, longest first, capped", () => {
    const lengths = [3, 5, 3, 7, 5, 3, 3];
    const b = equalLengthBatches(lengths, 2);
    expect(b.flat().sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    for (const x of b) {
      expect(x.length).toBeLessThanOrEqual(2);
      expect(new Set(x.map((i) => lengths[i])).size).toBe(1);
    }
    expect(b.map((x) => lengths[x[0]])).toEqual([7, 5, 3, 3]);
  });
});
