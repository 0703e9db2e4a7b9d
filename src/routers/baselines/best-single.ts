/**
 * Best single model: q_m = model m's mean training score for every prompt, so at lambda =
 * Infinity every prompt goes to the best model on average, and at lower lambdas to the model
 * with the best average trade-off. Needs neither embeddings nor outcomes.
 */
import { readFloat64, writeFloats } from "../binary.js";
import { checkKnownParams, expectedCostsOf, meanScoresOf } from "../common.js";
import type { RouterFactory } from "../registry.js";
import type { FitReport, PredictiveRouter, PromptBatch, Router, RouterManifest, TrainingSet } from "../router.js";

export class BestSingleRouter implements PredictiveRouter {
  readonly type = "best-single";
  readonly kind = "predictive" as const;
  readonly needsEmbeddings = false;
  readonly needsOutcomes = false;
  readonly params: Record<string, unknown> = {};
  expectedCosts: Float64Array;
  meanScores: Float64Array;

  constructor(
    readonly pool: readonly string[],
    params: Record<string, unknown>,
  ) {
    checkKnownParams("best-single", params, []);
    this.expectedCosts = new Float64Array(pool.length);
    this.meanScores = new Float64Array(pool.length);
  }

  async fit(train: TrainingSet): Promise<FitReport> {
    this.expectedCosts = expectedCostsOf(train.table, this.pool);
    this.meanScores = meanScoresOf(train.table, this.pool);
    return { chosen: {}, validation: {}, seconds: 0 };
  }

  async predictQuality(batch: PromptBatch): Promise<Float64Array> {
    const m = this.pool.length;
    const out = new Float64Array(batch.ids.length * m);
    for (let i = 0; i < batch.ids.length; i++) out.set(this.meanScores, i * m);
    return out;
  }
}

export const bestSingleFactory: RouterFactory = {
  type: "best-single",
  needsEmbeddings: false,
  needsOutcomes: false,
  kind: "predictive",
  describe: "every prompt to one model: q_m = mean training score",
  create: (pool, params) => new BestSingleRouter(pool, params),
  save: async (router: Router, dir: string) => [await writeFloats(dir, "mean-scores.f64", (router as BestSingleRouter).meanScores)],
  async load(dir: string, manifest: RouterManifest): Promise<Router> {
    const r = new BestSingleRouter(manifest.pool.map((p) => p.model), manifest.params);
    r.expectedCosts = Float64Array.from(manifest.pool, (p) => p.expectedCost);
    r.meanScores = await readFloat64(dir, "mean-scores.f64", r.pool.length);
    return r;
  },
};
