/**
 * The check that a saved router is not judged (`eval`) or calibrated (`calibrate`) on prompts
 * it was fitted or tuned on: their ids are recorded with it (fitted-prompts.json).
 */
import { join } from "node:path";
import { MANIFEST_FILE, readFittedPrompts, type SavedRouterManifest } from "../routers/artifact.js";
import { InputError } from "../util/errors.js";

export interface Overlap {
  train: number;
  validation: number;
  total: number;
}

/** How many of `ids` a saved router was fitted (train) or tuned (validation) on. */
export async function fittedOverlap(dir: string, manifest: SavedRouterManifest, ids: readonly string[]): Promise<Overlap> {
  const seen = await readFittedPrompts(dir, manifest);
  let train = 0;
  let validation = 0;
  for (const id of ids) {
    if (seen.train.has(id)) train++;
    else if (seen.validation.has(id)) validation++;
  }
  return { train, validation, total: train + validation };
}

/** The one-line refusal to judge or calibrate a router on prompts it has seen. */
export function overlapError(dir: string, overlap: Overlap, of: number, what: string): InputError {
  return new InputError(
    `this router was fitted or tuned on ${overlap.total} of the ${of} ${what} (${overlap.train} training, ${overlap.validation} validation); use prompts it has not seen, or pass --allow-overlap`,
    { file: join(dir, MANIFEST_FILE) },
  );
}
