/**
 * Budget fidelity: does `route --budget B` spend B on prompts the router never saw, and reach
 * the quality its operating points promised? For each router and split seed, the router is
 * trained as `routekit train` does (pooled; 10% or 30% of train for validation), its operating
 * points are measured on the validation rows (the default) or out of fold (`--points-on
 * crossfit`), and the held-out test prompts are routed at 9 budgets spread log-evenly over the
 * router's cost range. Reported: mean |spend / B - 1|, how many budgets
 * land within 10%, and how many reach the promised quality interval's lower end.
 *
 * On the bundled data always; on the RouterBench subset in ../shared when it is there.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Bench } from "./types.js";
import { SHARED_SUBSET_DIR } from "./shared.js";
import { readOutcomeTable } from "../src/data/arrow-io.js";
import { importFiles } from "../src/data/importers/index.js";
import { selectRows, type OutcomeTable } from "../src/data/table.js";
import { crossFittedOperatingPoints, operatingPointsOn, trainOnTable } from "../src/workflow/train.js";
import type { PredictiveRouter } from "../src/routers/router.js";
import { routeAt } from "../src/routers/routing.js";
import { chooseTarget, pointsForPrompts, type OperatingPoints } from "../src/routers/targets.js";
import { embedTexts } from "../src/embed/index.js";

const ROUTERS = ["linear", "knn", "task-prior"];
const SEEDS = [0, 1, 2];
const FRACTIONS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

interface Tally {
  deviations: number[];
  within: number;
  reached: number;
}


function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Route the held-out prompts at every budget with the given points; tally spend and quality against the promise. */
function tally(router: PredictiveRouter, q: Float64Array, test: OutcomeTable, ops: OperatingPoints, into: Tally): void {
  const m = router.pool.length;
  const m0 = test.models.length;
  const cols = router.pool.map((p) => test.models.indexOf(p));
  const lo = ops.points[0].cost;
  const hi = ops.points[ops.points.length - 1].cost;
  for (const f of FRACTIONS) {
    const budget = lo * (hi / lo) ** f;
    const choice = chooseTarget(ops, { budget }, router.pool);
    const chosen = routeAt(q, router.expectedCosts, m, pointsForPrompts(choice, test.texts, 0).map((p) => p.lambda ?? Infinity));
    let cost = 0;
    let quality = 0;
    chosen.forEach((j, i) => {
      cost += test.costs[i * m0 + cols[j]];
      quality += test.scores[i * m0 + cols[j]];
    });
    const n = test.ids.length;
    const dev = Math.abs(cost / n / budget - 1);
    into.deviations.push(dev);
    if (dev <= 0.1) into.within++;
    if (quality / n >= choice.qualityInterval![0]) into.reached++;
  }
}

/** Train as `routekit train` does at one validation fraction; the router, its test predictions, and its points measured both ways. */
async function trained(table: OutcomeTable, spec: string, seed: number, validationFraction: number) {
  const t = await trainOnTable(table, { spec, seed, embedder: "use-lite", validationFraction });
  const router = t.router as PredictiveRouter;
  const c0 = cpuSeconds();
  const crossfit = await crossFittedOperatingPoints(router, t.fitted, seed);
  const crossfitCpu = cpuSeconds() - c0;
  const validation = await operatingPointsOn(router, t.validation, seed);
  const test = selectRows(table, t.rows.test);
  const embeddings = router.needsEmbeddings ? (await embedTexts(test.texts, test.evals, { spec: "use-lite", preparation: t.embedder!.preparation, prefixes: t.prefixes })).matrix : null;
  const q = await router.predictQuality({ ids: test.ids, texts: test.texts, evals: test.evals, embeddings });
  return { router, test, q, crossfit: crossfit!, validation: validation!, crossfitCpu };
}

async function measure(label: string, table: OutcomeTable, lines: string[]): Promise<void> {
  for (const spec of ROUTERS) {
    const ways = ["validation, 10% of train (default)", "validation, 30% of train", "crossfit, 10% of train"];
    const byWay = new Map(ways.map((w) => [w, { deviations: [] as number[], within: 0, reached: 0, prompts: 0 }]));
    let fitCpu = 0;
    for (const seed of SEEDS) {
      process.stderr.write(`budget: ${label} ${spec} seed ${seed}\n`);
      const at10 = await trained(table, spec, seed, 0.1);
      const at30 = await trained(table, spec, seed, 0.3);
      fitCpu += at10.crossfitCpu;
      const runs: [string, typeof at10, OperatingPoints][] = [
        [ways[0], at10, at10.validation],
        [ways[1], at30, at30.validation],
        [ways[2], at10, at10.crossfit],
      ];
      for (const [way, t, ops] of runs) {
        const tl = byWay.get(way)!;
        tally(t.router, t.q, t.test, ops, tl);
        tl.prompts = ops.prompts;
      }
      for (const t of [at10, at30]) (t.router as { dispose?: () => void }).dispose?.();
    }
    for (const [way, t] of byWay) {
      const n = t.deviations.length;
      const mean = t.deviations.reduce((a, b) => a + b, 0) / n;
      const worst = Math.max(...t.deviations);
      lines.push(
        `| ${label} | ${spec} | ${way}: ${t.prompts} prompts | ${(mean * 100).toFixed(1)}% | ${(worst * 100).toFixed(0)}% | ${t.within}/${n} | ${t.reached}/${n} | ${way.startsWith("crossfit") ? `${(fitCpu / SEEDS.length).toFixed(2)} s` : "-"} |`,
      );
    }
  }
}

export const budgetBench: Bench = {
  name: "budget",
  title: "Budget fidelity: route --budget on held-out prompts (spend and promised quality)",
  async run(): Promise<string> {
    const lines = [
      `Each router trained as \`routekit train\` does (all datasets pooled, 70/30 split, use-lite), at split seeds ${SEEDS.join(", ")}, with 10% of train for validation (the default) and with 30%;`,
      `its operating points measured on the validation rows by the trained router itself (\`--points-on validation\`, the default), or out of fold over train + validation (5 folds, \`--points-on crossfit\`);`,
      `the held-out test prompts routed at ${FRACTIONS.length} budgets spread log-evenly over the router's cost range (${FRACTIONS.length * SEEDS.length} budgets per row).`,
      `"within 10%": the held-out spend is within 10% of the budget; "reached": held-out quality at or above the promised interval's lower end.`,
      `CPU: the extra CPU seconds per training that the 5 refits of the cross-fit cost.`,
      "",
      "| data | router | points measured on | mean abs(spend/B - 1) | worst | within 10% | reached promised quality | cross-fit CPU |",
      "|---|---|---|---:|---:|---:|---:|---:|",
    ];
    await measure("bundled (2,000 prompts)", await readOutcomeTable("data/default.arrow"), lines);
    const files = ["arc_challenge", "mbpp", "winograde"].flatMap((d) => [`${d}_train.csv`, `${d}_test.csv`]).map((f) => join(SHARED_SUBSET_DIR, f));
    if (files.every((f) => existsSync(f))) {
      const { table } = await importFiles(files, {});
      await measure("RouterBench subset (3,164)", table, lines);
    } else {
      lines.push("", "(The RouterBench subset in ../shared was not there: its rows were skipped.)");
    }
    return lines.join("\n");
  },
};
