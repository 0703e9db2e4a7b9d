/**
 * The seeded fuzz harness (bench/fuzz): mutated files of every format routekit reads, each
 * parsed under a per-case hang detector (a worker thread the test terminates if one case runs
 * over 10 s; a generous limit that only turns a hang into a failure). Every case must end in
 * success or one one-line InputError; a damaged outcome table must never load with changed
 * content. `npm run bench -- fuzz` runs the same harness on 20,000+ cases.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUZZ_FORMATS, tinyTableBytes } from "../../bench/fuzz/inputs.js";
import { runFuzz } from "../../bench/fuzz/runner.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "routekit-fuzz-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("fuzz: mutated inputs of every format", () => {
  it("1,050 seeded mutations (bit flips, byte edits, truncations, splices, length fields): no hang, crash or silent damage", async () => {
    const s = await runFuzz({ seed: 20261201, cases: 1050, work: join(dir, "random") });
    expect(s.failures).toEqual([]);
    expect(s.cases).toBe(1050);
    // Every format is exercised, and the mutations are not all trivially rejected or accepted.
    expect(Object.keys(s.byFormat).sort()).toEqual(FUZZ_FORMATS.map((f) => f.name).sort());
    for (const [name, c] of Object.entries(s.byFormat)) {
      expect(c.ok + c.error, name).toBe(150);
      expect(c.error, name).toBeGreaterThan(40);
    }
    expect(s.ok).toBeGreaterThan(40);
  }, 180_000);

  it("every byte of a small outcome table damaged once: each one an error or the same table", async () => {
    const n = tinyTableBytes().length;
    const s = await runFuzz({ seed: 5, cases: n, flips: true, formats: ["outcome-table"], work: join(dir, "flips") });
    expect(s.failures).toEqual([]);
    expect(s.cases).toBe(n);
    // Most bytes matter; the few that load are padding or unused bytes, and loaded unchanged.
    expect(s.errors).toBeGreaterThan(0.8 * n);
  }, 180_000);
});
