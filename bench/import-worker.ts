/**
 * One measured import in a fresh process (so peak RSS is this import's alone):
 * `node dist/bench/import-worker.js <out.arrow> <files...>` prints one JSON line.
 */
import { readOutcomeTable, writeOutcomeTable } from "../src/data/arrow-io.js";
import { importFiles } from "../src/data/importers/index.js";

async function main(): Promise<void> {
  const [out, ...files] = process.argv.slice(2);
  const t0 = performance.now();
  const { table, report } = await importFiles(files);
  const importMs = performance.now() - t0;
  const t1 = performance.now();
  await writeOutcomeTable(out, table);
  const writeMs = performance.now() - t1;
  const t2 = performance.now();
  const back = await readOutcomeTable(out);
  const readMs = performance.now() - t2;
  process.stdout.write(
    `${JSON.stringify({
      importMs,
      writeMs,
      readMs,
      prompts: report.prompts,
      models: report.models.length,
      readBack: back.ids.length,
      maxRssMiB: process.resourceUsage().maxRSS / 1024,
    })}\n`,
  );
}

await main();
