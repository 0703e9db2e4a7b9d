import { homedir } from "node:os";
import { join } from "node:path";

/** $ROUTEKIT_CACHE_DIR, else $XDG_CACHE_HOME/routekit, else ~/.cache/routekit. */
export function defaultCacheDir(): string {
  if (process.env.ROUTEKIT_CACHE_DIR) return process.env.ROUTEKIT_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "routekit");
}

/** Local model files for hf: models: an explicit option, else $ROUTEKIT_MODEL_DIR. */
export function defaultModelDir(explicit?: string): string | undefined {
  return explicit || process.env.ROUTEKIT_MODEL_DIR || undefined;
}
