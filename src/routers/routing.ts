/**
 * THE routing rule, the only place it lives: route each prompt to argmax_m lambda * q_m - c_m
 * - mu * l_m, where l_m is the model's expected latency in seconds and mu (US$ per second of
 * waiting) is 0 unless a latency term is asked for; optionally only among the models whose
 * expected latency is at most a limit. Every predictive router, the CLI and the evaluator's
 * exact-curve code go through routeAt, so its tie-breaking is the definition: equal value -> the
 * lower c + mu * l (the cheaper model when mu = 0), then the lower index.
 *
 * The latency term is a price on waiting, so it folds into the cost: with c'_m = c_m + mu * l_m
 * the rule is argmax lambda * q_m - c'_m, the same rule, and with mu = 0 and no limit c' = c
 * exactly (the term is not even computed), so every decision is bitwise what it was without it.
 *
 * Availability: an optional mask (one entry per model; false: not available, e.g. its upstream is
 * unhealthy) takes models out of the pool for the decision, the same rule over the rest. Without
 * a mask, or with every model available, every decision is bitwise what it was without it.
 */
import { InputError } from "../util/errors.js";
import type { DirectRouter, PredictiveRouter, PromptBatch, RealisedOutcomes, Router } from "./router.js";

/** The latency side of the rule: expected latencies (seconds), their price and an optional limit. */
export interface LatencyTerm {
  /** Expected latency in seconds: one per model (length nModels) or one per cell (as quality). */
  readonly seconds: Float64Array;
  /** mu: US$ per second of waiting, >= 0 (0: no latency term). */
  readonly weight: number;
  /** Route only among models whose expected latency is at most this many seconds. */
  readonly maxSeconds?: number;
  /** Model names, for the error when no model fits the limit. */
  readonly models?: readonly string[];
}

/** A latency term that changes nothing: no weight and no limit. */
export function latencyIsInert(latency: LatencyTerm | undefined): boolean {
  return !latency || (latency.weight === 0 && latency.maxSeconds === undefined);
}

function checkLatency(latency: LatencyTerm, nModels: number, cells: number): boolean {
  if (!(latency.weight >= 0) || !Number.isFinite(latency.weight)) throw new Error(`routeAt: the latency weight must be a finite number >= 0, got ${latency.weight}`);
  if (latency.maxSeconds !== undefined && !(latency.maxSeconds >= 0)) throw new Error(`routeAt: the latency limit must be >= 0 seconds, got ${latency.maxSeconds}`);
  const perCell = latency.seconds.length === cells && cells !== nModels;
  if (!perCell && latency.seconds.length !== nModels) {
    throw new Error(`routeAt: latencies have ${latency.seconds.length} entries; need ${nModels} (per model) or ${cells} (per cell)`);
  }
  for (let k = 0; k < latency.seconds.length; k++) {
    const x = latency.seconds[k];
    if (!(x >= 0) || !Number.isFinite(x)) throw new Error(`routeAt: latency ${k} is not a finite number of seconds >= 0 (${x}); the latency term needs every model's expected latency`);
  }
  return perCell;
}

/**
 * quality: prompts x nModels, row-major. costs: either one expected cost per model (length
 * nModels) or one cost per cell (same length as quality). lambda >= 0, one for all prompts or one
 * per prompt (a budget mixing two operating points routes each prompt at its own); Infinity means
 * argmax q (ties -> lowest c + mu * l), 0 means lowest c + mu * l. A NaN quality is never chosen
 * while a finite one exists; a row with no finite quality goes to its cheapest model (by c + mu * l).
 * latency (optional): the latency term and limit; a prompt with no model within the limit is an
 * InputError naming the limit and the fastest model.
 * available (optional): one entry per model; a model whose entry is false is never chosen (the
 * caller leaves at least one available model within the latency limit, or gets an error).
 */
export function routeAt(quality: Float64Array, costs: Float64Array, nModels: number, lambda: number | ArrayLike<number>, latency?: LatencyTerm, available?: ArrayLike<boolean>): Int32Array {
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
  if (available && available.length !== nModels) throw new Error(`routeAt: the availability mask has ${available.length} entries; need ${nModels}`);
  const avail = available && Array.prototype.some.call(available, (a: boolean) => !a) ? available : null;
  const lat = latencyIsInert(latency) ? null : latency!;
  const latPerCell = lat ? checkLatency(lat, nModels, quality.length) : false;
  const mu = lat ? lat.weight : 0;
  const limit = lat?.maxSeconds ?? Infinity;
  const n = quality.length / nModels;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const l = perPrompt ? lambda[i] : lambda;
    const inf = l === Infinity;
    const qBase = i * nModels;
    const cBase = perCell ? qBase : 0;
    const lBase = latPerCell ? qBase : 0;
    let best = -1;
    let bestV = 0; // value lambda*q - c, or q when lambda is infinite
    let bestC = 0;
    let cheapest = -1;
    let cheapestC = 0;
    for (let m = 0; m < nModels; m++) {
      if (avail && !avail[m]) continue;
      let c = costs[cBase + m];
      if (lat) {
        const s = lat.seconds[lBase + m];
        if (s > limit) continue;
        // mu = 0 adds nothing: c stays bitwise c.
        if (mu !== 0) c += mu * s;
      }
      if (cheapest < 0 || c < cheapestC) {
        cheapest = m;
        cheapestC = c;
      }
      const q = quality[qBase + m];
      if (Number.isNaN(q)) continue;
      // lambda = 0 must not turn an infinite q into NaN: 0 * q counts as 0.
      const v = inf ? q : l === 0 ? -c : l * q - c;
      if (best < 0 || v > bestV || (v === bestV && c < bestC)) {
        best = m;
        bestV = v;
        bestC = c;
      }
    }
    if (best < 0) best = cheapest;
    if (best < 0 && !lat) throw new Error("routeAt: no model is available");
    if (best < 0) throw noModelFits(lat!, lBase, nModels);
    out[i] = best;
  }
  return out;
}

function noModelFits(lat: LatencyTerm, lBase: number, nModels: number): InputError {
  let fastest = 0;
  for (let m = 1; m < nModels; m++) if (lat.seconds[lBase + m] < lat.seconds[lBase + fastest]) fastest = m;
  const name = lat.models?.[fastest] ?? `model ${fastest}`;
  return new InputError(
    `no model's expected latency fits the limit of ${lat.maxSeconds} s; the fastest is ${name} at ${Number(lat.seconds[lBase + fastest].toPrecision(3))} s`,
    { field: "maxLatency" },
  );
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

/**
 * Predict, route at lambda (one, or one per prompt), check the pool: the one way a predictive
 * router makes decisions. `latency`: the latency term and limit, with the pool's expected
 * latencies (a saved router's come from its router.json). `available`: the availability mask.
 */
export async function routePrompts(
  router: PredictiveRouter,
  batch: PromptBatch,
  lambda: number | readonly number[],
  latency?: LatencyTerm,
  available?: ArrayLike<boolean>,
): Promise<{ chosen: Int32Array; models: string[]; quality: Float64Array }> {
  const quality = await router.predictQuality(batch);
  const m = router.pool.length;
  if (quality.length !== batch.ids.length * m) {
    throw new Error(`router ${router.type} predicted ${quality.length} values for ${batch.ids.length} prompts x ${m} models`);
  }
  const chosen = routeAt(quality, router.expectedCosts, m, lambda, latency && { ...latency, models: latency.models ?? router.pool }, available);
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
