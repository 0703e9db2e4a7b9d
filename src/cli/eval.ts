import type { Command } from "commander";
import { integerOption } from "./options.js";
import { Option } from "commander";
import { existsSync } from "node:fs";
import { readOutcomeTable } from "../data/arrow-io.js";
import { DEFAULT_FOLDS } from "../data/splits.js";
import { DEFAULT_EMBEDDER_SPEC, defaultCacheDir, parseEmbedderSpec } from "../embed/index.js";
import { evaluateRoutersOnTable, routerSource } from "../workflow/evaluate.js";
import { DEFAULT_MAX_POINTS, makeResults } from "../report/results.js";
import { REPORT_MARKER, writeReport } from "../report/write.js";
import { checkOutputDir } from "../util/atomic.js";
import { InputError } from "../util/errors.js";
import { progressReporter } from "../util/progress.js";
import { formatSplitTable, formatSplitWarnings, formatSummaryTable, printJson, splitSummary } from "./output.js";

interface EvalCliOptions {
  routers: string[];
  out: string;
  dataset?: string;
  split?: "in-distribution" | "out-of-distribution";
  seed: string;
  bootstrap: string;
  lambdas: "exact" | "routerbench";
  aiq: "shared-range" | "routerbench-code";
  operatingPoints: "validation" | "test";
  compareTo?: string;
  costRange?: string;
  latencyWeights?: string;
  protocol: "holdout" | "crossfit";
  folds: string;
  nullShuffles: string;
  logCost?: boolean;
  linearCost?: boolean;
  embedder: string;
  cacheDir?: string;
  maxPoints: string;
  allowOverlap?: boolean;
  json?: boolean;
}

function latencyWeights(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(",").map((s) => Number(s.trim()));
  if (parts.length === 0 || !parts.every((x) => Number.isFinite(x) && x >= 0)) {
    throw new InputError(`expected comma-separated US$ per second of waiting, each >= 0, got "${value}"`, { field: "--latency-weights" });
  }
  return parts;
}

function costRange(value: string | undefined): [number, number] | undefined {
  if (value === undefined) return undefined;
  const parts = value.split(",").map((s) => Number(s.trim()));
  if (parts.length !== 2 || !parts.every((x) => Number.isFinite(x) && x >= 0) || !(parts[1] >= parts[0])) {
    throw new InputError(`expected "<min>,<max>" US$ per query with min <= max, got "${value}"`, { field: "--cost-range" });
  }
  return [parts[0], parts[1]];
}


export function register(program: Command): void {
  program
    .command("eval")
    .description(
      "Evaluate routers on held-out test prompts: exact cost-quality curves, hulls, AIQ with bootstrap intervals, and whether each beats the Zero router.\n" +
        "Writes results.json, report.md and plots/ (SVG and PNG) to --out. Saved router directories are evaluated on the test split recorded in their router.json;\n" +
        "router specs are first trained on each split's training rows (hyperparameter grids chosen on its validation rows).",
    )
    .argument("<dataset.arrow>", "outcome table (Arrow IPC)")
    .requiredOption("--routers <dirs or specs...>", "router directories (with router.json) and/or specs such as knn:k=5|10|40, mlp, linear, cascade")
    .requiredOption("--out <dir>", "report directory (results.json, report.md, plots/), replaced whole in one atomic step")
    .option("--dataset <name>", "evaluate only this dataset's split (default: every dataset)")
    .addOption(new Option("--split <kind>", "split kind for specs (default: the saved routers' split, else in-distribution)").choices(["in-distribution", "out-of-distribution"]))
    .option("--seed <n>", "seed of the bootstrap, and of the split and training when no saved router records one", "0")
    .option("--bootstrap <n>", "bootstrap resamples of the test prompts (0 = no intervals)", "1000")
    .addOption(new Option("--lambdas <mode>", "exact: every lambda breakpoint; routerbench: the reference's 32-value grid").choices(["exact", "routerbench"]).default("exact"))
    .addOption(
      new Option("--aiq <mode>", "shared-range: mean hull quality over one cost range for all rows; routerbench-code: the reference code's variant").choices(["shared-range", "routerbench-code"]).default("shared-range"),
    )
    .addOption(
      new Option("--operating-points <where>", "validation: each router's hull lambdas/settings are chosen on the split's validation rows, then evaluated on test; test: chosen on test (RouterBench's way, optimistic)")
        .choices(["validation", "test"])
        .default("validation"),
    )
    .addOption(
      new Option("--protocol <protocol>", "holdout: each split's test part once; crossfit: K folds, every prompt tested once by routers trained without it (router specs only)")
        .choices(["holdout", "crossfit"])
        .default("holdout"),
    )
    .option("--folds <k>", "folds of --protocol crossfit", String(DEFAULT_FOLDS))
    .option("--null-shuffles <n>", "permutation null: evaluate again on n shuffles of the outcomes among each dataset's prompts, for p-values (router specs only; each shuffle costs one more evaluation)", "0")
    .option("--compare-to <router>", "also compare every row with this router (its name in the report, e.g. task-prior), with paired intervals")
    .option("--cost-range <min,max>", "AIQ cost range in US$ per query (default: cheapest to dearest single model on each test split)")
    .option("--latency-weights <list>", "prices of waiting (US$ per second) for the latency sweep, when the table has latencies (default: per router, 0 to 3x its chosen lambda per second of the pool's latency spread)")
    .option("--log-cost", "log-scale cost axis in the plots (the default, as in `run`)")
    .addOption(new Option("--linear-cost", "linear cost axis in the plots instead of the default log scale").conflicts("logCost"))
    .option("--embedder <spec>", "embedder for specs that read prompts: use-lite | use-lite-static | hash | hash:<dim> | hf:<model-id> | openai:<model>@<base-url>", DEFAULT_EMBEDDER_SPEC)
    .option("--cache-dir <dir>", `embedding cache (default: $ROUTEKIT_CACHE_DIR or ${defaultCacheDir()})`)
    .option("--max-points <n>", "curve points kept per router in results.json (metrics always use all)", String(DEFAULT_MAX_POINTS))
    .option("--allow-overlap", "evaluate saved routers even on test prompts they were fitted or tuned on (refused by default; the report then warns)")
    .option("--json", "print the figures as JSON instead of tables")
    .action(async (file: string, o: EvalCliOptions) => {
      parseEmbedderSpec(o.embedder);
      const seed = integerOption(o.seed, "--seed", Number.MIN_SAFE_INTEGER);
      const bootstrap = integerOption(o.bootstrap, "--bootstrap", 0);
      const maxPoints = integerOption(o.maxPoints, "--max-points", 2);
      const folds = integerOption(o.folds, "--folds", 2);
      const nullShuffles = integerOption(o.nullShuffles, "--null-shuffles", 0);
      const range = costRange(o.costRange);
      const weights = latencyWeights(o.latencyWeights);
      // Costs span orders of magnitude: plots use a log cost axis unless asked otherwise (as `run`).
      const logCost = !o.linearCost;
      const started = Date.now();
      // --out is replaced whole: refuse one that is or holds an input before any work.
      const inputs = [file, ...o.routers.filter((r) => existsSync(r)), o.cacheDir ?? defaultCacheDir()];
      const routers = o.routers.map(routerSource);
      await checkOutputDir(o.out, { inputs, marker: REPORT_MARKER });
      const table = await readOutcomeTable(file);
      const bars = {
        train: progressReporter("train", { quiet: !!o.json }),
        embed: progressReporter("embed", { quiet: !!o.json }),
        evaluate: progressReporter("evaluate", { quiet: !!o.json }),
      };
      let res;
      try {
        res = await evaluateRoutersOnTable(table, {
          routers,
          dataset: o.dataset,
          split: o.split,
          seed,
          bootstrap,
          lambdas: o.lambdas,
          aiq: o.aiq,
          operatingPoints: o.operatingPoints,
          compareTo: o.compareTo,
          costRange: range,
          ...(weights ? { latencyWeights: weights } : {}),
          protocol: o.protocol,
          folds,
          nullShuffles,
          embedder: o.embedder,
          cacheDir: o.cacheDir,
          maxPoints,
          allowOverlap: !!o.allowOverlap,
          onProgress: (stage, d, t, l) => bars[stage].update(d, t, l),
        });
      } finally {
        for (const b of Object.values(bars)) b.stop();
      }
      const results = makeResults(res.splits, {
        command: "eval",
        data: file,
        routers: res.routers,
        split: res.splitSpec,
        datasetFilter: o.dataset ?? null,
        seed,
        bootstrap,
        lambdas: o.lambdas,
        aiq: o.aiq,
        operatingPoints: o.operatingPoints,
        compareTo: o.compareTo ?? null,
        costRange: range ?? null,
        ...(weights ? { latencyWeights: weights } : {}),
        protocol: o.protocol,
        ...(o.protocol === "crossfit" ? { folds } : {}),
        ...(nullShuffles > 0 ? { nullShuffles } : {}),
        embedder: o.embedder,
        maxPoints,
        logCost,
        allowOverlap: !!o.allowOverlap,
      });
      // One atomic step replaces the whole folder. Timing lives in run.json, outside results.json,
      // which must stay byte-identical across reruns.
      const written = await writeReport(o.out, results, {
        logCost,
        inputs,
        extraFiles: { "run.json": `${JSON.stringify({ finishedAt: new Date().toISOString(), seconds: (Date.now() - started) / 1000, node: process.version }, null, 2)}\n` },
      });
      if (o.json) {
        printJson({
          out: o.out,
          results: written.results,
          report: written.report,
          plots: written.plots,
          splits: results.splits.map(splitSummary),
        });
        return;
      }
      const lines: string[] = [];
      for (const s of results.splits) {
        lines.push(formatSplitTable(s));
        const warnings = formatSplitWarnings(s);
        if (warnings) lines.push(warnings);
        lines.push("");
      }
      lines.push(formatSummaryTable(results.splits, { width: process.stdout.columns }), "");
      lines.push(`report: ${written.report}`, `results: ${written.results}`, `plots: ${written.plots.map((p) => p.png).join(", ")}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
