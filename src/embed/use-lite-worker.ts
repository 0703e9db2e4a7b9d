/**
 * One use-lite worker thread: loads the model once, then embeds the batches it is sent.
 * Messages in: { id, texts }; out: { id, data } (Float32Array, transferred) or { id, error }.
 */
import { parentPort, workerData } from "node:worker_threads";
import { UseLiteModel, type TfBackendName } from "./use-lite-model.js";

interface Request {
  id: number;
  texts: string[];
}

const port = parentPort;
if (!port) throw new Error("use-lite-worker must run as a worker thread");

const ready = UseLiteModel.load((workerData as { backend?: TfBackendName } | undefined)?.backend);
ready.then(
  (m) => port.postMessage({ ready: true, backend: m.backend }),
  (err: unknown) => port.postMessage({ id: -1, error: (err as Error)?.message ?? String(err) }),
);

port.on("message", async (req: Request) => {
  try {
    const model = await ready;
    const data = await model.embedTokens(req.texts.map((t) => model.encode(t)));
    port.postMessage({ id: req.id, data }, [data.buffer as ArrayBuffer]);
  } catch (err) {
    port.postMessage({ id: req.id, error: (err as Error)?.message ?? String(err) });
  }
});
