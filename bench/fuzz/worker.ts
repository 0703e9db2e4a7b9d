/**
 * The fuzz worker thread: runs cases [start, end) of a seeded run and reports each case's start
 * and verdict to runner.ts, which terminates this thread if a case hangs.
 */
import { parentPort, workerData } from "node:worker_threads";
import { formatsNamed, prepare, runCase, tinyTableBytes } from "./inputs.js";

export interface FuzzWorkerData {
  seed: number;
  start: number;
  end: number;
  work: string;
  formats?: string[];
  /** Exhaustive mode: case k damages byte k of a tiny outcome table (see flipCase). */
  flips?: boolean;
}

export type FuzzMessage =
  | { ready: true }
  | { start: number }
  | { end: number; label: string; format: string; kind: "ok" | "error" | "failure"; message?: string }
  | { done: true }
  | { fatal: string };

const port = parentPort!;
const data = workerData as FuzzWorkerData;

async function main(): Promise<void> {
  const formats = formatsNamed(data.formats);
  const ws = await prepare(data.work, formats);
  const tiny = data.flips ? tinyTableBytes() : undefined;
  port.postMessage({ ready: true } satisfies FuzzMessage);
  for (let k = data.start; k < data.end; k++) {
    port.postMessage({ start: k } satisfies FuzzMessage);
    const r = await runCase(ws, formats, data.seed, k, tiny);
    const message = r.verdict.kind === "ok" ? undefined : r.verdict.message;
    port.postMessage({ end: k, label: r.label, format: r.format, kind: r.verdict.kind, message } satisfies FuzzMessage);
  }
  port.postMessage({ done: true } satisfies FuzzMessage);
}

main().catch((err: unknown) => port.postMessage({ fatal: String((err as Error)?.stack ?? err) } satisfies FuzzMessage));
