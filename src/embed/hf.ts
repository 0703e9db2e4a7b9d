/**
 * `hf:<model-id>`: any sentence-transformers model exported to ONNX (e.g.
 * `hf:Xenova/all-MiniLM-L6-v2`, what RouterBench used), run by @huggingface/transformers on
 * onnxruntime-node. Mean pooling over the attention mask, then L2 normalisation, as
 * sentence-transformers does for these models. Texts are batched only with texts of the same
 * token count, so nothing is padded and a text's vector does not depend on its batchmates
 * (padded attention can round differently; see use-lite-model.ts).
 *
 * Where the files come from:
 * - a model dir (`--model-dir` / $ROUTEKIT_MODEL_DIR): `<dir>/<model-id>/` holds
 *   config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx; nothing is fetched;
 * - otherwise the Hugging Face hub, downloaded once into `<cache dir>/hf-models` and read from
 *   there afterwards ($HF_HUB_OFFLINE=1 or $ROUTEKIT_OFFLINE=1 forbid the download).
 */
import { join } from "node:path";
import type { Embedder } from "./embedder.js";
import { InputError } from "../util/errors.js";
import { defaultCacheDir, defaultModelDir } from "./paths.js";
import { equalLengthBatches } from "./batching.js";

/** Bump when pooling or normalisation change. */
export const HF_EMBEDDER_VERSION = 1;

export function hfEmbedderId(model: string): string {
  return `hf:${model}@mean-l2-v${HF_EMBEDDER_VERSION}`;
}

export interface HfOptions {
  /** Folder holding `<model-id>/` with the model files; disables downloads. */
  modelDir?: string;
  /** Where downloaded models are kept (default `<routekit cache>/hf-models`). */
  downloadCacheDir?: string;
  /** Hub mirror, e.g. `http://127.0.0.1:8080/` (default: huggingface.co). */
  remoteHost?: string;
  /** Path under remoteHost (default `{model}/resolve/{revision}/`). */
  remotePathTemplate?: string;
  /** Forbid downloads even without a model dir. */
  offline?: boolean;
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  threads?: number;
  /** Texts per batch (default 16). */
  batchSize?: number;
}

function envOffline(): boolean {
  const on = (v?: string) => !!v && v !== "0" && v.toLowerCase() !== "false";
  return on(process.env.ROUTEKIT_OFFLINE) || on(process.env.HF_HUB_OFFLINE);
}

/** The package name, kept in a variable so that bundlers and tsc do not require it at build time. */
export const TRANSFORMERS_PACKAGE = "@huggingface/transformers";

/**
 * transformers.js, loaded on demand: it is an optional peer dependency (with onnxruntime it is
 * about 470 MB and its install runs a download script), needed only for `hf:` embedders.
 */
async function importTransformers(): Promise<typeof import("@huggingface/transformers")> {
  try {
    return (await import(TRANSFORMERS_PACKAGE)) as typeof import("@huggingface/transformers");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new InputError(`hf: embedders need the optional package ${TRANSFORMERS_PACKAGE}; install it beside routekit: npm install ${TRANSFORMERS_PACKAGE}`, { field: "embedder" });
    }
    throw err;
  }
}

export async function createHfEmbedder(model: string, opts: HfOptions = {}): Promise<Embedder> {
  const { pipeline, env } = await importTransformers();
  const modelDir = defaultModelDir(opts.modelDir);
  // transformers.js keeps these settings in one global `env`; set all of them for every load
  // so that one embedder's choice (a local dir, a mirror) never leaks into the next.
  if (modelDir) {
    env.localModelPath = modelDir;
    env.allowLocalModels = true;
    env.allowRemoteModels = false;
  }
  const downloads = opts.downloadCacheDir ?? join(defaultCacheDir(), "hf-models");
  if (!modelDir) {
    const offline = opts.offline ?? envOffline();
    env.allowRemoteModels = !offline;
    // transformers.js checks its download cache before anything else; offline it refuses to
    // run with both sources disabled, so point the "local" source at the download cache too.
    env.allowLocalModels = offline;
    env.localModelPath = downloads;
  }
  env.remoteHost = opts.remoteHost ?? "https://huggingface.co/";
  env.remotePathTemplate = opts.remotePathTemplate ?? "{model}/resolve/{revision}/";
  env.useFSCache = true;
  env.cacheDir = downloads;
  let extractor;
  try {
    extractor = await pipeline("feature-extraction", model, {
      dtype: "fp32",
      device: "cpu",
      ...(opts.threads ? { session_options: { intraOpNumThreads: opts.threads } } : {}),
    });
  } catch (err) {
    const where = modelDir ? `in ${join(modelDir, model)} (model dir; downloads disabled)` : env.allowRemoteModels ? `from ${env.remoteHost}` : "(offline, and not in the download cache)";
    throw new Error(`hf:${model}: cannot load the model ${where}: ${(err as Error).message}`, { cause: err });
  }
  const batchSize = opts.batchSize ?? 16;
  let dimension = 0;
  const run = async (texts: string[]): Promise<Float32Array> => {
    const out = await extractor(texts, { pooling: "mean", normalize: true });
    dimension = out.dims[out.dims.length - 1];
    return out.data as Float32Array;
  };
  // The dimension is a property of the model: learn it from one tiny run.
  await run(["dimension probe"]);
  const dim = dimension;
  // Token count as the pipeline computes it (same tokenizer, same truncation), special tokens included.
  const tokenCount = (text: string): number => {
    const enc = extractor.tokenizer(text, { truncation: true }) as { input_ids: { dims: number[] } };
    return enc.input_ids.dims[enc.input_ids.dims.length - 1];
  };
  return {
    id: hfEmbedderId(model),
    dimension: dim,
    async embed(texts, onProgress) {
      const out = new Float32Array(texts.length * dim);
      let done = 0;
      // Sequential: onnxruntime already uses every core inside one run.
      for (const b of equalLengthBatches(texts.map(tokenCount), batchSize)) {
        const rows = await run(b.map((i) => texts[i]));
        b.forEach((i, k) => out.set(rows.subarray(k * dim, (k + 1) * dim), i * dim));
        done += b.length;
        onProgress?.(done, texts.length);
      }
      return out;
    },
    async close() {
      await extractor.dispose();
    },
  };
}
