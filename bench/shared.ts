import { join, resolve } from "node:path";
import { packageRoot } from "../src/util/package-info.js";

/**
 * ../shared beside the checkout: real RouterBench rows (and, if ever present, real models) that
 * the repository must not contain. CI lays a copy beside its clone; a user's fresh clone has
 * none, and the benchmarks and tests that need it skip.
 */
export const SHARED_DIR = resolve(packageRoot(), "..", "shared");
export const SHARED_SUBSET_DIR = join(SHARED_DIR, "data", "routerbench-5shot-subset");
export const SHARED_MODELS_DIR = join(SHARED_DIR, "models");
