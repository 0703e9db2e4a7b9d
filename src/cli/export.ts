import { Option, type Command } from "commander";
import { readOutcomeTable } from "../data/arrow-io.js";
import { EXPORT_FORMATS, exportFormatOf, exportTable, type ExportFormat } from "../data/export.js";
import { checkOutputFile } from "../util/atomic.js";
import { InputError } from "../util/errors.js";
import { progressReporter, type ProgressFn } from "../util/progress.js";
import { printJson } from "./output.js";

interface ExportCliOptions {
  out: string;
  format?: ExportFormat;
  json?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command("export")
    .description(
      "Write an outcome table in long form (one row per prompt x model: prompt_id, dataset, eval, prompt, model, score, cost, " +
        "and tokens, latencies, response when the table has them; missing outcomes as nulls) as Parquet or JSON Lines, " +
        "for DuckDB, Spark or polars. `routekit import` reads it back into the same table.",
    )
    .argument("<table.arrow>", "an outcome table written by `routekit import` or `routekit synth`")
    .requiredOption("--out <file>", "where to write it (written atomically; not the input)")
    .addOption(
      new Option("--format <format>", "parquet (Snappy-compressed) or jsonl (default: from the --out extension, .parquet or .jsonl)").choices(
        EXPORT_FORMATS as string[],
      ),
    )
    .option("--json", "print what was written as JSON: { out, format, rows, prompts, models, columns }")
    .option("--quiet", "no progress output")
    .action(async (file: string, opts: ExportCliOptions) => {
      // Before any work: --out must not be the input (it would be replaced) nor a folder.
      await checkOutputFile(opts.out, { inputs: [file] });
      const format = opts.format ?? exportFormatOf(opts.out);
      if (!format) {
        throw new InputError(`--out: cannot tell the format from ${opts.out} (not .parquet or .jsonl); give --format parquet or --format jsonl`);
      }
      const table = await readOutcomeTable(file);
      const progress = progressReporter("export", { quiet: opts.quiet });
      // Stay silent on exports that finish in a moment; report once one takes a while.
      const started = Date.now();
      const update: ProgressFn = (done, total, label) => {
        if (Date.now() - started >= 2000) progress.update(done, total, label);
      };
      let report;
      try {
        report = await exportTable(table, opts.out, { format, onProgress: update });
      } finally {
        progress.stop();
      }
      if (opts.json) printJson(report);
      else process.stdout.write(`exported ${report.prompts} prompts x ${report.models.length} models = ${report.rows} rows (${report.format}) -> ${report.out}\n`);
    });
}
