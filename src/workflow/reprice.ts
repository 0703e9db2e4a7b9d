/**
 * `routekit reprice`: a saved router priced again without retraining. What a router predicts, q_m
 * per prompt, is learned from scores only (every built-in predictive router: knn, linear, mlp,
 * mf, irt, stack, task-prior, best-single; grids are chosen by validation MSE of q), so new
 * prices change only its expected costs c_m and, through them, its operating points. Both are
 * recomputed from what `train` records in the router directory:
 *  - per pool model, the mean input and output tokens per call on the training rows
 *    (router.json's pool[].meanInputTokens / meanOutputTokens): c_m = (in * p_in + out * p_out) / 1e6;
 *  - the validation rows' predictions q, scores and token counts (REPRICING_FILE): each row's cost
 *    at the new prices, then the operating points measured exactly as `train` measures them.
 * The weight files are copied byte for byte; router.json records `repricedFrom` (the prices
 * file's sha256 and the source router's manifest checksum).
 *
 * Refused, in one line: routers without these records (saved before reprice, or with
 * crossfit operating points: retrain or re-save with `routekit train`), pool models whose calls
 * were priced without token counts, types that are not built-in predictive routers (a router
 * whose predictions learned from costs would not be reproduced), and a prices file that lacks a
 * pool model (a model is never silently kept at, or set to, some price: list every pool model).
 */
import { createHash } from "node:crypto";
import { basename, join } from "node:path";
import { z } from "zod";
import { readInputFile } from "../data/input-file.js";
import { predictedOperatingPoints } from "../evaluate/operating-points.js";
import { copyRouterWith, MANIFEST_FILE, operatingPointsOf, readManifest, readRepricingRecord, type SavedPoolEntry, type SavedRouterManifest } from "../routers/artifact.js";
import { customRouterTypes, getRouterFactory } from "../routers/registry.js";
import { routeAt } from "../routers/routing.js";
import type { OperatingPoints } from "../routers/targets.js";
import { checkOutputDir } from "../util/atomic.js";
import { InputError } from "../util/errors.js";

/** US$ per 1M tokens, input and output, per model: the format `import --prices` reads. */
export type Prices = Readonly<Record<string, { readonly input: number; readonly output: number }>>;

const priceSchema = z.object({ input: z.number().finite().nonnegative(), output: z.number().finite().nonnegative() }).strict();
const pricesSchema = z.record(z.string().min(1), priceSchema);

/** A prices file read and checked: its prices and the sha256 of its bytes (recorded in the copy). */
export interface PriceFile {
  readonly file: string;
  readonly prices: Prices;
  readonly sha256: string;
}

/** Read and check a prices file (`{"model": {"input": 10, "output": 30}}`, US$ per 1M tokens); errors name the file and the model. */
export async function readPriceFile(file: string): Promise<PriceFile> {
  const bytes = await readInputFile(file, "prices file");
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new InputError(`not valid JSON: ${(err as Error).message}`, { file });
  }
  const parsed = pricesSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.map(String);
    const what = path.length === 0 ? 'expected an object {"model": {"input": <US$ per 1M tokens>, "output": <US$ per 1M tokens>}}' : path.length === 1 ? `model "${path[0]}": ${issue.message} (expected {"input": <US$ per 1M tokens>, "output": <US$ per 1M tokens>})` : `model "${path[0]}": price "${path.slice(1).join(".")}": ${issue.message} (US$ per 1M tokens, >= 0)`;
    throw new InputError(what, { file, ...(path.length ? { field: path.join(".") } : {}) });
  }
  return { file, prices: parsed.data, sha256: createHash("sha256").update(bytes).digest("hex") };
}

export interface RepriceOptions {
  /** The copy to write (replaced atomically). */
  out: string;
}

export interface RepriceResult {
  manifest: SavedRouterManifest;
  /** Per pool model: its expected cost before and after. */
  costs: { model: string; before: number; after: number }[];
  /** Extra models of the prices file, not in the pool (ignored). */
  unused: string[];
  operatingPoints: OperatingPoints | null;
  /** The source's operating points were calibrated (`calibrate`): the copy's are measured again on the recorded validation rows. */
  droppedCalibration: boolean;
}

/** Why a router cannot be repriced, in one line naming its router.json. */
function refuse(dir: string, why: string): InputError {
  return new InputError(why, { file: join(dir, MANIFEST_FILE) });
}

/** Check that `dir` can be repriced with `prices` and write the repriced copy to `opts.out` (see above). */
export async function repriceRouter(dir: string, prices: PriceFile, opts: RepriceOptions): Promise<RepriceResult> {
  await checkOutputDir(opts.out, { label: "--out", inputs: [dir, prices.file], marker: MANIFEST_FILE });
  const manifest = await readManifest(dir);
  const factory = getRouterFactory(manifest.type);
  if (factory.kind !== "predictive" || factory.needsOutcomes || customRouterTypes().includes(manifest.type)) {
    throw refuse(dir, `router type ${manifest.type} cannot be repriced: only built-in predictive routers that route new prompts, whose quality predictions do not learn from costs, can (retrain it with the new prices)`);
  }
  const record = await readRepricingRecord(dir, manifest);
  const untokened = manifest.pool.filter((p) => p.meanInputTokens === undefined || p.meanOutputTokens === undefined);
  if (!record || untokened.length === manifest.pool.length) {
    throw refuse(dir, "this router records no token counts and validation predictions to reprice from (saved before `reprice`, or with crossfit operating points); retrain or re-save it with `routekit train` or `routekit run` of this version");
  }
  if (untokened.length > 0) {
    throw refuse(dir, `cannot reprice model "${untokened[0].model}": its training rows give a cost per call without token counts, so its cost at new prices is unknown (models without token counts: ${untokened.map((p) => p.model).join(", ")})`);
  }
  const m = manifest.pool.length;
  const n = record.q.length / m;
  for (let k = 0; k < record.q.length; k++) {
    if (!Number.isFinite(record.inputTokens[k]) || !Number.isFinite(record.outputTokens[k])) {
      throw refuse(dir, `cannot reprice model "${manifest.pool[k % m].model}": a validation row gives its cost without token counts`);
    }
  }
  const missing = manifest.pool.map((p) => p.model).filter((model) => !Object.prototype.hasOwnProperty.call(prices.prices, model));
  if (missing.length > 0) {
    throw new InputError(`no price for model "${missing[0]}" of the router's pool (missing: ${missing.join(", ")}); list every pool model, a model is never kept at an old price or costed at 0`, { file: prices.file, field: missing[0] });
  }
  const priceOf = (model: string) => prices.prices[model];
  // c_m at the new prices, as the training rows' mean cost would be: (in * p_in + out * p_out) / 1e6.
  const pool: SavedPoolEntry[] = manifest.pool.map((p) => ({ ...p, expectedCost: (p.meanInputTokens! * priceOf(p.model).input + p.meanOutputTokens! * priceOf(p.model).output) / 1e6 }));
  const expectedCosts = Float64Array.from(pool, (p) => p.expectedCost);
  // Each validation row's cost at the new prices, as an import with these prices would compute it.
  const costs = new Float64Array(n * m);
  for (let k = 0; k < costs.length; k++) {
    const price = priceOf(manifest.pool[k % m].model);
    costs[k] = (record.inputTokens[k] * price.input + record.outputTokens[k] * price.output) / 1e6;
  }
  const old = operatingPointsOf(manifest);
  const droppedCalibration = old?.on === "calibration";
  const bootstrap = old && old.on === "validation" ? old.bootstrap : { seed: manifest.seed, resamples: undefined, level: undefined };
  const pool0 = manifest.pool.map((p) => p.model);
  const operatingPoints = predictedOperatingPoints(record.q, expectedCosts, { scores: record.scores, costs }, pool0, { ...bootstrap, on: "validation" });
  // The fit report's cost figure at lambda = inf, at the new prices (on the recorded rows).
  let fit = manifest.fit;
  if (fit && typeof fit.validation.costAtMaxLambda === "number") {
    const chosen = routeAt(record.q, expectedCosts, m, Infinity);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += costs[i * m + chosen[i]];
    fit = { ...fit, validation: { ...fit.validation, costAtMaxLambda: sum / n } };
  }
  const written = await copyRouterWith(dir, opts.out, {
    pool,
    operatingPoints,
    ...(fit ? { fit } : {}),
    repricedFrom: { prices: basename(prices.file), pricesSha256: prices.sha256, routerManifestSha256: manifest.manifestSha256 },
    inputs: [prices.file],
  });
  return {
    manifest: written,
    costs: manifest.pool.map((p, j) => ({ model: p.model, before: p.expectedCost, after: pool[j].expectedCost })),
    unused: Object.keys(prices.prices).filter((model) => !pool0.includes(model)),
    operatingPoints,
    droppedCalibration,
  };
}
