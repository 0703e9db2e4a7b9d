/** The server's latency options: serve-wide (--latency-weight / --max-latency) and per /v1/route request (latency_weight, max_latency). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { synthesize } from "../../src/data/synth/index.js";
import { trainAndSave } from "../../src/workflow/train.js";
import { RoutingSession } from "../../src/workflow/session.js";
import { buildServer } from "../../src/server/app.js";

let root = "";
let session: RoutingSession;
let plain: RoutingSession;
let app: FastifyInstance;
let capped: FastifyInstance;
const texts = synthesize({ prompts: 60, seed: 8 }).texts;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "rk-serve-latency-"));
  const table = synthesize({ prompts: 300, seed: 6, latency: true });
  const { ttftMs: _a, totalLatencyMs: _b, ...noLatency } = table;
  const opts = { spec: "linear:alpha=1", seed: 2, embedder: "hash", cacheDir: false as const, validationFraction: 0.2 };
  await trainAndSave(table, join(root, "lat"), opts);
  await trainAndSave(noLatency, join(root, "plain"), opts);
  session = await RoutingSession.open(join(root, "lat"));
  plain = await RoutingSession.open(join(root, "plain"));
  app = buildServer({ routers: [{ name: "lat", session }, { name: "plain", session: plain }], upstreams: new Map() });
  const seconds = Array.from(session.expectedLatencies!).sort((a, b) => a - b);
  capped = buildServer({ routers: [{ name: "lat", session: await RoutingSession.open(join(root, "lat")) }], upstreams: new Map(), latency: { maxSeconds: seconds[2] } });
}, 180_000);

afterAll(async () => {
  await app?.close();
  await capped?.close();
  await rm(root, { recursive: true, force: true });
});

const route = async (server: FastifyInstance, body: Record<string, unknown>) => {
  const res = await server.inject({ method: "POST", url: "/v1/route", payload: body });
  return { status: res.statusCode, json: res.json() as { plan: { latency?: { weight: number; max_seconds?: number; note?: string } }; decisions: { model: string; model_expected_latency?: number }[]; error?: { message: string; param: string | null } } };
};

describe("/v1/route latency fields", () => {
  it("latency_weight 0 routes as without it; a larger weight lowers the mean expected latency; max_latency caps it", async () => {
    const base = await route(app, { model: "router-lat", prompt: texts, lambda: 0.02 });
    expect(base.status).toBe(200);
    expect(base.json.plan.latency).toBeUndefined();
    const zero = await route(app, { model: "router-lat", prompt: texts, lambda: 0.02, latency_weight: 0 });
    expect(zero.json.decisions.map((d) => d.model)).toEqual(base.json.decisions.map((d) => d.model));
    const mean = (ds: { model_expected_latency?: number }[]) => ds.reduce((a, d) => a + d.model_expected_latency!, 0) / ds.length;
    const heavy = await route(app, { model: "router-lat", prompt: texts, lambda: 0.02, latency_weight: 0.01 });
    expect(heavy.json.plan.latency).toEqual({ weight: 0.01 });
    expect(mean(heavy.json.decisions)).toBeLessThan(mean(base.json.decisions));
    const limited = await route(app, { model: "router-lat", prompt: texts, max_latency: 3 });
    expect(limited.status).toBe(200);
    expect(limited.json.decisions.every((d) => d.model_expected_latency! <= 3)).toBe(true);
    expect(limited.json.plan.latency?.note).toMatch(/without the latency term/);
  });

  it("serve-wide options apply to every request; a request's own field replaces them", async () => {
    const seconds = Array.from(session.expectedLatencies!).sort((a, b) => a - b);
    const r = await route(capped, { model: "router-lat", prompt: texts, lambda: "inf" });
    expect(r.status).toBe(200);
    expect(r.json.plan.latency).toEqual({ weight: 0, max_seconds: seconds[2] });
    expect(r.json.decisions.every((d) => d.model_expected_latency! <= seconds[2])).toBe(true);
    const wider = await route(capped, { model: "router-lat", prompt: texts, lambda: "inf", max_latency: 1000 });
    expect(wider.json.plan.latency).toEqual({ weight: 0, max_seconds: 1000 });
  });

  it("errors are one line naming the request field", async () => {
    const bad = await route(app, { model: "router-lat", prompt: "hi", latency_weight: -1 });
    expect(bad.status).toBe(400);
    expect(bad.json.error!.param).toBe("latency_weight");
    const type = await route(app, { model: "router-lat", prompt: "hi", max_latency: "fast" });
    expect(type.status).toBe(400);
    expect(type.json.error!.param).toBe("max_latency");
    const none = await route(app, { model: "router-lat", prompt: "hi", max_latency: 0.0001 });
    expect(none.status).toBe(400);
    expect(none.json.error!.param).toBe("max_latency");
    expect(none.json.error!.message).toMatch(/no model's expected latency fits the limit of 0\.0001 s/);
    const old = await route(app, { model: "router-plain", prompt: "hi", latency_weight: 0.001 });
    expect(old.status).toBe(400);
    expect(old.json.error!.param).toBe("latency_weight");
    expect(old.json.error!.message).toMatch(/records no expected latencies/);
    expect(old.json.error!.message.split("\n")).toHaveLength(1);
  });
});
