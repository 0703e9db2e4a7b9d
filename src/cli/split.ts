import type { Command } from "commander";
import { readOutcomeTable } from "../data/arrow-io.js";
import { ROUTERBENCH_SPLIT, makeSplits, type SplitSpec } from "../data/splits.js";
import { InputError } from "../util/errors.js";
import { formatTable, printJson } from "./output.js";

function num(name: string, v: string): number {
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x)) throw new InputError(`not a number: ${JSON.stringify(v)}`, { field: name });
  return x;
}

export function register(program: Command): void {
  const d = ROUTERBENCH_SPLIT as Extract<SplitSpec, { kind: "in-distribution" }>;
  program
    .command("split")
    .description(
      "Show the seeded per-dataset splits of an outcome table: in-distribution (RouterBench: per dataset 70% train / 30% test, " +
        "validation carved from train) or leave-one-dataset-out (--ood).",
    )
    .argument("<dataset.arrow>", "an outcome table")
    .option("--seed <n>", "split seed (the same seed gives the same split on any machine)", String(d.seed))
    .option("--ood", "out-of-distribution: for each dataset, test on it and train on all the others")
    .option("--test-fraction <x>", "share of each dataset held out for test (in-distribution)", String(d.testFraction))
    .option("--validation-fraction <x>", "share of the training part set aside for validation", String(d.validationFraction))
    .option("--indices", "with --json: include the row indices of each part")
    .option("--json", "print the splits as JSON")
    .action(async (file: string, opts: { seed: string; ood?: boolean; testFraction: string; validationFraction: string; indices?: boolean; json?: boolean }) => {
      const seed = num("--seed", opts.seed);
      const validationFraction = num("--validation-fraction", opts.validationFraction);
      const spec: SplitSpec = opts.ood
        ? { kind: "out-of-distribution", validationFraction, seed }
        : { kind: "in-distribution", testFraction: num("--test-fraction", opts.testFraction), validationFraction, seed };
      const t = await readOutcomeTable(file);
      const splits = makeSplits(t, spec);
      if (opts.json) {
        printJson({
          file,
          spec,
          splits: splits.map((s) => ({
            name: s.name,
            dataset: s.dataset,
            sizes: { train: s.train.length, validation: s.validation.length, test: s.test.length },
            ...(opts.indices ? { train: s.train, validation: s.validation, test: s.test } : {}),
          })),
        });
        return;
      }
      process.stdout.write(
        `${formatTable(["split", "train", "validation", "test"], splits.map((s) => [s.name, s.train.length, s.validation.length, s.test.length]))}\n`,
      );
    });
}
