/**
 * A per-case hang detector for tests of code that might loop for ever synchronously (a promise
 * timeout cannot interrupt a busy thread): the cases run in a worker thread that reports the
 * start and end of each one, and the test thread terminates the worker and fails, naming the
 * case, if one runs longer than `caseMs`. The limit is generous, so it is no timed assertion:
 * it only turns a hang into a failure.
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

export type CaseMessage = { start: string } | { end: string; failure?: string } | { done: true; result: unknown } | { error: string };

/** Start a .ts worker module under tsx (the vitest thread has no loader for workers). */
function startTsWorker(moduleUrl: URL, workerData: unknown): Worker {
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(moduleUrl.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

export interface GuardedRun<R> {
  result: R;
  cases: number;
  /** Cases that ended with a failure message (assertions made inside the worker). */
  failures: string[];
}

export function runGuarded<R>(moduleUrl: URL, workerData: unknown, caseMs = 20_000): Promise<GuardedRun<R>> {
  return new Promise((resolve, reject) => {
    const w = startTsWorker(moduleUrl, workerData);
    let current: string | null = null;
    let timer: NodeJS.Timeout | null = null;
    let cases = 0;
    const failures: string[] = [];
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        void w.terminate();
        reject(new Error(`hang: case ${current ?? "(worker start-up)"} ran over ${caseMs} ms`));
      }, caseMs);
    };
    arm(); // start-up (loading tsx and the modules) counts as one case
    w.on("message", (m: CaseMessage) => {
      if ("start" in m) {
        current = m.start;
        arm();
      } else if ("end" in m) {
        cases++;
        if (m.failure) failures.push(`${m.end}: ${m.failure}`);
        current = null;
        arm();
      } else if ("done" in m) {
        if (timer) clearTimeout(timer);
        void w.terminate();
        resolve({ result: m.result as R, cases, failures });
      } else if ("error" in m) {
        if (timer) clearTimeout(timer);
        void w.terminate();
        reject(new Error(`worker failed: ${m.error}`));
      }
    });
    w.once("error", (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
  });
}
