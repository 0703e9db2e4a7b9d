/**
 * The `use-lite` embedder (the default): Universal Sentence Encoder Lite, 512 dimensions,
 * weights installed with npm, runs offline. It is the slow part of the pipeline, so:
 * - texts are ordered by length before batching, and batches are capped both in texts and in
 *   characters; inside a batch, the model runs texts of equal token count together, never
 *   padded, so each vector is a function of its text alone (see UseLiteModel.embedTokens);
 * - with threads > 1 the batches go to a pool of worker threads (one model each, one
 *   core each: TensorFlow.js' wasm backend cannot use threads in Node), fed from one queue
 *   so that a slow batch never leaves a core idle.
 */
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import { startWorker } from "../util/start-worker.js";
import type { Embedder } from "./embedder.js";
import { lengthOrderedBatches } from "./batching.js";
import { USE_LITE_DIM, UseLiteModel, useLiteModelVersion, type TfBackendName } from "./use-lite-model.js";

/** Default worker count: all cores, at most this many. */
export const DEFAULT_MAX_THREADS = 8;

export interface UseLiteOptions {
  /** Worker threads (default: all cores, at most DEFAULT_MAX_THREADS). 1 runs the model in the calling thread. */
  threads?: number;
  /** Force a TensorFlow.js backend (default: tensorflow if installed, else wasm, else cpu). */
  backend?: TfBackendName;
  /** Texts per batch (default 32). */
  batchSize?: number;
  /** Characters per batch (default 32,000): long prompts go in smaller batches. */
  batchChars?: number;
}

export function useLiteEmbedderId(): string {
  return `use-lite@${useLiteModelVersion()}`;
}

interface Runner {
  readonly backend: Promise<TfBackendName>;
  run(texts: string[]): Promise<Float32Array>;
  close(): Promise<void>;
}

function inProcessRunner(backend?: TfBackendName): Runner {
  const model = UseLiteModel.load(backend);
  // Avoid an unhandled rejection if nobody embeds; run() rethrows it.
  model.catch(() => {});
  return {
    backend: model.then((m) => m.backend),
    async run(texts) {
      const m = await model;
      return m.embedTokens(texts.map((t) => m.encode(t)));
    },
    async close() {
      await model.then((m) => m.dispose()).catch(() => {});
    },
  };
}

class WorkerRunner implements Runner {
  private readonly idle: Worker[] = [];
  private readonly waiting: ((w: Worker) => void)[] = [];
  private readonly all: Worker[] = [];
  readonly backend: Promise<TfBackendName>;
  private failure: Error | null = null;
  private nextId = 0;

  constructor(threads: number, backend?: TfBackendName) {
    const readies: Promise<TfBackendName>[] = [];
    for (let i = 0; i < threads; i++) {
      const w = startWorker(import.meta.url, "use-lite-worker", { backend });
      w.unref();
      this.all.push(w);
      readies.push(
        new Promise((resolve, reject) => {
          const onMsg = (m: { ready?: boolean; backend?: TfBackendName; id?: number; error?: string }) => {
            if (m.ready) {
              w.off("message", onMsg);
              this.release(w);
              resolve(m.backend!);
            } else if (m.id === -1) {
              w.off("message", onMsg);
              reject(new Error(`use-lite worker failed to load the model: ${m.error}`));
            }
          };
          w.on("message", onMsg);
          w.once("error", reject);
        }),
      );
    }
    this.backend = Promise.all(readies).then((b) => b[0]);
    this.backend.catch((err: Error) => {
      this.failure = err;
      for (const f of this.waiting.splice(0)) f(null as unknown as Worker);
    });
  }

  private release(w: Worker): void {
    const f = this.waiting.shift();
    if (f) f(w);
    else this.idle.push(w);
  }

  private acquire(): Promise<Worker> {
    if (this.failure) return Promise.reject(this.failure);
    const w = this.idle.pop();
    if (w) return Promise.resolve(w);
    return new Promise((resolve, reject) =>
      this.waiting.push((x) => (x ? resolve(x) : reject(this.failure ?? new Error("use-lite workers closed")))),
    );
  }

  async run(texts: string[]): Promise<Float32Array> {
    const w = await this.acquire();
    const id = this.nextId++;
    try {
      return await new Promise<Float32Array>((resolve, reject) => {
        const onMsg = (m: { id: number; data?: Float32Array; error?: string }) => {
          if (m.id !== id) return;
          cleanup();
          if (m.error !== undefined) reject(new Error(`use-lite worker: ${m.error}`));
          else resolve(m.data!);
        };
        const onErr = (err: Error) => {
          cleanup();
          reject(err);
        };
        const onExit = (code: number) => {
          cleanup();
          reject(new Error(`use-lite worker exited with code ${code}`));
        };
        const cleanup = () => {
          w.off("message", onMsg);
          w.off("error", onErr);
          w.off("exit", onExit);
        };
        w.on("message", onMsg);
        w.once("error", onErr);
        w.once("exit", onExit);
        w.postMessage({ id, texts });
      });
    } finally {
      this.release(w);
    }
  }

  async close(): Promise<void> {
    this.failure ??= new Error("use-lite embedder closed");
    for (const f of this.waiting.splice(0)) f(null as unknown as Worker);
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}

export interface UseLiteEmbedder extends Embedder {
  /** The TensorFlow.js backend in use (resolves once the model is loaded). */
  readonly backend: Promise<TfBackendName>;
}

export function createUseLiteEmbedder(opts: UseLiteOptions = {}): UseLiteEmbedder {
  // Each worker holds its own model (~200 MB with the wasm heap): cap the default, not an explicit choice.
  const threads = Math.max(1, Math.floor(opts.threads ?? Math.min(availableParallelism(), DEFAULT_MAX_THREADS)));
  const batchSize = opts.batchSize ?? 32;
  const batchChars = opts.batchChars ?? 32_000;
  const runner: Runner = threads === 1 ? inProcessRunner(opts.backend) : new WorkerRunner(threads, opts.backend);
  runner.backend.catch(() => {});
  return {
    id: useLiteEmbedderId(),
    dimension: USE_LITE_DIM,
    backend: runner.backend,
    async embed(texts, onProgress) {
      const dim = USE_LITE_DIM;
      const out = new Float32Array(texts.length * dim);
      if (!texts.length) return out;
      const batches = lengthOrderedBatches(texts, batchSize, batchChars);
      let done = 0;
      await Promise.all(
        batches.map(async (b) => {
          const rows = await runner.run(b.map((i) => texts[i]));
          b.forEach((i, k) => out.set(rows.subarray(k * dim, (k + 1) * dim), i * dim));
          done += b.length;
          onProgress?.(done, texts.length);
        }),
      );
      // The model ends in an l2_normalize op; renormalise anyway so float32 drift (and any
      // backend difference) never leaves a row off the unit sphere.
      for (let i = 0; i < texts.length; i++) {
        const row = out.subarray(i * dim, (i + 1) * dim);
        let ss = 0;
        for (let j = 0; j < dim; j++) ss += row[j] * row[j];
        const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
        for (let j = 0; j < dim; j++) row[j] *= inv;
      }
      return out;
    },
    close: () => runner.close(),
  };
}
