import { describe, expect, it } from "vitest";
import { createHashEmbedder } from "../../src/embed/hash.js";
import { createEmbedder, parseEmbedderSpec } from "../../src/embed/registry.js";
import { checkContract, cosine } from "./contract.js";

describe("hash embedder", () => {
  it("keeps the Embedder contract at the default and a custom dimension", async () => {
    const e = await createEmbedder("hash");
    expect(e.dimension).toBe(512);
    await checkContract(e, undefined, 0);
    const small = await createEmbedder("hash:64");
    expect(small.dimension).toBe(64);
    await checkContract(small, undefined, 0);
  });

  it("has an id naming version and dimension, so caches of different settings never mix", () => {
    const a = createHashEmbedder(512).id;
    const b = createHashEmbedder(256).id;
    expect(a).not.toBe(b);
    expect(a).toMatch(/hash-v\d+:512/);
  });

  it("places texts sharing words closer than unrelated ones", async () => {
    const e = createHashEmbedder();
    const v = await e.embed(["the cat sat on the mat", "a cat sat on a mat", "quarterly revenue grew by ten percent"]);
    expect(cosine(v, 512, 0, 1)).toBeGreaterThan(cosine(v, 512, 0, 2) + 0.2);
  });

  it("rejects bad specs", () => {
    expect(() => parseEmbedderSpec("hash:1")).toThrow(/dimension/);
    expect(() => parseEmbedderSpec("nope")).toThrow(/unknown embedder "nope"/);
    expect(parseEmbedderSpec("hf:Xenova/all-MiniLM-L6-v2")).toEqual({ kind: "hf", model: "Xenova/all-MiniLM-L6-v2" });
  });
});
