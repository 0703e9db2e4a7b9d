/**
 * Runs a run's split jobs (split-job.ts) on several cores. TensorFlow.js' wasm backend computes
 * on one thread, and the routers, folds and splits of a run are independent, so a job is cut
 * into tasks: one per predictive router per fold (train it, record its predictions on the
 * fold's validation and test prompts), then one evaluation per job once its routers are in.
 * Worker threads take ready tasks from one queue, largest first, so even a run with a single
 * split keeps every core busy. The embeddings are copied once into shared memory that every
 * worker reads; the table is sent once to each worker. A task computes the same numbers
 * wherever it runs and results are put back in job order, so the output is the same bytes as a
 * run in one thread (tested).
 */
import { availableParallelism } from "node:os";
import type { Worker } from "node:worker_threads";
import type { EmbeddingMatrix } from "../embed/embedder.js";
import { InputError } from "../util/errors.js";
import { startWorker } from "../util/start-worker.js";
import { SplitJobRunner, type RecordedRouting, type SplitJob, type SplitJobContext, type SplitJobHooks, type SplitJobResult } from "./split-job.js";

/** At most this many worker threads by default: each holds its job's rows and models in memory. */
export const DEFAULT_MAX_RUN_WORKERS = 8;

/** Default worker threads for `run`: one per core (each wasm worker keeps one core busy), at most DEFAULT_MAX_RUN_WORKERS. */
export function defaultRunWorkers(): number {
  return Math.min(availableParallelism(), DEFAULT_MAX_RUN_WORKERS);
}

/** Messages between the pool and a worker (split-worker.ts). */
export type ToWorker =
  | { kind: "train"; id: number; job: SplitJob; fold: number; entry: number }
  | { kind: "evaluate"; id: number; job: SplitJob; recorded: RecordedRouting[] };
export type FromWorker =
  | { kind: "ready" }
  | { kind: "log"; line: string }
  | { kind: "trained"; id: number; out: RecordedRouting | null }
  | { kind: "evaluated"; id: number; out: SplitJobResult }
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

/** One unit of work: train one router on one fold of a job, or evaluate a job. */
type Task = { id: number; job: number; cost: number } & ({ kind: "train"; fold: number; entry: number } | { kind: "evaluate" });

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
  const trainTasks = jobs.reduce((a, j) => a + j.split.folds.length * ctx.cfg.routers.length, 0);
  const workers = Math.min(Math.max(1, Math.floor(opts.workers)), trainTasks);
  if (workers > 1) opts.log(`${jobs.length} split job(s), ${trainTasks} router trainings, on ${workers} worker threads`);
  if (workers <= 1) {
    const runner = new SplitJobRunner(ctx);
    const out: SplitJobResult[] = [];
    for (const job of jobs) out.push(await runner.run(job, opts));
    return out;
  }
  return runInWorkers(shareable(ctx), jobs, workers, opts);
}

/** Train tasks first in job order; each job's evaluation depends on its train tasks. */
function tasksOf(jobs: SplitJob[], entries: number): Task[] {
  const tasks: Task[] = [];
  jobs.forEach((job, j) => {
    job.split.folds.forEach((part, fold) => {
      // Rows a router reads in training and prediction: a rough but monotone size for ordering.
      const cost = part.train.length + part.validation.length + part.test.length;
      for (let entry = 0; entry < entries; entry++) tasks.push({ id: tasks.length, job: j, cost, kind: "train", fold, entry });
    });
  });
  jobs.forEach((job, j) => tasks.push({ id: tasks.length, job: j, cost: job.split.folds.reduce((a, p) => a + p.test.length, 0), kind: "evaluate" }));
  return tasks;
}

async function runInWorkers(ctx: SplitJobContext, jobs: SplitJob[], n: number, opts: PoolOptions): Promise<SplitJobResult[]> {
  const tasks = tasksOf(jobs, ctx.cfg.routers.length);
  const recorded: RecordedRouting[][] = jobs.map(() => []);
  const pendingTrain = jobs.map((_, j) => tasks.filter((t) => t.kind === "train" && t.job === j).length);
  const results: SplitJobResult[] = new Array(jobs.length);
  // Ready tasks, largest first (ties in task order); an evaluation joins once its job's routers are in.
  const ready: Task[] = tasks.filter((t) => t.kind === "train").sort((a, b) => b.cost - a.cost || a.id - b.id);
  const idle: Worker[] = [];
  const bar = opts.overall?.("train and evaluate (tasks)");
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
      const dispatch = () => {
        while (!failed && idle.length && ready.length) {
          const w = idle.pop()!;
          const t = ready.shift()!;
          const job = jobs[t.job];
          w.postMessage(t.kind === "train" ? ({ kind: "train", id: t.id, job, fold: t.fold, entry: t.entry } satisfies ToWorker) : ({ kind: "evaluate", id: t.id, job, recorded: recorded[t.job] } satisfies ToWorker));
        }
        if (finished === tasks.length) resolve();
      };
      const complete = (w: Worker, t: Task) => {
        finished++;
        bar?.update(finished, tasks.length, `${jobs[t.job].split.name}${jobs[t.job].shuffle ? ` (null ${jobs[t.job].shuffle})` : ""}`);
        idle.push(w);
        dispatch();
      };
      for (let i = 0; i < n; i++) {
        const w = startWorker(import.meta.url, "split-worker", { ctx });
        pool.push(w);
        w.on("message", (m: FromWorker) => {
          if (m.kind === "ready") {
            idle.push(w);
            return dispatch();
          }
          if (m.kind === "log") return opts.log(m.line);
          if (m.kind === "failed") return fail(rebuildError(m.error));
          const t = tasks[m.id];
          if (m.kind === "trained") {
            if (m.out) recorded[t.job].push(m.out);
            if (--pendingTrain[t.job] === 0) {
              const ev = tasks.find((x) => x.kind === "evaluate" && x.job === t.job)!;
              // Evaluations go first: they finish jobs (and free their memory) and are short.
              ready.unshift(ev);
            }
          } else {
            results[t.job] = m.out;
          }
          complete(w, t);
        });
        w.on("error", (err) => fail(err));
        w.on("exit", (code) => {
          if (finished < tasks.length) fail(new Error(`a run worker thread stopped (exit code ${code}) before its tasks were done`));
        });
      }
    });
  } finally {
    bar?.stop();
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results;
}
