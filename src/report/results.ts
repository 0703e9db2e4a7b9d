/**
 * results.json: the machine-readable outcome of an evaluation (documented in
 * docs/results-schema.md). Deterministic by construction: fixed key order, no timestamps, no
 * machine details, so identical inputs and seed give byte-identical files.
 */
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import type { CurvePoint } from "../evaluate/curve.js";
import type { LatencyResult, RouterResult, SplitResult } from "../evaluate/evaluate.js";
import { routerNull } from "../evaluate/null.js";
import { recoverDir, writeFileAtomic } from "../util/atomic.js";
import { InputError } from "../util/errors.js";
import { packageVersion } from "../util/package-info.js";

export const RESULTS_FORMAT = "routekit.results";
/**
 * 2: the best single model's row has no AIQ (`aiq`, `aiqInterval`, `diffToZero`, `diffInterval`,
 * `pBeatsZero`, `beatsZero`, `vsReference` null): it is one point, not a curve over the cost range.
 * readResults still reads version 1 files and upgrades them to that shape.
 */
export const RESULTS_FORMAT_VERSION = 2;
/** Versions readResults reads. */
export const RESULTS_FORMAT_VERSIONS_READ = [1, 2] as const;

const interval = z.tuple([z.number(), z.number()]);
const costQuality = z.object({ cost: z.number(), quality: z.number() });

export const resultPointSchema = z.object({
  /** Lower end of the lambda interval; "Infinity" for an infinite grid value; null for a direct router's setting or a single model. */
  lambda: z.union([z.number(), z.literal("Infinity"), z.null()]),
  cost: z.number(),
  quality: z.number(),
  setting: z.string().optional(),
});

/** An operating point's latency (seconds per query): the point, its mean and p95 latency with intervals. */
export const pointLatencySchema = z.object({
  lambda: z.union([z.number(), z.literal("Infinity"), z.null()]),
  setting: z.string().optional(),
  cost: z.number(),
  quality: z.number(),
  meanSeconds: z.number(),
  meanInterval: interval.nullable(),
  p95Seconds: z.number(),
  p95Interval: interval.nullable(),
});

export const routerEntrySchema = z.object({
  name: z.string(),
  role: z.enum(["router", "zero", "best-single", "oracle"]),
  type: z.string(),
  params: z.record(z.string(), z.unknown()),
  pool: z.array(z.string()),
  /** null only on the best single model's row (one point: no AIQ of its own). */
  aiq: z.number().nullable(),
  aiqInterval: interval.nullable(),
  diffToZero: z.number().nullable(),
  diffInterval: interval.nullable(),
  pBeatsZero: z.number().nullable(),
  beatsZero: z.boolean().nullable(),
  maxQuality: z.object({ quality: z.number(), cost: z.number() }),
  qualityAtBestSingleCost: z.number().nullable(),
  costToMatchBestSingle: z.number().nullable(),
  twoModel: z
    .object({ strong: z.string(), weak: z.string(), apgr: z.number().nullable(), cpt50: z.number().nullable(), cpt80: z.number().nullable() })
    .nullable(),
  /** AIQ minus the split's compareTo router's, with the paired bootstrap interval; null without compareTo. */
  vsReference: z.object({ name: z.string(), diff: z.number(), interval: interval.nullable(), better: z.boolean().nullable() }).nullable(),
  /**
   * The permutation null (evaluation.nullShuffles): AIQ minus Zero, and minus the compareTo
   * router's, on each outcome shuffle, with permutation p-values. Absent without shuffles.
   */
  null: z
    .object({
      shuffles: z.number().int().min(1),
      diffToZero: z.array(z.number()),
      pBeatsZero: z.number(),
      vsReference: z.object({ diffs: z.array(z.number()), p: z.number() }).nullable(),
    })
    .optional(),
  /** Mean and p95 latency of each operating point; absent when the data has no latencies. */
  latency: z.array(pointLatencySchema).optional(),
  pointCount: z.number().int(),
  pointsThinned: z.boolean(),
  points: z.array(resultPointSchema),
  hull: z.array(costQuality),
}).refine((r) => r.aiq !== null || r.role === "best-single", { message: "aiq is null only on the best single model's row", path: ["aiq"] });

export const splitEntrySchema = z.object({
  dataset: z.string(),
  split: z.string(),
  prompts: z.number().int(),
  droppedIncomplete: z.number().int(),
  models: z.array(z.string()),
  singles: z.array(z.object({ model: z.string(), cost: z.number(), quality: z.number() })),
  bestSingle: z.string(),
  costRange: interval,
  aiqMode: z.enum(["shared-range", "routerbench-code"]),
  lambdas: z.union([z.literal("exact"), z.literal("routerbench"), z.array(z.union([z.number(), z.literal("Infinity")]))]),
  bootstrap: z.object({ resamples: z.number().int(), seed: z.number(), level: z.number() }).nullable(),
  /** Where the routers' operating points (lambdas, settings) were chosen: validation rows, or the test rows themselves. */
  operatingPoints: z.enum(["validation", "test"]),
  validationPrompts: z.number().int(),
  /** The router every row is compared with (vsReference), or null. */
  compareTo: z.string().nullable(),
  /** Cross-fitting folds pooled in this split (evaluation.protocol crossfit); absent for one train / validation / test split. */
  folds: z.number().int().min(2).optional(),
  /**
   * Saved routers tested on prompts they were fitted or tuned on (only with --allow-overlap):
   * their figures on this split are optimistic. Absent when there was no overlap.
   */
  overlap: z.array(z.object({ router: z.string(), prompts: z.number().int() })).optional(),
  routers: z.array(routerEntrySchema),
  /**
   * The split judged on latency (src/evaluate/latency.ts): rows as in `routers` but with mean
   * seconds per query where they have cost, each single model's latency, and the latency term's
   * sweep per predictive router. Absent when a judged cell has no latency.
   */
  latency: z
    .object({
      expectedFrom: z.enum(["validation", "test"]),
      latencyRange: interval,
      singles: z.array(z.object({ model: z.string(), meanSeconds: z.number(), p95Seconds: z.number(), p95Interval: interval.nullable(), quality: z.number() })),
      routers: z.array(routerEntrySchema),
      sweeps: z.array(
        z.object({
          name: z.string(),
          lambdas: z.array(z.number()),
          expectedSeconds: z.array(z.number()),
          points: z.array(
            z.object({
              mu: z.number(),
              cost: z.number(),
              costInterval: interval.nullable(),
              quality: z.number(),
              qualityInterval: interval.nullable(),
              meanSeconds: z.number(),
              meanInterval: interval.nullable(),
              p95Seconds: z.number(),
              p95Interval: interval.nullable(),
            }),
          ),
        }),
      ),
    })
    .optional(),
});

export const resultsSchema = z.object({
  format: z.literal(RESULTS_FORMAT),
  formatVersion: z.literal(RESULTS_FORMAT_VERSIONS_READ),
  versions: z.record(z.string(), z.string()),
  config: z.record(z.string(), z.unknown()),
  splits: z.array(splitEntrySchema),
});

export type ResultPoint = z.infer<typeof resultPointSchema>;
export type RouterEntry = z.infer<typeof routerEntrySchema>;
export type SplitEntry = z.infer<typeof splitEntrySchema>;
export type Results = z.infer<typeof resultsSchema>;

/** Curves kept in results.json beyond this many points are thinned (metrics always use every point). */
export const DEFAULT_MAX_POINTS = 2000;

const lambdaOut = (l: number): number | "Infinity" | null => (Number.isNaN(l) ? null : l === Infinity ? "Infinity" : l);

/**
 * At most `max` points: every hull vertex, the first and last point, and evenly strided
 * points between, in curve order. A 30k-prompt exact curve can have 100k+ points, which
 * makes results.json unreadable without changing any figure.
 */
export function thinPoints<T extends { cost: number; quality: number }>(points: readonly T[], hull: readonly { cost: number; quality: number }[], max: number): T[] {
  if (points.length <= max) return points.slice();
  const onHull = new Set(hull.map((p) => `${p.cost}|${p.quality}`));
  const stride = Math.ceil(points.length / Math.max(1, max - hull.length - 2));
  return points.filter((p, i) => i === 0 || i === points.length - 1 || i % stride === 0 || onHull.has(`${p.cost}|${p.quality}`));
}

/**
 * Whether a row has an AIQ (and so a rank, a difference to Zero and a comparison): every row but
 * the best single model's, which is one point and no curve over the cost range.
 */
export function hasAiq(r: { role: RouterEntry["role"] }): boolean {
  return r.role !== "best-single";
}

/** The figures a row without an AIQ leaves empty. */
const NO_AIQ = { aiq: null, aiqInterval: null, diffToZero: null, diffInterval: null, pBeatsZero: null, beatsZero: null, vsReference: null } as const;

/**
 * A router's permutation null from the shuffles' results of the same split (its row found by
 * name); only routers under test get one (the Oracle and Zero are not routers on trial).
 */
function nullOf(r: RouterResult, draws: readonly SplitResult[]): RouterEntry["null"] {
  if (draws.length === 0 || r.role !== "router" || r.diffToZero === null) return undefined;
  const figures = draws.map((d) => {
    const row = d.rows.find((x) => x.name === r.name);
    if (!row || row.diffToZero === null) throw new Error(`the null's shuffle has no AIQ for router ${r.name}`);
    return { diffToZero: row.diffToZero, vsReference: row.vsReference?.diff ?? null };
  });
  return routerNull({ diffToZero: r.diffToZero, vsReference: r.vsReference?.diff ?? null }, figures);
}

function routerEntry(r: RouterResult, maxPoints: number, draws: readonly SplitResult[] = []): RouterEntry {
  const nul = nullOf(r, draws);
  const all = r.points.map((p: CurvePoint, k): ResultPoint => {
    const out: ResultPoint = { lambda: lambdaOut(p.lambda), cost: p.cost, quality: p.quality };
    if (r.settings) out.setting = r.settings[k];
    return out;
  });
  const points = thinPoints(all, r.hull, maxPoints);
  return {
    name: r.name,
    role: r.role,
    type: r.type,
    params: sortKeys(r.params) as Record<string, unknown>,
    pool: r.pool.slice(),
    aiq: r.aiq,
    aiqInterval: r.aiqInterval,
    diffToZero: r.diffToZero,
    diffInterval: r.diffInterval,
    pBeatsZero: r.pBeatsZero,
    beatsZero: r.beatsZero,
    maxQuality: { quality: r.maxQuality, cost: r.maxQualityCost },
    qualityAtBestSingleCost: r.qualityAtBestSingleCost,
    costToMatchBestSingle: r.costToMatchBestSingle,
    twoModel: r.twoModel ? { strong: r.twoModel.strong, weak: r.twoModel.weak, apgr: r.twoModel.apgr, cpt50: r.twoModel.cpt50, cpt80: r.twoModel.cpt80 } : null,
    vsReference: r.vsReference ? { name: r.vsReference.name, diff: r.vsReference.diff, interval: r.vsReference.interval, better: r.vsReference.better } : null,
    ...(hasAiq(r) ? {} : NO_AIQ),
    ...(nul ? { null: nul } : {}),
    ...(r.latency
      ? {
          latency: r.latency.map((x) => ({
            ...all[x.point],
            meanSeconds: x.meanSeconds,
            meanInterval: x.meanInterval,
            p95Seconds: x.p95Seconds,
            p95Interval: x.p95Interval,
          })),
        }
      : {}),
    pointCount: all.length,
    pointsThinned: points.length < all.length,
    points,
    hull: r.hull.map((p) => ({ cost: p.cost, quality: p.quality })),
  };
}

/** One evaluated split as it appears in results.json. */
export function splitEntry(dataset: string, split: string, r: SplitResult, opts: { maxPoints?: number; overlap?: { router: string; prompts: number }[]; nullDraws?: readonly SplitResult[] } = {}): SplitEntry {
  const maxPoints = opts.maxPoints ?? DEFAULT_MAX_POINTS;
  return {
    dataset,
    split,
    prompts: r.prompts,
    droppedIncomplete: r.droppedIncomplete,
    models: r.models.slice(),
    singles: r.singles.map((s) => ({ model: s.model, cost: s.cost, quality: s.quality })),
    bestSingle: r.bestSingle,
    costRange: [r.costRange[0], r.costRange[1]],
    aiqMode: r.aiqMode,
    lambdas: Array.isArray(r.lambdas) ? r.lambdas.map((l) => (l === Infinity ? "Infinity" : l)) : r.lambdas,
    bootstrap: r.bootstrap ? { resamples: r.bootstrap.resamples, seed: r.bootstrap.seed, level: r.bootstrap.level } : null,
    operatingPoints: r.operatingPoints,
    validationPrompts: r.validationPrompts,
    compareTo: r.compareTo,
    ...(r.folds > 1 ? { folds: r.folds } : {}),
    ...(opts.overlap?.length ? { overlap: opts.overlap.map((o) => ({ router: o.router, prompts: o.prompts })) } : {}),
    routers: r.rows.map((row) => routerEntry(row, maxPoints, opts.nullDraws)),
    ...(r.latency ? { latency: latencyEntry(r.latency, maxPoints) } : {}),
  };
}

function latencyEntry(l: LatencyResult, maxPoints: number): NonNullable<SplitEntry["latency"]> {
  return {
    expectedFrom: l.expectedFrom,
    latencyRange: [l.latencyRange[0], l.latencyRange[1]],
    singles: l.singles.map((s) => ({ model: s.model, meanSeconds: s.meanSeconds, p95Seconds: s.p95Seconds, p95Interval: s.p95Interval, quality: s.quality })),
    routers: l.rows.map((row) => routerEntry(row, maxPoints)),
    sweeps: l.sweeps.map((w) => ({ name: w.name, lambdas: w.lambdas.slice(), expectedSeconds: w.expectedSeconds.slice(), points: w.points.map((p) => ({ ...p })) })),
  };
}

/** Recursively sorted keys: the caller's config echo must not depend on object construction order. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

export function makeResults(splits: SplitEntry[], config: Record<string, unknown>, versions: Record<string, string> = {}): Results {
  return {
    format: RESULTS_FORMAT,
    formatVersion: RESULTS_FORMAT_VERSION,
    versions: sortKeys({ routekit: packageVersion(), ...versions }) as Record<string, string>,
    config: sortKeys(config) as Record<string, unknown>,
    splits,
  };
}

export function serializeResults(results: Results): string {
  return `${JSON.stringify(results, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? (Number.isNaN(v) ? null : v > 0 ? "Infinity" : "-Infinity") : v), 2)}\n`;
}

export async function writeResults(path: string, results: Results): Promise<void> {
  await writeFileAtomic(path, serializeResults(results));
}

export async function readResults(path: string): Promise<Results> {
  // A report folder replaced by a writer that was killed mid-swap is put back first (util/atomic.ts).
  await recoverDir(dirname(path));
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new InputError(`cannot read results: ${(err as Error).message}`, { file: path });
  }
  const parsed = resultsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`not a routekit results file: ${issue.message}`, { file: path, field: issue.path.join(".") });
  }
  return upgradeResults(parsed.data);
}

/** A version 1 file in the current shape: the best single model's row loses its AIQ figures. */
export function upgradeResults(results: Results): Results {
  if (results.formatVersion === RESULTS_FORMAT_VERSION) return results;
  return {
    ...results,
    formatVersion: RESULTS_FORMAT_VERSION,
    splits: results.splits.map((s) => ({ ...s, routers: s.routers.map((r) => (hasAiq(r) ? r : { ...r, ...NO_AIQ })) })),
  };
}
