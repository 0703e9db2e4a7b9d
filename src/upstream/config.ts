/**
 * upstreams.yaml: where each pool model is served. Every model a served router may choose must
 * have an entry, or the server refuses to start (a router that picks a model nobody serves would
 * fail requests at random). Keys are named by environment variable, never written in the file,
 * and never logged or echoed: the server reads them at start-up and sends them only upstream.
 *
 *   models:
 *     gpt-4-1106-preview:
 *       baseUrl: https://api.openai.com/v1     # an OpenAI-compatible API root
 *       model: gpt-4-1106-preview              # the upstream's model id (default: the pool name)
 *       apiKeyEnv: OPENAI_API_KEY              # optional: no Authorization header without it
 *       timeoutSeconds: 120                    # optional (default: defaults.timeoutSeconds, 60)
 *   defaults:
 *     timeoutSeconds: 60
 *   health:                                    # optional: the server's live model health
 *     failures: 3                              #   consecutive failures that mark a model unhealthy
 *     window: 20                               #   calls in the error-rate window
 *     errorRate: 0.5                           #   failed share of the window that does too
 *     coolDownSeconds: 30                      #   routed around this long, then one request probes it
 *     slowSeconds: 20                          #   a call slower than this counts as failed (default: none)
 *     latencyAlpha: 0.2                        #   weight of the newest call in the latency average
 *     latencyMinCalls: 5                       #   calls before that average replaces the training latency in the rule
 *     latencyMemorySeconds: 120                #   an observation's weight decays as exp(-age / this) back to the training figure
 * (the health defaults are stated once, in src/server/health.ts's DEFAULT_HEALTH).
 */
import { z } from "zod";
import { readInputFile } from "../data/input-file.js";
import { InputError } from "../util/errors.js";
import { fieldOf, lineOf, parseLocated } from "../util/yaml-located.js";

/** Seconds an upstream may take before the client gets 504, unless the file says otherwise. */
export const DEFAULT_UPSTREAM_TIMEOUT_SECONDS = 60;

/** An http(s) API root (shared with `routekit collect`'s models file). */
export const httpUrl = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}, "must be an http(s) URL, e.g. https://api.openai.com/v1");

/** The name of the environment variable holding a key. */
export const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");

const upstreamEntry = z.strictObject({
  baseUrl: httpUrl,
  model: z.string().min(1).optional(),
  apiKeyEnv: envVarName.optional(),
  timeoutSeconds: z.number().positive().optional(),
});

/** The `health:` section: each threshold optional (the server's defaults fill the rest). */
const healthSection = z.strictObject({
  failures: z.number().int().positive().optional(),
  window: z.number().int().positive().optional(),
  errorRate: z.number().positive().max(1).optional(),
  coolDownSeconds: z.number().nonnegative().optional(),
  slowSeconds: z.number().positive().optional(),
  latencyAlpha: z.number().positive().max(1).optional(),
  latencyMinCalls: z.number().int().min(1).optional(),
  latencyMemorySeconds: z.number().positive().optional(),
});

/** The server's health thresholds as upstreams.yaml sets them. */
export type UpstreamHealthSettings = z.infer<typeof healthSection>;

const upstreamsSchema = z.strictObject({
  health: healthSection.optional(),
  models: z.record(z.string().min(1), upstreamEntry).refine((m) => Object.keys(m).length > 0, "name at least one model"),
  defaults: z.strictObject({ timeoutSeconds: z.number().positive().default(DEFAULT_UPSTREAM_TIMEOUT_SECONDS) }).default({ timeoutSeconds: DEFAULT_UPSTREAM_TIMEOUT_SECONDS }),
});

/** One pool model's upstream, resolved: the key read from the environment (kept out of every message). */
export interface Upstream {
  /** The pool model's name (what routers choose). */
  readonly name: string;
  /** API root without a trailing slash; requests go to `${baseUrl}/chat/completions`. */
  readonly baseUrl: string;
  /** The model id sent upstream. */
  readonly model: string;
  readonly timeoutMs: number;
  /** The value of apiKeyEnv, or null. */
  readonly apiKey: string | null;
  readonly apiKeyEnv: string | null;
}

/** The upstreams by pool model name, with the file's `health:` section when it has one. */
export type Upstreams = ReadonlyMap<string, Upstream> & { readonly health?: UpstreamHealthSettings };

/** Parse and check upstreams text; `env` supplies the keys (default process.env). */
export function parseUpstreams(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Upstreams {
  const located = parseLocated(text, file);
  const parsed = upstreamsSchema.safeParse(located.doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(issue.message, { file, row: lineOf(located, issue.path), field: fieldOf(issue.path) });
  }
  const out: Map<string, Upstream> & { health?: UpstreamHealthSettings } = new Map<string, Upstream>();
  if (parsed.data.health) out.health = parsed.data.health;
  for (const [name, e] of Object.entries(parsed.data.models)) {
    let apiKey: string | null = null;
    if (e.apiKeyEnv !== undefined) {
      apiKey = env[e.apiKeyEnv] ?? null;
      if (!apiKey) throw new InputError(`environment variable ${e.apiKeyEnv} (the key for "${name}") is not set`, { file, row: lineOf(located, ["models", name, "apiKeyEnv"]), field: `models.${name}.apiKeyEnv` });
    }
    out.set(name, {
      name,
      baseUrl: e.baseUrl.replace(/\/+$/, ""),
      model: e.model ?? name,
      timeoutMs: 1000 * (e.timeoutSeconds ?? parsed.data.defaults.timeoutSeconds),
      apiKey,
      apiKeyEnv: e.apiKeyEnv ?? null,
    });
  }
  return out;
}

export async function loadUpstreams(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Upstreams> {
  const bytes = await readInputFile(file, "upstreams");
  return parseUpstreams(bytes.toString("utf8").replace(/^\uFEFF/, ""), file, env);
}

/** Refuse to serve a router whose pool has a model without an upstream. */
export function checkPoolsServed(upstreams: Upstreams, routers: readonly { name: string; pool: readonly string[] }[], file: string): void {
  for (const r of routers) {
    const missing = r.pool.filter((m) => !upstreams.has(m));
    if (missing.length) {
      throw new InputError(`router "${r.name}" may route to ${missing.map((m) => `"${m}"`).join(", ")}, which ${missing.length > 1 ? "have" : "has"} no upstream; add ${missing.length > 1 ? "them" : "it"} under models (has: ${[...upstreams.keys()].join(", ")})`, { file, field: "models" });
    }
  }
}
