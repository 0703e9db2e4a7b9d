import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bench } from "./types.js";
import { timeCli, type CliTime } from "./time-cli.js";

/**
 * Issue 14's bounded-memory measurement: the steps a team with a large table runs, each a CLI
 * command in a fresh process with its wall time, CPU time and peak RSS. synth makes the table,
 * export writes it as long-form Parquet (what DuckDB, Spark and polars would hand over), import
 * reads that back, embed fills the cache with hash:384 embeddings, and train fits KNN with the
 * HNSW index (knn:k=10,index=hnsw) and measures its operating points. The budget is 8 GB of
 * peak RSS per step; V8's heap is allowed 7 GiB so that the RSS, not the default heap limit, is
 * what is measured. A step that fails (out of memory, say) is recorded as failed and ends that
 * size. Sizes: ROUTEKIT_BENCH_MILLION_SIZES (comma-separated; default 100000,1000000).
 */
const BUDGET_MIB = 8 * 1024;

function sizes(): number[] {
  const raw = process.env.ROUTEKIT_BENCH_MILLION_SIZES ?? "100000,1000000";
  const out = raw.split(",").map((s) => Number(s.trim()));
  if (!out.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`ROUTEKIT_BENCH_MILLION_SIZES: expected comma-separated prompt counts, got "${raw}"`);
  return out;
}

export const millionBench: Bench = {
  name: "million",
  title: "Bounded memory: synth, export, import, embed and train on up to 1,000,000 prompts x 11 models",
  async run() {
    const dir = await mkdtemp(join(tmpdir(), "rk-bench-million-"));
    const heap = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = `${heap ?? ""} --max-old-space-size=7168`.trim();
    try {
      const rows: string[] = [];
      for (const n of sizes()) {
        const table = join(dir, `t${n}.arrow`);
        const parquet = join(dir, `t${n}.parquet`);
        const imported = join(dir, `i${n}.arrow`);
        const cache = join(dir, `cache${n}`);
        const steps: [string, string[], string | null][] = [
          ["synth", ["synth", "--prompts", String(n), "--out", table, "--json"], table],
          ["export (parquet, long form)", ["export", table, "--out", parquet, "--format", "parquet"], parquet],
          ["import (that parquet)", ["import", parquet, "--out", imported, "--quiet"], imported],
          ["embed (hash:384)", ["embed", imported, "--embedder", "hash:384", "--cache-dir", cache], null],
          ["train (knn:k=10,index=hnsw)", ["train", imported, "--router", "knn:k=10,index=hnsw", "--embedder", "hash:384", "--cache-dir", cache, "--out", join(dir, `r${n}`)], null],
        ];
        for (const [label, args, file] of steps) {
          process.stderr.write(`  ${n} prompts: ${label}\n`);
          let t: CliTime | null = null;
          let error = "";
          try {
            t = await timeCli(args, dir);
          } catch (err) {
            error = (err as Error).message;
          }
          const size = t && file ? `${((await stat(file)).size / 2 ** 20).toFixed(0)} MiB` : "";
          rows.push(
            t
              ? `| ${n.toLocaleString("en-US")} | ${label} | ${t.wall.toFixed(1)} | ${t.cpu.toFixed(1)} | ${t.maxRssMiB.toFixed(0)} | ${t.maxRssMiB <= BUDGET_MIB ? "yes" : "**no**"} | ${size} |`
              : `| ${n.toLocaleString("en-US")} | ${label} | failed | | | **no** | ${error.replace(/\|/g, "/")} |`,
          );
          if (!t) break;
        }
        await rm(cache, { recursive: true, force: true });
      }
      return [
        "Each step is one `routekit` command in a fresh process (V8 heap allowed 7 GiB), on synthetic tables (`routekit synth --prompts N`, 11 models, with token counts and latencies). Peak RSS from the process's own `resourceUsage().maxRSS`; the budget is 8 GiB per step. Output: the file the step wrote.",
        "",
        "| prompts | step | wall s | CPU s | peak RSS MiB | within 8 GiB | output |",
        "|---:|---|---:|---:|---:|---|---|",
        ...rows,
      ].join("\n");
    } finally {
      if (heap === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = heap;
      await rm(dir, { recursive: true, force: true });
    }
  },
};
