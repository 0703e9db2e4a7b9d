/**
 * Calibration constants of the synthetic generator. Sources and assumptions are listed at the
 * top of ./index.ts; each constant here says which of them it comes from.
 */

/** The 11 RouterBench models, named exactly as its score columns, in the facts page's order. */
export const ROUTERBENCH_MODELS = [
  "gpt-4-1106-preview",
  "gpt-3.5-turbo-1106",
  "claude-v2",
  "claude-v1",
  "claude-instant-v1",
  "meta/llama-2-70b-chat",
  "mistralai/mixtral-8x7b-chat",
  "zero-one-ai/Yi-34B-Chat",
  "meta/code-llama-instruct-34b-chat",
  "WizardLM/WizardLM-13B-V1.2",
  "mistralai/mistral-7b-chat",
] as const;

export type ModelName = (typeof ROUTERBENCH_MODELS)[number];

/** [S1] US$ per 1M tokens, input / output (facts page, "Models and prices"). */
export const PRICES: Record<ModelName, { input: number; output: number }> = {
  "gpt-4-1106-preview": { input: 10, output: 30 },
  "gpt-3.5-turbo-1106": { input: 1, output: 2 },
  "claude-v2": { input: 8, output: 24 },
  "claude-v1": { input: 8, output: 24 },
  "claude-instant-v1": { input: 0.8, output: 2.4 },
  "meta/llama-2-70b-chat": { input: 0.9, output: 0.9 },
  "mistralai/mixtral-8x7b-chat": { input: 0.6, output: 0.6 },
  "zero-one-ai/Yi-34B-Chat": { input: 0.8, output: 0.8 },
  "meta/code-llama-instruct-34b-chat": { input: 0.776, output: 0.776 },
  "WizardLM/WizardLM-13B-V1.2": { input: 0.3, output: 0.3 },
  "mistralai/mistral-7b-chat": { input: 0.2, output: 0.2 },
};

/** [S1] Whole-benchmark 0-shot mean score and mean US$ per query (facts page). */
export const FACTS: Record<ModelName, { score: number; cost: number }> = {
  "gpt-4-1106-preview": { score: 0.781, cost: 0.00329 },
  "gpt-3.5-turbo-1106": { score: 0.619, cost: 0.000243 },
  "claude-v2": { score: 0.636, cost: 0.00242 },
  "claude-v1": { score: 0.63, cost: 0.00215 },
  "claude-instant-v1": { score: 0.598, cost: 0.000233 },
  "meta/llama-2-70b-chat": { score: 0.329, cost: 0.000203 },
  "mistralai/mixtral-8x7b-chat": { score: 0.547, cost: 0.000135 },
  "zero-one-ai/Yi-34B-Chat": { score: 0.648, cost: 0.000186 },
  "meta/code-llama-instruct-34b-chat": { score: 0.202, cost: 0.000172 },
  "WizardLM/WizardLM-13B-V1.2": { score: 0.431, cost: 0.000073 },
  "mistralai/mistral-7b-chat": { score: 0.306, cost: 0.000046 },
};

/** [S1] The oracle's choice on the real benchmark (facts page; only these shares are published). */
export const FACTS_ORACLE_SHARES: Partial<Record<ModelName | "no_model_correct", number>> = {
  "mistralai/mistral-7b-chat": 0.276,
  "WizardLM/WizardLM-13B-V1.2": 0.229,
  "mistralai/mixtral-8x7b-chat": 0.168,
  "zero-one-ai/Yi-34B-Chat": 0.145,
  "gpt-4-1106-preview": 0.021,
  no_model_correct: 0.036,
};

/** The 8 task families, by dataset name (= `datasetOfEval` of their eval names). */
export const DATASETS = ["mmlu", "hellaswag", "grade-school-math", "arc-challenge", "winogrande", "mbpp", "mt-bench", "rag-qa"] as const;
export type DatasetName = (typeof DATASETS)[number];

/**
 * [S1] Rows per dataset in the 0-shot benchmark. RAG's count is not on the facts page: [A1] it is
 * the remainder 36,497 - 34,778 = 1,719 rows. These weights turn per-dataset means into the
 * whole-benchmark mean (see `benchmarkWeights`).
 */
export const BENCHMARK_ROWS: Record<DatasetName, number> = {
  mmlu: 14042,
  hellaswag: 10042,
  "grade-school-math": 7450,
  "arc-challenge": 1470,
  winogrande: 1267,
  mbpp: 427,
  "mt-bench": 80,
  "rag-qa": 1719,
};

/**
 * [A2] Share of the generated prompts per family. Close to RouterBench's row shares, but the
 * small families get a floor (MT-Bench would otherwise have 4 prompts in 2,000) so that each one
 * has enough prompts to learn from; whole-benchmark figures re-weight by BENCHMARK_ROWS.
 */
export const FAMILY_SHARES: Record<DatasetName, number> = {
  mmlu: 0.36,
  hellaswag: 0.25,
  "grade-school-math": 0.19,
  "arc-challenge": 0.05,
  winogrande: 0.045,
  mbpp: 0.035,
  "mt-bench": 0.02,
  "rag-qa": 0.05,
};

/**
 * [S2]+[A3] Per-dataset 0-shot mean score targets, before the per-model correction that makes the
 * weighted whole-benchmark mean equal FACTS exactly. Column order: DATASETS.
 * Shape from the RouterBench paper's per-dataset results and the real 5-shot ARC / MBPP /
 * Winogrande rows [S3]; the 0-shot levels are judgement: chat models that do not answer with the
 * option letter lose most on MMLU and HellaSwag (llama-2-70b, code-llama, mistral-7b), GPT-4 is
 * strong on GSM8K and MBPP, Yi-34B is strong on HellaSwag and MMLU, claude-v2 weak on HellaSwag
 * but strong on GSM8K and RAG, code-llama weak except on MBPP.
 */
export const DATASET_TARGETS: Record<ModelName, readonly number[]> = {
  //                                   mmlu  hswag gsm8k  arc  wino  mbpp  mtb   rag
  "gpt-4-1106-preview":               [0.78, 0.8, 0.8, 0.94, 0.85, 0.69, 0.96, 0.86],
  "gpt-3.5-turbo-1106":               [0.66, 0.56, 0.6, 0.83, 0.62, 0.65, 0.88, 0.7],
  "claude-v2":                        [0.62, 0.55, 0.72, 0.86, 0.55, 0.64, 0.86, 0.78],
  "claude-v1":                        [0.56, 0.7, 0.66, 0.86, 0.56, 0.6, 0.92, 0.74],
  "claude-instant-v1":                [0.52, 0.66, 0.62, 0.8, 0.52, 0.6, 0.86, 0.68],
  "meta/llama-2-70b-chat":            [0.3, 0.25, 0.42, 0.55, 0.48, 0.33, 0.84, 0.5],
  "mistralai/mixtral-8x7b-chat":      [0.64, 0.48, 0.45, 0.82, 0.64, 0.54, 0.88, 0.62],
  "zero-one-ai/Yi-34B-Chat":          [0.7, 0.85, 0.45, 0.88, 0.73, 0.39, 0.9, 0.62],
  "meta/code-llama-instruct-34b-chat": [0.18, 0.15, 0.22, 0.32, 0.42, 0.52, 0.7, 0.3],
  "WizardLM/WizardLM-13B-V1.2":       [0.45, 0.4, 0.4, 0.6, 0.52, 0.37, 0.78, 0.5],
  "mistralai/mistral-7b-chat":        [0.32, 0.26, 0.26, 0.5, 0.55, 0.34, 0.74, 0.42],
};

/** Skills a topic exercises; a model's ability on a topic is the sum of its affinities. */
export const SKILLS = ["quant", "science", "code", "medicine", "law", "humanities", "social", "commonsense", "reading", "writing"] as const;
export type Skill = (typeof SKILLS)[number];

/**
 * [A4] Per-model skill affinities (logit units, added to the model's per-dataset base ability on
 * every topic that exercises the skill). Judgement informed by the models' reputations and the
 * per-dataset pattern above: code-llama is good at code only, Yi at commonsense and knowledge,
 * claude-v2 at reading and maths but not commonsense completion, llama-2-70b-chat at open
 * writing, mistral-7b at everyday commonsense and social topics.
 */
export const SKILL_AFFINITY: Record<ModelName, Partial<Record<Skill, number>>> = {
  "gpt-4-1106-preview": { quant: 0.6, code: 0.5, law: 0.5, science: 0.3, reading: 0.2, commonsense: -0.3, social: -0.3, humanities: -0.2 },
  "gpt-3.5-turbo-1106": { code: 0.5, quant: 0.1, commonsense: -0.4, social: 0.2 },
  "claude-v2": { reading: 0.7, writing: 0.4, quant: 0.4, law: 0.4, commonsense: -0.8 },
  "claude-v1": { writing: 0.6, reading: 0.4, humanities: 0.3, quant: -0.2 },
  "claude-instant-v1": { quant: 0.3, writing: 0.3, medicine: -0.4, law: -0.4 },
  "meta/llama-2-70b-chat": { writing: 0.8, humanities: 0.4, social: 0.3, quant: -0.5, code: -0.8 },
  "mistralai/mixtral-8x7b-chat": { code: 0.4, science: 0.4, medicine: 0.2, commonsense: -0.3 },
  "zero-one-ai/Yi-34B-Chat": { commonsense: 0.9, humanities: 0.5, social: 0.4, code: -1.0, quant: -0.4 },
  "meta/code-llama-instruct-34b-chat": { code: 1.6, quant: 0.3, commonsense: -0.5, humanities: -0.7, medicine: -0.6, social: -0.4 },
  "WizardLM/WizardLM-13B-V1.2": { writing: 0.5, quant: 0.2, medicine: -0.5, law: -0.4 },
  "mistralai/mistral-7b-chat": { commonsense: 0.6, social: 0.6, humanities: 0.4, quant: -0.8, law: -0.6, code: -0.3 },
};

/**
 * [A5] Tokenizer factor on the prompt's token estimate (chars / 4, a GPT-tokenizer rule of
 * thumb): SentencePiece tokenizers (Llama family, Mistral, Yi) count ~10-15% more tokens for
 * English. Plus a fixed chat-template overhead in tokens.
 */
export const INPUT_TOKEN_FACTOR: Record<ModelName, { factor: number; overhead: number }> = {
  "gpt-4-1106-preview": { factor: 1.0, overhead: 8 },
  "gpt-3.5-turbo-1106": { factor: 1.0, overhead: 8 },
  "claude-v2": { factor: 1.05, overhead: 12 },
  "claude-v1": { factor: 1.05, overhead: 12 },
  "claude-instant-v1": { factor: 1.05, overhead: 12 },
  "meta/llama-2-70b-chat": { factor: 1.15, overhead: 20 },
  "mistralai/mixtral-8x7b-chat": { factor: 1.12, overhead: 10 },
  "zero-one-ai/Yi-34B-Chat": { factor: 1.1, overhead: 14 },
  "meta/code-llama-instruct-34b-chat": { factor: 1.15, overhead: 20 },
  "WizardLM/WizardLM-13B-V1.2": { factor: 1.15, overhead: 30 },
  "mistralai/mistral-7b-chat": { factor: 1.12, overhead: 10 },
};

/**
 * [A6] Typical answer length in tokens per family for a terse model (before each model's
 * verbosity, which is solved so that mean cost matches FACTS). MCQ answers are a letter or a
 * short sentence, GSM8K a worked solution, MBPP a function, MT-Bench an essay.
 */
export const OUTPUT_TOKENS: Record<DatasetName, number> = {
  mmlu: 6,
  hellaswag: 6,
  "grade-school-math": 110,
  "arc-challenge": 6,
  winogrande: 5,
  mbpp: 160,
  "mt-bench": 380,
  "rag-qa": 50,
};

/**
 * [A6] Relative verbosity of each model on short-answer (MCQ) prompts: chat models that explain
 * their choice instead of giving the letter write far more. Multiplies OUTPUT_TOKENS on MCQ
 * families only; the per-model solved factor applies everywhere.
 */
export const MCQ_VERBOSITY: Record<ModelName, number> = {
  "gpt-4-1106-preview": 1.5,
  "gpt-3.5-turbo-1106": 1,
  "claude-v2": 3,
  "claude-v1": 2,
  "claude-instant-v1": 3,
  "meta/llama-2-70b-chat": 12,
  "mistralai/mixtral-8x7b-chat": 5,
  "zero-one-ai/Yi-34B-Chat": 2,
  "meta/code-llama-instruct-34b-chat": 10,
  "WizardLM/WizardLM-13B-V1.2": 6,
  "mistralai/mistral-7b-chat": 8,
};

/**
 * [A8] Extra loss of ability per difficulty level (logit units per level, centred on the mean
 * level): small models fall apart on multi-step, long or tricky prompts faster than large ones,
 * so an easy prompt can go to a cheap model and a hard one cannot. Judgement.
 */
export const LEVEL_SENSITIVITY: Record<ModelName, number> = {
  "gpt-4-1106-preview": 0,
  "gpt-3.5-turbo-1106": 0.2,
  "claude-v2": 0.1,
  "claude-v1": 0.15,
  "claude-instant-v1": 0.25,
  "meta/llama-2-70b-chat": 0.35,
  "mistralai/mixtral-8x7b-chat": 0.25,
  "zero-one-ai/Yi-34B-Chat": 0.25,
  "meta/code-llama-instruct-34b-chat": 0.35,
  "WizardLM/WizardLM-13B-V1.2": 0.4,
  "mistralai/mistral-7b-chat": 0.45,
};
