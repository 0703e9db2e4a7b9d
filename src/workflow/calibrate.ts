/**
 * `routekit calibrate`: a saved router's operating points measured again on a user's own
 * held-out traffic, written with an optional default target into a copy of the router.
 */
import { completeRows, selectModels, selectRows, type OutcomeTable } from "../data/table.js";
import { measureOperatingPoints } from "../evaluate/operating-points.js";
import { copyRouterWith, loadRouter, type SavedRouterManifest } from "../routers/artifact.js";
import { chooseTarget, type OperatingPoints, type RoutingTarget, type TargetChoice } from "../routers/targets.js";
import { InputError } from "../util/errors.js";
import type { ProgressFn } from "../util/progress.js";
import { fittedOverlap, overlapError } from "./overlap.js";
import { embedForRouter, routable } from "./session.js";

export interface CalibrateOptions {
  /** The copy to write (replaced atomically). */
  out: string;
  /** Recorded in the copy as its default target (what `route` uses when not told). */
  target?: RoutingTarget;
  allowOverlap?: boolean;
  seed?: number;
  cacheDir?: string | false;
  onProgress?: ProgressFn;
}

/**
 * Recompute a saved router's operating points on a user's own held-out traffic (every row of
 * `table` with all the pool's outcomes), and write them, with an optional default target, into
 * a copy of the router. Prompts the router was fitted or tuned on are refused unless allowed.
 */
export async function calibrateSavedRouter(
  dir: string,
  table: OutcomeTable,
  opts: CalibrateOptions,
): Promise<{ manifest: SavedRouterManifest; operatingPoints: OperatingPoints; choice: TargetChoice | null; overlap: number; prompts: number }> {
  const { router: loaded, manifest } = await loadRouter(dir);
  const router = routable(dir, loaded);
  for (const model of router.pool) {
    if (!table.models.includes(model)) throw new InputError(`the router routes to "${model}", which the table lacks (it has: ${table.models.join(", ")})`, { field: "models" });
  }
  // Rows with every pool model's outcome (models outside the pool may be missing).
  const pooled = selectRows(table, completeRows(selectModels(table, router.pool)));
  if (pooled.ids.length === 0) throw new InputError("no prompt in the table has every pool model's score and cost");
  const overlap = await fittedOverlap(dir, manifest, pooled.ids);
  if (overlap.total > 0 && !opts.allowOverlap) throw overlapError(dir, overlap, pooled.ids.length, "calibration prompts");
  const embeddings = await embedForRouter(dir, router, manifest, { texts: pooled.texts, evals: pooled.evals }, opts);
  const seed = opts.seed ?? 0;
  const operatingPoints = await measureOperatingPoints(router, { table: pooled, embeddings }, { seed, on: "calibration" });
  const choice = opts.target ? chooseTarget(operatingPoints, opts.target, router.pool) : null;
  const written = await copyRouterWith(dir, opts.out, { operatingPoints, ...(opts.target ? { defaultTarget: opts.target } : {}) });
  return { manifest: written, operatingPoints, choice, overlap: overlap.total, prompts: pooled.ids.length };
}
