/**
 * `npm run bench -- encoder`: does use-lite-static route as well as use-lite? Paired, on the
 * RouterBench subset in ../shared (skipped when it is absent).
 *
 * The protocol is experiments/routerbench-subset-crossfit.yaml's, read from that file: the same
 * rows (its files, in its order), preparation, splits (each dataset, then pooled), 5 cross-fitting
 * folds, seed, grids, lambdas and bootstrap. For each router of the config that reads embeddings,
 * and each split, one evaluateFolds call evaluates two copies of it: one trained on and fed
 * use-lite's embeddings, one use-lite-static's (RouterUnderTest.embeddings). Same folds, same test
 * prompts, same bootstrap resamples, so `compareTo` gives the paired interval of
 * AIQ(use-lite-static) - AIQ(use-lite) from the difference on each resample.
 *
 * The use-lite side is the config's own run (its rows match `routekit run` on the config, for
 * these routers); use-lite's embeddings come from the cache when it holds them. Then the same
 * with seeds 1 and 2 (other folds, resamples and training seeds), as FINDINGS' table 5 does.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Bench } from "./types.js";
import { SHARED_SUBSET_DIR } from "./shared.js";
import { importFiles } from "../src/data/importers/index.js";
import { splitSpecOf } from "../src/data/splits.js";
import { completeRows, selectRows } from "../src/data/table.js";
import { evaluateFolds, type FoldUnderTest, type RouterResult, type RouterUnderTest, type SplitResult } from "../src/evaluate/evaluate.js";
import { loadExperiment, routerLabel, type ExperimentConfig } from "../src/experiments/config.js";
import { selectSetRows } from "../src/routers/common.js";
import { getRouterFactory } from "../src/routers/registry.js";
import type { TrainingSet } from "../src/routers/router.js";
import { trainRouter } from "../src/routers/train.js";
import { packageRoot } from "../src/util/package-info.js";
import { embedRows } from "../src/workflow/embed.js";
import { foldsOf } from "../src/workflow/splits.js";

const CONFIG = join(packageRoot(), "experiments", "routerbench-subset-crossfit.yaml");
const BASE = "use-lite";
const CANDIDATE = "use-lite-static";
/** Further fold dealings (the config's `seed:`), as docs/FINDINGS.md's table 5 reruns it. */
const OTHER_SEEDS = [1, 2];

const num = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(4)}`;
const iv = (i: [number, number] | null) => (i ? ` [${num(i[0])}, ${num(i[1])}]` : "");

interface Pair {
  split: string;
  prompts: number;
  router: string;
  base: RouterResult;
  candidate: RouterResult;
}

interface Prepared {
  cfg: ExperimentConfig;
  table: TrainingSet["table"];
  embedded: Record<string, TrainingSet>;
  embedSeconds: number;
}

/** The config's rows, embedded by both encoders (through the cache). */
async function prepare(log: (s: string) => void): Promise<Prepared> {
  const t0 = performance.now();
  const cfg = await loadExperiment(CONFIG);
  if (!cfg.data.import) throw new Error(`${CONFIG}: expected data.import`);
  if (cfg.embedder.spec !== BASE) throw new Error(`${CONFIG}: expected embedder ${BASE}, found ${cfg.embedder.spec}`);
  const { table: imported } = await importFiles(cfg.data.import.files);
  const table = selectRows(imported, completeRows(imported));
  log(`${table.ids.length} prompts x ${table.models.length} models`);
  const embedded: Record<string, TrainingSet> = {};
  for (const spec of [BASE, CANDIDATE]) {
    const e = await embedRows(table, { spec, preparation: cfg.embedder.preparation });
    log(`${spec}: ${e.stats.cacheHits} cached, ${e.stats.computed} computed in ${e.stats.seconds.toFixed(1)} s (${e.matrix.embedderId})`);
    embedded[spec] = { table, embeddings: e.matrix };
  }
  return { cfg, table, embedded, embedSeconds: (performance.now() - t0) / 1000 };
}

/** Every split x router of the config, both encoders, with `seed` for the folds, training and bootstrap (the config's `seed:`). */
async function compare({ cfg, table, embedded }: Prepared, seed: number, log: (s: string) => void): Promise<{ pairs: Pair[]; resamples: number }> {
  const t0 = performance.now();
  const routers = cfg.routers.filter((r) => getRouterFactory(r.type).needsEmbeddings);
  const pairs: Pair[] = [];
  let resamples = 0;
  for (const s of cfg.splits) {
    const spec = splitSpecOf({ ...s, seed });
    const pooled = s.kind === "in-distribution" && s.pooled;
    for (const split of foldsOf(table, spec, cfg.evaluation.folds, { pooled })) {
      for (const entry of routers) {
        const label = routerLabel(entry);
        const name = (enc: string) => `${label} (${enc})`;
        const folds: FoldUnderTest[] = [];
        let result: SplitResult;
        try {
          for (const part of split.folds) {
            const underTest: RouterUnderTest[] = [];
            for (const enc of [BASE, CANDIDATE]) {
              const data = embedded[enc];
              const validation = selectSetRows(data, part.validation);
              const { router } = await trainRouter(selectSetRows(data, part.train), validation, { spec: entry, seed });
              underTest.push({ name: name(enc), router, embeddings: { test: selectSetRows(data, part.test).embeddings!, validation: validation.embeddings } });
            }
            folds.push({ test: selectSetRows(embedded[BASE], part.test), validation: selectSetRows(embedded[BASE], part.validation), routers: underTest });
          }
          result = await evaluateFolds(folds, {
            seed,
            bootstrap: cfg.evaluation.bootstrap,
            lambdas: cfg.evaluation.lambdas,
            aiq: cfg.evaluation.aiq,
            operatingPoints: cfg.evaluation.operatingPoints,
            compareTo: name(BASE),
            ...(cfg.evaluation.costRange ? { costRange: cfg.evaluation.costRange } : {}),
          });
        } finally {
          for (const f of folds) for (const u of f.routers) (u.router as { dispose?: () => void }).dispose?.();
        }
        resamples = result.bootstrap?.resamples ?? 0;
        const row = (enc: string) => result.rows.find((r) => r.name === name(enc))!;
        const p = { split: split.name, prompts: result.prompts, router: label, base: row(BASE), candidate: row(CANDIDATE) };
        pairs.push(p);
        const vs = p.candidate.vsReference!;
        log(`seed ${seed}: ${split.name} ${label}: ${BASE} ${p.base.aiq.toFixed(4)}, ${CANDIDATE} ${p.candidate.aiq.toFixed(4)}, diff ${num(vs.diff)}${iv(vs.interval)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      }
    }
  }
  return { pairs, resamples };
}

/** Where the paired interval lies: a significant loss, a significant gain, or level (it holds 0). */
function verdict(i: [number, number] | null): string {
  if (!i) return "-";
  if (i[1] < 0) return "worse";
  if (i[0] > 0) return "better";
  return "level";
}

export const encoderBench: Bench = {
  name: "encoder",
  title: "Encoder: use-lite-static against use-lite, routing AIQ paired",
  async run() {
    if (!existsSync(SHARED_SUBSET_DIR)) return "(../shared RouterBench subset absent: nothing to compare.)";
    const log = (s: string) => process.stderr.write(`  encoder: ${s}\n`);
    const t0 = performance.now();
    const prepared = await prepare(log);
    const { cfg } = prepared;
    const { pairs, resamples } = await compare(prepared, cfg.seed, log);
    const others: { seed: number; pairs: Pair[] }[] = [];
    for (const seed of OTHER_SEEDS.filter((x) => x !== cfg.seed)) others.push({ seed, pairs: (await compare(prepared, seed, log)).pairs });
    const seconds = (performance.now() - t0) / 1000;
    const tally = (ps: Pair[]) => {
      const counts = { worse: 0, level: 0, better: 0 };
      for (const p of ps) {
        const v = verdict(p.candidate.vsReference!.interval);
        if (v in counts) counts[v as keyof typeof counts]++;
      }
      const mean = ps.reduce((a, p) => a + p.candidate.vsReference!.diff, 0) / ps.length;
      return `significantly worse on ${counts.worse}, level on ${counts.level} (the interval holds 0), significantly better on ${counts.better}; mean difference ${num(mean)}`;
    };
    const diffCell = (p: Pair | undefined) => {
      if (!p) return "-";
      const vs = p.candidate.vsReference!;
      const v = verdict(vs.interval);
      return `${num(vs.diff)}${iv(vs.interval)}${v === "level" ? "" : ` ${v}`}`;
    };
    return [
      `The protocol of \`experiments/routerbench-subset-crossfit.yaml\` (RouterBench 5-shot subset from ../shared; ${cfg.evaluation.folds} cross-fitting folds, every prompt tested once; operating points chosen on validation; ${resamples} bootstrap resamples, 95%), seed ${cfg.seed}. ` +
        `Each router that reads embeddings is trained and evaluated twice in one evaluation: on use-lite's embeddings and on use-lite-static's. ` +
        `"diff" is AIQ(use-lite-static) - AIQ(use-lite) with its paired interval (same folds, test prompts and resamples); "vs Zero" is each one's AIQ minus the Zero router's.`,
      "",
      "| split | prompts | router | AIQ use-lite | AIQ use-lite-static | vs Zero: use-lite | vs Zero: use-lite-static | diff (static - use-lite) | verdict |",
      "|---|---|---|---|---|---|---|---|---|",
      ...pairs.map((p) => {
        const vs = p.candidate.vsReference!;
        return `| ${p.split} | ${p.prompts} | ${p.router} | ${p.base.aiq.toFixed(4)} | ${p.candidate.aiq.toFixed(4)} | ${num(p.base.diffToZero!)}${iv(p.base.diffInterval)} | ${num(p.candidate.diffToZero!)}${iv(p.candidate.diffInterval)} | ${num(vs.diff)}${iv(vs.interval)} | ${verdict(vs.interval)} |`;
      }),
      "",
      `Seed ${cfg.seed}: of ${pairs.length} split x router pairs, use-lite-static is ${tally(pairs)}.`,
      ...(others.length
        ? [
            "",
            `The same comparison with the config's \`seed:\` set to ${others.map((o) => o.seed).join(" and ")} (other fold dealings, grids' seeds and resamples): diff (static - use-lite) [paired 95% interval], marked when the interval excludes 0.`,
            "",
            `| split | router | seed ${cfg.seed} | ${others.map((o) => `seed ${o.seed}`).join(" | ")} |`,
            `|---|---|---|${others.map(() => "---|").join("")}`,
            ...pairs.map((p) => `| ${p.split} | ${p.router} | ${diffCell(p)} | ${others.map((o) => diffCell(o.pairs.find((q) => q.split === p.split && q.router === p.router))).join(" | ")} |`),
            "",
            ...others.map((o) => `Seed ${o.seed}: use-lite-static is ${tally(o.pairs)}.`),
          ]
        : []),
      "",
      `Time: ${seconds.toFixed(0)} s, of which ${prepared.embedSeconds.toFixed(1)} s embedding (use-lite from the cache when it holds the subset; use-lite-static computed or cached, its token table built if absent).`,
    ].join("\n");
  },
};
