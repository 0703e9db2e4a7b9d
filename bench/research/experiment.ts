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
import { makeRng, shuffled } from "../../src/util/rng.js";
import { committedChoices, committedEval, committedLambdas, zeroVertices } from "./committed.js";
import { embedSubset, loadSubset, preparedTexts, splitsOf } from "./data.js";
import { brier, cells, colMeans, outOfFold, standardEval } from "./protocol.js";
import { METHODS, textFeatures, type Ctx } from "./methods.js";

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
          committed: { ...com, draws: undefined },
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
