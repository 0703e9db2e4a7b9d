/** Per-model figures of a synthetic table next to the facts page's, for `routekit synth` and tests. */
import type { OutcomeTable } from "../table.js";
import { BENCHMARK_ROWS, FACTS, FACTS_ORACLE_SHARES, type DatasetName, type ModelName } from "./calibration.js";

/**
 * Per-prompt weights that make each dataset count as much as its RouterBench row count [A2]:
 * w_i = rows(d) / (sum of rows of the datasets present) / (prompts of d in the table).
 * Datasets that RouterBench does not list get weight 0.
 */
export function benchmarkWeights(t: OutcomeTable): Float64Array {
  const counts = new Map<string, number>();
  for (const d of t.datasets) counts.set(d, (counts.get(d) ?? 0) + 1);
  let total = 0;
  for (const d of counts.keys()) total += BENCHMARK_ROWS[d as DatasetName] ?? 0;
  return Float64Array.from(t.datasets, (d) => (BENCHMARK_ROWS[d as DatasetName] ?? 0) / total / counts.get(d)!);
}

export interface SynthModelSummary {
  name: string;
  /** RouterBench-weighted whole-benchmark figures (comparable with the facts page). */
  weightedMeanScore: number;
  weightedMeanCost: number;
  /** Plain means over this table's prompts. */
  meanScore: number;
  meanCost: number;
  /** Share of prompts where this model is the oracle's choice (best score, cheapest on ties). */
  oracleShare: number;
  meanInputTokens: number;
  meanOutputTokens: number;
  facts: { score: number; cost: number; oracleShare: number | null } | null;
}

export interface SynthSummary {
  prompts: number;
  datasets: Record<string, number>;
  models: SynthModelSummary[];
  /** Share of prompts on which every model scores 0. */
  noModelCorrect: number;
  factsNoModelCorrect: number;
}

export function summarizeSynth(t: OutcomeTable): SynthSummary {
  const n = t.ids.length;
  const m = t.models.length;
  const w = benchmarkWeights(t);
  const oracle = new Float64Array(m);
  let none = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    for (let j = 0; j < m; j++) {
      const s = t.scores[i * m + j];
      const c = t.costs[i * m + j];
      if (best < 0 || s > t.scores[i * m + best] || (s === t.scores[i * m + best] && c < t.costs[i * m + best])) best = j;
    }
    // As on the facts page, all-zero rows count as "no model correct", not as a model's share.
    if (t.scores[i * m + best] === 0) none++;
    else oracle[best]++;
  }
  const datasets: Record<string, number> = {};
  for (const d of t.datasets) datasets[d] = (datasets[d] ?? 0) + 1;
  const models = t.models.map((name, j): SynthModelSummary => {
    let ws = 0, wc = 0, s = 0, c = 0, it = 0, ot = 0;
    for (let i = 0; i < n; i++) {
      const k = i * m + j;
      ws += w[i] * t.scores[k];
      wc += w[i] * t.costs[k];
      s += t.scores[k];
      c += t.costs[k];
      it += t.inputTokens ? t.inputTokens[k] : NaN;
      ot += t.outputTokens ? t.outputTokens[k] : NaN;
    }
    const f = FACTS[name as ModelName];
    return {
      name,
      weightedMeanScore: ws,
      weightedMeanCost: wc,
      meanScore: s / n,
      meanCost: c / n,
      oracleShare: oracle[j] / n,
      meanInputTokens: it / n,
      meanOutputTokens: ot / n,
      facts: f ? { score: f.score, cost: f.cost, oracleShare: FACTS_ORACLE_SHARES[name as ModelName] ?? null } : null,
    };
  });
  return { prompts: n, datasets, models, noModelCorrect: none / n, factsNoModelCorrect: FACTS_ORACLE_SHARES.no_model_correct ?? NaN };
}
