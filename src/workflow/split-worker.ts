/**
 * One `routekit run` worker thread: receives the run's shared context once (workerData), then
 * runs the tasks it is sent (train one router on one fold; evaluate a split), one at a time
 * (see split-pool.ts). Log lines go to the parent;
 * per-router progress bars stay off (the parent shows one bar over all jobs).
 */
import { parentPort, workerData } from "node:worker_threads";
import { serializeError, type FromWorker, type ToWorker } from "./split-pool.js";
import { SplitJobRunner, type SplitJobContext } from "./split-job.js";

const port = parentPort;
if (!port) throw new Error("split-worker must run as a worker thread");

const send = (m: FromWorker) => port.postMessage(m);
// Built on the first job, so that a failure to build it travels back as that job's error.
let runner: SplitJobRunner | undefined;
const hooks = {
  log: (line: string) => send({ kind: "log", line }),
  progress: () => ({ update: () => {}, stop: () => {} }),
};

port.on("message", async (m: ToWorker) => {
  try {
    runner ??= new SplitJobRunner((workerData as { ctx: SplitJobContext }).ctx);
    if (m.kind === "train") send({ kind: "trained", id: m.id, out: await runner.trainTask(m.job, m.fold, m.entry, hooks) });
    else send({ kind: "evaluated", id: m.id, out: await runner.evaluateTask(m.job, m.recorded, hooks) });
  } catch (err) {
    send({ kind: "failed", id: m.id, error: serializeError(err) });
  }
});
send({ kind: "ready" });
