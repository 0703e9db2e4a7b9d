/**
 * The routing server: an OpenAI-compatible front for saved routers, on fastify (JSON-schema
 * request validation, body limits, graceful close). A thin edge: every decision is the routing
 * session's (../workflow/session.ts); this file maps HTTP to it and back.
 *
 *   POST /v1/chat/completions, /v1/completions   route, forward to the chosen model's upstream
 *                                                (streaming passed through event by event)
 *   POST /v1/route                               decisions only, no upstream call; batch input
 *   GET  /v1/models                              the routing names
 *   GET  /healthz, /metrics                      liveness; Prometheus text
 *
 * Live model health (./health.ts): each pool model's upstream calls feed a circuit breaker; a
 * model whose upstream fails or slows is routed around (the same rule with it excluded) until a
 * probe after its cool-down succeeds, and a call that fails retryably before any byte reached
 * the client is retried once on the next best healthy model. /v1/route leaves unhealthy models
 * out too. With a latency weight or limit, each model's latency as served (a moving average of
 * its recent calls, blended back to its training figure as it ages) replaces the training
 * figure in the rule.
 *
 * Errors are OpenAI-shaped ({"error": {"message", "type", "param", "code"}}) so OpenAI clients
 * surface them as they would OpenAI's own.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { LatencyOptions, RoutePlan, RoutingSession } from "../workflow/session.js";
import type { RouteAt } from "../workflow/session.js";
import { InputError } from "../util/errors.js";
import { MicroBatcher, type BatcherOptions } from "./batcher.js";
import { createMetrics, type ServerMetrics } from "./metrics.js";
import { HealthTracker, type HealthOptions } from "./health.js";
import { parseRoutingName, routingName } from "./model-names.js";
import { callUpstream, UpstreamError } from "../upstream/call.js";
import type { Upstreams } from "../upstream/config.js";

export interface ServedRouter {
  /** Served as model `router-<name>`. */
  name: string;
  session: RoutingSession;
}

export interface ServerOptions {
  routers: readonly ServedRouter[];
  upstreams: Upstreams;
  /** Largest request body in bytes (default 1 MiB): larger gets 413. */
  bodyLimit?: number;
  /** Most prompts in one /v1/route request (default 2048). */
  maxRoutePrompts?: number;
  batch?: BatcherOptions;
  /** fastify's logger option (default off); request logs never include headers, so no keys. */
  logger?: boolean | { level: string };
  /** Seed of the per-prompt draw that mixes two operating points (default 0, as `route`). */
  seed?: number;
  /**
   * The latency weight (US$ per second) and limit (seconds) every request is routed with
   * (`serve --latency-weight / --max-latency`); a /v1/route request may set its own
   * (`latency_weight`, `max_latency`). Default: none.
   */
  latency?: LatencyOptions;
  /**
   * Live model health (./health.ts): thresholds over DEFAULT_HEALTH, on top of upstreams.yaml's
   * `health:` section. Off (no routing around, no retry: a failed upstream call is the client's
   * 502/504) when neither is given; `routekit serve` (startServer) always turns it on.
   */
  health?: Partial<HealthOptions>;
}

/** A failure that says the upstream is in trouble, and another model may answer: unreachable, timed out, 5xx. */
export function retryableFailure(err: UpstreamError): boolean {
  return err.kind === "connection" || err.kind === "timeout" || (err.upstreamStatus !== null && err.upstreamStatus >= 500);
}

export const DEFAULT_BODY_LIMIT = 1 << 20;
export const DEFAULT_MAX_ROUTE_PROMPTS = 2048;

/** An OpenAI-style error a handler throws. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

const MESSAGE_SCHEMA = {
  type: "object",
  required: ["role"],
  properties: { role: { type: "string" }, content: { anyOf: [{ type: "string" }, { type: "array" }, { type: "null" }] } },
};

const CHAT_SCHEMA = {
  type: "object",
  required: ["model", "messages"],
  properties: { model: { type: "string", minLength: 1 }, messages: { type: "array", minItems: 1, items: MESSAGE_SCHEMA }, stream: { type: "boolean" } },
};

const COMPLETION_SCHEMA = {
  type: "object",
  required: ["model", "prompt"],
  properties: { model: { type: "string", minLength: 1 }, prompt: { anyOf: [{ type: "string" }, { type: "array", items: { type: "string" }, minItems: 1, maxItems: 1 }] }, stream: { type: "boolean" } },
};

const ROUTE_SCHEMA = {
  type: "object",
  required: ["model"],
  properties: {
    model: { type: "string", minLength: 1 },
    prompt: { anyOf: [{ type: "string" }, { type: "array", items: { type: "string" }, minItems: 1 }] },
    messages: { type: "array", minItems: 1, items: MESSAGE_SCHEMA },
    eval: { anyOf: [{ type: "string" }, { type: "null" }, { type: "array", items: { anyOf: [{ type: "string" }, { type: "null" }] } }] },
    budget: { type: "number", minimum: 0 },
    lambda: { anyOf: [{ type: "number", minimum: 0 }, { type: "string", enum: ["inf"] }] },
    max_share: { type: "object", additionalProperties: { type: "number", minimum: 0, maximum: 1 } },
    latency_weight: { type: "number", minimum: 0 },
    max_latency: { type: "number", minimum: 0 },
  },
  additionalProperties: false,
};

type Message = { role: string; content?: string | unknown[] | null };

/** The text of a message's content: a string, or the text parts of a content array. */
function contentText(content: Message["content"]): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((p) => (p && typeof p === "object" && (p as { type?: unknown }).type === "text" && typeof (p as { text?: unknown }).text === "string" ? (p as { text: string }).text : ""))
    .filter((t) => t !== "")
    .join("\n");
}

/** What a chat is routed on: its last user message (what the model is asked now), else its last message. */
export function promptOfMessages(messages: readonly Message[]): string {
  const user = [...messages].reverse().find((m) => m.role === "user") ?? messages[messages.length - 1];
  const text = contentText(user.content);
  if (text.trim() === "") throw new ApiError(400, "the last user message has no text to route on", "messages");
  return text;
}

const lambdaOf = (v: number | "inf") => (v === "inf" ? Infinity : v);

/** The routing session's field names as the request fields that set them. */
const REQUEST_FIELD: Record<string, string> = { latencyWeight: "latency_weight", maxLatency: "max_latency" };
const jsonLambda = (l: number | null | undefined) => (l === Infinity ? "inf" : (l ?? null));

/** The plan as JSON (no Infinity): what was decided for the whole request. */
export function planJson(plan: RoutePlan): Record<string, unknown> {
  const l = plan.latency;
  const latency = l
    ? { latency: { weight: l.weight, ...(l.maxSeconds !== undefined ? { max_seconds: l.maxSeconds } : {}), ...(l.observed ? { observed_seconds: l.observed } : {}), ...(l.note ? { note: l.note } : {}) } }
    : {};
  if (plan.mode === "lambda") return { mode: "lambda", lambda: jsonLambda(plan.lambda), ...latency };
  const c = plan.choice!;
  return {
    mode: "target",
    ...(plan.defaulted ? { defaulted: plan.defaulted } : {}),
    points_on: plan.pointsOn,
    expected_cost: c.cost,
    cost_interval: c.costInterval,
    expected_quality: c.quality,
    quality_interval: c.qualityInterval,
    shares: c.shares,
    mix: { low_lambda: jsonLambda(c.low.lambda), high_lambda: jsonLambda(c.high.lambda), high_share: c.t },
    note: c.note,
    ...latency,
  };
}

export function buildServer(opts: ServerOptions): FastifyInstance {
  const health = opts.health || opts.upstreams.health ? new HealthTracker(new Set(opts.routers.flatMap((r) => r.session.pool)), { ...opts.upstreams.health, ...opts.health }) : null;
  const metrics: ServerMetrics = createMetrics(health ?? undefined);
  const served = new Map(
    opts.routers.map((r) => [
      r.name,
      { ...r, batcher: new MicroBatcher(r.session, { ...opts.batch, onBatch: (n) => metrics.batchPrompts.observe({ router: r.name }, n) }) },
    ]),
  );
  const seed = opts.seed ?? 0;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // A client that sends its request slowly is cut off (a slow response stream is not).
    requestTimeout: 30_000,
    // Strict types: "stream": "yes" is an error, not true.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    return503OnClosing: true,
  });

  const routerOf = (model: string): { name: string; session: RoutingSession; batcher: MicroBatcher; at: RouteAt | "default" } => {
    let parsed;
    try {
      parsed = parseRoutingName(model);
    } catch (err) {
      throw new ApiError(400, (err as Error).message, "model", "invalid_model");
    }
    const r = parsed && served.get(parsed.router);
    if (!parsed || !r) {
      throw new ApiError(404, `The model \`${model}\` does not exist: this server routes with ${[...served.keys()].map(routingName).join(", ")} (append @<US$ per query> for a budget)`, "model", "model_not_found");
    }
    return { ...r, at: parsed.at === "default" ? "default" : { ...parsed.at, seed } };
  };

  /** Route one or more prompts through the router's micro-batcher, timed and counted. */
  const decide = async (r: ReturnType<typeof routerOf>, texts: string[], evals: (string | null)[] | undefined, at: RouteAt | "default", asked = opts.latency, exclude: readonly string[] = []) => {
    const stop = metrics.routingSeconds.startTimer({ router: r.name });
    // With live health, the latency term reads each model's latency as served (once it has
    // enough calls) instead of its training figure: an endpoint that slows down loses traffic.
    const trained = r.session.expectedLatencies;
    const live = health && asked && (asked.weight || asked.maxSeconds !== undefined) ? health.observedLatencies((m) => trained?.[r.session.pool.indexOf(m)]) : null;
    const latency = live?.size ? { ...asked, observedSeconds: live } : asked;
    try {
      const result = await r.batcher.route({ texts, ...(evals ? { evals } : {}), at, ...(latency ? { latency } : {}), ...(exclude.length ? { exclude } : {}) });
      for (const d of result.routed) metrics.decisions.inc({ router: r.name, model: d.model });
      return result;
    } catch (err) {
      if (err instanceof InputError) throw new ApiError(400, err.message, REQUEST_FIELD[err.location.field ?? ""] ?? err.location.field ?? null, "invalid_target");
      throw err;
    } finally {
      stop();
    }
  };

  app.addHook("onResponse", async (req, reply) => {
    metrics.requests.inc({ endpoint: req.routeOptions.url ?? "unmatched", status: String(reply.statusCode) });
  });

  app.setErrorHandler((err: FastifyError | ApiError | UpstreamError, req: FastifyRequest, reply: FastifyReply) => {
    let status = 500;
    let message = "internal error";
    let param: string | null = null;
    let code: string | null = null;
    let type = "server_error";
    if (err instanceof ApiError) {
      ({ status, message, param, code } = err);
    } else if (err instanceof UpstreamError) {
      status = err.status;
      message = err.message;
      code = err.kind === "timeout" ? "upstream_timeout" : "upstream_error";
      type = status < 500 ? "invalid_request_error" : "upstream_error";
    } else if ((err as FastifyError).validation) {
      const v = (err as FastifyError).validation![0];
      status = 400;
      const missing = (v.params as { missingProperty?: string }).missingProperty;
      const extra = (v.params as { additionalProperty?: string }).additionalProperty;
      param = missing ?? extra ?? (v.instancePath.replace(/^\//, "").replace(/\//g, ".") || null);
      message = extra ? `unknown field "${extra}"` : `${param ?? "body"}: ${v.message ?? "invalid"}`.replace(/^(\S+): must have required property '.*'$/, `missing required field "${missing}"`);
      code = "invalid_request";
    } else if (typeof (err as FastifyError).statusCode === "number" && (err as FastifyError).statusCode! < 500) {
      status = (err as FastifyError).statusCode!;
      const c = (err as FastifyError).code;
      message =
        c === "FST_ERR_CTP_BODY_TOO_LARGE"
          ? `request body larger than ${opts.bodyLimit ?? DEFAULT_BODY_LIMIT} bytes`
          : c === "FST_ERR_CTP_INVALID_JSON_BODY" || err instanceof SyntaxError
            ? "the request body is not valid JSON"
            : err.message;
      code = c ?? null;
    } else {
      req.log.error(err);
    }
    if (status < 500 && type === "server_error") type = "invalid_request_error";
    if (reply.sent || reply.raw.headersSent) return;
    void reply.code(status).send({ error: { message, type, param, code } });
  });

  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: { message: `no route ${req.method} ${req.url.split("?")[0]}`, type: "invalid_request_error", param: null, code: "not_found" } });
  });

  app.get("/healthz", async () => ({ status: "ok", routers: [...served.keys()].map(routingName) }));

  app.get("/metrics", async (_req, reply) => {
    void reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.get("/v1/models", async () => ({
    object: "list",
    data: [...served.values()].map((r) => ({ id: routingName(r.name), object: "model", created: 0, owned_by: "routekit", pool: r.session.pool })),
  }));

  app.post("/v1/route", { schema: { body: ROUTE_SCHEMA } }, async (req) => {
    const body = req.body as {
      model: string;
      prompt?: string | string[];
      messages?: Message[];
      eval?: string | null | (string | null)[];
      budget?: number;
      lambda?: number | "inf";
      max_share?: Record<string, number>;
      latency_weight?: number;
      max_latency?: number;
    };
    const r = routerOf(body.model);
    if ((body.prompt === undefined) === (body.messages === undefined)) throw new ApiError(400, 'give "prompt" (a string or an array of strings) or "messages", not both', body.prompt === undefined ? "prompt" : "messages");
    const texts = body.messages ? [promptOfMessages(body.messages)] : typeof body.prompt === "string" ? [body.prompt] : body.prompt!;
    const limit = opts.maxRoutePrompts ?? DEFAULT_MAX_ROUTE_PROMPTS;
    if (texts.length > limit) throw new ApiError(400, `${texts.length} prompts in one request; at most ${limit}`, "prompt");
    const empty = texts.findIndex((t) => t.trim() === "");
    if (empty >= 0) throw new ApiError(400, `prompt ${empty} is empty`, "prompt");
    let evals: (string | null)[] | undefined;
    if (Array.isArray(body.eval)) {
      if (body.eval.length !== texts.length) throw new ApiError(400, `${body.eval.length} evals for ${texts.length} prompts`, "eval");
      evals = body.eval;
    } else if (body.eval !== undefined) evals = texts.map(() => body.eval as string | null);
    const targeted = body.budget !== undefined || body.max_share !== undefined;
    if (body.lambda !== undefined && targeted) throw new ApiError(400, "give lambda or a target (budget, max_share), not both", "lambda");
    let at = r.at;
    if (body.lambda !== undefined) at = { lambda: lambdaOf(body.lambda) };
    else if (targeted) {
      const fromName = r.at === "default" || !("target" in r.at) ? {} : r.at.target;
      at = { target: { ...fromName, ...(body.budget !== undefined ? { budget: body.budget } : {}), ...(body.max_share ? { maxShare: body.max_share } : {}) }, seed };
    }
    // The request's latency fields replace the server's, each on its own.
    const weight = body.latency_weight ?? opts.latency?.weight;
    const maxSeconds = body.max_latency ?? opts.latency?.maxSeconds;
    const latency: LatencyOptions | undefined = weight !== undefined || maxSeconds !== undefined ? { ...(weight !== undefined ? { weight } : {}), ...(maxSeconds !== undefined ? { maxSeconds } : {}) } : undefined;
    // Unhealthy upstreams are left out of the decision as they are for forwarded calls (a client
    // that calls the model itself would meet the same failure); when every model is, none is.
    const pool = r.session.pool;
    const unhealthy = (health?.excluded() ?? []).filter((m) => pool.includes(m));
    const exclude = unhealthy.length < pool.length ? unhealthy : [];
    const { routed, plan } = await decide(r, texts, evals, at, latency, exclude);
    return {
      object: "routekit.route",
      model: body.model,
      plan: planJson(plan),
      ...(exclude.length ? { unavailable_models: exclude } : {}),
      decisions: routed.map((d, index) => ({
        index,
        model: d.model,
        lambda: jsonLambda(d.lambda),
        expected_cost: d.expectedCost,
        expected_quality: d.expectedQuality,
        model_expected_cost: r.session.expectedCost(d.model),
        ...(d.expectedLatency !== undefined ? { model_expected_latency: d.expectedLatency } : {}),
        quality: d.quality,
      })),
    };
  });

  const forward = (path: "/chat/completions" | "/completions", promptOf: (body: Record<string, unknown>) => string) => async (req: FastifyRequest, reply: FastifyReply) => {
    const body = req.body as Record<string, unknown> & { model: string; stream?: boolean };
    const r = routerOf(body.model);
    const text = promptOf(body);
    const hint = req.headers["x-routekit-eval"];
    const evals = typeof hint === "string" ? [hint] : undefined;
    const pool = r.session.pool;
    /**
     * The model to call: the rule's choice with unhealthy models (and those already tried) left
     * out. When every model is unhealthy, route among the untried ones as if healthy (failing
     * open: a request is never refused while some model might answer).
     */
    const choose = async (tried: readonly string[]) => {
      const exclude = new Set(tried);
      for (const m of health?.excluded() ?? []) if (pool.includes(m)) exclude.add(m);
      for (;;) {
        const failOpen = exclude.size >= pool.length;
        const result = await decide(r, [text], evals, r.at, opts.latency, failOpen ? tried : [...exclude]);
        const model = result.routed[0].model;
        // acquire: a half-open model takes one probe at a time; a second request routes around it.
        if (!health || health.acquire(model) || failOpen) return { model, ...result };
        exclude.add(model);
      }
    };
    // The client's disconnect aborts the upstream call (no paying for an answer nobody reads).
    const gone = new AbortController();
    reply.raw.once("close", () => {
      if (!reply.raw.writableFinished) gone.abort();
    });
    const tried: string[] = [];
    let chosen: Awaited<ReturnType<typeof choose>>;
    let answer;
    let started: number;
    for (;;) {
      chosen = await choose(tried);
      const model = chosen.model;
      started = performance.now();
      try {
        answer = await callUpstream(opts.upstreams.get(model)!, path, body, gone.signal, model);
        break;
      } catch (err) {
        if (!(err instanceof UpstreamError)) {
          health?.release(model, null);
          throw err;
        }
        metrics.upstreamErrors.inc({ model, kind: err.upstreamStatus ? String(err.upstreamStatus) : err.kind });
        const retryable = retryableFailure(err) && !gone.signal.aborted;
        health?.release(model, retryable ? { ok: false } : null);
        tried.push(model);
        // Once, and only while another model is left: nothing has reached the client yet.
        if (!health || !retryable || tried.length > 1 || tried.length >= pool.length) throw err;
        req.log.warn(`${model} failed (${err.message}); retrying on the next model`);
      }
    }
    const { model, routed, plan } = chosen;
    const cost = r.session.expectedCost(model);
    metrics.spend.inc({ router: r.name, model }, cost);
    void reply.headers({
      "x-routekit-router": routingName(r.name),
      "x-routekit-model": model,
      "x-routekit-expected-cost": String(cost),
      ...(plan.mode === "target" ? { "x-routekit-point-cost": String(routed[0].expectedCost) } : {}),
      ...(tried.length ? { "x-routekit-retried-from": tried.join(",") } : {}),
    });
    if (answer.kind === "json") {
      health?.release(model, { ok: true, seconds: (performance.now() - started) / 1000 });
      return reply.code(answer.status).send(answer.body);
    }
    // A streamed answer's verdict comes at its end; once its first byte is sent it cannot be retried.
    let settled = false;
    const settle = (outcome: Parameters<HealthTracker["release"]>[1]) => {
      if (settled) return;
      settled = true;
      health?.release(model, outcome);
    };
    answer.body.once("end", () => settle({ ok: true, seconds: (performance.now() - started) / 1000 }));
    answer.body.once("close", () => settle(null));
    answer.body.on("error", (err) => {
      metrics.upstreamErrors.inc({ model, kind: err instanceof UpstreamError ? err.kind : "connection" });
      settle(gone.signal.aborted ? null : { ok: false });
      req.log.warn(`stream from ${model} broke off: ${err.message}`);
    });
    return reply.code(answer.status).header("content-type", "text/event-stream; charset=utf-8").header("cache-control", "no-cache").send(answer.body);
  };

  app.post("/v1/chat/completions", { schema: { body: CHAT_SCHEMA } }, forward("/chat/completions", (b) => promptOfMessages(b.messages as Message[])));
  app.post(
    "/v1/completions",
    { schema: { body: COMPLETION_SCHEMA } },
    forward("/completions", (b) => {
      const p = b.prompt as string | string[];
      const text = typeof p === "string" ? p : p[0];
      if (text.trim() === "") throw new ApiError(400, "the prompt is empty", "prompt");
      return text;
    }),
  );

  // Draining: close() stops accepting and waits for in-flight requests, but a client's keep-alive
  // connection that goes idle after its last answer would hold the close for the keep-alive
  // timeout (72 s); close such connections as they go idle.
  app.addHook("preClose", async () => {
    const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
    sweep.unref();
    app.server.once("close", () => clearInterval(sweep));
  });

  app.addHook("onClose", async () => {
    await Promise.all(opts.routers.map((r) => r.session.close()));
  });
  return app;
}
