/**
 * Start a worker thread on a module that sits next to the caller, both from compiled dist/ (.js)
 * and from the sources (vitest, tsx: .ts). For .ts a tiny bootstrap registers tsx's loader inside
 * the worker before importing the module (`execArgv: ["--import", "tsx"]` registers it too late
 * for the entry point).
 */
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

/** `callerUrl`: the caller's import.meta.url; `name`: the worker module's file name without extension. */
export function startWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  if (!callerUrl.endsWith(".ts")) return new Worker(new URL(`./${name}.js`, callerUrl), { workerData });
  // Resolved through require (vitest has no import.meta.resolve); the ESM build is next to it.
  const tsxApi = pathToFileURL(createRequire(callerUrl).resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href;
  const entry = new URL(`./${name}.ts`, callerUrl).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData });
}
