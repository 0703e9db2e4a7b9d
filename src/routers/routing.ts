/**
 * THE routing rule, the only place it lives: route each prompt to argmax_m lambda * q_m - c_m.
 * Every predictive router, the CLI and the evaluator's exact-curve code go through routeAt, so
 * its tie-breaking is the definition: equal value -> the cheaper model, then the lower index.
 */
import type { DirectRouter, PredictiveRouter, PromptBatch, RealisedOutcomes, Router } from "./router.js";

/**
 * quality: prompts x nModels, row-major. costs: either one expected cost per model (length
 * nModels) or one cost per cell (same length as quality). lambda >= 0, one for all prompts or one
 * per prompt (a budget mixing two operating points routes each prompt at its own); Infinity means
 * argmax q (ties -> cheapest), 0 means cheapest. A NaN quality is never chosen while a finite one
 * exists; a row with no finite quality goes to its cheapest model.
 */
export function routeAt(quality: Float64Array, costs: Float64Array, nModels: number, lambda: number | ArrayLike<number>): Int32Array {
  if (!(nModels > 0) || quality.length % nModels !== 0) {
    throw new Error(`routeAt: quality has ${quality.length} cells, not a multiple of ${nModels} models`);
  }
  const perPrompt = typeof lambda !== "number";
  if (perPrompt && lambda.length !== quality.length / nModels) throw new Error(`routeAt: ${lambda.length} lambdas for ${quality.length / nModels} prompts`);
  for (const l of perPrompt ? Array.from(lambda) : [lambda]) if (Number.isNaN(l) || l < 0) throw new Error(`routeAt: lambda must be >= 0, got ${l}`);
  const perCell = costs.length === quality.length && costs.length !== nModels;
  if (!perCell && costs.length !== nModels) {
    throw new Error(`routeAt: costs has ${costs.length} entries; need ${nModels} (per model) or ${quality.length} (per cell)`);
  }
  const n = quality.length / nModels;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = perPrompt ? lambda[i] : lambda;
    const inf = l === Infinity;
    const qBase = i * nModels;
    const cBase = perCell ? qBase : 0;
    let best = -1;
    let bestV = 0; // value lambda*q - c, or q when lambda is infinite
    let bestC = 0;
    for (let m = 0; m < nModels; m++) {
      const q = quality[qBase + m];
      if (Number.isNaN(q)) continue;
      const c = costs[cBase + m];
      // lambda = 0 must not turn an infinite q into NaN: 0 * q counts as 0.
      const v = inf ? q : l === 0 ? -c : l * q - c;
      if (best < 0 || v > bestV || (v === bestV && c < bestC)) {
        best = m;
        bestV = v;
        bestC = c;
      }
    }
    if (best < 0) {
      best = 0;
      for (let m = 1; m < nModels; m++) if (costs[cBase + m] < costs[cBase + best]) best = m;
    }
    out[i] = best;
  }
  return out;
}

/** The central pool check: every decision must index the router's pool. */
export function checkPool(router: Router, chosen: Int32Array): void {
  const m = router.pool.length;
  for (let i = 0; i < chosen.length; i++) {
    const c = chosen[i];
    if (!Number.isInteger(c) || c < 0 || c >= m) {
      throw new Error(`router ${router.type} chose model index ${c} for prompt ${i}, outside its pool of ${m} (${router.pool.join(", ")})`);
    }
  }
}

/** Predict, route at lambda (one, or one per prompt), check the pool: the one way a predictive router makes decisions. */
export async function routePrompts(
  router: PredictiveRouter,
  batch: PromptBatch,
  lambda: number | readonly number[],
): Promise<{ chosen: Int32Array; models: string[]; quality: Float64Array }> {
  const quality = await router.predictQuality(batch);
  const m = router.pool.length;
  if (quality.length !== batch.ids.length * m) {
    throw new Error(`router ${router.type} predicted ${quality.length} values for ${batch.ids.length} prompts x ${m} models`);
  }
  const chosen = routeAt(quality, router.expectedCosts, m, lambda);
  checkPool(router, chosen);
  return { chosen, models: Array.from(chosen, (c) => router.pool[c]), quality };
}

/** A direct router's settings, each checked against its pool and the batch size: the one way to realise them. */
export async function realiseChecked(router: DirectRouter, batch: PromptBatch): Promise<RealisedOutcomes[]> {
  const settings = await router.realise(batch);
  const n = batch.ids.length;
  for (const s of settings) {
    if (s.chosen.length !== n || s.costs.length !== n || s.scores.length !== n) {
      throw new Error(`router ${router.type}, setting "${s.setting}": outcomes for ${s.chosen.length} prompts, batch has ${n}`);
    }
    checkPool(router, s.chosen);
  }
  return settings;
}
