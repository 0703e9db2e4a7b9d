import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bench } from "./types.js";
import { SHARED_SUBSET_DIR } from "./shared.js";
import { timeCli, type CliTime } from "./time-cli.js";

const row = (what: string, t: CliTime, target: string) => `| ${what} | ${t.wall.toFixed(1)} | ${t.cpu.toFixed(1)} | ${target} |`;

/**
 * The main job (`npm start` = build + `routekit run experiments/default.yaml`, cross-fitted), on
 * a machine that has never embedded the bundled prompts (empty cache), then again with the cache
 * filled; then the cross-fitted RouterBench-subset config (where ../shared exists) with its
 * embeddings cached. Reruns must give results.json byte for byte.
 */
export const mainJobBench: Bench = {
  name: "main-job",
  title: "The main job (routekit run experiments/default.yaml) and the cross-fitted subset config",
  async run() {
    const dir = await mkdtemp(join(tmpdir(), "rk-bench-main-"));
    try {
      const cache = join(dir, "cache");
      const run = (config: string, out: string) => timeCli(["run", config, "--out", join(dir, out), "--cache-dir", cache, "--quiet"], dir);
      const same = async (a: string, b: string) => (await readFile(join(dir, a, "results.json"))).equals(await readFile(join(dir, b, "results.json")));
      const cold = await run("experiments/default.yaml", "default-1");
      const warm = await run("experiments/default.yaml", "default-2");
      const lines = [
        "Bundled data (2,000 prompts x 11 models), use-lite embeddings, cross-fitted (5 folds): the pooled split and the 8 datasets' own, 6 routers (KNN, MLP, ridge and IRT with their grids, task-prior, cascade), exact curves, 1,000 bootstrap resamples, report and plots. Wall and CPU time of the CLI in a fresh process (the `npm start` build step, a few seconds, not included).",
        "",
        "| run | wall s | CPU s | target (wall) |",
        "|---|---:|---:|---:|",
        row("default.yaml, first run (empty embedding cache)", cold, "< 180"),
        row("default.yaml, rerun (embeddings cached)", warm, "< 180"),
      ];
      const identical = [`default.yaml: results.json of the rerun identical to the first run's: ${(await same("default-1", "default-2")) ? "yes" : "NO"}`];
      if (existsSync(SHARED_SUBSET_DIR)) {
        // Twice: the first fills the cache (3,164 real prompts), the second is the timed run.
        await run("experiments/routerbench-subset-crossfit.yaml", "subset-1");
        const subset = await run("experiments/routerbench-subset-crossfit.yaml", "subset-2");
        lines.push(row("routerbench-subset-crossfit.yaml (3,164 prompts, embeddings cached)", subset, "< 180"));
        identical.push(`routerbench-subset-crossfit.yaml: rerun identical: ${(await same("subset-1", "subset-2")) ? "yes" : "NO"}`);
      } else {
        lines.push("| routerbench-subset-crossfit.yaml | skipped: no ../shared | | |");
      }
      return [...lines, "", ...identical.map((l) => `- ${l}`)].join("\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
