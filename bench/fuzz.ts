/**
 * `npm run bench -- fuzz`: the fuzz harness of test/fuzz at scale. 21,000 seeded mutations
 * (3,000 per format) plus every byte of a small outcome table damaged once, each case under the
 * per-case hang detector of bench/fuzz/runner.ts. The section records the counts per format and
 * the wall and CPU time; any hang, crash or silent damage fails the benchmark.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bench } from "./types.js";
import { FUZZ_FORMATS, tinyTableBytes } from "./fuzz/inputs.js";
import { runFuzz, type FuzzSummary } from "./fuzz/runner.js";

const SEED = 20261201;
const PER_FORMAT = 3000;

function s(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export const fuzzBench: Bench = {
  name: "fuzz",
  title: "Fuzz harness: mutated inputs of every format (no hang, crash or silent damage)",
  async run() {
    const work = await mkdtemp(join(tmpdir(), "routekit-fuzz-bench-"));
    try {
      const cases = PER_FORMAT * FUZZ_FORMATS.length;
      const random = await runFuzz({
        seed: SEED,
        cases,
        work: join(work, "random"),
        onProgress: (done, total) => process.stderr.write(`  fuzz ${done}/${total}\r`),
      });
      const tiny = tinyTableBytes().length;
      const flips = await runFuzz({ seed: SEED, cases: tiny, flips: true, formats: ["outcome-table"], work: join(work, "flips") });
      const failures = [...random.failures, ...flips.failures];
      if (failures.length) throw new Error(`fuzz: ${failures.length} failing case(s):\n${failures.slice(0, 20).join("\n")}`);
      const row = (name: string, c: { ok: number; error: number; failure: number }) => `| ${name} | ${c.ok + c.error + c.failure} | ${c.ok} | ${c.error} | ${c.failure} |`;
      const total = (x: FuzzSummary) => x.cases;
      return [
        `${(total(random) + total(flips)).toLocaleString("en-US")} mutated inputs: ${cases.toLocaleString("en-US")} seeded mutations (seed ${SEED}; bit flips, byte edits, truncations, splices, 32/64-bit length-field edits; one to three per input) of the valid files below, and every byte of a ${tiny}-byte outcome table XORed once. Each input is parsed by the function routekit reads it with, in a worker thread that the runner terminates if one case runs over 10 s.`,
        "",
        "Valid inputs: two synthetic outcome tables (one with responses and missing cells); the wide and long CSV, JSON Lines and Parquet test fixtures (gzip Parquet too); four pandas pickles (protocols 2, 4, 5 and an extension-array frame); experiments/default.yaml, routerbench-subset.yaml and default.yaml as JSON; models/example-linear/router.json.",
        "",
        "| format | inputs | loaded | one-line InputError | hang, crash or silent damage |",
        "|---|---:|---:|---:|---:|",
        ...Object.entries(random.byFormat).map(([name, c]) => row(name, c)),
        row("outcome table, every byte once", flips.byFormat["outcome-table"]),
        "",
        `Wall ${s(random.wallMs + flips.wallMs)}, CPU ${s(random.cpuMs + flips.cpuMs)} (whole process); slowest case ${random.slowest.ms.toFixed(0)} ms (${random.slowest.label}).`,
        "A loaded outcome table always equals the original (its content checksum holds); the other formats carry no checksum, so a mutation that still parses (say, a digit changed in a score) loads as written.",
      ].join("\n");
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  },
};
