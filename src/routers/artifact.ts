/**
 * Router directories: router.json (the manifest) plus the router's weight files and the list of
 * prompt ids it was fitted and tuned on. Written atomically (a failed save leaves no
 * half-written directory); loaded only when router.json passes its schema, the format version
 * is known, every listed file's sha256 matches, and router.json's own checksum
 * (`manifestSha256`, over the rest of the manifest) matches, so an edited, truncated or foreign
 * router is refused with one line naming the file.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { InputError } from "../util/errors.js";
import { recoverDir, writeDirAtomic } from "../util/atomic.js";
import { getRouterFactory, routerTypes } from "./registry.js";
import type { FitReport, Router, RouterManifest } from "./router.js";
import { lambdaFromJson, lambdaToJson, type OperatingPoints, type RoutingTarget } from "./targets.js";

export const ROUTER_FORMAT = "routekit.router";
/** 2: training/validation prompt ids, operating points and a default target travel with the router. */
export const ROUTER_FORMAT_VERSION = 2;
export const MANIFEST_FILE = "router.json";
/** The prompt ids a router was fitted (train) and tuned (validation) on, sorted; listed in `files`. */
export const FITTED_PROMPTS_FILE = "fitted-prompts.json";

/** What router.json says of the prompts a router saw: counts and digests; the ids are in FITTED_PROMPTS_FILE. */
export interface FittedOn {
  readonly file: string;
  readonly train: { readonly count: number; readonly sha256: string };
  readonly validation: { readonly count: number; readonly sha256: string };
}

/** Operating points as stored in JSON (lambda Infinity as "inf"). */
type StoredOperatingPoints = Omit<OperatingPoints, "points"> & {
  readonly points: readonly (Omit<OperatingPoints["points"][number], "lambda"> & { readonly lambda: number | "inf" | null })[];
};

/** A pool entry as saved: the contract's model and expected cost, and the expected latency when the training rows had one. */
export interface SavedPoolEntry {
  readonly model: string;
  readonly expectedCost: number;
  /** l_m: mean total latency in seconds on the training rows; absent when unknown (routers trained before latency, or rows without it). */
  readonly expectedLatencySeconds?: number;
}

/** router.json as written: the contract's manifest plus what routing at a budget needs, and a self-checksum. */
export interface SavedRouterManifest extends RouterManifest {
  readonly pool: readonly SavedPoolEntry[];
  /** Shared prefixes learned on the training prompts (eval -> prefix), stripped again at route time. */
  readonly prefixes?: Record<string, string>;
  readonly fittedOn: FittedOn;
  /** The router's hull vertices on prompts it was not fitted on (validation, or a user's traffic after calibrate). */
  readonly operatingPoints: StoredOperatingPoints | null;
  /** Where `route` (and a server) routes when not told: set by `calibrate --budget/--max-share`. */
  readonly defaultTarget?: RoutingTarget;
  readonly manifestSha256: string;
}

const interval = z.tuple([z.number(), z.number()]).nullable();
const nonNegative = z.number().finite().nonnegative();
const digest = z.string().regex(/^[0-9a-f]{64}$/);
/** The schema every router.json must pass before anything in it is trusted (types, signs, shapes). */
const manifestSchema = z
  .object({
    format: z.literal(ROUTER_FORMAT),
    formatVersion: z.number(),
    type: z.string().refine((t) => routerTypes().includes(t), { message: "not a known router type" }),
    params: z.record(z.string(), z.unknown()),
    pool: z.array(z.object({ model: z.string().min(1), expectedCost: nonNegative, expectedLatencySeconds: nonNegative.optional() }).strict()).min(1),
    embedder: z.object({ id: z.string(), spec: z.string(), preparation: z.object({ unwrapList: z.boolean(), stripSharedPrefix: z.boolean(), maxChars: z.number().int().nonnegative(), keep: z.enum(["head", "tail"]) }).strict() }).strict().nullable(),
    prefixes: z.record(z.string(), z.string()).optional(),
    split: z.record(z.string(), z.unknown()),
    seed: z.number().int(),
    files: z.record(z.string(), digest),
    createdBy: z.string(),
    fit: z.object({ chosen: z.record(z.string(), z.unknown()), validation: z.record(z.string(), z.number().or(z.null())), seconds: z.number() }).strict().optional(),
    fittedOn: z.object({ file: z.string(), train: z.object({ count: z.number().int().nonnegative(), sha256: digest }).strict(), validation: z.object({ count: z.number().int().nonnegative(), sha256: digest }).strict() }).strict(),
    operatingPoints: z
      .object({
        on: z.enum(["crossfit", "validation", "calibration"]),
        prompts: z.number().int().positive(),
        bootstrap: z.object({ resamples: z.number().int().nonnegative(), seed: z.number().int(), level: z.number().gt(0).lt(1) }).strict(),
        points: z.array(
          z
            .object({
              lambda: z.union([nonNegative, z.literal("inf"), z.null()]),
              setting: z.string().nullable(),
              cost: nonNegative,
              costInterval: interval,
              quality: z.number().finite(),
              qualityInterval: interval,
              shares: z.record(z.string(), z.number().min(0).max(1)),
            })
            .strict(),
        ),
      })
      .strict()
      .nullable(),
    defaultTarget: z.object({ budget: nonNegative.optional(), maxShare: z.record(z.string(), z.number().min(0).max(1)).optional() }).strict().optional(),
    manifestSha256: z.string(),
  })
  .strict();

function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function manifestDigest(m: Omit<SavedRouterManifest, "manifestSha256">): string {
  return sha256(JSON.stringify(m));
}

function createdBy(): string {
  // dist/src/routers -> three levels up; src/routers (tests run the sources) -> two.
  for (const rel of ["../../../package.json", "../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "routekit") return `routekit ${pkg.version}`;
    } catch {
      // try the next location
    }
  }
  return "routekit";
}

function expectedCostsOf(router: Router): Float64Array {
  const c = (router as { expectedCosts?: Float64Array }).expectedCosts;
  if (!c || c.length !== router.pool.length) throw new Error(`router ${router.type} has no expected cost per pool model`);
  return c;
}

export interface SaveMeta {
  embedder: RouterManifest["embedder"];
  split: Record<string, unknown>;
  seed: number;
  fit?: FitReport;
  prefixes?: Record<string, string>;
  /** The prompt ids the router was fitted on (train) and tuned on (validation: grids, operating points). */
  fittedOn: { train: readonly string[]; validation: readonly string[] };
  /** Its hull vertices on the validation rows (null when there were none). */
  operatingPoints: OperatingPoints | null;
  defaultTarget?: RoutingTarget;
  /** Each pool model's mean total latency (s) on the training rows, NaN where unknown (TrainedRouter.expectedLatencies); absent or null: none recorded. */
  expectedLatencies?: Float64Array | null;
}

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function idsDigest(ids: readonly string[]): string {
  return sha256(ids.join("\n"));
}

export function storeOperatingPoints(ops: OperatingPoints | null): StoredOperatingPoints | null {
  return ops ? { ...ops, points: ops.points.map((p) => ({ ...p, lambda: lambdaToJson(p.lambda) })) } : null;
}

/** Each pool model's expected latency in seconds from router.json (NaN where it records none), or null when it records none at all. */
export function expectedLatenciesOfManifest(manifest: SavedRouterManifest): Float64Array | null {
  if (!manifest.pool.some((p) => p.expectedLatencySeconds !== undefined)) return null;
  return Float64Array.from(manifest.pool, (p) => p.expectedLatencySeconds ?? NaN);
}

/** The manifest's operating points with lambdas as numbers (Infinity restored). */
export function operatingPointsOf(manifest: SavedRouterManifest): OperatingPoints | null {
  const ops = manifest.operatingPoints;
  return ops ? { ...ops, points: ops.points.map((p) => ({ ...p, lambda: lambdaFromJson(p.lambda) })) } : null;
}

export async function saveRouter(router: Router, dir: string, meta: SaveMeta): Promise<void> {
  const factory = getRouterFactory(router.type);
  if (!factory.save) throw new InputError(`router type ${router.type} cannot be saved`);
  if (router.needsEmbeddings && !meta.embedder) throw new Error(`router ${router.type} reads embeddings: saving it needs the embedder`);
  const costs = expectedCostsOf(router);
  const latencies = meta.expectedLatencies ?? null;
  if (latencies && latencies.length !== router.pool.length) throw new Error(`router ${router.type}: ${latencies.length} expected latencies for a pool of ${router.pool.length}`);
  await writeDirAtomic(dir, async (staging) => {
    const names = await factory.save!(router, staging);
    if (names.includes(FITTED_PROMPTS_FILE)) throw new Error(`router type ${router.type} writes a file named ${FITTED_PROMPTS_FILE}, which is reserved`);
    const train = meta.fittedOn.train.slice().sort(byCodeUnits);
    const validation = meta.fittedOn.validation.slice().sort(byCodeUnits);
    await writeFile(join(staging, FITTED_PROMPTS_FILE), `${JSON.stringify({ train, validation })}\n`);
    const files: Record<string, string> = {};
    for (const name of [...names, FITTED_PROMPTS_FILE]) files[name] = sha256(await readFile(join(staging, name)));
    const body: Omit<SavedRouterManifest, "manifestSha256"> = {
      format: ROUTER_FORMAT,
      formatVersion: ROUTER_FORMAT_VERSION,
      type: router.type,
      params: router.params,
      pool: router.pool.map((model, j) => ({
        model,
        expectedCost: costs[j],
        ...(latencies && Number.isFinite(latencies[j]) ? { expectedLatencySeconds: latencies[j] } : {}),
      })),
      embedder: router.needsEmbeddings ? meta.embedder : null,
      ...(meta.prefixes && router.needsEmbeddings ? { prefixes: meta.prefixes } : {}),
      split: meta.split,
      seed: meta.seed,
      files,
      createdBy: createdBy(),
      ...(meta.fit ? { fit: meta.fit } : {}),
      fittedOn: {
        file: FITTED_PROMPTS_FILE,
        train: { count: train.length, sha256: idsDigest(train) },
        validation: { count: validation.length, sha256: idsDigest(validation) },
      },
      operatingPoints: storeOperatingPoints(meta.operatingPoints),
      ...(meta.defaultTarget ? { defaultTarget: meta.defaultTarget } : {}),
    };
    const manifest: SavedRouterManifest = { ...body, manifestSha256: manifestDigest(body) };
    await writeFile(join(staging, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  }, { marker: MANIFEST_FILE });
}

/** Read and verify router.json and every weight file it lists; throws InputError naming the file. */
export async function readManifest(dir: string): Promise<SavedRouterManifest> {
  // A save killed between its two renames leaves a journal: put the complete folder back first.
  await recoverDir(dir);
  const path = join(dir, MANIFEST_FILE);
  const text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new InputError(err.code === "ENOENT" ? `no router here (${MANIFEST_FILE} missing)` : `cannot read: ${err.message}`, { file: path });
  });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InputError("not valid JSON (truncated or edited?)", { file: path });
  }
  const m = raw as Partial<SavedRouterManifest> | null;
  if (!m || typeof m !== "object" || m.format !== ROUTER_FORMAT) throw new InputError(`not a routekit router manifest (format is not "${ROUTER_FORMAT}")`, { file: path });
  if (m.formatVersion !== ROUTER_FORMAT_VERSION) {
    throw new InputError(`router format version ${String(m.formatVersion)}, this routekit reads version ${ROUTER_FORMAT_VERSION}; retrain the router`, { file: path });
  }
  // The schema first: a re-signed manifest must still be well-formed (known type, costs >= 0, ...).
  const parsed = manifestSchema.safeParse(m);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(issue.message, { file: path, field: issue.path.join(".") || undefined });
  }
  const { manifestSha256, ...body } = m as SavedRouterManifest;
  if (typeof manifestSha256 !== "string" || manifestDigest(body) !== manifestSha256) {
    throw new InputError("checksum mismatch: router.json was edited after it was written", { file: path });
  }
  if (!m.files || typeof m.files !== "object") throw new InputError("no file checksums", { file: path });
  for (const [name, digest] of Object.entries(m.files)) {
    // Names come from the manifest: keep them inside the directory.
    if (name.includes("/") || name.includes("\\") || name.startsWith(".")) throw new InputError(`bad weight file name "${name}"`, { file: path });
    const wpath = join(dir, name);
    const data = await readFile(wpath).catch(() => {
      throw new InputError("weight file listed in router.json is missing", { file: wpath });
    });
    if (sha256(data) !== digest) throw new InputError("checksum mismatch: the file was changed or truncated after the router was saved", { file: wpath });
  }
  return m as SavedRouterManifest;
}

/** The prompt ids a saved router was fitted and tuned on (verified by readManifest's checksums and the manifest's digests). */
export async function readFittedPrompts(dir: string, manifest: SavedRouterManifest): Promise<{ train: Set<string>; validation: Set<string> }> {
  const path = join(dir, manifest.fittedOn.file);
  let raw: { train?: unknown; validation?: unknown };
  try {
    raw = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new InputError(`cannot read the router's fitted prompt ids: ${(err as Error).message}`, { file: path });
  }
  const list = (v: unknown, part: "train" | "validation"): string[] => {
    const ok = Array.isArray(v) && v.every((x) => typeof x === "string");
    if (!ok || idsDigest(v as string[]) !== manifest.fittedOn[part].sha256) throw new InputError(`the ${part} prompt ids do not match router.json's digest`, { file: path, field: part });
    return v as string[];
  };
  return { train: new Set(list(raw.train, "train")), validation: new Set(list(raw.validation, "validation")) };
}

/**
 * A copy of a saved router with some manifest fields replaced (operating points, default
 * target): the weight files are copied byte for byte and router.json is re-signed.
 */
export async function copyRouterWith(
  src: string,
  out: string,
  changes: { operatingPoints?: OperatingPoints | null; defaultTarget?: RoutingTarget | null },
): Promise<SavedRouterManifest> {
  const manifest = await readManifest(src);
  const { manifestSha256: _old, defaultTarget: oldTarget, ...rest } = manifest;
  void _old;
  const target = changes.defaultTarget === undefined ? oldTarget : changes.defaultTarget ?? undefined;
  const body: Omit<SavedRouterManifest, "manifestSha256"> = {
    ...rest,
    ...(changes.operatingPoints !== undefined ? { operatingPoints: storeOperatingPoints(changes.operatingPoints) } : {}),
    ...(target ? { defaultTarget: target } : {}),
  };
  const next: SavedRouterManifest = { ...body, manifestSha256: manifestDigest(body) };
  await writeDirAtomic(out, async (staging) => {
    for (const name of Object.keys(manifest.files)) await copyFile(join(src, name), join(staging, name));
    await writeFile(join(staging, MANIFEST_FILE), `${JSON.stringify(next, null, 2)}\n`);
  }, { marker: MANIFEST_FILE, inputs: [src] });
  return next;
}

export async function loadRouter(dir: string): Promise<{ router: Router; manifest: SavedRouterManifest }> {
  const manifest = await readManifest(dir);
  const factory = getRouterFactory(manifest.type);
  if (!factory.load) throw new InputError(`router type ${manifest.type} cannot be loaded`, { file: join(dir, MANIFEST_FILE) });
  const router = await factory.load(dir, manifest);
  return { router, manifest };
}
