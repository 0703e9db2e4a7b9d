import type { Command } from "commander";
import { Option } from "commander";
import { readOutcomeTable } from "../data/arrow-io.js";
import { DEFAULT_EMBEDDER_SPEC, defaultCacheDir, normalizePreparation, parseEmbedderSpec } from "../embed/index.js";
import { ROUTERBENCH_SPLIT } from "../data/splits.js";
import { getRouterFactory, parseRouterSpec, routerTypes } from "../routers/registry.js";
import { checkTrainable, trainAndSave } from "../workflow/train.js";
import { MANIFEST_FILE } from "../routers/artifact.js";
import { checkOutputDir } from "../util/atomic.js";
import type { OperatingPoints } from "../routers/targets.js";
import { InputError } from "../util/errors.js";
import { progressReporter } from "../util/progress.js";
import { formatTable, printJson } from "./output.js";

interface TrainCliOptions {
  router: string;
  grid?: string[];
  embedder: string;
  dataset?: string;
  split: "in-distribution" | "out-of-distribution";
  seed: string;
  validationFraction: string;
  testFraction: string;
  cacheDir?: string;
  maxChars: string;
  keep: "head" | "tail";
  stripPrefix: boolean;
  out: string;
  pointsOn: "validation" | "crossfit";
  json?: boolean;
}

function number(value: string, field: string, check: (n: number) => boolean, what: string): number {
  const n = Number(value);
  if (value.trim() === "" || !check(n)) throw new InputError(`expected ${what}, got "${value}"`, { field });
  return n;
}

/** --grid k=5|10 --grid weighting=uniform|distance appended to the --router spec. */
function withGrid(spec: string, grid: string[] = []): string {
  if (!grid.length) return spec;
  return `${spec}${spec.includes(":") ? "," : ":"}${grid.join(",")}`;
}

/** The validated operating points as a table: what `route --budget` chooses from. */
export function operatingPointLines(ops: OperatingPoints): string[] {
  const top = (shares: Readonly<Record<string, number>>) =>
    Object.entries(shares)
      .filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 2)
      .map(([m, v]) => `${m} ${(v * 100).toFixed(0)}%`)
      .join(", ");
  const rows = ops.points.map((p) => [
    p.lambda === null ? String(p.setting) : Number.isFinite(p.lambda) ? String(Number(p.lambda.toPrecision(4))) : "inf",
    `$${p.cost.toPrecision(3)}`,
    `${p.quality.toFixed(3)}${p.qualityInterval ? ` [${p.qualityInterval[0].toFixed(3)}, ${p.qualityInterval[1].toFixed(3)}]` : ""}`,
    top(p.shares),
  ]);
  return [`operating points on ${ops.prompts} ${ops.on} prompts (route --budget picks among these, mixing neighbours):`, formatTable(["lambda", "$/query", "quality [95%]", "most traffic"], rows)];
}

export function register(program: Command): void {
  program
    .command("train")
    .description(
      "Train a router on a split's training rows (hyperparameters chosen on its validation rows) and save it as a directory.\n" +
        "Without --dataset, the training (and validation) rows of every dataset are pooled; each dataset's test rows stay held out.\n" +
        "The router's operating points (its cost-quality hull on the validation rows) and the ids of the prompts it was fitted and tuned on\n" +
        "are saved with it: `route --budget` chooses among those points, and `eval` refuses to test it on prompts it has seen.\n" +
        "oracle, zero and cascade are evaluation baselines (they need the prompts' outcomes) and cannot be trained for routing.",
    )
    .argument("<dataset.arrow>", "outcome table (Arrow IPC)")
    .requiredOption("--router <spec>", `router type and parameters, e.g. knn, knn:k=10, knn:k=5|10|40 (a grid), mlp:hidden=100x100 (types: ${routerTypes().join(", ")})`)
    .option("--grid <name=v1|v2>", "a hyperparameter grid to search on the validation split (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--embedder <spec>", "use-lite | use-lite-static | hash | hash:<dim> | hf:<model-id> | openai:<model>@<base-url> (for routers that read prompts)", DEFAULT_EMBEDDER_SPEC)
    .option("--dataset <name>", "train on this dataset's split only (required for out-of-distribution: the dataset left out)")
    .addOption(new Option("--split <kind>", "how rows are split").choices(["in-distribution", "out-of-distribution"]).default("in-distribution"))
    .option("--seed <n>", "seed of the split and of the router (MLP weights, cascade judge)", String(ROUTERBENCH_SPLIT.seed))
    .option("--validation-fraction <f>", "share of the training part held out for validation", String(ROUTERBENCH_SPLIT.validationFraction))
    .option("--test-fraction <f>", "share of each dataset held out for testing (in-distribution)", String(ROUTERBENCH_SPLIT.testFraction))
    .option("--cache-dir <dir>", `embedding cache (default: $ROUTEKIT_CACHE_DIR or ${defaultCacheDir()})`)
    .option("--max-chars <n>", "keep at most this many characters of each prepared prompt (0 = all)", "0")
    .addOption(new Option("--keep <end>", "which end to keep when cutting to --max-chars").choices(["head", "tail"]).default("head"))
    .option("--no-strip-prefix", "keep the prefix shared by all prompts of an eval (stripped by default)")
    .addOption(
      new Option("--points-on <where>", "where the router's operating points (what route --budget picks from) are measured: validation = the trained router on the validation rows; crossfit = out-of-fold predictions over train + validation (5 refits)")
        .choices(["validation", "crossfit"])
        .default("validation"),
    )
    .requiredOption("--out <dir>", "router directory to write (replaced atomically), e.g. models/knn")
    .option("--json", "print the fit report as JSON")
    .addHelpText("after", () => {
      const lines = routerTypes().map((t) => {
        const f = getRouterFactory(t);
        const grid = Object.entries(f.defaultGrid ?? {}).map(([k, v]) => `${k}=${v.join("|")}`);
        return `  ${t.padEnd(12)} ${f.describe}${grid.length ? `; default grid ${grid.join(",")}` : ""}`;
      });
      return `\nRouter types (a default grid is searched only for parameters the spec leaves open, and only with validation rows):\n${lines.join("\n")}`;
    })
    .action(async (file: string, o: TrainCliOptions) => {
      const spec = parseRouterSpec(withGrid(o.router, o.grid));
      checkTrainable(spec);
      parseEmbedderSpec(o.embedder);
      const seed = number(o.seed, "--seed", Number.isInteger, "an integer");
      const validationFraction = number(o.validationFraction, "--validation-fraction", (n) => n >= 0 && n < 1, "a number in [0, 1)");
      const testFraction = number(o.testFraction, "--test-fraction", (n) => n >= 0 && n < 1, "a number in [0, 1)");
      const maxChars = number(o.maxChars, "--max-chars", (n) => Number.isInteger(n) && n >= 0, "a non-negative integer");
      // --out is replaced whole: refuse a file, the table, a folder holding it, or one of other files, before any work.
      await checkOutputDir(o.out, { inputs: [file, o.cacheDir ?? defaultCacheDir()], marker: MANIFEST_FILE });
      const table = await readOutcomeTable(file);
      const bars = { embed: progressReporter("embed", { quiet: !!o.json }), fit: progressReporter("fit", { quiet: !!o.json }) };
      let result;
      try {
        result = await trainAndSave(table, o.out, {
          spec,
          seed,
          embedder: o.embedder,
          preparation: normalizePreparation({ stripSharedPrefix: o.stripPrefix, maxChars, keep: o.keep }),
          dataset: o.dataset,
          split: o.split,
          validationFraction,
          testFraction,
          cacheDir: o.cacheDir,
          pointsOn: o.pointsOn,
          onProgress: (stage, done, total, label) => bars[stage].update(done, total, label),
        });
      } finally {
        bars.embed.stop();
        bars.fit.stop();
      }
      const { router, report, split } = result;
      const costs = (router as { expectedCosts?: Float64Array }).expectedCosts;
      if (o.json) {
        printJson({
          out: o.out,
          type: router.type,
          params: router.params,
          pool: router.pool.map((model, j) => ({ model, expectedCost: costs?.[j] })),
          split,
          embedder: result.embedder,
          fit: report,
          operatingPoints: result.operatingPoints && { ...result.operatingPoints, points: result.operatingPoints.points.map((p) => ({ ...p, lambda: p.lambda === Infinity ? "inf" : p.lambda })) },
        });
        return;
      }
      const lines = [
        `trained ${router.type} (${Object.entries(report.chosen).map(([k, v]) => `${k}=${String(v)}`).join(", ") || "no parameters"}) in ${report.seconds.toFixed(2)} s`,
        `split ${String(split.name)}: ${String(split.trainRows)} train, ${String(split.validationRows)} validation rows (${String(split.testRows)} test rows held out)`,
      ];
      const figures = Object.entries(report.validation);
      if (figures.length) lines.push("", formatTable(["validation figure", "value"], figures.map(([k, v]) => [k, Number.isFinite(v) ? v.toPrecision(5) : String(v)])));
      if (result.operatingPoints) lines.push("", ...operatingPointLines(result.operatingPoints));
      lines.push("", `saved to ${o.out}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
