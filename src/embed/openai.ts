/**
 * `openai:<model>@<base-url>`: vectors from a remote OpenAI-compatible embeddings endpoint,
 * `POST <base-url>/embeddings` with `{model, input: string[]}` answered by
 * `{data: [{index, embedding}], usage}`. Hugging Face Text Embeddings Inference, vLLM, Ollama,
 * LiteLLM and OpenAI serve it, e.g. `openai:text-embedding-3-small@https://api.openai.com/v1` or
 * `openai:BAAI/bge-small-en-v1.5@http://tei.internal:8080/v1`.
 *
 * - Texts go in input order, in batches of at most `batchSize` texts and `batchChars` characters
 *   (a longer text goes alone), `concurrency` requests in flight.
 * - A request that gets 408/409/429/5xx, no answer within `timeoutMs`, or a refused or dropped
 *   connection is retried after an exponential backoff with jitter (a Retry-After header, capped,
 *   wins), at most `maxAttempts` times in all: every call ends, with vectors or one error line.
 *   Other statuses (400, 401, 404, 413, ...) fail at once.
 * - Every answer is checked (count, indices, finite numbers, one dimension); the vectors are then
 *   L2-normalised (most servers already do) and placed by their `index`, so rows follow the input.
 * - When a batch fails for good, the batches already answered (and those in flight, which are let
 *   finish) travel in a PartialEmbedError: embedTexts caches them before the error propagates, and a
 *   rerun asks only for the rest.
 *
 * Identity: `openai:<model>@<canonical base url>#l2-v1` — known from the spec alone, so a run
 * served from the cache needs no server. The served dimension is learnt by a one-text probe when
 * the embedder is created (only when something is missing from the cache, or a router is opened to
 * route), and the cache records it with every shard: vectors of another dimension under the same
 * id are refused (embed-table.ts), and a router refuses prompts of another dimension.
 *
 * The API key is read from the environment variable named by `apiKeyEnv`
 * ($ROUTEKIT_EMBED_API_KEY_ENV, default OPENAI_API_KEY) and sent only as `Authorization: Bearer`;
 * without it no Authorization header is sent (a local TEI or Ollama needs none). It is never part
 * of the id, of router.json or of a message (an answer quoting it is redacted).
 */
import type { Embedder } from "./embedder.js";
import { InputError, oneLine } from "../util/errors.js";
import { PartialEmbedError } from "./partial.js";

/** Bump when the normalisation or anything else that changes the stored vectors changes. */
export const OPENAI_EMBEDDER_VERSION = 1;
export const DEFAULT_OPENAI_KEY_ENV = "OPENAI_API_KEY";

export const OPENAI_EMBEDDER_DEFAULTS = {
  /** TEI refuses more than 32 inputs per request unless started with a larger --max-client-batch-size. */
  batchSize: 32,
  /** Characters per request: well under TEI's 2 MB payload limit even if every character is JSON-escaped. */
  batchChars: 200_000,
  concurrency: 4,
  timeoutMs: 60_000,
  maxAttempts: 6,
  /** First backoff; doubles per attempt, with jitter, up to maxBackoffMs. */
  backoffMs: 500,
  maxBackoffMs: 30_000,
  /** A server's Retry-After is honoured up to this. */
  maxRetryAfterMs: 60_000,
} as const;

export interface OpenAIEmbedderOptions {
  /** Name of the environment variable holding the key (default OPENAI_API_KEY). */
  apiKeyEnv?: string;
  /** The key itself (library callers); wins over apiKeyEnv. */
  apiKey?: string;
  batchSize?: number;
  batchChars?: number;
  /** Requests in flight. */
  concurrency?: number;
  /** Per request, answer included. */
  timeoutMs?: number;
  /** Attempts per request, the first included. */
  maxAttempts?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  maxRetryAfterMs?: number;
}

export interface OpenAISpec {
  model: string;
  /** Canonical: scheme, lower-case host, path without a trailing slash or `/embeddings`. */
  baseUrl: string;
}

/** Parse `openai:<model>@<base-url>`; an InputError naming the embedder field otherwise. */
export function parseOpenAISpec(spec: string): OpenAISpec {
  const m = /^openai:(.+?)@(https?:\/\/.*)$/i.exec(spec.trim());
  if (!m || !m[1].trim()) throw new InputError(`"${spec}" is not openai:<model>@<base-url> (e.g. openai:text-embedding-3-small@https://api.openai.com/v1)`, { field: "embedder" });
  let url: URL;
  try {
    url = new URL(m[2]);
  } catch {
    throw new InputError(`"${m[2]}" in "${spec}" is not a URL`, { field: "embedder" });
  }
  if (url.username || url.password) throw new InputError(`the base URL of "${spec.replace(/\/\/[^@/]*@/, "//***@")}" holds credentials; put the key in $${DEFAULT_OPENAI_KEY_ENV} (or the variable $ROUTEKIT_EMBED_API_KEY_ENV names), not in the URL`, { field: "embedder" });
  if (url.search || url.hash) throw new InputError(`the base URL of "${spec}" has a query or fragment; give the API root, e.g. https://host/v1`, { field: "embedder" });
  const path = url.pathname.replace(/\/+$/, "").replace(/\/embeddings$/, "");
  return { model: m[1].trim(), baseUrl: `${url.protocol}//${url.host}${path}` };
}

export function openaiEmbedderId(model: string, baseUrl: string): string {
  return `openai:${model}@${baseUrl}#l2-v${OPENAI_EMBEDDER_VERSION}`;
}

function envNumber(env: NodeJS.ProcessEnv, name: string, min: number, scale = 1, integer = true): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) {
    throw new InputError(`$${name} must be ${integer ? "an integer" : "a number"} >= ${min}, got "${raw}"`, { field: name });
  }
  return v * scale;
}

/**
 * The tuning a user sets for `openai:` embedders through the environment (the embedder is
 * created deep in train, eval, route and serve, from the spec alone):
 * ROUTEKIT_EMBED_API_KEY_ENV, ROUTEKIT_EMBED_BATCH_SIZE, ROUTEKIT_EMBED_BATCH_CHARS,
 * ROUTEKIT_EMBED_CONCURRENCY, ROUTEKIT_EMBED_TIMEOUT (seconds), ROUTEKIT_EMBED_MAX_ATTEMPTS.
 */
export function openaiOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): OpenAIEmbedderOptions {
  const o: OpenAIEmbedderOptions = {};
  const keyEnv = env.ROUTEKIT_EMBED_API_KEY_ENV?.trim();
  if (keyEnv) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(keyEnv)) throw new InputError(`$ROUTEKIT_EMBED_API_KEY_ENV must name an environment variable, got "${keyEnv}"`, { field: "ROUTEKIT_EMBED_API_KEY_ENV" });
    if (!env[keyEnv]) throw new InputError(`$ROUTEKIT_EMBED_API_KEY_ENV names ${keyEnv}, which is not set`, { field: "ROUTEKIT_EMBED_API_KEY_ENV" });
    o.apiKeyEnv = keyEnv;
  }
  const set = <K extends keyof OpenAIEmbedderOptions>(k: K, v: OpenAIEmbedderOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set("batchSize", envNumber(env, "ROUTEKIT_EMBED_BATCH_SIZE", 1));
  set("batchChars", envNumber(env, "ROUTEKIT_EMBED_BATCH_CHARS", 1));
  set("concurrency", envNumber(env, "ROUTEKIT_EMBED_CONCURRENCY", 1));
  set("timeoutMs", envNumber(env, "ROUTEKIT_EMBED_TIMEOUT", 0.001, 1000, false));
  set("maxAttempts", envNumber(env, "ROUTEKIT_EMBED_MAX_ATTEMPTS", 1));
  return o;
}

/** Contiguous [start, end) ranges of `texts`, each at most `size` texts and `chars` characters (a longer text alone). */
export function requestBatches(texts: readonly string[], size: number, chars: number): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  let n = 0;
  for (let i = 0; i < texts.length; i++) {
    const len = texts[i].length;
    if (i > start && (i - start >= size || n + len > chars)) {
      out.push([start, i]);
      start = i;
      n = 0;
    }
    n += len;
  }
  if (texts.length > start) out.push([start, texts.length]);
  return out;
}

/** A Retry-After (seconds or an HTTP date) or retry-after-ms header, in ms; undefined if absent or unreadable. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && ms.trim() !== "" && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = headers.get("retry-after");
  if (ra === null || ra.trim() === "") return undefined;
  if (Number.isFinite(Number(ra))) return Math.max(0, Number(ra) * 1000);
  const t = Date.parse(ra);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

class BadResponse extends Error {}

/** Check an answer's body and return its vectors L2-normalised in input order. */
function readAnswer(body: unknown, n: number, dim: number): { vectors: Float32Array; dim: number } {
  if (typeof body !== "object" || body === null || !Array.isArray((body as { data?: unknown }).data)) throw new BadResponse("field data: missing or not an array");
  const data = (body as { data: unknown[] }).data;
  if (data.length !== n) throw new BadResponse(`field data: ${data.length} embeddings for ${n} inputs`);
  const indexed = data.map((d) => typeof d === "object" && d !== null && "index" in d);
  if (indexed.some((x) => x !== indexed[0])) throw new BadResponse("field data[].index: present on some items only");
  let vectors: Float32Array | null = null;
  const seen = new Uint8Array(n);
  for (let k = 0; k < n; k++) {
    const item = data[k] as { index?: unknown; embedding?: unknown } | null;
    if (typeof item !== "object" || item === null) throw new BadResponse(`field data[${k}]: not an object`);
    let row = k;
    if (indexed[0]) {
      const ix = item.index;
      if (typeof ix !== "number" || !Number.isInteger(ix) || ix < 0 || ix >= n) throw new BadResponse(`field data[${k}].index: ${JSON.stringify(ix)} is not an integer in [0, ${n - 1}]`);
      if (seen[ix]) throw new BadResponse(`field data[${k}].index: ${ix} appears twice`);
      seen[ix] = 1;
      row = ix;
    }
    const e = item.embedding;
    if (!Array.isArray(e)) throw new BadResponse(`field data[${k}].embedding: ${typeof e === "string" ? "a string (base64?), expected an array of numbers" : "missing or not an array"}`);
    if (e.length === 0) throw new BadResponse(`field data[${k}].embedding: empty`);
    if (!dim) dim = e.length;
    if (e.length !== dim) throw new BadResponse(`field data[${k}].embedding: ${e.length} numbers, expected ${dim}`);
    vectors ??= new Float32Array(n * dim);
    let ss = 0;
    for (let j = 0; j < dim; j++) {
      const x = e[j] as unknown;
      if (typeof x !== "number" || !Number.isFinite(x)) throw new BadResponse(`field data[${k}].embedding[${j}]: ${JSON.stringify(x)} is not a finite number`);
      ss += x * x;
    }
    if (!(ss > 0) || !Number.isFinite(ss)) throw new BadResponse(`field data[${k}].embedding: ${ss > 0 ? "norm overflows" : "a zero vector"}`);
    const inv = 1 / Math.sqrt(ss);
    for (let j = 0; j < dim; j++) vectors[row * dim + j] = (e[j] as number) * inv;
  }
  return { vectors: vectors ?? new Float32Array(0), dim };
}

type Attempt = { ok: true; vectors: Float32Array; dim: number } | { ok: false; retry: boolean; message: string; waitMs?: number };

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Create the embedder: learns the served dimension from one request with one short text. */
export async function createOpenAIEmbedder(model: string, baseUrl: string, opts: OpenAIEmbedderOptions = {}): Promise<Embedder> {
  const o = { ...OPENAI_EMBEDDER_DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as typeof OPENAI_EMBEDDER_DEFAULTS & OpenAIEmbedderOptions;
  for (const k of ["batchSize", "batchChars", "concurrency", "maxAttempts"] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new InputError(`openai embedder: ${k} must be a positive integer, got ${o[k]}`, { field: k });
  }
  for (const k of ["timeoutMs", "backoffMs", "maxBackoffMs", "maxRetryAfterMs"] as const) {
    if (!(o[k] >= 0) || !Number.isFinite(o[k])) throw new InputError(`openai embedder: ${k} must be a finite number >= 0, got ${o[k]}`, { field: k });
  }
  const { baseUrl: base } = parseOpenAISpec(`openai:${model}@${baseUrl}`);
  const endpoint = `${base}/embeddings`;
  const keyEnv = o.apiKeyEnv ?? DEFAULT_OPENAI_KEY_ENV;
  const key = o.apiKey ?? process.env[keyEnv] ?? "";
  const redact = (s: string) => (key ? s.split(key).join("***") : s);
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  const fail = (msg: string) => new Error(oneLine(redact(`openai:${model}: POST ${endpoint}: ${msg}`), 600));

  async function attempt(input: string[], dim: number): Promise<Attempt> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), o.timeoutMs);
    const lost = (err: unknown, phase: string): Attempt =>
      ac.signal.aborted ? { ok: false, retry: true, message: `no answer within ${o.timeoutMs / 1000} s` } : { ok: false, retry: true, message: `connection ${phase} (${networkReason(err)})` };
    try {
      let res: Response;
      try {
        res = await fetch(endpoint, { method: "POST", headers, body: JSON.stringify({ model, input }), signal: ac.signal });
      } catch (err) {
        return lost(err, "failed");
      }
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        return lost(err, "dropped during the answer");
      }
      if (!res.ok) {
        const retry = res.status === 408 || res.status === 409 || res.status === 429 || res.status >= 500;
        const excerpt = text.trim() ? `: ${text.trim().replace(/\s+/g, " ").slice(0, 200)}` : "";
        const keyHint = res.status === 401 || res.status === 403 ? ` (the key is read from $${keyEnv}, which is ${key ? "set" : "not set"})` : "";
        return { ok: false, retry, message: `HTTP ${res.status}${excerpt}${keyHint}`, waitMs: retryAfterMs(res.headers) };
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return { ok: false, retry: false, message: `bad response: not JSON (${text.slice(0, 80).replace(/\s+/g, " ")})` };
      }
      try {
        return { ok: true, ...readAnswer(body, input.length, dim) };
      } catch (err) {
        if (err instanceof BadResponse) return { ok: false, retry: false, message: `bad response: ${err.message}` };
        throw err;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** One request with its retries: vectors, or an Error of one line. */
  async function request(texts: readonly string[], dim: number): Promise<{ vectors: Float32Array; dim: number }> {
    // OpenAI refuses empty strings; a single space embeds the same "nothing" everywhere.
    const input = texts.map((t) => (t === "" ? " " : t));
    for (let k = 1; ; k++) {
      const r = await attempt(input, dim);
      if (r.ok) return r;
      if (!r.retry) throw fail(r.message);
      if (k >= o.maxAttempts) throw fail(`${r.message} (gave up after ${k} attempt${k > 1 ? "s" : ""})`);
      const backoff = Math.min(o.maxBackoffMs, o.backoffMs * 2 ** (k - 1));
      await sleep(r.waitMs !== undefined ? Math.min(r.waitMs, o.maxRetryAfterMs) : backoff / 2 + (Math.random() * backoff) / 2);
    }
  }

  const dim = (await request(["dimension probe"], 0)).dim;
  return {
    id: openaiEmbedderId(model, base),
    dimension: dim,
    // Four rounds of full requests per call: the tail of one call (requests finishing unevenly)
    // is then a small part of it.
    textsInFlight: 4 * o.batchSize * o.concurrency,
    async embed(texts, onProgress) {
      const out = new Float32Array(texts.length * dim);
      const batches = requestBatches(texts, o.batchSize, o.batchChars);
      const finished: [number, number][] = [];
      let next = 0;
      let done = 0;
      let failure: unknown = null;
      // A failed batch stops new ones; those in flight finish (each is bounded), so their rows reach the cache.
      const worker = async () => {
        while (failure === null && next < batches.length) {
          const [s, e] = batches[next++];
          try {
            const { vectors } = await request(texts.slice(s, e), dim);
            out.set(vectors, s * dim);
            finished.push([s, e]);
            done += e - s;
            onProgress?.(done, texts.length);
          } catch (err) {
            failure ??= err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(o.concurrency, batches.length) }, worker));
      if (failure !== null) {
        finished.sort((a, b) => a[0] - b[0]);
        const rows: number[] = [];
        for (const [s, e] of finished) for (let i = s; i < e; i++) rows.push(i);
        const vectors = new Float32Array(rows.length * dim);
        rows.forEach((r, k) => vectors.set(out.subarray(r * dim, (r + 1) * dim), k * dim));
        throw new PartialEmbedError((failure as Error).message, rows, vectors, { cause: failure });
      }
      return out;
    },
    async close() {},
  };
}
