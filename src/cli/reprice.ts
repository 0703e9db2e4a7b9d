import type { Command } from "commander";
import { readPriceFile, repriceRouter } from "../workflow/reprice.js";
import { formatTable, printJson } from "./output.js";
import { operatingPointLines } from "./train.js";

interface RepriceCliOptions {
  prices: string;
  out: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("reprice")
    .description(
      "Write a copy of a saved router priced with a new prices file, without retraining: its expected costs (mean tokens per call on the\n" +
        "training rows x the new prices) and its operating points (measured again on the recorded validation predictions) change; the\n" +
        "weights do not. Every pool model must be in the prices file (models not in the pool are ignored). Refused: routers saved\n" +
        "before this version or without token counts (retrain or re-save with `routekit train`), and routers that are not predictive.",
    )
    .argument("<router-dir>", "a directory written by `routekit train`")
    .requiredOption("--prices <prices.json>", 'new prices, US$ per 1M tokens: {"model": {"input": 3, "output": 15}, ...}')
    .requiredOption("--out <dir>", "the repriced copy to write (replaced atomically)")
    .option("--json", "print the expected costs and operating points as JSON")
    .action(async (dir: string, o: RepriceCliOptions) => {
      const prices = await readPriceFile(o.prices);
      const res = await repriceRouter(dir, prices, { out: o.out });
      if (o.json) {
        printJson({ out: o.out, costs: res.costs, unusedPrices: res.unused, operatingPoints: res.manifest.operatingPoints, repricedFrom: res.manifest.repricedFrom });
        return;
      }
      const lines = [
        "expected US$ per query:",
        formatTable(["model", "before", "after"], res.costs.map((c) => [c.model, c.before.toPrecision(4), c.after.toPrecision(4)])),
      ];
      if (res.unused.length) lines.push("", `ignored (not in the pool): ${res.unused.join(", ")}`);
      if (res.droppedCalibration) lines.push("", "note: the router's calibrated operating points were replaced by points on its validation rows at the new prices; run `routekit calibrate` again");
      if (res.operatingPoints) lines.push("", ...operatingPointLines(res.operatingPoints));
      lines.push("", `saved to ${o.out}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
