/**
 * One TensorFlow.js for the routers: the native backend (@tensorflow/tfjs-node) when it is
 * installed, else WebAssembly (XNNPACK, SIMD), else the plain-JS cpu backend. Measured on the
 * 2-core dev machine: wasm is 2-15x faster than cpu for the matMuls KNN and the MLP need.
 * The choice can be forced with ROUTEKIT_TF_BACKEND=wasm|cpu|tensorflow (benchmarks use it).
 */
import { importTf, type Tf } from "../util/tf.js";

export type { Tf };

let ready: Promise<string> | null = null;

// Loaded on first use: every CLI command imports the router registry, few of them need TF.
async function pick(tf: Tf): Promise<string> {
  const forced = process.env.ROUTEKIT_TF_BACKEND;
  const wanted = forced ? [forced] : ["tensorflow", "wasm", "cpu"];
  // Another part of routekit (an embedder) may have set a fast backend already: keep it.
  const current = tf.engine().backendName;
  if (!forced && (current === "tensorflow" || current === "wasm")) return current;
  for (const name of wanted) {
    try {
      if (name === "tensorflow") {
        // Not a dependency: used only when the user installed it. A variable keeps tsc from resolving it.
        const nodeBackend = "@tensorflow/tfjs-node";
        await import(nodeBackend);
      } else if (name === "wasm") {
        await import("@tensorflow/tfjs-backend-wasm");
      }
      if (tf.getBackend() === name) return name;
      if (await tf.setBackend(name)) {
        await tf.ready();
        return name;
      }
    } catch {
      // try the next backend
    }
  }
  throw new Error(`no TensorFlow.js backend could be initialised (tried ${wanted.join(", ")})`);
}

/** Initialise (once) and return TensorFlow.js with the fastest available backend. */
export async function getTf(): Promise<{ tf: Tf; backend: string }> {
  ready ??= importTf().then(pick);
  const backend = await ready;
  return { tf: await importTf(), backend };
}
