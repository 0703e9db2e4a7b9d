import type { Command } from "commander";
import { writeOutcomeTable } from "../data/arrow-io.js";
import { DEFAULT_SYNTH_OPTIONS, summarizeSynth, synthesize } from "../data/synth/index.js";
import { checkOutputFile } from "../util/atomic.js";
import { InputError } from "../util/errors.js";
import { formatTable, printJson } from "./output.js";

function integer(name: string, min: number) {
  return (value: string): number => {
    const x = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(x) || x < min) {
      throw new InputError(`--${name} must be an integer >= ${min}, got "${value}"`, { field: name });
    }
    return x;
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function register(program: Command): void {
  program
    .command("synth")
    .description(
      "Generate the synthetic demo dataset: RouterBench-like prompts x the 11 RouterBench models, scores and costs " +
        "drawn from a seeded latent model calibrated to the published per-model figures (data/default.arrow is " +
        "`routekit synth --out data/default.arrow`).",
    )
    .requiredOption("--out <file.arrow>", "where to write the outcome table (written atomically)")
    .option("--prompts <n>", "number of prompts", integer("prompts", 1), DEFAULT_SYNTH_OPTIONS.prompts)
    .option("--seed <n>", "seed for prompts and outcomes (same seed, same bytes)", integer("seed", 0), DEFAULT_SYNTH_OPTIONS.seed)
    .option("--models <list>", "comma-separated subset of the 11 RouterBench models (default: all)")
    .option("--no-latency", "leave out the per-cell latencies (time to first token, total; synthetic, drawn from streams of their own, so scores and costs are the same either way)")
    .option("--json", "print the summary as JSON")
    .action(async (opts: { out: string; prompts: number; seed: number; models?: string; latency: boolean; json?: boolean }) => {
      await checkOutputFile(opts.out);
      const models = opts.models?.split(",").map((s) => s.trim()).filter(Boolean);
      const table = synthesize({ prompts: opts.prompts, seed: opts.seed, ...(models ? { models } : {}), latency: opts.latency });
      await writeOutcomeTable(opts.out, table);
      const summary = summarizeSynth(table);
      if (opts.json) {
        printJson({ out: opts.out, seed: opts.seed, ...summary });
        return;
      }
      const lines = [
        `wrote ${opts.out}: ${summary.prompts} prompts x ${table.models.length} models (seed ${opts.seed}; synthetic demo data)`,
        `datasets: ${Object.entries(summary.datasets).map(([d, k]) => `${d} ${k}`).join(", ")}`,
        "",
        "Means weighted to RouterBench's rows per dataset, next to the facts page (docs: data/README.md):",
        formatTable(
          ["model", "score", "facts", "$/query", "facts $", "oracle", "facts oracle"],
          summary.models.map((m) => [
            m.name,
            m.weightedMeanScore.toFixed(3),
            m.facts ? m.facts.score.toFixed(3) : "-",
            m.weightedMeanCost.toExponential(2),
            m.facts ? m.facts.cost.toExponential(2) : "-",
            pct(m.oracleShare),
            m.facts?.oracleShare != null ? pct(m.facts.oracleShare) : "-",
          ]),
        ),
        `no model correct: ${pct(summary.noModelCorrect)} (facts page: ${pct(summary.factsNoModelCorrect)})`,
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
