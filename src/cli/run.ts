import type { Command } from "commander";
import { join, relative } from "node:path";
import { loadExperiment } from "../experiments/config.js";
import { runExperiment } from "../workflow/experiment.js";
import { defaultCacheDir } from "../embed/index.js";
import { progressReporter } from "../util/progress.js";
import { integerOption } from "./options.js";
import { formatSplitTable, formatSplitWarnings, formatSummaryTable, printJson, splitSummary } from "./output.js";

export function register(program: Command): void {
  program
    .command("run")
    .description(
      "Run an experiment config (YAML or JSON) end to end: load or import the data, embed the prompts, train every router on each split\n" +
        "(grids chosen on validation rows), evaluate on the test rows, and write the routers, results.json, report.md and plots.\n" +
        "With evaluation.protocol: crossfit, each in-distribution split is cut into K folds and every prompt is tested once\n" +
        "by routers trained without it (no routers are saved then).\n" +
        "The resolved config and library versions are saved next to the results, so a rerun reproduces results.json byte for byte.",
    )
    .argument("<config>", "experiment config, e.g. experiments/default.yaml")
    .option("--out <dir>", "output directory, replaced whole in one atomic step (default: the config's `output`, else runs/<name>)")
    .option("--cache-dir <dir>", `embedding cache (default: $ROUTEKIT_CACHE_DIR or ${defaultCacheDir()})`)
    .option("--workers <n>", "worker threads for the splits' training and evaluation (default: one per core, at most 8; 1 runs them one after another in this thread); results.json does not depend on it")
    .option("--json", "print the summary as JSON")
    .option("--quiet", "no progress output")
    .action(async (file: string, o: { out?: string; cacheDir?: string; workers?: string; json?: boolean; quiet?: boolean }) => {
      const cfg = await loadExperiment(file);
      const started = Date.now();
      const log = (line: string) => {
        if (!o.quiet) process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
      };
      const res = await runExperiment(cfg, {
        outDir: o.out,
        cacheDir: o.cacheDir,
        ...(o.workers !== undefined ? { workers: integerOption(o.workers, "--workers", 1) } : {}),
        log,
        progress: (title) => progressReporter(title, { quiet: o.quiet }),
      });
      if (o.json) {
        printJson({ outDir: res.outDir, files: res.files, seconds: (Date.now() - started) / 1000, splits: res.results.splits.map(splitSummary) });
        return;
      }
      for (const s of res.results.splits) {
        const warnings = formatSplitWarnings(s);
        process.stdout.write(`\n${formatSplitTable(s)}\n${warnings ? `${warnings}\n` : ""}`);
      }
      process.stdout.write(`\n${formatSummaryTable(res.results.splits, { width: process.stdout.columns })}\n`);
      const rel = (p: string) => relative(process.cwd(), join(res.outDir, p)) || ".";
      process.stdout.write(`\nReport: ${rel("report.md")}\nResults: ${rel("results.json")}\nPlots: ${res.files.filter((f) => f.endsWith(".png")).map(rel).join(", ")}\n`);
      process.stdout.write(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`);
    });
}
