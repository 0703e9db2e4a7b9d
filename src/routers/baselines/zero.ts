/**
 * Zero router: random mixtures of the single models. Its settings are the single models (every
 * prompt to model m); the evaluator's hull over their points is the Zero-router line, since any
 * point on a segment between two models is reached by sending a random share to each.
 */
import { checkKnownParams, expectedCostsOf, requireOutcomes } from "../common.js";
import type { RouterFactory } from "../registry.js";
import type { DirectRouter, FitReport, PromptBatch, RealisedOutcomes, Router, RouterManifest, TrainingSet } from "../router.js";

export class ZeroRouter implements DirectRouter {
  readonly type = "zero";
  readonly kind = "direct" as const;
  readonly needsEmbeddings = false;
  readonly needsOutcomes = true;
  readonly params: Record<string, unknown> = {};
  expectedCosts: Float64Array;

  constructor(
    readonly pool: readonly string[],
    params: Record<string, unknown>,
  ) {
    checkKnownParams("zero", params, []);
    this.expectedCosts = new Float64Array(pool.length);
  }

  async fit(train: TrainingSet): Promise<FitReport> {
    this.expectedCosts = expectedCostsOf(train.table, this.pool);
    return { chosen: {}, validation: {}, seconds: 0 };
  }

  async realise(batch: PromptBatch): Promise<RealisedOutcomes[]> {
    const o = requireOutcomes(batch, "zero", this.pool);
    const n = batch.ids.length;
    const m = this.pool.length;
    return this.pool.map((model, j) => {
      const costs = new Float64Array(n);
      const scores = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        costs[i] = o.costs[i * m + j];
        scores[i] = o.scores[i * m + j];
      }
      return { setting: `model=${model}`, costs, scores, chosen: new Int32Array(n).fill(j) };
    });
  }
}

export const zeroFactory: RouterFactory = {
  type: "zero",
  needsEmbeddings: false,
  needsOutcomes: true,
  kind: "direct",
  describe: "random mixtures of single models: one setting per model (needs the prompts' outcomes)",
  create: (pool, params) => new ZeroRouter(pool, params),
  save: async () => [],
  async load(_dir: string, manifest: RouterManifest): Promise<Router> {
    const r = new ZeroRouter(manifest.pool.map((p) => p.model), manifest.params);
    r.expectedCosts = Float64Array.from(manifest.pool, (p) => p.expectedCost);
    return r;
  },
};
