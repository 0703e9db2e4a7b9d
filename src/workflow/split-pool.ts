/**
 * Runs a run's split jobs (split-job.ts) on several cores. TensorFlow.js' wasm backend computes
 * on one thread, and the routers, folds and splits of a run are independent, so each worker
 * thread takes whole jobs from one queue, largest first (a long pooled split starts at once,
 * short ones fill the gaps). The embeddings are copied once into shared memory that every
 * worker reads; the table is sent once to each worker. Results come back by job index, so the
 * output is the same bytes as a serial run's: a job computes the same thing wherever it runs.
 */
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import type { EmbeddingMatrix } from "../embed/embedder.js";
import { InputError } from "../util/errors.js";
import { startWorker } from "../util/start-worker.js";
import { SplitJobRunner, type SplitJob, type SplitJobContext, type SplitJobHooks, type SplitJobResult } from "./split-job.js";

/** At most this many worker threads by default: each holds its job's rows and models in memory. */
export const DEFAULT_MAX_RUN_WORKERS = 8;

/** Default worker threads for `run`: one per core (each wasm worker keeps one core busy), at most DEFAULT_MAX_RUN_WORKERS. */
export function defaultRunWorkers(): number {
  return Math.min(availableParallelism(), DEFAULT_MAX_RUN_WORKERS);
}

/** Messages between the pool and a worker (split-worker.ts). */
export type ToWorker = { kind: "job"; id: number; job: SplitJob };
export type FromWorker =
  | { kind: "ready" }
  | { kind: "log"; line: string }
  | { kind: "done"; id: number; out: SplitJobResult }
  | { kind: "failed"; id: number; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  location?: InputError["location"];
}

export function serializeError(err: unknown): SerializedError {
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: e.message, stack: e.stack, ...(e instanceof InputError ? { location: e.location } : {}) };
}

/** The worker's error, rebuilt so the CLI treats it as it would in one thread (an InputError stays one). */
function rebuildError(s: SerializedError): Error {
  // InputError's constructor would prefix the location again: the message already carries it.
  const e = s.name === "InputError" ? (Object.setPrototypeOf(new Error(s.message), InputError.prototype) as Error) : new Error(s.message);
  e.name = s.name;
  if (s.location) Object.defineProperty(e, "location", { value: s.location });
  if (s.stack) e.stack = s.stack;
  return e;
}

/** Job sizes for scheduling: rows trained on over all folds. */
function jobCost(job: SplitJob): number {
  return job.split.folds.reduce((a, f) => a + f.train.length + f.validation.length + f.test.length, 0);
}

/** The context in the form a worker receives: embeddings in shared memory, responses left out (no router reads them). */
function shareable(ctx: SplitJobContext): SplitJobContext {
  const e = ctx.data.embeddings;
  let embeddings: EmbeddingMatrix | null = null;
  if (e) {
    const data = new Float32Array(new SharedArrayBuffer(e.data.byteLength));
    data.set(e.data);
    embeddings = { ...e, data };
  }
  const { responses: _responses, ...table } = ctx.data.table;
  return { ...ctx, data: { table, embeddings } };
}

export interface PoolOptions extends SplitJobHooks {
  /** Worker threads; 1 runs every job in this thread, one after another. */
  workers: number;
  /** Overall progress when jobs run in parallel (per-router bars would interleave). */
  overall?: (title: string) => { update: (done: number, total: number, label?: string) => void; stop: () => void };
}

export async function runSplitJobs(ctx: SplitJobContext, jobs: SplitJob[], opts: PoolOptions): Promise<SplitJobResult[]> {
  const workers = Math.min(Math.max(1, Math.floor(opts.workers)), jobs.length);
  if (workers <= 1) {
    const runner = new SplitJobRunner(ctx);
    const out: SplitJobResult[] = [];
    for (const job of jobs) out.push(await runner.run(job, opts));
    return out;
  }
  return runInWorkers(shareable(ctx), jobs, workers, opts);
}

async function runInWorkers(ctx: SplitJobContext, jobs: SplitJob[], n: number, opts: PoolOptions): Promise<SplitJobResult[]> {
  const order = jobs.map((job, id) => ({ id, cost: jobCost(job) })).sort((a, b) => b.cost - a.cost || a.id - b.id);
  const results: SplitJobResult[] = new Array(jobs.length);
  const bar = opts.overall?.("train and evaluate (splits)");
  let next = 0;
  let finished = 0;
  const pool: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (err: Error) => {
        if (failed) return;
        failed = true;
        reject(err);
      };
      const feed = (w: Worker) => {
        if (failed) return;
        if (next < order.length) {
          const { id } = order[next++];
          w.postMessage({ kind: "job", id, job: jobs[id] } satisfies ToWorker);
        } else if (finished === jobs.length) {
          resolve();
        }
      };
      for (let i = 0; i < n; i++) {
        const w = startWorker(import.meta.url, "split-worker", { ctx });
        pool.push(w);
        w.on("message", (m: FromWorker) => {
          if (m.kind === "ready") return feed(w);
          if (m.kind === "log") return opts.log(m.line);
          if (m.kind === "failed") return fail(rebuildError(m.error));
          results[m.id] = m.out;
          finished++;
          bar?.update(finished, jobs.length, `${jobs[m.id].split.name}${jobs[m.id].shuffle ? ` (null ${jobs[m.id].shuffle})` : ""}`);
          feed(w);
        });
        w.on("error", (err) => fail(err));
        w.on("exit", (code) => {
          if (finished < jobs.length) fail(new Error(`a run worker thread stopped (exit code ${code}) before its jobs were done`));
        });
      }
    });
  } finally {
    bar?.stop();
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results;
}
