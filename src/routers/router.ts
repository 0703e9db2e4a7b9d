/**
 * The router contract. A router is fitted on training rows; then, for new prompts, either
 *  - predicts each pool model's quality (a "predictive" router), and the one shared routing
 *    rule `argmax_m lambda * q_m(x) - c_m` (./routing.ts) turns that into a choice, or
 *  - realises each prompt's outcome itself for one of its settings (a "direct" router: the
 *    cascade, which calls several models, and the Zero router, which mixes single models).
 * The evaluator sees only this file's types, never a router's internals.
 */
import type { OutcomeTable } from "../data/table.js";
import type { EmbeddingMatrix, PreparationOptions } from "../embed/embedder.js";

/** What a router is trained on: rows of an outcome table, and their embeddings when needed. */
export interface TrainingSet {
  readonly table: OutcomeTable;
  /** Aligned with table rows; null for routers that do not read prompts. */
  readonly embeddings: EmbeddingMatrix | null;
}

/** Prompts to route. `outcomes` is given only to routers that declare `needsOutcomes`. */
export interface PromptBatch {
  readonly ids: readonly string[];
  readonly texts: readonly string[];
  /**
   * The eval (task) of each prompt, when the caller knows it (evaluation always does; at route
   * time a deployment may, e.g. from its endpoint). Routers must cope with its absence.
   */
  readonly evals?: readonly (string | null)[];
  readonly embeddings: EmbeddingMatrix | null;
  /** The realised outcomes of these very prompts, in the router's pool order (Oracle, cascade, Zero). */
  readonly outcomes?: { readonly scores: Float64Array; readonly costs: Float64Array };
}

export interface FitReport {
  /** Hyperparameters chosen (on the validation split when a grid was given). */
  readonly chosen: Record<string, unknown>;
  /** Validation figures by name, e.g. { mse: 0.12, aiq: 0.71 }. */
  readonly validation: Record<string, number>;
  readonly seconds: number;
}

export interface RouterBase {
  /** Registry key: knn, mlp, linear, oracle, best-single, zero, cascade. */
  readonly type: string;
  /** The models this router may choose from, in the column order of all its matrices. */
  readonly pool: readonly string[];
  readonly needsEmbeddings: boolean;
  readonly needsOutcomes: boolean;
  /** Hyperparameters, JSON-serialisable (saved in router.json). */
  readonly params: Record<string, unknown>;
  fit(train: TrainingSet, validation?: TrainingSet): Promise<FitReport>;
}

export interface PredictiveRouter extends RouterBase {
  readonly kind: "predictive";
  /** c_m: expected US$ per query of each pool model, learned from the training rows. */
  readonly expectedCosts: Float64Array;
  /** q_m(x): prompts x pool, row-major. */
  predictQuality(batch: PromptBatch): Promise<Float64Array>;
}

/** One realised decision per prompt for one setting of a direct router's knob. */
export interface RealisedOutcomes {
  /** A label for the setting (e.g. "threshold=0.5 budget=0.001"). */
  readonly setting: string;
  /** Per prompt: US$ spent (sum of all calls for a cascade). */
  readonly costs: Float64Array;
  /** Per prompt: the score of the answer finally returned. */
  readonly scores: Float64Array;
  /** Per prompt: index into `pool` of the model whose answer was returned. */
  readonly chosen: Int32Array;
}

export interface DirectRouter extends RouterBase {
  readonly kind: "direct";
  /** Every setting's per-prompt outcomes; the evaluator makes one curve point of each. */
  realise(batch: PromptBatch): Promise<RealisedOutcomes[]>;
}

export type Router = PredictiveRouter | DirectRouter;

/** What an exported router directory records besides its weights (router.json). */
export interface RouterManifest {
  readonly format: "routekit.router";
  readonly formatVersion: number;
  readonly type: string;
  readonly params: Record<string, unknown>;
  readonly pool: readonly { readonly model: string; readonly expectedCost: number }[];
  readonly embedder: { readonly id: string; readonly spec: string; readonly preparation: PreparationOptions } | null;
  readonly split: Record<string, unknown>;
  readonly seed: number;
  /** sha256 of each weight file, by file name relative to the router directory. */
  readonly files: Record<string, string>;
  readonly createdBy: string;
  readonly fit?: FitReport;
}
