/**
 * `synthesize`: routekit's bundled demo dataset, a synthetic RouterBench look-alike.
 *
 * WHAT IT IS. Prompts written from templates that read like RouterBench's 8 task families, and
 * for each of the 11 RouterBench models a score and a cost per prompt drawn from a latent model.
 * No real model answered these prompts. The data exist so that routekit runs end to end out of
 * the box and so that a router has something honest to learn; for research use real data
 * (`routekit import` of RouterBench).
 *
 * THE LATENT MODEL (what a router can learn, and why it is there).
 *  - Each prompt has a family (dataset), a topic within it (an MMLU subject, a GSM8K sub-skill,
 *    a HellaSwag activity ...; ./families.ts, ./mmlu.ts) and a difficulty level 0..3. The topic
 *    picks the vocabulary and templates; the level shows in the text (context sentences, extra
 *    steps, "NOT"/"EXCEPT" stems, plausible rather than absurd distractors, extra constraints).
 *  - Difficulty b = mu_topic + 0.9 * (level - 1.2) + N(0, 0.9): the level is visible, the rest
 *    of b is not (irreducible noise shared by all models, so some prompts defeat every model).
 *  - Model m's ability on topic t: theta = base[m, dataset] + sum_s skill_t[s] * affinity[m][s]
 *    + jitter[m, t], jitter ~ N(0, 0.5) from a fixed world seed (WORLD_SEED: the "world" of
 *    skills is the same for every --seed; the seed draws prompts and outcomes).
 *  - P(success) = sigmoid(theta - kappa_m * (level - 1.2) - b + e), e ~ N(0, 0.5) per (prompt,
 *    model): an item-response model with model-specific noise, where kappa_m [A8] makes small
 *    models lose more on hard prompts than large ones. Because theta varies by topic, a cheap model matches
 *    GPT-4 on easy or favourable topics (saturation) and falls far behind on others.
 *  - Scores: MMLU, HellaSwag, ARC, Winogrande, MBPP, RAG are 0/1 draws; GSM8K is 0/1 with 15% of
 *    prompts given partial credit in quarters; MT-Bench is a 1..10 judge grade / 10.
 *  - Costs: tokens x the facts-page prices. Input tokens = ceil(chars / 4) x a per-model
 *    tokenizer factor + a chat-template overhead; output tokens = a per-family answer length x
 *    the model's MCQ verbosity (MCQ families only) x (1 + 0.2 level) x lognormal(0.35) noise x a
 *    per-model verbosity solved so the mean cost matches the facts page.
 *  - Latencies (only with `latency: true`): synthetic per-model time to first token and
 *    streaming speed (./latency.ts), from streams of their own, so scores and costs do not move.
 *
 * CALIBRATION SOURCES
 *  [S1] /work/shared/docs/ROUTERBENCH.md (the project's facts page, from Hu et al. 2024,
 *       arXiv 2403.12031, and its released data): prices per 1M tokens, whole-benchmark 0-shot
 *       per-model mean score and mean $/query, rows per dataset, the oracle's shares.
 *  [S2] The RouterBench paper's per-dataset results (its table and figures of per-model
 *       performance per dataset), recalled for their shape: which model is strong where.
 *  [S3] Real RouterBench 5-shot rows for ARC-Challenge, MBPP and Winogrande (the project's
 *       shared measuring copy, not committed): per-model means there, MBPP scored 0/1, MCQ
 *       answers a few tokens long, MBPP answers ~600-1,300 characters.
 * ASSUMPTIONS
 *  [A1] RAG rows = 36,497 - (sum of the listed datasets) = 1,719; the RAG eval is named `rag-qa`.
 *  [A2] Family shares of the generated prompts follow RouterBench's row shares with a floor for
 *       the small families (calibration.ts FAMILY_SHARES); whole-benchmark means re-weight each
 *       dataset to its RouterBench row count (`benchmarkWeights`), as the facts page's means do.
 *  [A3] Per-dataset 0-shot targets (calibration.ts DATASET_TARGETS) are judgement shaped by S2/S3;
 *       a per-model shift in logit space then makes their weighted mean equal S1 exactly, and
 *       base[m, dataset] is solved on the drawn prompts so that the mean P(success) of each
 *       (model, dataset) equals its target. The realised means differ from the facts page only by
 *       the sampling noise of the score draws (tested within 0.03).
 *  [A4] Skill affinities per model (calibration.ts SKILL_AFFINITY) are judgement from the models'
 *       reputations; topic difficulties mu_topic are judgement (e.g. abstract algebra, law and
 *       MMLU moral scenarios hard; marketing, geography, world religions easy).
 *  [A5] Tokenizer factors and template overheads are rules of thumb (SentencePiece ~10-15% more
 *       tokens than GPT's tokenizer on English).
 *  [A6] Answer lengths per family and MCQ verbosity per model are judgement (S3 for the orders of
 *       magnitude); each model's overall verbosity is then solved so its weighted mean cost per
 *       query equals S1 (to rounding of token counts).
 *  [A8] Per-model sensitivity to the difficulty level (calibration.ts LEVEL_SENSITIVITY) is
 *       judgement: GPT-4 0, small models up to 0.45 logits per level.
 *  [A7] Oracle shares are not calibrated; `routekit synth` prints them next to S1's for comparison.
 */
import { makeRng, normal, type Rng } from "../../util/rng.js";
import { InputError } from "../../util/errors.js";
import type { OutcomeTable } from "../table.js";
import {
  BENCHMARK_ROWS, DATASETS, DATASET_TARGETS, FACTS, FAMILY_SHARES, INPUT_TOKEN_FACTOR, LEVEL_SENSITIVITY, MCQ_VERBOSITY, OUTPUT_TOKENS,
  PRICES, ROUTERBENCH_MODELS, SKILL_AFFINITY, type DatasetName, type ModelName,
} from "./calibration.js";
import { FAMILIES, type Family, type ScoreKind, type Topic } from "./families.js";
import { drawLatencies } from "./latency.js";

export { ROUTERBENCH_MODELS, FACTS, PRICES, BENCHMARK_ROWS, FACTS_ORACLE_SHARES, DATASETS } from "./calibration.js";
export { FAMILIES, ALL_TOPICS, type Topic, type Family, type ScoreKind } from "./families.js";
export { SYNTH_LATENCY, PREFILL_MS_PER_TOKEN, type SynthLatencyParams } from "./latency.js";
export { summarizeSynth, benchmarkWeights, type SynthSummary, type SynthModelSummary } from "./summary.js";

export interface SynthOptions {
  prompts: number;
  seed: number;
  /** A subset of the 11 RouterBench models (default: all, in the facts page's order). */
  models?: string[];
  /**
   * Also draw per-call latencies (synthetic, ./latency.ts) from streams of their own: scores,
   * costs and tokens are the same with or without. Absent: none; the default options (and so
   * data/default.arrow and `routekit synth`) draw them, so the bundled data exercises latency.
   */
  latency?: boolean;
}

export const DEFAULT_SYNTH_OPTIONS: Readonly<SynthOptions> = { prompts: 2000, seed: 42, latency: true };

/** Fixes the skill "world" (topic jitter) independently of the sampling seed. */
export const WORLD_SEED = "routekit-synth-world-1";

/** The hidden attributes behind each generated prompt, aligned with the table's rows. */
export interface SynthLatents {
  readonly topics: string[];
  readonly levels: Int8Array;
  readonly difficulty: Float64Array;
  /** P(success) of each (prompt, model), row-major like the table's scores. */
  readonly pSuccess: Float64Array;
}

const LEVEL_PROBS = [0.3, 0.3, 0.25, 0.15];
const LEVEL_SLOPE = 0.9;
const LEVEL_CENTRE = 1.2;
const HIDDEN_DIFFICULTY_SD = 0.9;
const TOPIC_JITTER_SD = 0.5;
const CELL_NOISE_SD = 0.5;
const PARTIAL_CREDIT_RATE = 0.15;
const OUTPUT_NOISE_SD = 0.35;
const MCQ: ReadonlySet<DatasetName> = new Set(["mmlu", "hellaswag", "arc-challenge", "winogrande"]);

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const logit = (p: number) => Math.log(p / (1 - p));

/** Prompts per family for n prompts: largest-remainder rounding of FAMILY_SHARES. */
export function familyCounts(n: number): Record<DatasetName, number> {
  const raw = DATASETS.map((d) => FAMILY_SHARES[d] * n);
  const counts = raw.map(Math.floor);
  const order = raw.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0, left = n - counts.reduce((a, b) => a + b, 0); k < left; k++) counts[order[k % order.length][1]]++;
  return Object.fromEntries(DATASETS.map((d, i) => [d, counts[i]])) as Record<DatasetName, number>;
}

/**
 * Per-dataset targets after the per-model logit shift that makes their RouterBench-weighted mean
 * equal the facts page's whole-benchmark mean [A3].
 */
export function calibratedTargets(model: ModelName): Record<DatasetName, number> {
  const prior = DATASET_TARGETS[model];
  const total = DATASETS.reduce((s, d) => s + BENCHMARK_ROWS[d], 0);
  const weighted = (delta: number) => DATASETS.reduce((s, d, k) => s + (BENCHMARK_ROWS[d] / total) * sigmoid(logit(prior[k]) + delta), 0);
  let lo = -5;
  let hi = 5;
  for (let it = 0; it < 80; it++) {
    const mid = (lo + hi) / 2;
    if (weighted(mid) < FACTS[model].score) lo = mid;
    else hi = mid;
  }
  const delta = (lo + hi) / 2;
  return Object.fromEntries(DATASETS.map((d, k) => [d, sigmoid(logit(prior[k]) + delta)])) as Record<DatasetName, number>;
}

function drawLevel(r: Rng): number {
  let u = r();
  for (let l = 0; l < LEVEL_PROBS.length; l++) {
    if (u < LEVEL_PROBS[l]) return l;
    u -= LEVEL_PROBS[l];
  }
  return LEVEL_PROBS.length - 1;
}

function pickTopic(r: Rng, f: Family): Topic {
  const total = f.topics.reduce((s, t) => s + t.weight, 0);
  let u = r() * total;
  for (const t of f.topics) {
    if (u < t.weight) return t;
    u -= t.weight;
  }
  return f.topics[f.topics.length - 1];
}

/** Ability offsets per (model, topic) that do not depend on the sampling seed. */
function topicAbility(model: ModelName, topic: Topic): number {
  const aff = SKILL_AFFINITY[model];
  let a = 0;
  for (const [skill, w] of Object.entries(topic.skills)) a += (w ?? 0) * (aff[skill as keyof typeof aff] ?? 0);
  return a + TOPIC_JITTER_SD * normal(makeRng(`${WORLD_SEED}:${model}:${topic.name}`));
}

function drawScore(kind: ScoreKind, p: number, r: Rng): number {
  if (kind === "tenths") {
    const grade = Math.round(1 + 9 * p + 0.8 * normal(r));
    return Math.min(10, Math.max(1, grade)) / 10;
  }
  if (kind === "quarters" && r() < PARTIAL_CREDIT_RATE) {
    return Math.min(4, Math.max(0, Math.round(4 * (p + 0.15 * normal(r))))) / 4;
  }
  return r() < p ? 1 : 0;
}

/** Solve b so that mean_i sigmoid(b + x_i) = target (monotone in b: bisection). */
function solveOffset(xs: Float64Array, target: number): number {
  let lo = -20;
  let hi = 20;
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    let s = 0;
    for (let i = 0; i < xs.length; i++) s += sigmoid(mid + xs[i]);
    if (s / xs.length < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

function resolveModels(models: readonly string[] | undefined): ModelName[] {
  if (!models) return [...ROUTERBENCH_MODELS];
  if (models.length === 0) throw new InputError("--models: give at least one model", { field: "models" });
  for (const m of models) {
    if (!(ROUTERBENCH_MODELS as readonly string[]).includes(m)) {
      throw new InputError(`unknown model "${m}"; synth knows the 11 RouterBench models: ${ROUTERBENCH_MODELS.join(", ")}`, { field: "models" });
    }
  }
  if (new Set(models).size !== models.length) throw new InputError("--models: a model is listed twice", { field: "models" });
  return models as ModelName[];
}

/** The table and the latent attributes that produced it (for tests and analysis). */
export function synthesizeWithLatents(opts: SynthOptions): { table: OutcomeTable; latents: SynthLatents } {
  if (opts === null || typeof opts !== "object") throw new InputError("synthesize needs options { prompts, seed }");
  if (!Number.isInteger(opts.prompts) || opts.prompts < 1) throw new InputError(`prompts must be a positive integer, got ${opts.prompts}`, { field: "prompts" });
  if (!Number.isFinite(opts.seed)) throw new InputError(`seed must be a number, got ${opts.seed}`, { field: "seed" });
  const models = resolveModels(opts.models);
  const n = opts.prompts;
  const m = models.length;
  const seed = String(opts.seed);

  // 1. Prompts: family counts, then topic, level, text and hidden difficulty per prompt.
  const counts = familyCounts(n);
  const textRng = makeRng(`${seed}:text`);
  const rows: { family: Family; topic: Topic; level: number; text: string; b: number }[] = [];
  for (const f of FAMILIES) {
    for (let k = 0; k < counts[f.dataset]; k++) {
      const topic = pickTopic(textRng, f);
      const level = drawLevel(textRng);
      const text = topic.make(textRng, level);
      const b = topic.mu + LEVEL_SLOPE * (level - LEVEL_CENTRE) + HIDDEN_DIFFICULTY_SD * normal(textRng);
      rows.push({ family: f, topic, level, text, b });
    }
  }
  // Interleave the families (a seeded shuffle) so the file reads like a benchmark dump.
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(textRng() * (i + 1));
    [rows[i], rows[j]] = [rows[j], rows[i]];
  }
  const perEval = new Map<string, number>();
  const ids = rows.map((r) => {
    const k = perEval.get(r.topic.eval) ?? 0;
    perEval.set(r.topic.eval, k + 1);
    return `${r.topic.eval}.synth.${k}`;
  });

  const scores = new Float64Array(n * m);
  const costs = new Float64Array(n * m);
  const inputTokens = new Float64Array(n * m);
  const outputTokens = new Float64Array(n * m);
  const pSuccess = new Float64Array(n * m);
  const benchTotal = DATASETS.filter((d) => counts[d] > 0).reduce((s, d) => s + BENCHMARK_ROWS[d], 0);

  // 2. Per model (each with its own streams, so a model subset gives the same columns).
  const familyRows = new Map<Family, number[]>(FAMILIES.map((f) => [f, []]));
  rows.forEach((r, i) => familyRows.get(r.family)!.push(i));

  models.forEach((model, j) => {
    const targets = calibratedTargets(model);
    const noiseRng = makeRng(`${seed}:ability:${model}`);
    const abilityCache = new Map<string, number>();
    const x = new Float64Array(n); // theta - base - kappa * level - b + e
    for (let i = 0; i < n; i++) {
      const t = rows[i].topic;
      let a = abilityCache.get(t.name);
      if (a === undefined) abilityCache.set(t.name, (a = topicAbility(model, t)));
      x[i] = a - LEVEL_SENSITIVITY[model] * (rows[i].level - LEVEL_CENTRE) - rows[i].b + CELL_NOISE_SD * normal(noiseRng);
    }
    for (const f of FAMILIES) {
      const idx = familyRows.get(f)!;
      if (!idx.length) continue;
      const target = targets[f.dataset];
      // A tenths grade averages about 0.1 + 0.9 p (grade 1..10 / 10).
      const pTarget = f.score === "tenths" ? (target - 0.1) / 0.9 : target;
      const base = solveOffset(Float64Array.from(idx, (i) => x[i]), pTarget);
      for (const i of idx) pSuccess[i * m + j] = sigmoid(base + x[i]);
    }
    const outcomeRng = makeRng(`${seed}:outcome:${model}`);
    for (let i = 0; i < n; i++) scores[i * m + j] = drawScore(rows[i].family.score, pSuccess[i * m + j], outcomeRng);

    // Tokens and cost: the per-model verbosity v solves sum_d w_d mean(in*pin + v*out*pout) = FACTS.
    const tokRng = makeRng(`${seed}:tokens:${model}`);
    const { factor, overhead } = INPUT_TOKEN_FACTOR[model];
    const price = PRICES[model];
    const rawOut = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const d = rows[i].family.dataset;
      inputTokens[i * m + j] = Math.round(Math.ceil(rows[i].text.length / 4) * factor + overhead);
      const verb = MCQ.has(d) ? MCQ_VERBOSITY[model] : 1;
      rawOut[i] = OUTPUT_TOKENS[d] * verb * (1 + 0.2 * rows[i].level) * Math.exp(OUTPUT_NOISE_SD * normal(tokRng) - OUTPUT_NOISE_SD ** 2 / 2);
    }
    let inCost = 0;
    let outCost = 0;
    for (let i = 0; i < n; i++) {
      const d = rows[i].family.dataset;
      const w = BENCHMARK_ROWS[d] / benchTotal / counts[d];
      inCost += (w * inputTokens[i * m + j] * price.input) / 1e6;
      outCost += (w * rawOut[i] * price.output) / 1e6;
    }
    const v = (FACTS[model].cost - inCost) / outCost;
    if (!(v > 0)) throw new Error(`synth calibration: prompts too long for ${model}'s mean cost (verbosity ${v})`);
    for (let i = 0; i < n; i++) {
      const out = Math.max(1, Math.round(v * rawOut[i]));
      outputTokens[i * m + j] = out;
      costs[i * m + j] = (inputTokens[i * m + j] * price.input + out * price.output) / 1e6;
    }
  });

  const table: OutcomeTable = {
    ids,
    texts: rows.map((r) => r.text),
    datasets: rows.map((r) => r.family.dataset),
    evals: rows.map((r) => r.topic.eval),
    models: models.slice(),
    scores,
    costs,
    inputTokens,
    outputTokens,
    // 3. Latencies last, from their own streams (they read the token counts, never the other streams).
    ...(opts.latency ? drawLatencies(models, inputTokens, outputTokens, seed) : {}),
  };
  const latents: SynthLatents = {
    topics: rows.map((r) => r.topic.name),
    levels: Int8Array.from(rows, (r) => r.level),
    difficulty: Float64Array.from(rows, (r) => r.b),
    pSuccess,
  };
  return { table, latents };
}

/** A synthetic RouterBench-like outcome table (see the comment at the top of this file). */
export function synthesize(opts: SynthOptions): OutcomeTable {
  return synthesizeWithLatents(opts).table;
}
