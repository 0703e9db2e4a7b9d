/**
 * Every router judged cross-fitted, and the stacked router against a permutation null.
 *
 * For the bundled data (always) and the RouterBench subset in ../shared (when it is there): a
 * cross-fitted run (5 folds, every prompt tested once) of task-prior, knn, linear, mlp, irt, mf
 * and stack, per dataset and pooled, each row's AIQ minus Zero and minus task-prior with 95%
 * paired bootstrap intervals. Then the same run of task-prior and stack on a copy of the table
 * whose outcome rows (every model's score and cost together) are shuffled among the prompts of
 * each dataset (seeded): task identity survives, the text no longer says anything about the
 * outcome. A stack that wins there wins on noise.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bench } from "./types.js";
import { SHARED_SUBSET_DIR } from "./shared.js";
import { readOutcomeTable } from "../src/data/arrow-io.js";
import { importFiles } from "../src/data/importers/index.js";
import { completeRows, selectRows, type OutcomeTable } from "../src/data/table.js";
import { validateExperiment } from "../src/experiments/config.js";
import type { SplitEntry } from "../src/report/results.js";
import { shuffledOutcomes } from "../src/evaluate/null.js";
import { runExperiment } from "../src/workflow/experiment.js";
import { writeOutcomeTable } from "../src/data/arrow-io.js";

const ROUTERS = [
  { type: "task-prior" },
  { type: "knn", grid: { k: [5, 10, 40] } },
  { type: "linear", grid: { alpha: [0.1, 1, 10, 100] } },
  { type: "mlp", grid: { hidden: ["100", "100x100"] } },
  { type: "irt" },
  { type: "mf", params: { l2: 0.0001 }, grid: { dim: [16, 64] } },
  { type: "stack" },
];
const NULL_ROUTERS = [{ type: "task-prior" }, { type: "stack" }];

const cell = (d: number | null, iv: [number, number] | null) => (d === null ? "–" : `${d >= 0 ? "+" : ""}${d.toFixed(4)}${iv ? ` [${iv[0].toFixed(4)}, ${iv[1].toFixed(4)}]` : ""}`);
const bold = (text: string, yes: boolean | null | undefined) => (yes ? `**${text}**` : text);

function rows(splits: SplitEntry[], routers: string[]): string[] {
  const out: string[] = [];
  for (const s of splits) {
    for (const name of routers) {
      const r = s.routers.find((x) => x.name === name);
      if (!r) continue;
      const vs = r.vsReference;
      out.push(`| ${s.dataset}/${s.split} | ${s.prompts} | ${name} | ${bold(cell(r.diffToZero, r.diffInterval), r.beatsZero)} | ${vs ? bold(cell(vs.diff, vs.interval), vs.better) : "–"} |`);
    }
  }
  return out;
}

async function judge(label: string, table: OutcomeTable, dir: string, routers: typeof ROUTERS): Promise<SplitEntry[]> {
  const path = join(dir, `${label}.arrow`);
  await writeOutcomeTable(path, table);
  const cfg = validateExperiment({
    name: label,
    seed: 0,
    data: { table: path },
    splits: [
      { kind: "in-distribution", validationFraction: 0.2 },
      { kind: "in-distribution", validationFraction: 0.2, pooled: true },
    ],
    embedder: { spec: "use-lite" },
    routers,
    evaluation: { protocol: "crossfit", folds: 5, compareTo: "task-prior", bootstrap: 1000 },
  });
  const started = performance.now();
  const r = await runExperiment(cfg, { outDir: join(dir, label), log: (l) => process.stderr.write(`  ${label}: ${l}\n`) });
  process.stderr.write(`  ${label}: ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
  return r.results.splits;
}

export const judgedBench: Bench = {
  name: "judged",
  title: "Every router judged cross-fitted, and the stacked router against shuffled outcomes",
  async run() {
    const dir = await mkdtemp(join(tmpdir(), "routekit-judged-"));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    try {
      // Real data first: it is what the findings rest on.
      const sources: { name: string; table: OutcomeTable }[] = [];
      if (existsSync(SHARED_SUBSET_DIR)) {
        const files = ["arc_challenge", "mbpp", "winograde"].flatMap((d) => [`${d}_train.csv`, `${d}_test.csv`].map((f) => join(SHARED_SUBSET_DIR, f)));
        const { table } = await importFiles(files);
        sources.push({ name: "routerbench-subset", table: selectRows(table, completeRows(table)) });
      }
      sources.push({ name: "bundled", table: await readOutcomeTable("data/default.arrow") });
      const out: string[] = [];
      for (const s of sources) {
        const real = await judge(`${s.name}`, s.table, dir, ROUTERS);
        const shuffled = await judge(`${s.name}-shuffled`, shuffledOutcomes(s.table, 1), dir, NULL_ROUTERS);
        const section = [
          `### ${s.name === "bundled" ? "Bundled data (data/default.arrow, synthetic)" : "RouterBench subset (../shared: ARC-Challenge, MBPP, Winogrande, 5-shot; real)"}`,
          "",
          "| split | prompts | router | AIQ - Zero [95%] | AIQ - task-prior [95%] |",
          "|---|---:|---|---:|---:|",
          ...rows(real, ROUTERS.map((r) => r.type)),
          "",
          "Outcomes shuffled among each dataset's prompts (seed 1): the text says nothing, the task still does.",
          "",
          "| split | prompts | router | AIQ - Zero [95%] | AIQ - task-prior [95%] |",
          "|---|---:|---|---:|---:|",
          ...rows(shuffled, NULL_ROUTERS.map((r) => r.type)),
          "",
        ];
        // Each source's tables as soon as they are done: the whole bench takes a while.
        process.stderr.write(`${section.join("\n")}\n`);
        out.push(...section);
      }
      const cpu = process.cpuUsage(cpu0);
      return [
        "Cross-fitted (5 folds by prompt id; grids and operating points chosen on each fold's own validation part, 20% of its training part), use-lite embeddings, exact curves, 1,000 paired bootstrap resamples over all prompts. **Bold**: the whole interval above 0. Routers: task-prior, knn (k 5|10|40), linear (alpha 0.1|1|10|100), mlp (100|100x100), irt, mf (dim 16|64, l2 1e-4), stack (default members task-prior, knn, linear, irt).",
        "",
        ...out,
        `Whole bench: ${((performance.now() - t0) / 1000).toFixed(0)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(0)} CPU-s (this process; embeddings from the cache when present).`,
      ].join("\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
