/**
 * The collect file: which models answer (an OpenAI-compatible endpoint each, with prices and
 * request options), how answers are scored, the per-endpoint limits and the retry policy, and
 * optionally where the prompts are. YAML or JSON, validated like experiment configs: an error
 * names the file, the line and the field (`collect.yaml, row 7, field "models.gpt-4o.price.input"`).
 *
 *   prompts: prompts.jsonl                # optional; relative to this file (or --prompts)
 *   models:
 *     gpt-4o-mini:
 *       baseUrl: https://api.openai.com/v1
 *       model: gpt-4o-mini                # upstream id (default: the name)
 *       apiKeyEnv: OPENAI_API_KEY         # optional: no Authorization header without it
 *       price: { input: 0.15, output: 0.6 }   # US$ per 1M tokens
 *       options: { max_tokens: 256, temperature: 0 }
 *   defaults: { options: { temperature: 0 }, timeoutSeconds: 60, system: "..." }
 *   scorer: { type: numeric }
 *   limits: { concurrency: 4, requestsPerMinute: 500, tokensPerMinute: 200000 }   # per endpoint
 *   endpoints: { "https://api.openai.com/v1": { concurrency: 8 } }               # per-endpoint overrides
 *   retry: { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 30000 }
 *
 * The upstream fields (baseUrl, model, apiKeyEnv, timeoutSeconds) are those of `routekit serve`'s
 * upstreams.yaml, checked by the same rules; keys are named by variable and never logged.
 */
import { dirname, extname, isAbsolute, relative, resolve } from "node:path";
import { z } from "zod";
import { readInputFile } from "../data/input-file.js";
import { checkUtf8, utf16Kind, utf16Message } from "../data/importers/text-encoding.js";
import { DEFAULT_UPSTREAM_TIMEOUT_SECONDS, envVarName, httpUrl, type Upstream } from "../upstream/config.js";
import { InputError } from "../util/errors.js";
import { fieldOf, lineOf, parseLocated, type LocatedDocument } from "../util/yaml-located.js";

/** Per endpoint, unless `endpoints` says otherwise. */
export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_RETRY = { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 30_000 } as const;

/** Body fields routekit sets itself; request options may not set them. */
const RESERVED_OPTIONS = ["model", "messages", "stream", "n"];

const price = z.strictObject({
  input: z.number().min(0),
  output: z.number().min(0),
});

const requestOptions = z.record(z.string(), z.unknown()).superRefine((o, ctx) => {
  for (const k of RESERVED_OPTIONS) {
    if (k in o) ctx.addIssue({ code: "custom", path: [k], message: `"${k}" is set by routekit collect, not by request options` });
  }
  const mt = o.max_tokens ?? o.max_completion_tokens;
  if (mt !== undefined && !(typeof mt === "number" && Number.isInteger(mt) && mt > 0)) {
    ctx.addIssue({ code: "custom", path: [o.max_tokens !== undefined ? "max_tokens" : "max_completion_tokens"], message: "must be a positive integer" });
  }
});

const limits = z.strictObject({
  /** Calls in flight at once on one endpoint. */
  concurrency: z.number().int().min(1).optional(),
  requestsPerMinute: z.number().positive().optional(),
  tokensPerMinute: z.number().positive().optional(),
});

const upstreamFields = {
  baseUrl: httpUrl,
  model: z.string().min(1).optional(),
  apiKeyEnv: envVarName.optional(),
  timeoutSeconds: z.number().positive().optional(),
};

const modelEntry = z.strictObject({
  ...upstreamFields,
  /** US$ per 1M tokens. */
  price,
  options: requestOptions.optional(),
  /** A system message sent before the prompt. */
  system: z.string().optional(),
});

/** The judge's rubric: {{prompt}}, {{response}} and {{reference}} are filled in. */
export const DEFAULT_RUBRIC = [
  "You are grading an answer to a question.",
  "",
  "Question:",
  "{{prompt}}",
  "",
  "Reference answer (may be empty):",
  "{{reference}}",
  "",
  "Answer to grade:",
  "{{response}}",
  "",
  "Rate how correct and complete the answer is, from 0 (wrong) to 10 (fully correct).",
  "End your reply with a line of the form SCORE: <0-10>.",
].join("\n");

const scorer = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("exact") }),
  z.strictObject({ type: z.literal("normalized") }),
  z.strictObject({
    type: z.literal("regex"),
    /** Applied to the response; the first capture group (or the whole match) is compared, normalised, with the reference. */
    pattern: z.string().min(1),
    flags: z.string().regex(/^[imsu]*$/, "flags may be i, m, s, u").optional(),
    /** Also extract from the reference (default false: the reference is the answer itself). */
    applyToReference: z.boolean().default(false),
  }),
  z.strictObject({ type: z.literal("numeric"), tolerance: z.number().min(0).default(1e-6) }),
  z.strictObject({ type: z.literal("choice"), letters: z.string().regex(/^[A-Z]{2,26}$/, "capital letters, e.g. ABCD").default("ABCDE") }),
  z.strictObject({
    type: z.literal("judge"),
    ...upstreamFields,
    price,
    options: requestOptions.optional(),
    rubric: z.string().min(1).default(DEFAULT_RUBRIC),
    /** The judge's score is divided by this (default 10: a 0-10 rubric). */
    scale: z.number().positive().default(10),
    /** Where the score is in the judge's reply: the first capture group (default `SCORE: n`, else the last number). */
    scorePattern: z.string().min(1).optional(),
  }),
]);

const schema = z.strictObject({
  prompts: z.string().min(1).optional(),
  models: z.record(z.string().min(1), modelEntry).refine((m) => Object.keys(m).length > 0, "name at least one model"),
  scorer: scorer.optional(),
  defaults: z
    .strictObject({
      options: requestOptions.default({}),
      timeoutSeconds: z.number().positive().default(DEFAULT_UPSTREAM_TIMEOUT_SECONDS),
      system: z.string().optional(),
    })
    .default({ options: {}, timeoutSeconds: DEFAULT_UPSTREAM_TIMEOUT_SECONDS }),
  limits: limits.default({}),
  endpoints: z.record(httpUrl, limits).default({}),
  retry: z
    .strictObject({
      maxAttempts: z.number().int().min(1).default(DEFAULT_RETRY.maxAttempts),
      baseDelayMs: z.number().min(0).default(DEFAULT_RETRY.baseDelayMs),
      maxDelayMs: z.number().min(0).default(DEFAULT_RETRY.maxDelayMs),
    })
    .default({ ...DEFAULT_RETRY }),
});

export type ScorerConfig = z.output<typeof scorer>;
export type JudgeConfig = Extract<ScorerConfig, { type: "judge" }>;
export type ScorerType = ScorerConfig["type"];
export const SCORER_TYPES: readonly ScorerType[] = ["exact", "normalized", "regex", "numeric", "choice", "judge"];

export interface Price {
  /** US$ per 1M input tokens. */
  input: number;
  /** US$ per 1M output tokens. */
  output: number;
}

export interface EndpointLimits {
  concurrency: number;
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
}

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** One model to collect from, resolved: its upstream (key read), prices and request options. */
export interface CollectModel {
  name: string;
  upstream: Upstream;
  price: Price;
  /** Sent with every request (max_tokens, temperature, ...), defaults merged in. */
  options: Record<string, unknown>;
  system: string | null;
}

export interface JudgeSetup {
  upstream: Upstream;
  price: Price;
  options: Record<string, unknown>;
  rubric: string;
  scale: number;
  scorePattern: string | null;
}

export interface CollectConfig {
  /** The file it came from (names it in errors), or "<config>". */
  file: string;
  /** Prompts file named in the config, relative to the working directory; null when not given. */
  prompts: string | null;
  models: CollectModel[];
  /** null when the file names none (the CLI's --scorer or a library scorer must then give one). */
  scorer: ScorerConfig | null;
  /** The judge's endpoint, for `scorer.type: judge`. */
  judge: JudgeSetup | null;
  /** Limits of each endpoint (keyed by API root without a trailing slash). */
  limitsOf: (baseUrl: string) => EndpointLimits;
  retry: RetryPolicy;
}

function issueAt(located: LocatedDocument, file: string, path: readonly PropertyKey[], message: string): InputError {
  return new InputError(message, { file, row: lineOf(located, path), field: fieldOf(path) });
}

function keyOf(env: NodeJS.ProcessEnv, apiKeyEnv: string | undefined, what: string, located: LocatedDocument, file: string, path: PropertyKey[]): string | null {
  if (apiKeyEnv === undefined) return null;
  const key = env[apiKeyEnv];
  if (!key) throw issueAt(located, file, [...path, "apiKeyEnv"], `environment variable ${apiKeyEnv} (the key for ${what}) is not set`);
  return key;
}

export interface ParseCollectOptions {
  /** Where the keys are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** false: keys are not needed (a dry run makes no call); default true. */
  requireKeys?: boolean;
}

/** Parse and check a collect file's text. Paths stay as written (see loadCollectConfig). */
export function parseCollectConfig(text: string, file = "<config>", opts: ParseCollectOptions = {}): CollectConfig {
  if (typeof text !== "string") throw new InputError("parseCollectConfig needs the file's text (a string)", { file });
  if (!text.trim()) throw new InputError("the collect file is empty", { file });
  if (extname(file).toLowerCase() === ".json") {
    try {
      JSON.parse(text);
    } catch (err) {
      throw new InputError(`not valid JSON: ${(err as Error).message.split("\n")[0]}`, { file });
    }
  }
  const located = parseLocated(text, file);
  const parsed = schema.safeParse(located.doc.toJS());
  if (!parsed.success) {
    // A misspelt key also makes its correct spelling missing: name the misspelling.
    const issue = parsed.error.issues.find((i) => i.code === "unrecognized_keys") ?? parsed.error.issues[0];
    const path = issue.code === "unrecognized_keys" && issue.keys.length ? [...issue.path, issue.keys[0]] : issue.path;
    throw issueAt(located, file, path, issue.message);
  }
  const cfg = parsed.data;
  const env = opts.env ?? process.env;
  const requireKeys = opts.requireKeys ?? true;
  const stripSlash = (u: string) => u.replace(/\/+$/, "");
  const models: CollectModel[] = Object.entries(cfg.models).map(([name, e]) => ({
    name,
    upstream: {
      name,
      baseUrl: stripSlash(e.baseUrl),
      model: e.model ?? name,
      timeoutMs: 1000 * (e.timeoutSeconds ?? cfg.defaults.timeoutSeconds),
      apiKey: requireKeys ? keyOf(env, e.apiKeyEnv, `"${name}"`, located, file, ["models", name]) : null,
      apiKeyEnv: e.apiKeyEnv ?? null,
    },
    price: { input: e.price.input, output: e.price.output },
    options: { ...cfg.defaults.options, ...(e.options ?? {}) },
    system: e.system ?? cfg.defaults.system ?? null,
  }));
  let judge: JudgeSetup | null = null;
  if (cfg.scorer?.type === "judge") {
    const j = cfg.scorer;
    if (j.scorePattern !== undefined) {
      try {
        new RegExp(j.scorePattern);
      } catch (err) {
        throw issueAt(located, file, ["scorer", "scorePattern"], `not a valid regular expression: ${(err as Error).message}`);
      }
    }
    judge = {
      upstream: {
        name: "judge",
        baseUrl: stripSlash(j.baseUrl),
        model: j.model ?? "judge",
        timeoutMs: 1000 * (j.timeoutSeconds ?? cfg.defaults.timeoutSeconds),
        apiKey: requireKeys ? keyOf(env, j.apiKeyEnv, "the judge", located, file, ["scorer"]) : null,
        apiKeyEnv: j.apiKeyEnv ?? null,
      },
      price: { input: j.price.input, output: j.price.output },
      options: { temperature: 0, ...(j.options ?? {}) },
      rubric: j.rubric,
      scale: j.scale,
      scorePattern: j.scorePattern ?? null,
    };
    if (j.model === undefined) throw issueAt(located, file, ["scorer"], "the judge needs `model` (its upstream model id)");
  }
  if (cfg.scorer?.type === "regex") {
    try {
      new RegExp(cfg.scorer.pattern, cfg.scorer.flags);
    } catch (err) {
      throw issueAt(located, file, ["scorer", "pattern"], `not a valid regular expression: ${(err as Error).message}`);
    }
  }
  const endpoints = new Map(Object.entries(cfg.endpoints).map(([u, l]) => [stripSlash(u), l]));
  const limitsOf = (baseUrl: string): EndpointLimits => {
    const l = { ...cfg.limits, ...(endpoints.get(stripSlash(baseUrl)) ?? {}) };
    return { concurrency: l.concurrency ?? DEFAULT_CONCURRENCY, requestsPerMinute: l.requestsPerMinute ?? null, tokensPerMinute: l.tokensPerMinute ?? null };
  };
  return { file, prompts: cfg.prompts ?? null, models, scorer: cfg.scorer ?? null, judge, limitsOf, retry: cfg.retry };
}

/** Read a collect file (YAML, or strict JSON for `.json`); its `prompts` path is relative to the file's folder. */
export async function loadCollectConfig(file: string, opts: ParseCollectOptions = {}): Promise<CollectConfig> {
  if (typeof file !== "string" || file === "") throw new InputError("loadCollectConfig needs the path of a collect file");
  const bytes = await readInputFile(file, "collect file");
  const utf16 = utf16Kind(bytes);
  if (utf16) throw new InputError(utf16Message(utf16), { file });
  checkUtf8(bytes, file);
  const cfg = parseCollectConfig(bytes.toString("utf8").replace(/^\uFEFF/, ""), file, opts);
  if (cfg.prompts !== null && !isAbsolute(cfg.prompts)) cfg.prompts = relative(process.cwd(), resolve(dirname(file), cfg.prompts)) || ".";
  return cfg;
}

/** The largest output a request may produce (max_tokens / max_completion_tokens), or null when unbounded. */
export function maxOutputTokens(options: Record<string, unknown>): number | null {
  const v = options.max_tokens ?? options.max_completion_tokens;
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}
