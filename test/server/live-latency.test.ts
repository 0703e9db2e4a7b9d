/**
 * The latency term fed live: the health tracker's moving average of each model's served latency
 * (after enough calls, blended back to the training figure as it ages) replaces the training
 * figure in the rule; a server with a latency limit moves traffic off a model whose upstream
 * slows down and back once it is fast again; /v1/route leaves unhealthy models out.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { synthesize } from "../../src/data/synth/index.js";
import { trainAndSave } from "../../src/workflow/train.js";
import { RoutingSession } from "../../src/workflow/session.js";
import { buildServer, parseUpstreams } from "../../src/server/index.js";
import { HealthTracker } from "../../src/server/health.js";
import { startFakeOpenAI, type FakeOpenAI } from "../../bench/fake-openai.js";

describe("observed latencies", () => {
  it("count after latencyMinCalls timed calls, and fade back to the training figure as they age", () => {
    let now = 0;
    const h = new HealthTracker(["a", "b"], { latencyMinCalls: 2, latencyAlpha: 1, latencyMemorySeconds: 10 }, () => now);
    h.release("a", { ok: true, seconds: 3 });
    expect(h.observedLatencies().size).toBe(0);
    h.release("a", { ok: false }); // a failure is not timed
    expect(h.observedLatencies().size).toBe(0);
    h.release("a", { ok: true, seconds: 5 });
    expect(h.observedLatencies((m) => (m === "a" ? 1 : undefined))).toEqual(new Map([["a", 5]]));
    now = 10_000; // one memory later: weight e^-1 on the observation
    const w = Math.exp(-1);
    expect(h.observedLatencies(() => 1).get("a")).toBeCloseTo(w * 5 + (1 - w) * 1, 12);
    // Without a training figure the observation stands alone.
    expect(h.observedLatencies().get("a")).toBe(5);
  });
});

describe("the server's latency term follows served latency", () => {
  let root = "";
  let fake: FakeOpenAI;
  let app: FastifyInstance;
  let reference: RoutingSession;
  let url = "";
  const texts = synthesize({ prompts: 40, seed: 8 }).texts;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "rk-live-latency-"));
    // Every model 20 ms on the training rows: a 0.3 s limit leaves the whole pool in.
    const table = synthesize({ prompts: 300, seed: 6, latency: true });
    table.totalLatencyMs!.fill(20);
    await trainAndSave(table, join(root, "r"), { spec: "linear:alpha=1", seed: 2, embedder: "hash", cacheDir: false, validationFraction: 0.2 });
    fake = await startFakeOpenAI();
    const session = await RoutingSession.open(join(root, "r"), { memo: 100 });
    reference = await RoutingSession.open(join(root, "r"));
    const yaml = [
      "models:",
      ...session.pool.flatMap((m) => [`  ${JSON.stringify(m)}:`, `    baseUrl: ${fake.baseUrl}`]),
      "defaults:",
      "  timeoutSeconds: 5",
      "health:",
      "  failures: 2",
      "  coolDownSeconds: 60",
      "  latencyAlpha: 1",
      "  latencyMinCalls: 2",
      "  latencyMemorySeconds: 4",
    ].join("\n");
    app = buildServer({ routers: [{ name: "r", session }], upstreams: parseUpstreams(yaml, "upstreams.yaml"), latency: { maxSeconds: 0.3 } });
    url = await app.listen({ port: 0, host: "127.0.0.1" });
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await reference?.close();
    await fake?.close();
    await rm(root, { recursive: true, force: true });
  });

  const chat = async (text: string) => {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "router-r", messages: [{ role: "user", content: text }] }),
      signal: AbortSignal.timeout(10_000),
    });
    await res.text();
    return { status: res.status, model: res.headers.get("x-routekit-model") };
  };
  const route = async (text: string) => {
    const res = await fetch(`${url}/v1/route`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "router-r", prompt: text }), signal: AbortSignal.timeout(10_000) });
    return (await res.json()) as { decisions: { model: string }[]; plan: { latency?: { observed_seconds?: Record<string, number> } }; unavailable_models?: string[] };
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it(
    "a model whose upstream slows past the limit loses its traffic, and gets it back once fast again",
    async () => {
      const decided = (await reference.route({ texts }, "default", undefined, { maxSeconds: 0.3 })).routed.map((d) => d.model);
      const counts = new Map<string, number>();
      for (const d of decided) counts.set(d, (counts.get(d) ?? 0) + 1);
      const a = [...counts].sort((x, y) => y[1] - x[1])[0][0];
      const mine = texts.filter((_, i) => decided[i] === a);
      expect(mine.length).toBeGreaterThanOrEqual(3);
      const next = (await reference.routeMany([{ texts: mine, at: "default", exclude: [a] }]))[0].routed.map((d) => d.model);

      // A answers, slowly (0.8 s > the 0.3 s limit): two timed calls, then it is out of the rule's reach.
      // (One at a time: concurrent calls on a busy machine are timed slow too, as they would be live.)
      fake.set(a, { kind: "ok", delayMs: 800 });
      for (let i = 0; i < 2; i++) expect(await chat(mine[i])).toEqual({ status: 200, model: a });
      const moved = [];
      for (const t of mine) moved.push(await chat(t));
      expect(moved).toEqual(next.map((b) => ({ status: 200, model: b })));
      const shown = await route(mine[0]);
      expect(shown.decisions[0].model).toBe(next[0]);
      expect(shown.plan.latency?.observed_seconds?.[a]).toBeGreaterThan(0.3);
      // Health is not the issue: nothing failed.
      expect(shown.unavailable_models).toBeUndefined();

      // A is fast again; once its slow observation has faded (memory 4 s: weight e^-3.5 after 14 s), it is tried and kept.
      fake.set(a, { kind: "ok" });
      await sleep(14_000);
      expect(await chat(mine[0])).toEqual({ status: 200, model: a });
      expect(await chat(mine[1])).toEqual({ status: 200, model: a });
      expect((await route(mine[0])).decisions[0].model).toBe(a);
    },
    45_000,
  );

  it("requests with different observed latencies in one batch are each routed by their own", async () => {
    const plain = (await reference.route({ texts }, "default")).routed.map((d) => d.model);
    const a = plain[0];
    const slow = { texts, at: "default" as const, latency: { maxSeconds: 0.3, observedSeconds: new Map([[a, 1]]) } };
    const fast = { texts, at: "default" as const, latency: { maxSeconds: 0.3, observedSeconds: new Map([[a, 0.01]]) } };
    const alone = [(await reference.routeMany([slow]))[0], (await reference.routeMany([fast]))[0]].map((r) => r.routed.map((d) => d.model));
    expect(alone[0]).not.toContain(a);
    expect(alone[1]).toEqual(plain);
    const together = (await reference.routeMany([slow, fast])).map((r) => r.routed.map((d) => d.model));
    expect(together).toEqual(alone);
    // The decision reports the figure it used.
    expect((await reference.routeMany([fast]))[0].routed[0].expectedLatency).toBe(0.01);
  });

  it("/v1/route leaves an unhealthy model out of its decisions", async () => {
    const text = texts[0];
    const first = (await route(text)).decisions[0].model;
    fake.set(first, { kind: "status", status: 500 });
    // Two failed calls (each retried on the next model) mark it unhealthy.
    for (let i = 0; i < 2; i++) expect((await chat(text)).status).toBe(200);
    const after = await route(text);
    expect(after.unavailable_models).toEqual([first]);
    expect(after.decisions[0].model).not.toBe(first);
    fake.set(first, { kind: "ok" });
  });
});
