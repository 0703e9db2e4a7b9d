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
/** What `reprice` needs of the rows the operating points were measured on (see RepricingRecord); listed in `files`. */
export const REPRICING_FILE = "repricing.f64";

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
  /** Mean input and output tokens per call on the training rows (the rows expectedCost averages): what `reprice` prices; absent when a row had no token counts. */
  readonly meanInputTokens?: number;
  readonly meanOutputTokens?: number;
}

/**
 * What `reprice` needs to recompute operating points without the data: the quality predictions q,
 * the scores and the token counts of each pool model on the rows the points were measured on
 * (prompts x pool, row-major; NaN tokens where the row had none). Stored in REPRICING_FILE as
 * four little-endian float64 blocks in that order.
 */
export interface RepricingRecord {
  readonly q: Float64Array;
  readonly scores: Float64Array;
  readonly inputTokens: Float64Array;
  readonly outputTokens: Float64Array;
}

/** router.json's note of a repricing record: its file, the rows it holds and what they are. */
export interface RepricingNote {
  readonly file: string;
  readonly on: "validation";
  readonly prompts: number;
}

/** router.json of a repriced copy: the prices file it was repriced with (its sha256) and the router it was copied from. */
export interface RepricedFrom {
  readonly prices: string;
  readonly pricesSha256: string;
  readonly routerManifestSha256: string;
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
  /** Present when the router records what `reprice` needs (routers saved by `train` since reprice). */
  readonly repricing?: RepricingNote;
  /** Present on a copy written by `reprice`. */
  readonly repricedFrom?: RepricedFrom;
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
    pool: z.array(z.object({ model: z.string().min(1), expectedCost: nonNegative, expectedLatencySeconds: nonNegative.optional(), meanInputTokens: nonNegative.optional(), meanOutputTokens: nonNegative.optional() }).strict()).min(1),
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
    repricing: z.object({ file: z.string(), on: z.literal("validation"), prompts: z.number().int().positive() }).strict().optional(),
    repricedFrom: z.object({ prices: z.string(), pricesSha256: digest, routerManifestSha256: z.string() }).strict().optional(),
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
  /** Each pool model's mean input and output tokens on the training rows, NaN where unknown; absent or null: none recorded. */
  tokenMeans?: { input: Float64Array; output: Float64Array } | null;
  /** The predictions, scores and tokens of the rows the operating points were measured on (see RepricingRecord); absent or null: none recorded. */
  repricing?: RepricingRecord | null;
}

/** A repricing record as REPRICING_FILE's bytes. */
export function encodeRepricingRecord(r: RepricingRecord): Uint8Array {
  const parts = [r.q, r.scores, r.inputTokens, r.outputTokens];
  const cells = r.q.length;
  if (parts.some((a) => a.length !== cells)) throw new Error("repricing record: q, scores and token blocks differ in length");
  const view = new DataView(new ArrayBuffer(cells * 4 * 8));
  parts.forEach((a, b) => {
    for (let k = 0; k < cells; k++) view.setFloat64((b * cells + k) * 8, a[k], true);
  });
  return new Uint8Array(view.buffer);
}

/** The repricing record of a saved router (verified by readManifest's checksums), or null when it records none. */
export async function readRepricingRecord(dir: string, manifest: SavedRouterManifest): Promise<RepricingRecord | null> {
  const note = manifest.repricing;
  if (!note) return null;
  const path = join(dir, note.file);
  if (!(note.file in manifest.files)) throw new InputError("the repricing record is not listed in router.json's files", { file: path });
  const data = await readFile(path);
  const cells = note.prompts * manifest.pool.length;
  if (data.length !== cells * 4 * 8) throw new InputError(`repricing record holds ${data.length} bytes, not 4 x ${note.prompts} prompts x ${manifest.pool.length} models x 8`, { file: path });
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const block = (b: number) => Float64Array.from({ length: cells }, (_, k) => view.getFloat64((b * cells + k) * 8, true));
  return { q: block(0), scores: block(1), inputTokens: block(2), outputTokens: block(3) };
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
  const tokens = meta.tokenMeans ?? null;
  if (tokens && (tokens.input.length !== router.pool.length || tokens.output.length !== router.pool.length)) throw new Error(`router ${router.type}: token means do not match a pool of ${router.pool.length}`);
  const record = meta.repricing ?? null;
  if (record && (record.q.length === 0 || record.q.length % router.pool.length !== 0)) throw new Error(`router ${router.type}: repricing record of ${record.q.length} cells for a pool of ${router.pool.length}`);
  await writeDirAtomic(dir, async (staging) => {
    const names = await factory.save!(router, staging);
    for (const reserved of [FITTED_PROMPTS_FILE, REPRICING_FILE]) {
      if (names.includes(reserved)) throw new Error(`router type ${router.type} writes a file named ${reserved}, which is reserved`);
    }
    const train = meta.fittedOn.train.slice().sort(byCodeUnits);
    const validation = meta.fittedOn.validation.slice().sort(byCodeUnits);
    await writeFile(join(staging, FITTED_PROMPTS_FILE), `${JSON.stringify({ train, validation })}\n`);
    const files: Record<string, string> = {};
    if (record) await writeFile(join(staging, REPRICING_FILE), encodeRepricingRecord(record));
    for (const name of [...names, FITTED_PROMPTS_FILE, ...(record ? [REPRICING_FILE] : [])]) files[name] = sha256(await readFile(join(staging, name)));
    const body: Omit<SavedRouterManifest, "manifestSha256"> = {
      format: ROUTER_FORMAT,
      formatVersion: ROUTER_FORMAT_VERSION,
      type: router.type,
      params: router.params,
      pool: router.pool.map((model, j) => ({
        model,
        expectedCost: costs[j],
        ...(latencies && Number.isFinite(latencies[j]) ? { expectedLatencySeconds: latencies[j] } : {}),
        ...(tokens && Number.isFinite(tokens.input[j]) && Number.isFinite(tokens.output[j]) ? { meanInputTokens: tokens.input[j], meanOutputTokens: tokens.output[j] } : {}),
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
      ...(record ? { repricing: { file: REPRICING_FILE, on: "validation" as const, prompts: record.q.length / router.pool.length } } : {}),
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
 * target; `reprice` also the pool's expected costs, the fit report and repricedFrom): the weight
 * files are copied byte for byte and router.json is re-signed.
 */
export async function copyRouterWith(
  src: string,
  out: string,
  changes: {
    operatingPoints?: OperatingPoints | null;
    defaultTarget?: RoutingTarget | null;
    pool?: readonly SavedPoolEntry[];
    fit?: FitReport;
    repricedFrom?: RepricedFrom;
    /** Further inputs the output must not be or hold (the source router always is one). */
    inputs?: readonly string[];
  },
): Promise<SavedRouterManifest> {
  const manifest = await readManifest(src);
  const { manifestSha256: _old, defaultTarget: oldTarget, ...rest } = manifest;
  void _old;
  const target = changes.defaultTarget === undefined ? oldTarget : changes.defaultTarget ?? undefined;
  const body: Omit<SavedRouterManifest, "manifestSha256"> = {
    ...rest,
    ...(changes.operatingPoints !== undefined ? { operatingPoints: storeOperatingPoints(changes.operatingPoints) } : {}),
    ...(target ? { defaultTarget: target } : {}),
    ...(changes.pool ? { pool: changes.pool } : {}),
    ...(changes.fit ? { fit: changes.fit } : {}),
    ...(changes.repricedFrom ? { repricedFrom: changes.repricedFrom } : {}),
  };
  if (changes.pool && (changes.pool.length !== manifest.pool.length || changes.pool.some((p, j) => p.model !== manifest.pool[j].model))) throw new Error("copyRouterWith: the pool's models cannot change");
  const next: SavedRouterManifest = { ...body, manifestSha256: manifestDigest(body) };
  await writeDirAtomic(out, async (staging) => {
    for (const name of Object.keys(manifest.files)) await copyFile(join(src, name), join(staging, name));
    await writeFile(join(staging, MANIFEST_FILE), `${JSON.stringify(next, null, 2)}\n`);
  }, { marker: MANIFEST_FILE, inputs: [src, ...(changes.inputs ?? [])] });
  return next;
}

export async function loadRouter(dir: string): Promise<{ router: Router; manifest: SavedRouterManifest }> {
  const manifest = await readManifest(dir);
  const factory = getRouterFactory(manifest.type);
  if (!factory.load) throw new InputError(`router type ${manifest.type} cannot be loaded`, { file: join(dir, MANIFEST_FILE) });
  const router = await factory.load(dir, manifest);
  return { router, manifest };
}
