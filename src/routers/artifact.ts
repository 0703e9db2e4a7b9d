/**
 * Router directories: router.json (the manifest) plus the router's weight files. Written
 * atomically (a failed save leaves no half-written directory); loaded only when the format
 * version is known, every listed file's sha256 matches, and router.json's own checksum
 * (`manifestSha256`, over the rest of the manifest) matches, so an edited, truncated or foreign
 * router is refused with one line naming the file.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../util/errors.js";
import { writeDirAtomic } from "../util/atomic.js";
import { getRouterFactory } from "./registry.js";
import type { FitReport, Router, RouterManifest } from "./router.js";

export const ROUTER_FORMAT = "routekit.router";
export const ROUTER_FORMAT_VERSION = 1;
export const MANIFEST_FILE = "router.json";

/** router.json as written: the contract's manifest plus the learned prompt prefixes and a self-checksum. */
export interface SavedRouterManifest extends RouterManifest {
  /** Shared prefixes learned on the training prompts (eval -> prefix), stripped again at route time. */
  readonly prefixes?: Record<string, string>;
  readonly manifestSha256: string;
}

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

export async function saveRouter(
  router: Router,
  dir: string,
  meta: { embedder: RouterManifest["embedder"]; split: Record<string, unknown>; seed: number; fit?: FitReport; prefixes?: Record<string, string> },
): Promise<void> {
  const factory = getRouterFactory(router.type);
  if (!factory.save) throw new InputError(`router type ${router.type} cannot be saved`);
  if (router.needsEmbeddings && !meta.embedder) throw new Error(`router ${router.type} reads embeddings: saving it needs the embedder`);
  const costs = expectedCostsOf(router);
  await writeDirAtomic(dir, async (staging) => {
    const names = await factory.save!(router, staging);
    const files: Record<string, string> = {};
    for (const name of names) files[name] = sha256(await readFile(join(staging, name)));
    const body: Omit<SavedRouterManifest, "manifestSha256"> = {
      format: ROUTER_FORMAT,
      formatVersion: ROUTER_FORMAT_VERSION,
      type: router.type,
      params: router.params,
      pool: router.pool.map((model, j) => ({ model, expectedCost: costs[j] })),
      embedder: router.needsEmbeddings ? meta.embedder : null,
      ...(meta.prefixes && router.needsEmbeddings ? { prefixes: meta.prefixes } : {}),
      split: meta.split,
      seed: meta.seed,
      files,
      createdBy: createdBy(),
      ...(meta.fit ? { fit: meta.fit } : {}),
    };
    const manifest: SavedRouterManifest = { ...body, manifestSha256: manifestDigest(body) };
    await writeFile(join(staging, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  });
}

/** Read and verify router.json and every weight file it lists; throws InputError naming the file. */
export async function readManifest(dir: string): Promise<SavedRouterManifest> {
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

export async function loadRouter(dir: string): Promise<{ router: Router; manifest: SavedRouterManifest }> {
  const manifest = await readManifest(dir);
  const factory = getRouterFactory(manifest.type);
  if (!factory.load) throw new InputError(`router type ${manifest.type} cannot be loaded`, { file: join(dir, MANIFEST_FILE) });
  const router = await factory.load(dir, manifest);
  return { router, manifest };
}
