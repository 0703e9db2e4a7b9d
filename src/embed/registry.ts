/**
 * Embedder specs: `use-lite` (default), `use-lite-static`, `hash` / `hash:<dim>`, `hf:<model-id>`,
 * `openai:<model>@<base-url>` (a remote OpenAI-compatible /embeddings endpoint; see openai.ts).
 * The id is known without loading the model, so a run served entirely from the cache never loads
 * it (use-lite-static's id is its token table's hash: the table is built on first use).
 */
import type { Embedder } from "./embedder.js";
import { InputError } from "../util/errors.js";
import { DEFAULT_HASH_DIM, createHashEmbedder, hashEmbedderId } from "./hash.js";
import { createOpenAIEmbedder, openaiEmbedderId, openaiOptionsFromEnv, parseOpenAISpec } from "./openai.js";

export const DEFAULT_EMBEDDER_SPEC = "use-lite";

export interface EmbedderOptions {
  /** Local model files for hf: models (else $ROUTEKIT_MODEL_DIR; else the hub). */
  modelDir?: string;
  /** Threads: use-lite worker threads, hf onnxruntime intra-op threads (default: all cores). */
  threads?: number;
  /** The cache directory, which also holds what an encoder builds on first use (use-lite-static's table). Default: defaultCacheDir(). */
  cacheDir?: string;
}

export type ParsedSpec = { kind: "use-lite" } | { kind: "use-lite-static" } | { kind: "hash"; dim: number } | { kind: "hf"; model: string } | { kind: "openai"; model: string; baseUrl: string };

export function parseEmbedderSpec(spec: string): ParsedSpec {
  const s = spec.trim();
  if (s === "use-lite") return { kind: "use-lite" };
  if (s === "use-lite-static") return { kind: "use-lite-static" };
  if (s === "hash") return { kind: "hash", dim: DEFAULT_HASH_DIM };
  const hash = /^hash:(\d+)$/.exec(s);
  if (hash) {
    const dim = Number(hash[1]);
    if (dim < 2 || dim > 1 << 20) throw new InputError(`hash dimension must be in [2, 1048576], got ${dim}`, { field: "embedder" });
    return { kind: "hash", dim };
  }
  if (s.startsWith("hf:") && s.length > 3) return { kind: "hf", model: s.slice(3) };
  if (s.startsWith("openai:")) return { kind: "openai", ...parseOpenAISpec(s) };
  throw new InputError(`unknown embedder "${spec}"; expected use-lite, use-lite-static, hash, hash:<dim>, hf:<model-id> or openai:<model>@<base-url>`, { field: "embedder" });
}

/** The cache identity of a spec, without loading anything heavy (cacheDir: where use-lite-static's table lives). */
export async function embedderIdOf(spec: string, opts: Pick<EmbedderOptions, "cacheDir"> = {}): Promise<string> {
  const p = parseEmbedderSpec(spec);
  if (p.kind === "hash") return hashEmbedderId(p.dim);
  if (p.kind === "use-lite") return (await import("./use-lite.js")).useLiteEmbedderId();
  if (p.kind === "use-lite-static") {
    const m = await import("./use-lite-static.js");
    return m.useLiteStaticEmbedderId(m.staticTablePath(opts.cacheDir));
  }
  if (p.kind === "openai") return openaiEmbedderId(p.model, p.baseUrl);
  return (await import("./hf.js")).hfEmbedderId(p.model);
}

export async function createEmbedder(spec: string = DEFAULT_EMBEDDER_SPEC, opts: EmbedderOptions = {}): Promise<Embedder> {
  const p = parseEmbedderSpec(spec);
  if (p.kind === "hash") return createHashEmbedder(p.dim);
  if (p.kind === "use-lite-static") {
    const m = await import("./use-lite-static.js");
    return m.createUseLiteStaticEmbedder({ tablePath: m.staticTablePath(opts.cacheDir) });
  }
  // Heavy backends load on demand so that `hash` users never pay for TensorFlow.js or ONNX.
  if (p.kind === "use-lite") {
    const { createUseLiteEmbedder } = await import("./use-lite.js");
    const e = createUseLiteEmbedder({ threads: opts.threads });
    await e.backend.catch(async (err: Error) => {
      await e.close();
      throw new Error(`use-lite: ${err.message}`);
    });
    return e;
  }
  // Tuning and the key's variable come from the environment: see openaiOptionsFromEnv.
  if (p.kind === "openai") return createOpenAIEmbedder(p.model, p.baseUrl, openaiOptionsFromEnv());
  const { createHfEmbedder } = await import("./hf.js");
  return createHfEmbedder(p.model, { modelDir: opts.modelDir, threads: opts.threads });
}
