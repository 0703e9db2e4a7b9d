/**
 * One `routekit run` worker thread: receives the run's shared context once (workerData), then
 * runs the split jobs it is sent, one at a time (see split-pool.ts). Log lines go to the parent;
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
    send({ kind: "done", id: m.id, out: await runner.run(m.job, hooks) });
  } catch (err) {
    send({ kind: "failed", id: m.id, error: serializeError(err) });
  }
});
send({ kind: "ready" });
