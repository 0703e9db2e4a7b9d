import type { Command } from "commander";
import { DEFAULT_BODY_LIMIT, DEFAULT_HOST, DEFAULT_PORT, routingName, startServer } from "../server/index.js";
import { InputError } from "../util/errors.js";
import { latencyOf } from "../workflow/route-at.js";
import { expectedLatenciesOfManifest, MANIFEST_FILE, readManifest } from "../routers/artifact.js";
import { join } from "node:path";

interface ServeCliOptions {
  router: string[];
  upstreams: string;
  port: string;
  host: string;
  bodyLimit: string;
  batchWindowMs: string;
  threads?: string;
  logLevel: string;
  latencyWeight?: string;
  maxLatency?: string;
}

function integer(value: string, field: string, min: number, max: number): number {
  const v = value.trim();
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new InputError(`must be an integer in [${min}, ${max}], got "${value}"`, { field });
  return Number(v);
}

/** --router [name=]dir */
function routerArg(raw: string): { dir: string; name?: string } {
  const eq = raw.indexOf("=");
  return eq > 0 ? { name: raw.slice(0, eq), dir: raw.slice(eq + 1) } : { dir: raw };
}

export function register(program: Command): void {
  program
    .command("serve")
    .description(
      "Serve saved routers as an OpenAI-compatible API: point any OpenAI client at it and send model router-<name> (the router's default point)\n" +
        "or router-<name>@<US$ per query> (a budget). Each request is routed, then forwarded to the chosen model's upstream (upstreams.yaml), streaming\n" +
        "or not; the response names the model used (its `model` field and the x-routekit-model header) and its expected cost.\n" +
        "Endpoints: POST /v1/chat/completions, /v1/completions; POST /v1/route (decisions only, no upstream call); GET /v1/models, /healthz, /metrics.\n" +
        "Routers load once with their encoder warm; concurrent requests share embedding batches. SIGTERM finishes in-flight requests, then exits.",
    )
    .requiredOption("--router <[name=]dir>", "a router directory (from train, calibrate or run); repeat to serve several", (v: string, prev: string[] = []) => [...prev, v])
    .requiredOption("--upstreams <file>", "upstreams.yaml: per pool model its baseUrl, upstream model id and apiKeyEnv (see README)")
    .option("--port <n>", "port", String(DEFAULT_PORT))
    .option("--host <address>", "address to listen on (0.0.0.0 exposes the server beyond this machine)", DEFAULT_HOST)
    .option("--body-limit <bytes>", "largest request body", String(DEFAULT_BODY_LIMIT))
    .option("--batch-window-ms <ms>", "how long an idle router waits for more requests to batch with", "2")
    .option("--threads <n>", "encoder threads per router (default: all cores, at most 8)")
    .option("--latency-weight <usd-per-s>", "route every request to argmax lambda * q - c - mu * expected latency, mu in US$ per second (a /v1/route request may set latency_weight)")
    .option("--max-latency <seconds>", "route every request only among models whose expected latency is at most this (a /v1/route request may set max_latency)")
    .option("--log-level <level>", "request log level: fatal, error, warn, info, debug or silent", "info")
    .action(async (o: ServeCliOptions) => {
      const levels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
      if (!levels.includes(o.logLevel)) throw new InputError(`must be one of ${levels.join(", ")}`, { field: "--log-level" });
      const latency = latencyOf(o);
      // A latency term every request would be refused: say so once, before loading any encoder.
      if (latency && ((latency.weight ?? 0) > 0 || latency.maxSeconds !== undefined)) {
        for (const { dir } of o.router.map(routerArg)) {
          const l = expectedLatenciesOfManifest(await readManifest(dir));
          if (!l || l.some((x) => Number.isNaN(x))) {
            throw new InputError("the router records no expected latency for every pool model (trained on a table without latency), so it cannot serve with --latency-weight / --max-latency", { file: join(dir, MANIFEST_FILE) });
          }
        }
      }
      const { app, url, routers } = await startServer({
        routers: o.router.map(routerArg),
        upstreamsFile: o.upstreams,
        port: integer(o.port, "--port", 0, 65535),
        host: o.host,
        bodyLimit: integer(o.bodyLimit, "--body-limit", 1, 2 ** 31),
        batch: { windowMs: integer(o.batchWindowMs, "--batch-window-ms", 0, 1000) },
        ...(o.threads !== undefined ? { threads: integer(o.threads, "--threads", 1, 64) } : {}),
        logger: o.logLevel === "silent" ? false : { level: o.logLevel },
        ...(latency ? { latency } : {}),
      });
      process.stderr.write(`routekit: serving ${routers.map((r) => routingName(r.name)).join(", ")} on ${url} (OpenAI base URL ${url}/v1)\n`);
      let closing = false;
      const stop = (signal: string) => {
        if (closing) return;
        closing = true;
        process.stderr.write(`routekit: ${signal}: finishing in-flight requests\n`);
        app.close().then(
          () => process.exit(0),
          (err: Error) => {
            process.stderr.write(`routekit: error while closing: ${err.message}\n`);
            process.exit(1);
          },
        );
      };
      process.once("SIGTERM", () => stop("SIGTERM"));
      process.once("SIGINT", () => stop("SIGINT"));
    });
}
