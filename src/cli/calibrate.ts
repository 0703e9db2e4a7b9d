import type { Command } from "commander";
import { readOutcomeTable } from "../data/arrow-io.js";
import { calibrateSavedRouter } from "../workflow/calibrate.js";
import type { RoutingTarget } from "../routers/targets.js";
import { InputError } from "../util/errors.js";
import { progressReporter } from "../util/progress.js";
import { printJson } from "./output.js";
import { parseBudget, parseMaxShares } from "../workflow/route-at.js";
import { describePlan } from "./route.js";
import { operatingPointLines } from "./train.js";

interface CalibrateCliOptions {
  out: string;
  budget?: string;
  maxShare?: string[];
  seed: string;
  allowOverlap?: boolean;
  cacheDir?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("calibrate")
    .description(
      "Recompute a saved router's operating points on your own held-out traffic (an outcome table of prompts it was not fitted on) and\n" +
        "write them into a copy of the router; --budget / --max-share become the copy's default target, used by `route` when not told.\n" +
        "Prompts the router was fitted or tuned on are refused (--allow-overlap overrides).",
    )
    .argument("<router-dir>", "a directory written by `routekit train`")
    .argument("<table.arrow>", "outcome table of held-out traffic: every row with all the router's models' outcomes is used")
    .requiredOption("--out <dir>", "the calibrated copy to write (replaced atomically)")
    .option("--budget <usd>", "default target: mean US$ per query not to exceed")
    .option("--max-share <model=fraction>", "default target: largest share of prompts a model may get (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--seed <n>", "seed of the bootstrap intervals", "0")
    .option("--allow-overlap", "use rows the router was fitted or tuned on (optimistic points)")
    .option("--cache-dir <dir>", "embedding cache (default: $ROUTEKIT_CACHE_DIR or ~/.cache/routekit)")
    .option("--json", "print the operating points and the default target's choice as JSON")
    .action(async (dir: string, file: string, o: CalibrateCliOptions) => {
      const maxShare = parseMaxShares(o.maxShare);
      const target: RoutingTarget | undefined =
        o.budget !== undefined || maxShare ? { ...(o.budget !== undefined ? { budget: parseBudget(o.budget) } : {}), ...(maxShare ? { maxShare } : {}) } : undefined;
      if (!/^-?\d+$/.test(o.seed.trim())) throw new InputError(`--seed must be an integer, got "${o.seed}"`, { field: "--seed" });
      const table = await readOutcomeTable(file);
      const bar = progressReporter("embed", { quiet: !!o.json });
      let res;
      try {
        res = await calibrateSavedRouter(dir, table, { out: o.out, target, allowOverlap: !!o.allowOverlap, seed: Number(o.seed), cacheDir: o.cacheDir, onProgress: bar.update });
      } finally {
        bar.stop();
      }
      if (o.json) {
        printJson({ out: o.out, prompts: res.prompts, overlap: res.overlap, operatingPoints: res.manifest.operatingPoints, defaultTarget: res.manifest.defaultTarget ?? null });
        return;
      }
      const lines = [...operatingPointLines(res.operatingPoints)];
      if (res.overlap > 0) lines.push("", `warning: ${res.overlap} of the ${res.prompts} prompts were fitted or tuned on (--allow-overlap): these points are optimistic`);
      if (res.choice) lines.push("", "default target:", ...describePlan({ mode: "target", choice: res.choice, pointsOn: { on: "calibration", prompts: res.prompts } }));
      lines.push("", `saved to ${o.out}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
