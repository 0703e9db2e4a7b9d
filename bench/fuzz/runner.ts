/**
 * Runs the fuzz cases in a worker thread and watches each one: a case that runs longer than
 * `caseMs` is a hang. A busy loop cannot be interrupted from inside its own thread, so the
 * watcher terminates the worker, records the hang (with the case's seed and mutation, enough to
 * reproduce it), and starts a fresh worker at the next case. The limit is generous: it turns a
 * hang into a reported failure, it is not a speed target.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { formatsNamed } from "./inputs.js";
import type { FuzzMessage, FuzzWorkerData } from "./worker.js";

export interface FuzzOptions {
  seed: number;
  cases: number;
  /** Scratch folder for the files the importers read. */
  work: string;
  formats?: string[];
  /** Exhaustive mode: `cases` must be the tiny table's size (tinyTableBytes().length); case k damages byte k. */
  flips?: boolean;
  /** Per-case hang limit (default 10 s); start-up (loading modules, checking the seeds) gets 6x. */
  caseMs?: number;
  /** Called every `every` cases with the number done. */
  onProgress?: (done: number, total: number) => void;
}

export interface FormatCounts {
  ok: number;
  error: number;
  failure: number;
}

export interface FuzzSummary {
  cases: number;
  ok: number;
  errors: number;
  /** Crashes, multi-line errors, silent damage and hangs, each with its case label. */
  failures: string[];
  hangs: number;
  byFormat: Record<string, FormatCounts>;
  wallMs: number;
  cpuMs: number;
  /** The slowest case (ms) and its label. */
  slowest: { ms: number; label: string };
}

function startWorker(data: FuzzWorkerData): Worker {
  const url = new URL(`./worker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url);
  if (!url.pathname.endsWith(".ts")) return new Worker(url, { workerData: data });
  // Under vitest the source is TypeScript: boot the worker through tsx's loader.
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(boot, { eval: true, workerData: data });
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzSummary> {
  const caseMs = opts.caseMs ?? 10_000;
  const formats = formatsNamed(opts.formats);
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const s: FuzzSummary = { cases: 0, ok: 0, errors: 0, failures: [], hangs: 0, byFormat: {}, wallMs: 0, cpuMs: 0, slowest: { ms: 0, label: "" } };
  for (const f of formats) s.byFormat[f.name] = { ok: 0, error: 0, failure: 0 };
  s.byFormat["outcome-table"] ??= { ok: 0, error: 0, failure: 0 };
  let next = 0;
  while (next < opts.cases) {
    next = await new Promise<number>((resolve, reject) => {
      const w = startWorker({ seed: opts.seed, start: next, end: opts.cases, work: opts.work, formats: opts.formats, flips: opts.flips });
      let current = -1;
      let caseStart = 0;
      let timer: NodeJS.Timeout | null = null;
      const arm = (ms: number) => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => {
          void w.terminate();
          if (current < 0) return reject(new Error(`fuzz worker did not start within ${ms} ms`));
          // The label needs the seed files, which only the worker has loaded: name the case by
          // its seed and number; caseOf (or flipCase) reproduces it.
          s.cases++;
          s.hangs++;
          const format = opts.flips ? "outcome-table" : formats[current % formats.length].name;
          s.failures.push(`hang: seed ${opts.seed} ${opts.flips ? "flip" : "case"} ${current} (${format}) ran over ${ms} ms`);
          s.byFormat[format].failure++;
          resolve(current + 1);
        }, ms);
      };
      arm(caseMs * 6);
      w.on("message", (m: FuzzMessage) => {
        if ("ready" in m) arm(caseMs);
        else if ("start" in m) {
          current = m.start;
          caseStart = performance.now();
          arm(caseMs);
        } else if ("end" in m) {
          const ms = performance.now() - caseStart;
          if (ms > s.slowest.ms) s.slowest = { ms, label: m.label };
          s.cases++;
          const c = s.byFormat[m.format];
          if (m.kind === "ok") {
            s.ok++;
            c.ok++;
          } else if (m.kind === "error") {
            s.errors++;
            c.error++;
          } else {
            c.failure++;
            s.failures.push(`${m.label}: ${m.message}`);
          }
          if (opts.onProgress && s.cases % 500 === 0) opts.onProgress(s.cases, opts.cases);
        } else if ("done" in m) {
          if (timer) clearTimeout(timer);
          void w.terminate();
          resolve(opts.cases);
        } else if ("fatal" in m) {
          if (timer) clearTimeout(timer);
          void w.terminate();
          reject(new Error(`fuzz worker failed: ${m.fatal}`));
        }
      });
      w.once("error", (err) => {
        if (timer) clearTimeout(timer);
        reject(err);
      });
    });
  }
  s.wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  s.cpuMs = (cpu.user + cpu.system) / 1000;
  return s;
}

