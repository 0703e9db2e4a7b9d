/**
 * How much routing signal is there? Out-of-fold (5-fold, all rows of a dataset) Pearson
 * correlation between ridge predictions from the prompt and (a) the prompt's mean score over
 * all models (its difficulty) and (b) for each pair of consecutive Zero-hull models, the score
 * difference dearer - cheaper: the quantity a router must predict to beat random mixing there.
 *
 *   npx tsx bench/research/signal.ts [--embedder use-lite]
 */
import { parseArgs } from "node:util";
import { embedSubset, loadSubset, preparedTexts, splitsOf } from "./data.js";
import { ridgeFit } from "./lib.js";
import { textFeatures } from "./methods.js";
import { zeroVertices } from "./committed.js";

function corr(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  let a = 0;
  let b = 0;
  let c = 0;
  for (let i = 0; i < n; i++) {
    a += (x[i] - mx) * (y[i] - my);
    b += (x[i] - mx) ** 2;
    c += (y[i] - my) ** 2;
  }
  return a / Math.sqrt(b * c);
}

const { values } = parseArgs({ options: { embedder: { type: "string", default: "use-lite" } } });
const t = await loadSubset();
if (t) {
  const m = t.models.length;
  const { data: emb, dimension: d } = await embedSubset(t, values.embedder!);
  const { feats, nf } = textFeatures(preparedTexts(t));
  console.log(`| dataset | target | ${[1, 10, 100, 1000].map((a) => `alpha ${a}`).join(" | ")} |`);
  console.log("|---|---|---|---|---|---|");
  for (const ds of splitsOf(t, 0)) {
    const rows = ds.trainRows.concat(ds.testRows);
    const p = d + nf;
    const X = new Float64Array(rows.length * p);
    rows.forEach((r, i) => {
      for (let j = 0; j < d; j++) X[i * p + j] = emb[r * d + j];
      for (let j = 0; j < nf; j++) X[i * p + d + j] = 0.2 * feats[r * nf + j];
    });
    const mean = (arr: Float64Array) => {
      const o = new Float64Array(m);
      for (const i of ds.trainRows) for (let j = 0; j < m; j++) o[j] += arr[i * m + j] / ds.trainRows.length;
      return o;
    };
    const zv = zeroVertices(mean(t.costs), mean(t.scores));
    const short = (name: string) => name.split("/").pop()!;
    const targets: [string, (r: number) => number][] = [
      [
        "mean score (difficulty)",
        (r) => {
          let s = 0;
          for (let j = 0; j < m; j++) s += t.scores[r * m + j] / m;
          return s;
        },
      ],
    ];
    for (let k = 0; k + 1 < zv.length; k++) {
      const [A, B] = [zv[k], zv[k + 1]];
      targets.push([`${short(t.models[B])} - ${short(t.models[A])}`, (r) => t.scores[r * m + B] - t.scores[r * m + A]]);
    }
    for (const [name, fn] of targets) {
      const y = Float64Array.from(rows, fn);
      const cells: string[] = [];
      for (const alpha of [1, 10, 100, 1000]) {
        const pred = new Float64Array(rows.length);
        for (let fo = 0; fo < 5; fo++) {
          const tr = rows.map((_, i) => i).filter((i) => i % 5 !== fo);
          const te = rows.map((_, i) => i).filter((i) => i % 5 === fo);
          const Xt = new Float64Array(tr.length * p);
          tr.forEach((i, k) => Xt.set(X.subarray(i * p, i * p + p), k * p));
          const Xe = new Float64Array(te.length * p);
          te.forEach((i, k) => Xe.set(X.subarray(i * p, i * p + p), k * p));
          const pr = ridgeFit(Xt, tr.length, p, Float64Array.from(tr, (i) => y[i]), 1, alpha).predict(Xe, te.length);
          te.forEach((i, k) => (pred[i] = pr[k]));
        }
        cells.push(corr(pred, y).toFixed(3));
      }
      console.log(`| ${ds.name} | ${name} | ${cells.join(" | ")} |`);
    }
  }
}
