/**
 * Shared test fixtures: tiny routers implementing the contract, and random outcome data.
 */
import type { DirectRouter, PredictiveRouter, PromptBatch, RealisedOutcomes } from "../../src/routers/router.js";
import type { OutcomeTable } from "../../src/data/table.js";
import { makeRng } from "../../src/util/rng.js";

const fit = async () => ({ chosen: {}, validation: {}, seconds: 0 });

/** A predictive router whose predictions are given per prompt id (prompts x pool, row-major by id lookup). */
export function fixedPredictor(pool: string[], expectedCosts: number[], byId: Map<string, number[]>, opts: { needsOutcomes?: boolean; seen?: PromptBatch[] } = {}): PredictiveRouter {
  return {
    kind: "predictive",
    type: "fixed",
    pool,
    needsEmbeddings: false,
    needsOutcomes: opts.needsOutcomes ?? false,
    params: {},
    expectedCosts: Float64Array.from(expectedCosts),
    fit,
    async predictQuality(batch) {
      opts.seen?.push(batch);
      return Float64Array.from(batch.ids.flatMap((id) => byId.get(id)!));
    },
  };
}

/** A direct router that returns given settings computed from the batch outcomes. */
export function directFrom(pool: string[], make: (batch: PromptBatch) => RealisedOutcomes[]): DirectRouter {
  return { kind: "direct", type: "fixed-direct", pool, needsEmbeddings: false, needsOutcomes: true, params: {}, fit, realise: async (b) => make(b) };
}

/** Random outcome table: scores in [0,1] (some 0/1), costs per model scaled by a price. */
export function randomTable(n: number, m: number, seed: number, opts: { binary?: boolean } = {}): OutcomeTable {
  const rng = makeRng(seed);
  const models = Array.from({ length: m }, (_, j) => `model-${j}`);
  const price = models.map((_, j) => 0.0001 * (1 + j) * (1 + rng()));
  const scores = new Float64Array(n * m);
  const costs = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const tokens = 100 + Math.floor(rng() * 900);
    for (let j = 0; j < m; j++) {
      const skill = 0.3 + (0.5 * j) / Math.max(1, m - 1);
      scores[i * m + j] = opts.binary ? (rng() < skill ? 1 : 0) : Math.min(1, Math.max(0, skill + 0.3 * (rng() - 0.5)));
      costs[i * m + j] = (tokens * price[j]) / 1000;
    }
  }
  const ids = Array.from({ length: n }, (_, i) => `p${i}`);
  return { ids, texts: ids.map((id) => `prompt ${id}`), datasets: ids.map(() => "d"), evals: ids.map(() => "d"), models, scores, costs };
}

/** Noisy predictions of a table's scores. */
export function noisyPredictions(t: OutcomeTable, seed: number, noise = 0.3): Float64Array {
  const rng = makeRng(seed);
  return t.scores.map((s) => s + noise * (rng() - 0.5));
}

/** Mean cost per model. */
export function meanCosts(t: OutcomeTable): Float64Array {
  const m = t.models.length;
  const n = t.ids.length;
  const out = new Float64Array(m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) out[j] += t.costs[i * m + j] / n;
  return out;
}
