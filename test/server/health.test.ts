/**
 * Live model health: the availability mask in the one routing rule (no mask: bitwise as before),
 * the circuit breaker on a fake clock, and the server in front of a fake upstream whose chosen
 * model starts failing and later recovers: traffic moves away from it and back, no client request
 * fails while another model could answer, and /metrics shows it unhealthy, then healthy.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { synthesize } from "../../src/data/synth/index.js";
import { trainAndSave } from "../../src/workflow/train.js";
import { RoutingSession } from "../../src/workflow/session.js";
import { routeAt } from "../../src/routers/routing.js";
import { buildServer, parseUpstreams } from "../../src/server/index.js";
import { DEFAULT_HEALTH, HealthTracker } from "../../src/server/health.js";
import { startFakeOpenAI, type FakeOpenAI } from "../../bench/fake-openai.js";

describe("the availability mask in the routing rule", () => {
  const n = 200;
  const m = 5;
  let x = 12345;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const quality = Float64Array.from({ length: n * m }, () => (rand() < 0.05 ? NaN : Math.round(rand() * 8) / 8));
  const costs = Float64Array.from({ length: m }, () => Math.round(rand() * 4) / 100);
  const lambdas = [0, 0.01, 0.05, 1, Infinity];

  it("with every model available, every decision is bitwise as without a mask", () => {
    for (const l of lambdas) {
      const plain = routeAt(quality, costs, m, l);
      expect(routeAt(quality, costs, m, l, undefined, new Array<boolean>(m).fill(true))).toEqual(plain);
      const latency = { seconds: Float64Array.from({ length: m }, (_, j) => j + 1), weight: 0.001, maxSeconds: 4 };
      expect(routeAt(quality, costs, m, l, latency, new Array<boolean>(m).fill(true))).toEqual(routeAt(quality, costs, m, l, latency));
    }
  });

  it("an excluded model is routed as if it were not in the pool: the same rule over the rest", () => {
    for (const l of lambdas) {
      for (let out = 0; out < m; out++) {
        const mask = Array.from({ length: m }, (_, j) => j !== out);
        const keep = mask.flatMap((a, j) => (a ? [j] : []));
        const subQ = Float64Array.from({ length: n * keep.length }, (_, k) => quality[Math.floor(k / keep.length) * m + keep[k % keep.length]]);
        const sub = routeAt(subQ, Float64Array.from(keep, (j) => costs[j]), keep.length, l);
        const masked = routeAt(quality, costs, m, l, undefined, mask);
        expect(Array.from(masked)).toEqual(Array.from(sub, (k) => keep[k]));
        expect(masked.includes(out)).toBe(false);
      }
    }
    expect(() => routeAt(quality, costs, m, 1, undefined, new Array<boolean>(m).fill(false))).toThrow(/no model is available/);
  });
});

describe("the circuit breaker", () => {
  it("opens after consecutive failures, lets one probe through after the cool-down, closes on its success", () => {
    let now = 0;
    const h = new HealthTracker(["a", "b"], { failures: 2, coolDownSeconds: 1 }, () => now);
    expect(h.options.window).toBe(DEFAULT_HEALTH.window);
    h.release("a", { ok: false });
    expect(h.excluded()).toEqual([]);
    h.release("a", { ok: false });
    expect(h.excluded()).toEqual(["a"]);
    expect(h.acquire("a")).toBe(false);
    now = 1500;
    expect(h.excluded()).toEqual([]);
    expect(h.acquire("a")).toBe(true); // the probe
    expect(h.acquire("a")).toBe(false); // one at a time
    h.release("a", { ok: false }); // the probe failed: another cool-down
    expect(h.excluded()).toEqual(["a"]);
    now = 2000;
    expect(h.excluded()).toEqual(["a"]);
    now = 2600;
    expect(h.acquire("a")).toBe(true);
    h.release("a", { ok: true, seconds: 0.5 });
    expect(h.snapshot().find((s) => s.model === "a")).toMatchObject({ state: "healthy", consecutiveFailures: 0, latencyEma: 0.5, requests: 4, failures: 3 });
    // A client hang-up releases the probe without a verdict.
    h.release("b", null);
    expect(h.snapshot().find((s) => s.model === "b")).toMatchObject({ state: "healthy", requests: 0 });
  });

  it("opens on the error rate over its window, and counts a call slower than the limit as failed", () => {
    let now = 0;
    const h = new HealthTracker(["a"], { failures: 100, window: 4, errorRate: 0.5, slowSeconds: 2, latencyAlpha: 0.5 }, () => now);
    h.release("a", { ok: true, seconds: 1 });
    h.release("a", { ok: true, seconds: 1 });
    h.release("a", { ok: false });
    expect(h.excluded()).toEqual([]);
    h.release("a", { ok: true, seconds: 3 }); // slow: 2 of the last 4 failed
    expect(h.excluded()).toEqual(["a"]);
    expect(h.snapshot()[0].latencyEma).toBe(0.5 * 3 + 0.5 * 1);
    now = 1e9;
    expect(h.snapshot()[0].state).toBe("half-open");
  });
});

describe("upstreams.yaml health section", () => {
  it("is read and checked", () => {
    const ok = parseUpstreams("models:\n  a:\n    baseUrl: http://127.0.0.1:1/v1\nhealth:\n  failures: 2\n  coolDownSeconds: 0.2\n", "u.yaml");
    expect(ok.health).toEqual({ failures: 2, coolDownSeconds: 0.2 });
    expect(parseUpstreams("models:\n  a:\n    baseUrl: http://127.0.0.1:1/v1\n", "u.yaml").health).toBeUndefined();
    expect(() => parseUpstreams("models:\n  a:\n    baseUrl: http://127.0.0.1:1/v1\nhealth:\n  errorRate: 2\n", "u.yaml")).toThrow(/health\.errorRate/);
    expect(() => parseUpstreams("models:\n  a:\n    baseUrl: http://127.0.0.1:1/v1\nhealth:\n  failure: 2\n", "u.yaml")).toThrow();
  });
});

describe("the server routes around a failing model and back", () => {
  let root = "";
  let fake: FakeOpenAI;
  let app: FastifyInstance;
  let reference: RoutingSession;
  let url = "";
  let pool: readonly string[] = [];
  const texts = synthesize({ prompts: 40, seed: 8 }).texts;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "rk-serve-health-"));
    const table = synthesize({ prompts: 300, seed: 6 });
    await trainAndSave(table, join(root, "r"), { spec: "linear:alpha=1", seed: 2, embedder: "hash", cacheDir: false, validationFraction: 0.2 });
    fake = await startFakeOpenAI();
    const session = await RoutingSession.open(join(root, "r"), { memo: 100 });
    reference = await RoutingSession.open(join(root, "r"));
    pool = session.pool;
    const yaml = ["models:", ...pool.flatMap((m) => [`  ${JSON.stringify(m)}:`, `    baseUrl: ${fake.baseUrl}`]), "defaults:", "  timeoutSeconds: 2", "health:", "  failures: 2", "  coolDownSeconds: 1"].join("\n");
    app = buildServer({ routers: [{ name: "r", session }], upstreams: parseUpstreams(yaml, "upstreams.yaml") });
    url = await app.listen({ port: 0, host: "127.0.0.1" });
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await reference?.close();
    await fake?.close();
    await rm(root, { recursive: true, force: true });
  });

  const chat = async (text: string, stream = false) => {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "router-r", messages: [{ role: "user", content: text }], ...(stream ? { stream: true } : {}) }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = await res.text();
    return { status: res.status, model: res.headers.get("x-routekit-model"), retriedFrom: res.headers.get("x-routekit-retried-from"), body };
  };
  const metric = async (name: string, model: string) => {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const m = new RegExp(`^${name}\\{model="${model.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"\\} (\\S+)$`, "m").exec(text);
    return m ? Number(m[1]) : null;
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it(
    "moves traffic away from A while it fails (500, then dropped connections) and back after it recovers; no client request fails",
    async () => {
      // A: the model the router picks for most of these prompts; B: its pick with A left out.
      const decided = (await reference.route({ texts }, "default")).routed.map((d) => d.model);
      const counts = new Map<string, number>();
      for (const d of decided) counts.set(d, (counts.get(d) ?? 0) + 1);
      const a = [...counts].sort((x, y) => y[1] - x[1])[0][0];
      const mine = texts.filter((_, i) => decided[i] === a);
      expect(mine.length).toBeGreaterThanOrEqual(4);
      const next = (await reference.routeMany([{ texts: mine, at: "default", exclude: [a] }]))[0].routed.map((d) => d.model);
      expect(next).not.toContain(a);
      // The routing session with nothing excluded decides as without the option.
      expect((await reference.routeMany([{ texts, at: "default", exclude: [] }]))[0].routed.map((d) => d.model)).toEqual(decided);

      // Healthy: A answers.
      expect(await chat(mine[0])).toMatchObject({ status: 200, model: a, retriedFrom: null });
      expect(await metric("routekit_model_healthy", a)).toBe(1);

      // A fails: the first two calls fail on A and are retried on the next model; then A is routed around.
      fake.set(a, { kind: "status", status: 500 });
      const failing = [];
      for (let i = 0; i < 2; i++) failing.push(await chat(mine[i]));
      expect(failing.map((r) => [r.status, r.model, r.retriedFrom])).toEqual([0, 1].map((i) => [200, next[i], a]));
      expect(await metric("routekit_model_healthy", a)).toBe(0);
      expect(await metric("routekit_model_consecutive_failures", a)).toBe(2);
      const callsToA = fake.received.filter((r) => r.body.model === a).length;
      const around = await Promise.all(mine.map((t) => chat(t)));
      expect(around.map((r) => [r.status, r.model, r.retriedFrom])).toEqual(next.map((b) => [200, b, null]));
      expect(fake.received.filter((r) => r.body.model === a).length).toBe(callsToA);

      // After the cool-down one request probes A; A now drops the connection: retried, A stays out.
      fake.set(a, { kind: "drop" });
      await sleep(1100);
      expect(await chat(mine[0])).toMatchObject({ status: 200, model: next[0], retriedFrom: a });
      expect(fake.received.filter((r) => r.body.model === a).length).toBe(callsToA + 1);
      expect(await metric("routekit_model_healthy", a)).toBe(0);
      expect((await chat(mine[1])).model).toBe(next[1]);

      // A recovers: after the cool-down the probe succeeds and traffic returns to A.
      fake.set(a, { kind: "ok" });
      await sleep(1100);
      expect(await chat(mine[0])).toMatchObject({ status: 200, model: a, retriedFrom: null });
      expect(await metric("routekit_model_healthy", a)).toBe(1);
      expect(await metric("routekit_model_consecutive_failures", a)).toBe(0);
      const back = await Promise.all(mine.map((t) => chat(t, true)));
      expect(back.map((r) => [r.status, r.model])).toEqual(mine.map(() => [200, a]));
      expect(back[0].body).toContain("[DONE]");
      expect(await metric("routekit_model_upstream_failures_total", a)).toBe(3);
      expect(await metric("routekit_model_latency_ema_seconds", a)).toBeGreaterThan(0);
    },
    30_000,
  );

  it("a request fails only when no other model could answer: the retry is once, and a 4xx is not retried", async () => {
    const text = texts[0];
    const first = (await reference.route({ texts: [text] }, "default")).routed[0].model;
    fake.set(first, { kind: "status", status: 400, times: 1 });
    const bad = await chat(text);
    expect(bad.status).toBe(400);
    expect(await metric("routekit_model_healthy", first)).toBe(1);
  });
});
