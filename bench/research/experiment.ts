/**
 * Can a router beat the Zero router on real RouterBench rows? Per dataset and split seed:
 * choose each method's hyperparameters by 5-fold CV (Brier score) inside the 70% training rows,
 * route the 30% test rows, and report against Zero
 *  - the standard figure: AIQ of the router's NDCH on test minus Zero's, routekit's evaluator,
 *    95% bootstrap interval (1,000 seeded resamples over test prompts);
 *  - a permutation null for it: the same method refitted on training rows whose outcomes are
 *    shuffled across prompts (no signal), `--nulls` times;
 *  - the committed figure (./committed.ts) with its own paired bootstrap.
 *
 *   npx tsx bench/research/experiment.ts --embedder use-lite --seeds 0,1,2,3 [--datasets mbpp]
 *     [--methods irt(router),knn] [--nulls 10] [--out results.jsonl]
 */
import { appendFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { OutcomeTable } from "../../src/data/table.js";
import { evaluateSplit } from "../../src/evaluate/evaluate.js";
import type { PredictiveRouter } from "../../src/routers/router.js";
import { makeRng, shuffled } from "../../src/util/rng.js";
import { committedChoices, committedEval, committedLambdas, zeroVertices } from "./committed.js";
import { embedSubset, loadSubset, preparedTexts, selectRows, splitsOf } from "./data.js";
import { METHODS, textFeatures, type Ctx, type Hyper, type Method } from "./methods.js";

const FOLDS = 5;

/** routekit's evaluator on a fixed prediction matrix: AIQ - Zero with its bootstrap interval. */
export async function standardEval(t: OutcomeTable, testRows: number[], q: Float64Array, expectedCosts: Float64Array, bootstrap: number) {
  const router: PredictiveRouter = {
    type: "fixed",
    kind: "predictive",
    pool: t.models,
    needsEmbeddings: false,
    needsOutcomes: false,
    params: {},
    expectedCosts,
    fit: async () => ({ chosen: {}, validation: {}, seconds: 0 }),
    predictQuality: async () => q,
  };
  const res = await evaluateSplit({ table: selectRows(t, testRows), embeddings: null }, [{ name: "r", router }], { seed: 0, bootstrap });
  const r = res.rows[0];
  return { aiq: r.aiq, zero: res.rows.find((x) => x.role === "zero")!.aiq, oracle: res.rows.find((x) => x.role === "oracle")!.aiq, diff: r.diffToZero!, ci: r.diffInterval, p: r.pBeatsZero };
}

function colMeans(t: OutcomeTable, rows: number[], arr: Float64Array): Float64Array {
  const m = t.models.length;
  const out = new Float64Array(m);
  for (const i of rows) for (let j = 0; j < m; j++) out[j] += arr[i * m + j] / rows.length;
  return out;
}
function cells(t: OutcomeTable, arr: Float64Array, rows: number[]): Float64Array {
  const m = t.models.length;
  const o = new Float64Array(rows.length * m);
  rows.forEach((r, i) => o.set(arr.subarray(r * m, r * m + m), i * m));
  return o;
}
async function outOfFold(fn: Method, ctx: Ctx, rows: number[], h: Hyper): Promise<Float64Array> {
  const m = ctx.m;
  const out = new Float64Array(rows.length * m);
  for (let f = 0; f < FOLDS; f++) {
    const tr = rows.filter((_, i) => i % FOLDS !== f);
    const vaPos = rows.map((_, i) => i).filter((i) => i % FOLDS === f);
    const q = await fn(ctx, tr, vaPos.map((i) => rows[i]), h);
    vaPos.forEach((p, k) => out.set(q.subarray(k * m, k * m + m), p * m));
  }
  return out;
}
function brier(q: Float64Array, S: Float64Array): number {
  let s = 0;
  for (let i = 0; i < q.length; i++) s += (q[i] - S[i]) ** 2;
  return s / q.length;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      embedder: { type: "string", default: "use-lite" },
      seeds: { type: "string", default: "0" },
      datasets: { type: "string" },
      methods: { type: "string" },
      nulls: { type: "string", default: "10" },
      bootstrap: { type: "string", default: "1000" },
      out: { type: "string" },
    },
  });
  const t = await loadSubset();
  if (!t) return;
  const spec = values.embedder!;
  process.stderr.write(`embedding ${t.ids.length} prompts with ${spec} (cached after the first run)\n`);
  const { data: emb, dimension: d } = await embedSubset(t, spec);
  const { feats, nf } = textFeatures(preparedTexts(t));
  const m = t.models.length;
  const ctx: Ctx = { t, m, emb, d, feats, nf };
  const only = values.datasets?.split(",");
  const methods = values.methods ? values.methods.split(",") : Object.keys(METHODS);
  for (const name of methods) if (!METHODS[name]) throw new Error(`unknown method ${name}; known: ${Object.keys(METHODS).join(", ")}`);
  const nulls = Number(values.nulls);
  const bootstrap = Number(values.bootstrap);
  const f = (x: number) => (x >= 0 ? "+" : "") + x.toFixed(4);
  for (const seed of values.seeds!.split(",").map(Number)) {
    for (const ds of splitsOf(t, seed)) {
      if (only && !only.includes(ds.name)) continue;
      const cTr = colMeans(t, ds.trainRows, t.costs);
      const Str = cells(t, t.scores, ds.trainRows);
      const Ctr = cells(t, t.costs, ds.trainRows);
      const zv = zeroVertices(cTr, colMeans(t, ds.trainRows, t.scores));
      for (const name of methods) {
        const meth = METHODS[name];
        const t0 = Date.now();
        let best = meth.grid[0];
        let bestB = Infinity;
        let bestOof: Float64Array = new Float64Array(0);
        for (const h of meth.grid) {
          const o = await outOfFold(meth.fn, ctx, ds.trainRows, h);
          const b = brier(o, Str);
          if (b < bestB) [bestB, best, bestOof] = [b, h, o];
        }
        const q = await meth.fn(ctx, ds.trainRows, ds.testRows, best);
        const std = await standardEval(t, ds.testRows, q, cTr, bootstrap);
        const lambdas = committedLambdas(bestOof, cTr, Str, Ctr, m);
        const com = committedEval(committedChoices(q, cTr, m, lambdas), zv, cells(t, t.scores, ds.testRows), cells(t, t.costs, ds.testRows), m, bootstrap);
        const nullDiffs: number[] = [];
        for (let r = 0; r < (name === "const-mean" ? 0 : nulls); r++) {
          const perm = shuffled(ds.trainRows, makeRng(`null${r}`));
          const scores = Float64Array.from(t.scores);
          ds.trainRows.forEach((row, i) => scores.set(t.scores.subarray(perm[i] * m, perm[i] * m + m), row * m));
          const qn = await meth.fn({ ...ctx, t: { ...t, scores } }, ds.trainRows, ds.testRows, best);
          nullDiffs.push((await standardEval(t, ds.testRows, qn, cTr, 0)).diff);
        }
        const nullMean = nullDiffs.length ? nullDiffs.reduce((a, b) => a + b, 0) / nullDiffs.length : 0;
        const rec = {
          seed,
          ds: ds.name,
          emb: spec,
          method: name,
          h: best,
          brier: bestB,
          aiq: std.aiq,
          zero: std.zero,
          diff: std.diff,
          ci: std.ci,
          p: std.p,
          nullMean,
          nullMax: nullDiffs.length ? Math.max(...nullDiffs) : 0,
          nullRank: nullDiffs.filter((x) => x >= std.diff).length,
          nulls: nullDiffs.length,
          committed: com,
          secs: (Date.now() - t0) / 1000,
        };
        if (values.out) appendFileSync(values.out, `${JSON.stringify(rec)}\n`);
        console.log(
          `seed ${seed} ${ds.name.padEnd(13)} ${name.padEnd(20)} | standard ${f(std.diff)} [${std.ci ? std.ci.map(f).join(", ") : "-"}] null mean ${f(nullMean)} (${rec.nullRank}/${nullDiffs.length} nulls >= it) | committed ${f(com.diff)} [${com.ci.map(f).join(", ")}] | ${JSON.stringify(best)}`,
        );
      }
    }
  }
}

await main();
