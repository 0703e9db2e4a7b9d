/**
 * Starting a routing server: check everything cheap first (the upstreams file, every router's
 * manifest and that each pool model has an upstream), then load each router once with its
 * encoder warm, then listen. `routekit serve` is this plus signal handling.
 */
import { basename, resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import { readManifest } from "../routers/artifact.js";
import { InputError } from "../util/errors.js";
import { RoutingSession } from "../workflow/session.js";
import { buildServer, type ServedRouter, type ServerOptions } from "./app.js";
import { checkRouterName } from "./model-names.js";
import { checkPoolsServed, loadUpstreams } from "../upstream/config.js";

export { buildServer, ApiError, promptOfMessages, planJson, DEFAULT_BODY_LIMIT, type ServerOptions, type ServedRouter } from "./app.js";
export { loadUpstreams, parseUpstreams, checkPoolsServed, DEFAULT_UPSTREAM_TIMEOUT_SECONDS, type Upstream, type Upstreams } from "../upstream/config.js";
export { MicroBatcher, type BatcherOptions } from "./batcher.js";
export { HealthTracker, DEFAULT_HEALTH, type HealthOptions, type HealthState } from "./health.js";
export { parseRoutingName, routingName, ROUTER_PREFIX } from "./model-names.js";
export { callUpstream, rewriteSse, UpstreamError } from "../upstream/call.js";

/** Prompt embeddings a served router keeps in memory (repeated prompts skip the encoder). */
export const SERVER_EMBEDDING_MEMO = 10_000;

export interface StartServerOptions extends Omit<ServerOptions, "routers" | "upstreams"> {
  /** Router directories; each served as router-<name> (name: given, else the directory's name). */
  routers: readonly { dir: string; name?: string }[];
  upstreamsFile: string;
  port?: number;
  host?: string;
  /** Encoder threads per router (default: the encoder's own default). */
  threads?: number;
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_PORT = 6060;
export const DEFAULT_HOST = "127.0.0.1";

export async function startServer(opts: StartServerOptions): Promise<{ app: FastifyInstance; url: string; routers: ServedRouter[] }> {
  if (opts.routers.length === 0) throw new InputError("no router to serve (--router <dir>)", { field: "--router" });
  const upstreams = await loadUpstreams(opts.upstreamsFile, opts.env);
  const named = opts.routers.map((r) => ({ dir: r.dir, name: r.name ?? basename(resolve(r.dir)) }));
  const seen = new Set<string>();
  for (const r of named) {
    checkRouterName(r.name);
    if (seen.has(r.name)) throw new InputError(`two routers are named "${r.name}"; name them: --router <name>=<dir>`, { field: "--router" });
    seen.add(r.name);
  }
  const manifests = await Promise.all(named.map((r) => readManifest(r.dir)));
  checkPoolsServed(upstreams, named.map((r, i) => ({ name: r.name, pool: manifests[i].pool.map((p) => p.model) })), opts.upstreamsFile);
  const routers: ServedRouter[] = [];
  try {
    for (const r of named) routers.push({ name: r.name, session: await RoutingSession.open(r.dir, { warm: true, memo: SERVER_EMBEDDING_MEMO, threads: opts.threads }) });
  } catch (err) {
    await Promise.all(routers.map((r) => r.session.close()));
    throw err;
  }
  // Live model health is always on when serving: the file's `health:` section, else the defaults.
  const app = buildServer({ ...opts, routers, upstreams, health: opts.health ?? {} });
  try {
    await app.listen({ port: opts.port ?? DEFAULT_PORT, host: opts.host ?? DEFAULT_HOST });
  } catch (err) {
    await app.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE") throw new InputError(`port ${opts.port ?? DEFAULT_PORT} is in use`, { field: "--port" });
    throw err;
  }
  const addr = app.server.address();
  const url = typeof addr === "object" && addr ? `http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}` : String(addr);
  return { app, url, routers };
}
