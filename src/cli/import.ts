import { Option, type Command } from "commander";
import { writeOutcomeTable } from "../data/arrow-io.js";
import { IMPORT_FORMATS, importFiles, loadPrices, type ImportFormat, type ImportReport } from "../data/importers/index.js";
import { DEFAULT_GROUP_PREFIXES } from "../data/table.js";
import { checkOutputFile } from "../util/atomic.js";
import { progressReporter, type ProgressFn } from "../util/progress.js";
import { printJson } from "./output.js";

interface ImportCliOptions {
  out: string;
  format?: ImportFormat;
  prices?: string;
  groupPrefixes?: string;
  json?: boolean;
  quiet?: boolean;
}

function summary(out: string, report: ImportReport): string {
  const formats = [...new Set(report.files.map((f) => f.format))].join(", ");
  const rows = report.files.reduce((a, f) => a + f.rows, 0);
  const lines = [
    `imported ${report.files.length} file(s) (${formats}), ${rows} rows -> ${out}`,
    `prompts: ${report.prompts}`,
    `models: ${report.models.length} (${report.models.join(", ")})`,
    `merged duplicates: ${report.mergedDuplicates}`,
    `rows with missing scores: ${report.rowsWithMissingScores.length}`,
  ];
  for (const r of report.rowsWithMissingScores.slice(0, 10)) lines.push(`  ${r.id}: missing ${r.models.join(", ")}`);
  if (report.rowsWithMissingScores.length > 10) lines.push(`  ... (--json lists all)`);
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  return lines.join("\n");
}

export function register(program: Command): void {
  program
    .command("import")
    .description(
      "Import outcomes into an outcome table (.arrow): RouterBench wide files (CSV as pandas writes it, Parquet, JSON Lines, " +
        "pandas pickle) or long-form files (one row per prompt x model: JSON Lines, CSV, Parquet). The format is detected from the content.",
    )
    .argument("<files...>", "input files; all are merged into one table (duplicate prompt ids merged field by field)")
    .requiredOption("--out <file.arrow>", "where to write the table (written atomically; nothing is written if the import fails)")
    .addOption(new Option("--format <format>", "force the input format instead of detecting it").choices(IMPORT_FORMATS as string[]))
    .option("--prices <prices.json>", 'price table for long-form token counts, US$ per 1M tokens: {"model": {"input": 10, "output": 30}}')
    .option("--group-prefixes <list>", `comma-separated eval-name prefixes that group into one dataset (default: ${DEFAULT_GROUP_PREFIXES.join(",")})`)
    .option("--json", "print the import report as JSON")
    .option("--quiet", "no progress output")
    .action(async (files: string[], opts: ImportCliOptions) => {
      // Before any work: --out must not be an input (`import in.csv --out in.csv` would replace it) nor a folder.
      await checkOutputFile(opts.out, { inputs: [...files, opts.prices] });
      const prices = opts.prices ? await loadPrices(opts.prices) : undefined;
      const groupPrefixes = opts.groupPrefixes
        ? opts.groupPrefixes.split(",").map((s) => s.trim()).filter(Boolean)
        : undefined;
      const progress = progressReporter("import", { quiet: opts.quiet });
      // Stay silent on imports that finish in a moment; report once one takes a while.
      const started = Date.now();
      const update: ProgressFn = (done, total, label) => {
        if (Date.now() - started >= 2000) progress.update(done, total, label);
      };
      let result;
      try {
        result = await importFiles(files, {
          format: opts.format,
          prices,
          pricesFile: opts.prices,
          groupPrefixes,
          onProgress: update,
        });
      } finally {
        progress.stop();
      }
      await writeOutcomeTable(opts.out, result.table);
      if (opts.json) printJson({ out: opts.out, ...result.report });
      else process.stdout.write(`${summary(opts.out, result.report)}\n`);
    });
}
