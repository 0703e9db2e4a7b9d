/**
 * Oracle: q = the prompt's realised scores, so routeAt at lambda = Infinity picks the best score
 * (cheapest by expected cost on ties; an all-zero row goes to the cheapest model, whose real
 * cost counts). It needs the outcomes of the prompts it routes: an upper bound, not a router.
 */
import { checkKnownParams, expectedCostsOf, requireOutcomes } from "../common.js";
import type { RouterFactory } from "../registry.js";
import type { FitReport, PredictiveRouter, PromptBatch, Router, RouterManifest, TrainingSet } from "../router.js";

export class OracleRouter implements PredictiveRouter {
  readonly type = "oracle";
  readonly kind = "predictive" as const;
  readonly needsEmbeddings = false;
  readonly needsOutcomes = true;
  readonly params: Record<string, unknown> = {};
  expectedCosts: Float64Array;

  constructor(
    readonly pool: readonly string[],
    params: Record<string, unknown>,
  ) {
    checkKnownParams("oracle", params, []);
    this.expectedCosts = new Float64Array(pool.length);
  }

  async fit(train: TrainingSet): Promise<FitReport> {
    this.expectedCosts = expectedCostsOf(train.table, this.pool);
    return { chosen: {}, validation: {}, seconds: 0 };
  }

  async predictQuality(batch: PromptBatch): Promise<Float64Array> {
    return Float64Array.from(requireOutcomes(batch, "oracle", this.pool).scores);
  }
}

export const oracleFactory: RouterFactory = {
  type: "oracle",
  needsEmbeddings: false,
  needsOutcomes: true,
  kind: "predictive",
  describe: "best realised score per prompt, cheapest on ties (needs the prompts' outcomes)",
  create: (pool, params) => new OracleRouter(pool, params),
  save: async () => [],
  async load(_dir: string, manifest: RouterManifest): Promise<Router> {
    const r = new OracleRouter(manifest.pool.map((p) => p.model), manifest.params);
    r.expectedCosts = Float64Array.from(manifest.pool, (p) => p.expectedCost);
    return r;
  },
};
