/**
 * The whole evaluation sweep at RouterBench scale: 30,000 test prompts x 11 models, several
 * predictive routers with continuous predictions (the most curve points: every prompt has its
 * own breakpoints), exact curves, 1,000 bootstrap resamples, report and plots.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bench } from "./types.js";
import { evaluateSplit, type RouterUnderTest } from "../src/evaluate/evaluate.js";
import { makeResults, splitEntry } from "../src/report/results.js";
import { writeReport } from "../src/report/write.js";
import { renderPlotSvg, svgToPng } from "../src/report/plot.js";
import type { OutcomeTable } from "../src/data/table.js";
import type { PredictiveRouter } from "../src/routers/router.js";
import { makeRng } from "../src/util/rng.js";

// RouterBench's 11 models: whole-benchmark mean score and $/query (facts page).
const MODELS: [string, number, number][] = [
  ["gpt-4-1106-preview", 0.781, 0.00329],
  ["zero-one-ai/Yi-34B-Chat", 0.648, 0.000186],
  ["claude-v2", 0.636, 0.00242],
  ["claude-v1", 0.63, 0.00215],
  ["gpt-3.5-turbo-1106", 0.619, 0.000243],
  ["claude-instant-v1", 0.598, 0.000233],
  ["mistralai/mixtral-8x7b-chat", 0.547, 0.000135],
  ["WizardLM/WizardLM-13B-V1.2", 0.431, 0.000073],
  ["meta/llama-2-70b-chat", 0.329, 0.000203],
  ["mistralai/mistral-7b-chat", 0.306, 0.000046],
  ["meta/code-llama-instruct-34b-chat", 0.202, 0.000172],
];

function syntheticTable(n: number, seed: number): { table: OutcomeTable; p: Float64Array } {
  const m = MODELS.length;
  const rng = makeRng(seed);
  const scores = new Float64Array(n * m);
  const costs = new Float64Array(n * m);
  const p = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const difficulty = rng() - 0.5;
    const length = 0.3 + 1.4 * rng();
    for (let j = 0; j < m; j++) {
      const pj = Math.min(0.98, Math.max(0.02, MODELS[j][1] - 0.8 * difficulty + 0.2 * (rng() - 0.5)));
      p[i * m + j] = pj;
      scores[i * m + j] = rng() < pj ? 1 : 0;
      costs[i * m + j] = MODELS[j][2] * length;
    }
  }
  const ids = Array.from({ length: n }, (_, i) => `p${i}`);
  return { table: { ids, texts: ids, datasets: ids.map(() => "bench"), evals: ids.map(() => "bench"), models: MODELS.map((x) => x[0]), scores, costs }, p };
}

/** A router predicting the true success probability plus noise: continuous q, so the most breakpoints. */
function noisyRouter(p: Float64Array, noise: number, seed: number): PredictiveRouter {
  const rng = makeRng(seed);
  const q = p.map((x) => x + noise * (rng() - 0.5));
  return {
    kind: "predictive",
    type: "bench",
    pool: MODELS.map((x) => x[0]),
    needsEmbeddings: false,
    needsOutcomes: false,
    params: { noise },
    expectedCosts: Float64Array.from(MODELS.map((x) => x[2])),
    fit: async () => ({ chosen: {}, validation: {}, seconds: 0 }),
    predictQuality: async () => q,
  };
}

export const evaluateBench: Bench = {
  name: "evaluate",
  title: "Evaluation sweep: exact curves, 1,000-resample bootstrap, report and plots (30,000 prompts x 11 models)",
  async run() {
    const n = 30_000;
    const resamples = 1000;
    const { table, p } = syntheticTable(n, 1);
    const routers: RouterUnderTest[] = [0.1, 0.3, 0.6, 1.0].map((noise, k) => ({ name: `noise ${noise}`, router: noisyRouter(p, noise, 10 + k) }));
    const dir = await mkdtemp(join(tmpdir(), "rk-bench-eval-"));
    try {
      const t0 = performance.now();
      await evaluateSplit({ table, embeddings: null }, routers, { seed: 1, bootstrap: 0 });
      const t1 = performance.now();
      let last = 0;
      const full = await evaluateSplit({ table, embeddings: null }, routers, {
        seed: 1,
        bootstrap: resamples,
        onProgress: (d, t) => {
          if (d - last >= 100 || d === t) {
            last = d;
            process.stderr.write(`  evaluate ${d}/${t}\r`);
          }
        },
      });
      const t2 = performance.now();
      const results = makeResults([splitEntry("bench", "test", full)], { bench: "evaluate" });
      await writeReport(dir, results, { logCost: true });
      const t3 = performance.now();
      const svg = renderPlotSvg(results.splits[0], { logCost: true });
      const t4 = performance.now();
      svgToPng(svg);
      const t5 = performance.now();
      process.stderr.write("\n");
      const rows = full.rows.filter((r) => r.role === "router");
      const points = rows.reduce((s, r) => s + r.points.length, 0) + full.rows.find((r) => r.role === "oracle")!.points.length;
      const sec = (ms: number) => (ms / 1000).toFixed(2);
      return [
        `Synthetic RouterBench-like data (${n.toLocaleString("en")} test prompts x ${MODELS.length} models, binary scores), ${routers.length} predictive routers with continuous noisy predictions, exact curves (every lambda breakpoint), Zero / best single / Oracle rows, ${resamples} bootstrap resamples.`,
        "",
        "| step | seconds |",
        "|---|---:|",
        `| route + exact curves + hulls + metrics (all rows, no bootstrap) | ${sec(t1 - t0)} |`,
        `| the same with ${resamples} bootstrap resamples | ${sec(t2 - t1)} |`,
        `| results.json + report.md + SVG/PNG plot | ${sec(t3 - t2)} |`,
        `| of which: the SVG alone / the PNG alone | ${sec(t4 - t3)} / ${sec(t5 - t4)} |`,
        `| **whole sweep** (bootstrapped evaluation + report) | **${sec(t3 - t1)}** |`,
        "",
        `Curve points: ${points.toLocaleString("en")} in all (routers: ${rows.map((r) => r.points.length.toLocaleString("en")).join(", ")}; plus the Oracle's hindsight curve), each replayed and hulled on every resample: the bootstrap costs O(prompts + points) per resample.`,
      ].join("\n");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
