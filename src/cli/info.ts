import type { Command } from "commander";
import { readOutcomeTable } from "../data/arrow-io.js";
import { tableInfo } from "../data/info.js";
import { formatTable, printJson } from "./output.js";

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const fixed = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

export function register(program: Command): void {
  program
    .command("info")
    .description(
      "Summarise an outcome table: prompts, datasets and evals, and per model the mean score, mean cost per query (US$) " +
        "and the share of prompts where it is the Oracle's choice (best score, cheapest on ties); mean and p95 latency (ms) when the table has latencies.",
    )
    .argument("<dataset.arrow>", "an outcome table written by `routekit import` or `routekit synth`")
    .option("--json", "print the figures as JSON: { prompts, datasets, models: [{ name, meanScore, meanCost, oracleShare, missing, latency? }], ... }; latency (ms: meanTotalMs, p95TotalMs, meanTtftMs, p95TtftMs, missingTotal) when the table has it")
    .action(async (file: string, opts: { json?: boolean }) => {
      const t = await readOutcomeTable(file);
      const info = tableInfo(t);
      if (opts.json) {
        printJson({
          file,
          prompts: info.prompts,
          datasets: info.datasets,
          models: info.models.map(({ model, ...rest }) => ({ name: model, ...rest })),
          noModelCorrectShare: info.noModelCorrectShare,
        });
        return;
      }
      const out: string[] = [];
      out.push(`${file}: ${info.prompts} prompts x ${info.models.length} models`, "");
      out.push(
        formatTable(
          ["dataset", "prompts", "evals"],
          info.datasets.map((d) => [d.name, d.prompts, d.evals.length]),
        ),
        "",
      );
      const grouped = info.datasets.filter((d) => d.evals.length > 1);
      for (const d of grouped) out.push(`${d.name} evals: ${d.evals.join(", ")}`);
      if (grouped.length) out.push("");
      const lat = info.models.some((m) => m.latency);
      const hasTtft = info.models.some((m) => m.latency?.meanTtftMs !== undefined);
      const ms = (x: number | null | undefined) => (x === null || x === undefined ? "n/a" : x.toFixed(0));
      out.push(
        formatTable(
          ["model", "mean score", "mean $/query", "oracle share", "missing", ...(lat ? ["mean latency ms", "p95 latency ms"] : []), ...(hasTtft ? ["mean ttft ms", "p95 ttft ms"] : [])],
          info.models.map((m) => [
            m.model,
            fixed(m.meanScore, 4),
            Number.isFinite(m.meanCost) ? m.meanCost.toExponential(3) : "n/a",
            pct(m.oracleShare),
            m.missing,
            ...(lat ? [ms(m.latency?.meanTotalMs), ms(m.latency?.p95TotalMs)] : []),
            ...(hasTtft ? [ms(m.latency?.meanTtftMs), ms(m.latency?.p95TtftMs)] : []),
          ]),
        ),
        "",
        `no model correct: ${pct(info.noModelCorrectShare)}`,
      );
      process.stdout.write(`${out.join("\n")}\n`);
    });
}
