/**
 * `npm run bench -- import`: import the six RouterBench 5-shot CSVs of ../shared (time, peak
 * RSS, Arrow write and read), and the same rows repeated with new ids to RouterBench's full
 * size (~36.5k prompts), the scale of `routerbench_5shot` converted to CSV. Each import runs
 * in its own process so peak RSS is its own.
 */
import { spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "csv-parse";
import type { Bench } from "./types.js";
import { SHARED_SUBSET_DIR } from "./shared.js";

const SHARED = SHARED_SUBSET_DIR;
const WORKER = fileURLToPath(new URL("./import-worker.js", import.meta.url));

interface Measure {
  importMs: number;
  writeMs: number;
  readMs: number;
  prompts: number;
  models: number;
  readBack: number;
  maxRssMiB: number;
}

function measure(out: string, files: string[]): Measure {
  const r = spawnSync(process.execPath, [WORKER, out, ...files], { encoding: "utf8", maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`import worker failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Measure;
}

function quote(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Writes the rows of `files` `times` times (sample_id suffixed `~k`) as one pandas-style CSV. */
async function scaled(files: string[], times: number, out: string): Promise<number> {
  const w = createWriteStream(out);
  let header = false;
  let rows = 0;
  for (let k = 0; k < times; k++) {
    for (const f of files) {
      let first = true;
      for await (const rec of createReadStream(f).pipe(parse({ max_record_size: 0 })) as AsyncIterable<string[]>) {
        if (first) {
          first = false;
          if (header) continue;
          header = true;
        } else {
          rec[1] = `${rec[1]}~${k}`;
          rows++;
        }
        if (!w.write(`${rec.map(quote).join(",")}\n`)) await new Promise<void>((r) => w.once("drain", () => r()));
      }
    }
  }
  await new Promise<void>((resolve, reject) => w.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return rows;
}

const mib = (b: number) => (b / 2 ** 20).toFixed(1);

export const importBench: Bench = {
  name: "import",
  title: "Import RouterBench CSVs (time, peak RSS, Arrow read)",
  async run() {
    if (!existsSync(SHARED)) return "Skipped: ../shared/data/routerbench-5shot-subset is absent on this machine.\n";
    const files = readdirSync(SHARED).filter((f) => f.endsWith(".csv")).sort().map((f) => join(SHARED, f));
    const dir = await mkdtemp(join(tmpdir(), "rk-bench-import-"));
    try {
      const bytes = (await Promise.all(files.map((f) => stat(f)))).reduce((a, s) => a + s.size, 0);
      process.stderr.write("  six CSVs...\n");
      const small = measure(join(dir, "subset.arrow"), files);
      const smallArrow = (await stat(join(dir, "subset.arrow"))).size;
      const times = 12;
      process.stderr.write(`  writing the rows x${times}...\n`);
      const big = join(dir, "scaled.csv");
      const bigRows = await scaled(files, times, big);
      const bigBytes = (await stat(big)).size;
      process.stderr.write(`  scaled CSV (${bigRows} rows)...\n`);
      const large = measure(join(dir, "scaled.arrow"), [big]);
      const largeArrow = (await stat(join(dir, "scaled.arrow"))).size;
      const row = (name: string, inBytes: number, m: Measure, arrowBytes: number) =>
        `| ${name} | ${mib(inBytes)} MiB | ${m.prompts} x ${m.models} | ${(m.importMs / 1000).toFixed(2)} s | ${m.maxRssMiB.toFixed(0)} MiB | ${mib(arrowBytes)} MiB | ${(m.writeMs / 1000).toFixed(2)} s | ${(m.readMs / 1000).toFixed(2)} s |`;
      return [
        "| input | size | prompts x models | import | peak RSS | .arrow size | Arrow write | Arrow read |",
        "|---|---|---|---|---|---|---|---|",
        row("6 CSVs of ../shared (3,178 rows)", bytes, small, smallArrow),
        row(`the same rows x${times}, one CSV (${bigRows} rows)`, bigBytes, large, largeArrow),
        "",
        "Import = detect + parse (csv-parse streaming, Python-literal unwrapping of prompts and 11 responses per row) + merge;",
        "peak RSS is the whole process (import, write and read back, responses included).",
      ].join("\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
