import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runGuarded } from "./hang-guard.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "routekit-shard-fuzz-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("a damaged embedding cache shard", () => {
  // Before the whole-file checksum, flipping byte 8, 16, 36 or 84 of a shard made apache-arrow
  // loop for ever inside `embed`, `route` and `run`.
  it("is detected for every single-byte flip and truncation, and rebuilt, never hanging", async () => {
    const run = await runGuarded<{ bytes: number; decodeCases: number; fullPathCases: number }>(
      new URL("./shard-fuzz.worker.ts", import.meta.url),
      { dir, seed: 9, fullPathCases: 150 },
    );
    expect(run.failures).toEqual([]);
    expect(run.result.bytes).toBeGreaterThan(500);
    expect(run.cases).toBe(run.result.decodeCases + run.result.fullPathCases);
    expect(run.result.decodeCases).toBe(run.result.bytes * 5 + 1);
  });
});
