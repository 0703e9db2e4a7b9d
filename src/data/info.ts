/**
 * Summary figures of an outcome table: prompts per dataset and eval, and per model the mean
 * score, the mean cost per query and how often it is the Oracle's choice; mean and p95 latency
 * when the table has latencies.
 */
import { validateTable, type OutcomeTable } from "./table.js";

export interface ModelInfo {
  model: string;
  /** Mean score over the prompts where this model's score is present. */
  meanScore: number;
  /** Mean US$ per query over the prompts where this model's cost is present. */
  meanCost: number;
  /** Share of all prompts for which this model is the Oracle's choice. */
  oracleShare: number;
  /** Prompts where this model's score is missing. */
  missing: number;
  /** Latency figures in ms, when the table has latencies (over the cells where they are known). */
  latency?: LatencyInfo;
}

export interface LatencyInfo {
  /** Request to last token: mean and 95th percentile; null when no cell of the model has one. */
  meanTotalMs: number | null;
  p95TotalMs: number | null;
  /** Time to first token, likewise (absent when the table has no time to first token). */
  meanTtftMs?: number | null;
  p95TtftMs?: number | null;
  /** Cells (prompts) with a score but no total latency. */
  missingTotal: number;
}

export interface TableInfo {
  prompts: number;
  datasets: { name: string; prompts: number; evals: string[] }[];
  models: ModelInfo[];
  /** Share of prompts where no model scores above 0 (or no score is present at all). */
  noModelCorrectShare: number;
}

/**
 * The Oracle's choice for one prompt: the model with the best score, the cheapest on ties (then
 * the first in column order). Missing scores are skipped; a missing cost counts as dearer than
 * any known one. Returns -1 when no model is correct: the best present score is 0 (or no score
 * is present). The Oracle router still routes such a prompt to the cheapest model.
 */
export function oracleChoice(t: OutcomeTable, row: number): number {
  const m = t.models.length;
  const base = row * m;
  let best = -1;
  let bestScore = -Infinity;
  let bestCost = Infinity;
  for (let j = 0; j < m; j++) {
    const s = t.scores[base + j];
    if (Number.isNaN(s)) continue;
    const c0 = t.costs[base + j];
    const c = Number.isNaN(c0) ? Infinity : c0;
    if (s > bestScore || (s === bestScore && c < bestCost)) {
      best = j;
      bestScore = s;
      bestCost = c;
    }
  }
  return best >= 0 && bestScore > 0 ? best : -1;
}

function mean(sum: number, n: number): number {
  return n > 0 ? sum / n : NaN;
}

/** Mean and 95th percentile (linear interpolation between order statistics) of the known values of column j; nulls when none. */
function meanP95(cells: Float64Array, m: number, j: number): { mean: number | null; p95: number | null } {
  const xs: number[] = [];
  for (let k = j; k < cells.length; k += m) if (!Number.isNaN(cells[k])) xs.push(cells[k]);
  if (xs.length === 0) return { mean: null, p95: null };
  xs.sort((a, b) => a - b);
  const pos = 0.95 * (xs.length - 1);
  const lo = Math.floor(pos);
  const p95 = lo + 1 < xs.length ? xs[lo] + (pos - lo) * (xs[lo + 1] - xs[lo]) : xs[lo];
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, p95 };
}

function latencyInfo(t: OutcomeTable, j: number): LatencyInfo | undefined {
  if (!t.ttftMs && !t.totalLatencyMs) return undefined;
  const m = t.models.length;
  const total = t.totalLatencyMs ? meanP95(t.totalLatencyMs, m, j) : { mean: null, p95: null };
  let missingTotal = 0;
  for (let i = 0; i < t.ids.length; i++) {
    if (!Number.isNaN(t.scores[i * m + j]) && (!t.totalLatencyMs || Number.isNaN(t.totalLatencyMs[i * m + j]))) missingTotal++;
  }
  const out: LatencyInfo = { meanTotalMs: total.mean, p95TotalMs: total.p95, missingTotal };
  if (t.ttftMs) {
    const f = meanP95(t.ttftMs, m, j);
    out.meanTtftMs = f.mean;
    out.p95TtftMs = f.p95;
  }
  return out;
}

export function tableInfo(t: OutcomeTable): TableInfo {
  // A table made in code may be inconsistent (10 texts for 30 ids): say so, do not summarise it.
  validateTable(t);
  const n = t.ids.length;
  const m = t.models.length;
  const scoreSum = new Float64Array(m);
  const scoreN = new Float64Array(m);
  const costSum = new Float64Array(m);
  const costN = new Float64Array(m);
  const oracle = new Float64Array(m);
  let none = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const s = t.scores[i * m + j];
      if (!Number.isNaN(s)) {
        scoreSum[j] += s;
        scoreN[j]++;
      }
      const c = t.costs[i * m + j];
      if (!Number.isNaN(c)) {
        costSum[j] += c;
        costN[j]++;
      }
    }
    const o = oracleChoice(t, i);
    if (o < 0) none++;
    else oracle[o]++;
  }
  const byDataset = new Map<string, { prompts: number; evals: Set<string> }>();
  for (let i = 0; i < n; i++) {
    let d = byDataset.get(t.datasets[i]);
    if (!d) byDataset.set(t.datasets[i], (d = { prompts: 0, evals: new Set() }));
    d.prompts++;
    d.evals.add(t.evals[i]);
  }
  const datasets = [...byDataset.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, d]) => ({ name, prompts: d.prompts, evals: [...d.evals].sort() }));
  return {
    prompts: n,
    datasets,
    models: t.models.map((model, j) => ({
      model,
      meanScore: mean(scoreSum[j], scoreN[j]),
      meanCost: mean(costSum[j], costN[j]),
      oracleShare: n > 0 ? oracle[j] / n : 0,
      missing: n - scoreN[j],
      ...(t.ttftMs || t.totalLatencyMs ? { latency: latencyInfo(t, j) } : {}),
    })),
    noModelCorrectShare: n > 0 ? none / n : 0,
  };
}
