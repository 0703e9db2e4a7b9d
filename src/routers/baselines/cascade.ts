/**
 * Cascade: call the pool's models from cheapest to dearest (by expected cost); a judge accepts
 * an answer whose realised score reaches `threshold`, but errs (accepts a bad answer or rejects
 * a good one) with probability epsilon; the first accepted answer is returned, else the last one
 * called. A per-query budget stops the chain when the next call's expected cost exceeds what is
 * left of the budget (the first call is always made, so every prompt gets an answer). Cost is
 * the sum of the realised costs of every call made.
 *
 * The judge's errors are seeded per (seed, prompt id, position in the chain), so they do not
 * depend on batch order, and every setting sees the same errors (common random numbers).
 * Settings: every budget x every threshold; budgets default to the cumulative expected costs
 * along the chain (stop after 1, 2, ... calls). Epsilon is a property of the judge, not tuned:
 * sweep it with CASCADE_EPSILONS (one cascade per value).
 */
import { InputError } from "../../util/errors.js";
import { checkKnownParams, expectedCostsOf, requireOutcomes } from "../common.js";
import type { RouterFactory } from "../registry.js";
import type { DirectRouter, FitReport, PromptBatch, RealisedOutcomes, Router, RouterManifest, TrainingSet } from "../router.js";

/** The judge error rates RouterBench sweeps. */
export const CASCADE_EPSILONS: readonly number[] = [0, 0.01, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8];
export const DEFAULT_THRESHOLDS: readonly number[] = [0.25, 0.5, 0.75, 1];

/** Lists inside one parameter are ';'-separated ("|" already means a validation grid). */
function numberList(v: unknown, name: string): number[] | null {
  if (v === undefined) return null;
  const parts = typeof v === "number" ? [v] : typeof v === "string" ? v.split(";").map(Number) : Array.isArray(v) ? v.map(Number) : [NaN];
  if (parts.length === 0 || parts.some((x) => !Number.isFinite(x) || x < 0)) {
    throw new InputError(`cascade ${name} must be non-negative numbers separated by ";", got ${JSON.stringify(v)}`, { field: name });
  }
  return parts;
}

/** 32-bit FNV-1a, for turning a prompt id into part of a seed. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A uniform [0,1) draw fixed by (seed, prompt, call): murmur3's finaliser over the mixed key. */
export function judgeDraw(seed: number, promptId: string, call: number): number {
  let h = (fnv1a(promptId) ^ Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(call + 1, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

export class CascadeRouter implements DirectRouter {
  readonly type = "cascade";
  readonly kind = "direct" as const;
  readonly needsEmbeddings = false;
  readonly needsOutcomes = true;
  readonly params: Record<string, unknown>;
  readonly epsilon: number;
  readonly thresholds: number[];
  readonly seed: number;
  private readonly budgetsParam: number[] | null;
  expectedCosts: Float64Array;

  constructor(
    readonly pool: readonly string[],
    params: Record<string, unknown>,
  ) {
    checkKnownParams("cascade", params, ["epsilon", "thresholds", "budgets", "seed"]);
    const eps = params.epsilon ?? 0;
    if (typeof eps !== "number" || !(eps >= 0 && eps <= 1)) throw new InputError(`cascade epsilon must be in [0,1], got ${JSON.stringify(eps)}`, { field: "epsilon" });
    const seed = params.seed ?? 0;
    if (typeof seed !== "number" || !Number.isInteger(seed)) throw new InputError(`cascade seed must be an integer, got ${JSON.stringify(seed)}`, { field: "seed" });
    this.epsilon = eps;
    this.seed = seed;
    this.thresholds = numberList(params.thresholds, "thresholds") ?? DEFAULT_THRESHOLDS.slice();
    this.budgetsParam = numberList(params.budgets, "budgets");
    this.params = { epsilon: eps, thresholds: this.thresholds.join(";"), ...(this.budgetsParam ? { budgets: this.budgetsParam.join(";") } : {}), seed };
    this.expectedCosts = new Float64Array(pool.length);
  }

  async fit(train: TrainingSet): Promise<FitReport> {
    this.expectedCosts = expectedCostsOf(train.table, this.pool);
    return { chosen: { ...this.params }, validation: {}, seconds: 0 };
  }

  /** Pool indices, cheapest expected cost first (ties: pool order). */
  chain(): number[] {
    return Array.from(this.pool, (_, j) => j).sort((a, b) => this.expectedCosts[a] - this.expectedCosts[b] || a - b);
  }

  budgets(): number[] {
    if (this.budgetsParam) return this.budgetsParam;
    let sum = 0;
    return this.chain().map((j) => (sum += this.expectedCosts[j]));
  }

  async realise(batch: PromptBatch): Promise<RealisedOutcomes[]> {
    const o = requireOutcomes(batch, "cascade", this.pool);
    const n = batch.ids.length;
    const m = this.pool.length;
    const chain = this.chain();
    // The judge errs on call p of prompt i when its draw falls below epsilon; drawn once for all settings.
    const errs = new Uint8Array(n * m);
    if (this.epsilon > 0) {
      for (let i = 0; i < n; i++) for (let p = 0; p < m; p++) errs[i * m + p] = judgeDraw(this.seed, batch.ids[i], p) < this.epsilon ? 1 : 0;
    }
    const out: RealisedOutcomes[] = [];
    for (const budget of this.budgets()) {
      for (const threshold of this.thresholds) {
        const costs = new Float64Array(n);
        const scores = new Float64Array(n);
        const chosen = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          let spent = 0;
          let last = -1;
          for (let p = 0; p < m; p++) {
            const j = chain[p];
            if (p > 0 && this.expectedCosts[j] > budget - spent) break;
            spent += o.costs[i * m + j];
            last = j;
            const good = o.scores[i * m + j] >= threshold;
            if (good !== (errs[i * m + p] === 1)) break; // accepted
          }
          costs[i] = spent;
          scores[i] = o.scores[i * m + last];
          chosen[i] = last;
        }
        out.push({ setting: `threshold=${threshold} budget=${budget}`, costs, scores, chosen });
      }
    }
    return out;
  }
}

export const cascadeFactory: RouterFactory = {
  type: "cascade",
  needsEmbeddings: false,
  needsOutcomes: true,
  kind: "direct",
  describe: "cheapest-first cascade with a judge of error rate epsilon (thresholds, budgets: ';'-separated; needs the prompts' outcomes)",
  seeded: true,
  create: (pool, params) => new CascadeRouter(pool, params),
  save: async () => [],
  async load(_dir: string, manifest: RouterManifest): Promise<Router> {
    const r = new CascadeRouter(manifest.pool.map((p) => p.model), manifest.params);
    r.expectedCosts = Float64Array.from(manifest.pool, (p) => p.expectedCost);
    return r;
  },
};
