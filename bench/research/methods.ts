/**
 * The candidate routers of the research, as functions (train rows, query rows, hyperparameters)
 * -> predicted quality, query rows x models. Only prompt text (through its embedding and text
 * features) and the training rows' outcomes are used; never a routed prompt's own outcomes.
 */
import type { OutcomeTable } from "../../src/data/table.js";
import { selectRows } from "../../src/data/table.js";
import { DEFAULT_PREPARATION, type EmbeddingMatrix } from "../../src/embed/embedder.js";
import { IrtRouter } from "../../src/routers/irt.js";
import { LinearRouter } from "../../src/routers/linear.js";
import { expectedProb, fitIrtJoint, ridgeFit, topK } from "./lib.js";

export interface Ctx {
  t: OutcomeTable;
  m: number;
  /** Embeddings of every table row, rows x d. */
  emb: Float32Array;
  d: number;
  /** Standardised text features of every row, rows x nf. */
  feats: Float64Array;
  nf: number;
}
export type Hyper = Record<string, number>;
export type Method = (ctx: Ctx, train: number[], query: number[], h: Hyper) => Float64Array | Promise<Float64Array>;

/** Prompt features available at routing time (computed on the prepared text), standardised. */
export function textFeatures(texts: string[]): { feats: Float64Array; nf: number; names: string[] } {
  const names = ["logChars", "logWords", "lines", "options", "optLenMean", "digitFrac", "upperFrac", "wordLen", "qmarks", "underscore", "codeish"];
  const nf = names.length;
  const n = texts.length;
  const F = new Float64Array(n * nf);
  texts.forEach((s, i) => {
    const words = s.split(/\s+/).filter(Boolean);
    const lines = s.split("\n");
    const opts = lines.filter((l) => /^[A-E]\) /.test(l));
    const count = (re: RegExp) => (s.match(re) ?? []).length;
    F.set(
      [
        Math.log1p(s.length),
        Math.log1p(words.length),
        lines.length,
        opts.length,
        opts.length ? opts.reduce((a, l) => a + l.length, 0) / opts.length : 0,
        count(/[0-9]/g) / Math.max(1, s.length),
        count(/[A-Z]/g) / Math.max(1, s.length),
        words.reduce((a, w) => a + w.length, 0) / Math.max(1, words.length),
        count(/\?/g),
        s.includes("_") ? 1 : 0,
        count(/[()[\]{}=<>]/g) / Math.max(1, s.length),
      ],
      i * nf,
    );
  });
  for (let j = 0; j < nf; j++) {
    let mu = 0;
    let v = 0;
    for (let i = 0; i < n; i++) mu += F[i * nf + j] / n;
    for (let i = 0; i < n; i++) v += (F[i * nf + j] - mu) ** 2 / n;
    const sd = Math.sqrt(v) || 1;
    for (let i = 0; i < n; i++) F[i * nf + j] = (F[i * nf + j] - mu) / sd;
  }
  return { feats: F, nf, names };
}

function scoresOf(ctx: Ctx, rows: number[]): Float64Array {
  const S = new Float64Array(rows.length * ctx.m);
  rows.forEach((r, i) => S.set(ctx.t.scores.subarray(r * ctx.m, r * ctx.m + ctx.m), i * ctx.m));
  return S;
}
function meansOf(ctx: Ctx, rows: number[]): Float64Array {
  const S = scoresOf(ctx, rows);
  const mu = new Float64Array(ctx.m);
  for (let i = 0; i < rows.length; i++) for (let j = 0; j < ctx.m; j++) mu[j] += S[i * ctx.m + j] / rows.length;
  return mu;
}
function embRows(ctx: Ctx, rows: number[]): Float32Array {
  const E = new Float32Array(rows.length * ctx.d);
  rows.forEach((r, i) => E.set(ctx.emb.subarray(r * ctx.d, r * ctx.d + ctx.d), i * ctx.d));
  return E;
}
/** Design matrix: the embedding (unless emb=0) and the text features scaled by fw (when fw > 0). */
function design(ctx: Ctx, rows: number[], useEmb: boolean, featW: number): { X: Float64Array; p: number } {
  const d = useEmb ? ctx.d : 0;
  const nf = featW > 0 ? ctx.nf : 0;
  const p = d + nf;
  const X = new Float64Array(rows.length * p);
  rows.forEach((r, i) => {
    for (let j = 0; j < d; j++) X[i * p + j] = ctx.emb[r * ctx.d + j];
    for (let j = 0; j < nf; j++) X[i * p + d + j] = featW * ctx.feats[r * ctx.nf + j];
  });
  return { X, p };
}

/** Each model's training mean for every prompt: routes exactly like the single models. */
export const constMean: Method = (ctx, train, query) => {
  const mu = meansOf(ctx, train);
  const out = new Float64Array(query.length * ctx.m);
  for (let i = 0; i < query.length; i++) out.set(mu, i * ctx.m);
  return out;
};

/** KNN, optionally shrunk toward each model's mean: q = (sum over k neighbours + a * mean) / (k + a). */
export const knn: Method = (ctx, train, query, h) => {
  const k = h.k;
  const a = h.a ?? 0;
  const m = ctx.m;
  const mu = meansOf(ctx, train);
  const S = scoresOf(ctx, train);
  const { idx } = topK(embRows(ctx, query), query.length, embRows(ctx, train), train.length, ctx.d, k);
  const out = new Float64Array(query.length * m);
  for (let i = 0; i < query.length; i++) {
    for (let j = 0; j < m; j++) {
      let s = a * mu[j];
      for (let r = 0; r < k; r++) s += S[idx[i * k + r] * m + j];
      out[i * m + j] = s / (k + a);
    }
  }
  return out;
};

/** Multi-output ridge of every model's score on the embedding and/or text features, clipped to [0, 1]. */
export const ridge: Method = (ctx, train, query, h) => {
  const { X, p } = design(ctx, train, h.emb !== 0, h.fw ?? 0);
  const model = ridgeFit(X, train.length, p, scoresOf(ctx, train), ctx.m, h.alpha);
  const q = model.predict(design(ctx, query, h.emb !== 0, h.fw ?? 0).X, query.length);
  for (let i = 0; i < q.length; i++) q[i] = Math.min(1, Math.max(0, q[i]));
  return q;
};

/**
 * First research IRT version: joint-MAP fit, latent regressed by ridge (or kNN mean with knn=k),
 * residual variance from an inner 5-fold, q = E[sigmoid] under it.
 */
const jointFits = new WeakMap<Float64Array, Map<string, ReturnType<typeof fitIrtJoint>>>();
export const irtJoint: Method = (ctx, train, query, h) => {
  const K = h.K ?? 1;
  const m = ctx.m;
  let cache = jointFits.get(ctx.t.scores);
  if (!cache) jointFits.set(ctx.t.scores, (cache = new Map()));
  const key = `${K}:${train.join(",")}`;
  let fit = cache.get(key);
  if (!fit) cache.set(key, (fit = fitIrtJoint(scoresOf(ctx, train), train.length, m, K)));
  const { theta, a, b } = fit;
  const predictTheta = (tr: number[], trTheta: Float64Array, q: number[]): Float64Array => {
    if (h.knn) {
      const k = h.knn;
      const sh = h.a ?? 0;
      const { idx } = topK(embRows(ctx, q), q.length, embRows(ctx, tr), tr.length, ctx.d, k);
      const out = new Float64Array(q.length * K);
      for (let i = 0; i < q.length; i++) {
        for (let c = 0; c < K; c++) {
          let s = 0;
          for (let r = 0; r < k; r++) s += trTheta[idx[i * k + r] * K + c];
          out[i * K + c] = s / (k + sh);
        }
      }
      return out;
    }
    const { X, p } = design(ctx, tr, h.emb !== 0, h.fw ?? 0);
    return ridgeFit(X, tr.length, p, trTheta, K, h.alpha).predict(design(ctx, q, h.emb !== 0, h.fw ?? 0).X, q.length);
  };
  const s2 = new Float64Array(K);
  const folds = 5;
  for (let f = 0; f < folds; f++) {
    const inTr: number[] = [];
    const inTe: number[] = [];
    const trPos: number[] = [];
    const tePos: number[] = [];
    train.forEach((r, i) => {
      if (i % folds === f) {
        inTe.push(r);
        tePos.push(i);
      } else {
        inTr.push(r);
        trPos.push(i);
      }
    });
    const tTh = new Float64Array(inTr.length * K);
    trPos.forEach((p, i) => {
      for (let c = 0; c < K; c++) tTh[i * K + c] = theta[p * K + c];
    });
    const pr = predictTheta(inTr, tTh, inTe);
    tePos.forEach((p, i) => {
      for (let c = 0; c < K; c++) s2[c] += (theta[p * K + c] - pr[i * K + c]) ** 2 / train.length;
    });
  }
  const th = predictTheta(train, theta, query);
  const out = new Float64Array(query.length * m);
  for (let i = 0; i < query.length; i++) for (let j = 0; j < m; j++) out[i * m + j] = expectedProb(a, j * K, b[j], th, i * K, s2, K);
  return out;
};

function embMatrix(ctx: Ctx, rows: number[]): EmbeddingMatrix {
  return { rows: rows.length, dimension: ctx.d, data: embRows(ctx, rows), embedderId: "research", preparation: DEFAULT_PREPARATION };
}
async function viaRouter(r: IrtRouter | LinearRouter, ctx: Ctx, train: number[], query: number[]): Promise<Float64Array> {
  await r.fit({ table: selectRows(ctx.t, train), embeddings: embMatrix(ctx, train) });
  return r.predictQuality({ ids: query.map(String), texts: query.map(String), embeddings: embMatrix(ctx, query) });
}
/** The integrated router, src/routers/irt.ts (plug=1: uncertainty=false). */
export const irtRouter: Method = (ctx, train, query, h) => viaRouter(new IrtRouter(ctx.t.models, { alpha: h.alpha, seed: 0, ...(h.plug ? { uncertainty: false } : {}) }), ctx, train, query);
/** routekit's linear router (ridge per model on the embedding). */
export const linearRouter: Method = (ctx, train, query, h) => viaRouter(new LinearRouter(ctx.t.models, { alpha: h.alpha }), ctx, train, query);

function grid(g: Record<string, number[]>): Hyper[] {
  let out: Hyper[] = [{}];
  for (const [k, vs] of Object.entries(g)) out = out.flatMap((o) => vs.map((v) => ({ ...o, [k]: v })));
  return out;
}
/** Every method with its hyperparameter grid (chosen by 5-fold CV Brier score inside the training rows). */
export const METHODS: Record<string, { fn: Method; grid: Hyper[]; idea: string }> = {
  "const-mean": { fn: constMean, grid: [{}], idea: "reference: model means (= single models)" },
  knn: { fn: knn, grid: grid({ k: [5, 10, 40] }), idea: "paper baseline" },
  "knn-shrink": { fn: knn, grid: grid({ k: [10, 40, 100], a: [5, 20, 80] }), idea: "2 shrinkage" },
  "linear(repo)": { fn: linearRouter, grid: grid({ alpha: [1, 10, 100, 1000] }), idea: "paper baseline (ridge)" },
  "ridge-feat": { fn: ridge, grid: grid({ emb: [0], fw: [1], alpha: [10, 100, 1000, 10000] }), idea: "3 text features" },
  "ridge-emb+feat": { fn: ridge, grid: grid({ fw: [0.1, 0.3], alpha: [10, 100, 1000] }), idea: "3 text features + embedding" },
  "irt1-joint": { fn: irtJoint, grid: grid({ K: [1], alpha: [1, 10, 100, 1000] }), idea: "1 IRT (joint MAP, ridge)" },
  "irt1-joint+feat": { fn: irtJoint, grid: grid({ K: [1], alpha: [10, 100, 1000], fw: [0.1, 0.3] }), idea: "1 IRT + 3 features" },
  "irt1-joint-feat-only": { fn: irtJoint, grid: grid({ K: [1], emb: [0], fw: [1], alpha: [10, 100, 1000] }), idea: "1 IRT on features only" },
  "irt2-joint": { fn: irtJoint, grid: grid({ K: [2], alpha: [10, 100, 1000] }), idea: "1 IRT, 2 latents (low-rank / MF)" },
  "irt1-joint-knn": { fn: irtJoint, grid: grid({ K: [1], knn: [10, 40, 100], a: [0, 10, 40] }), idea: "1 IRT, latent by kNN" },
  "irt(router)": { fn: irtRouter, grid: grid({ alpha: [1, 10, 100, 1000] }), idea: "1 IRT, integrated (marginal ML)" },
  "irt(router)/plug-in": { fn: irtRouter, grid: grid({ alpha: [1, 10, 100, 1000], plug: [1] }), idea: "1 IRT without uncertainty" },
};
