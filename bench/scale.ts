import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import type { Bench } from "./types.js";
import { timeCli, type CliTime } from "./time-cli.js";

/**
 * RouterBench scale (issue 15's measurement): synthetic tables of 3,650 to 36,500 prompts x 11
 * models, hash:512 embeddings (cached by a first `embed`), KNN k 5/10/40, MLP 100 and 100x100,
 * ridge with 4 alphas; the pooled split plus the 8 datasets' own; exact sweep, 1,000 bootstrap
 * resamples, report and plots. `run` with its default worker threads (one per core), and the
 * largest again with --workers 1: its results.json must be the same bytes.
 */
const config = (table: string, out: string) => `name: scale
seed: 42
data:
  table: ${table}
splits:
  - kind: in-distribution
    validationFraction: 0.2
    pooled: true
  - kind: in-distribution
    validationFraction: 0.2
embedder:
  spec: hash:512
routers:
  - type: knn
    grid:
      k: [5, 10, 40]
  - type: mlp
    grid:
      hidden: ["100", "100x100"]
  - type: linear
    grid:
      alpha: [0.1, 1, 10, 100]
evaluation:
  lambdas: exact
  bootstrap: 1000
output: ${out}
`;

const SIZES = [3_650, 12_000, 36_500];

export const scaleBench: Bench = {
  name: "scale",
  title: "RouterBench scale: routekit run on 3,650 to 36,500 prompts, both cores",
  async run() {
    const dir = await mkdtemp(join(tmpdir(), "rk-bench-scale-"));
    try {
      const cache = join(dir, "cache");
      const rows: string[] = [];
      let parallel: CliTime | null = null;
      let serial: CliTime | null = null;
      let identical = false;
      for (const n of SIZES) {
        const table = join(dir, `t${n}.arrow`);
        const cfg = join(dir, `scale-${n}.yaml`);
        await timeCli(["synth", "--prompts", String(n), "--out", table], dir);
        await writeFile(cfg, config(table, join(dir, `out-${n}`)));
        await timeCli(["embed", table, "--embedder", "hash:512", "--cache-dir", cache], dir);
        process.stderr.write(`  ${n} prompts: run (default workers)\n`);
        const t = await timeCli(["run", cfg, "--cache-dir", cache, "--quiet"], dir);
        rows.push(`| ${n.toLocaleString("en-US")} | ${availableParallelism()} (default) | ${t.wall.toFixed(1)} | ${t.cpu.toFixed(1)} | ${(t.cpu / t.wall).toFixed(2)} | ${n === 36_500 ? "<= 60" : ""} |`);
        if (n === 36_500) {
          parallel = t;
          process.stderr.write(`  ${n} prompts: run --workers 1\n`);
          serial = await timeCli(["run", cfg, "--cache-dir", cache, "--quiet", "--workers", "1", "--out", join(dir, "out-serial")], dir);
          rows.push(`| ${n.toLocaleString("en-US")} | 1 | ${serial.wall.toFixed(1)} | ${serial.cpu.toFixed(1)} | ${(serial.cpu / serial.wall).toFixed(2)} | |`);
          identical = (await readFile(join(dir, `out-${n}`, "results.json"))).equals(await readFile(join(dir, "out-serial", "results.json")));
        }
      }
      return [
        "Synthetic tables (`routekit synth --prompts N`), 11 models, hash:512 embeddings cached by a first `routekit embed`; KNN k 5/10/40, MLP hidden 100 and 100x100, ridge alpha 0.1/1/10/100; the pooled split and each of the 8 datasets (70/30, validation 20% of train); exact lambda sweep, 1,000 bootstrap resamples, report and plots. Wall and CPU seconds of the CLI in a fresh process (CPU counts every thread).",
        "",
        "| prompts | worker threads | wall s | CPU s | cores busy (CPU / wall) | target (wall s) |",
        "|---:|---|---:|---:|---:|---:|",
        ...rows,
        "",
        `- 36,500 prompts: results.json of the default (worker threads) run identical to the --workers 1 run's: ${identical ? "yes" : "NO"}`,
        parallel && serial ? `- Speed-up from the worker threads at 36,500 prompts: ${(serial.wall / parallel.wall).toFixed(2)}x wall` : "",
        "- For comparison (cited from issue 15, not rerun here): before this work the same 36,500-prompt run took 177.6 s wall and 184.8 CPU-s on one core.",
        "- Work is cut into tasks (one router on one fold of one split; then each split's evaluation once its routers are in), taken largest first by each worker thread as it frees up.",
      ].join("\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
