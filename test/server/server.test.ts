/**
 * The routing server on 127.0.0.1 in front of a fake OpenAI-compatible upstream that records
 * what it receives: chat and completions, streaming and not, decisions-only routing, errors in
 * OpenAI's shape, upstream failures and timeouts, concurrent clients sharing batches, metrics,
 * and the official `openai` client pointed at it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import type { FastifyInstance } from "fastify";
import { readOutcomeTable } from "../../src/data/arrow-io.js";
import { trainAndSave } from "../../src/index.js";
import { buildServer, parseUpstreams } from "../../src/server/index.js";
import { RoutingSession } from "../../src/workflow/session.js";
import { startFakeOpenAI, type FakeOpenAI } from "../../bench/fake-openai.js";

// Response bodies are read field by field as a client would; their shape is what the tests check.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const KEY = "sk-test-secret-0123456789";
let root = "";
let dir = "";
let fake: FakeOpenAI;
let app: FastifyInstance;
let url = "";
let pool: readonly string[] = [];
/** A second session on the same router, to check the server decides as the library does. */
let reference: RoutingSession;

/** Upstream model id of a pool model: different from its name, to see the rename happen. */
const upstreamId = (model: string) => `up-${model.replace(/[^A-Za-z0-9]/g, "-")}`;

function upstreamsYaml(models: readonly string[], baseUrl: string, timeoutSeconds = 5): string {
  return [
    "models:",
    ...models.flatMap((m) => [`  ${JSON.stringify(m)}:`, `    baseUrl: ${baseUrl}`, `    model: ${upstreamId(m)}`, "    apiKeyEnv: FAKE_KEY"]),
    "defaults:",
    `  timeoutSeconds: ${timeoutSeconds}`,
  ].join("\n");
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Json; headers: Headers }> {
  const res = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Json, headers: res.headers };
}

/** The model the router picks for one prompt at its default point, asked of the library directly. */
async function expectedModel(text: string): Promise<string> {
  return (await reference.route({ texts: [text] }, "default")).routed[0].model;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "routekit-serve-"));
  dir = join(root, "linear");
  const table = await readOutcomeTable("data/default.arrow");
  await trainAndSave(table, dir, { spec: "linear:alpha=1", seed: 7, embedder: "hash", cacheDir: false, validationFraction: 0.3 });
  fake = await startFakeOpenAI();
  const session = await RoutingSession.open(dir, { memo: 100 });
  reference = await RoutingSession.open(dir);
  pool = session.pool;
  const upstreams = parseUpstreams(upstreamsYaml(pool, fake.baseUrl, 1), "upstreams.yaml", { FAKE_KEY: KEY });
  app = buildServer({ routers: [{ name: "linear", session }], upstreams, bodyLimit: 64 * 1024 });
  url = await app.listen({ port: 0, host: "127.0.0.1" });
}, 120_000);

afterAll(async () => {
  await app?.close();
  await reference?.close();
  await fake?.close();
  await rm(root, { recursive: true, force: true });
});

describe("chat completions", () => {
  it("routes, forwards to the chosen model's upstream with its key, and names the model used", async () => {
    const text = "What is the capital of France? Answer with one word.";
    const want = await expectedModel(text);
    const before = fake.received.length;
    const messages = [
      { role: "system", content: "Be brief." },
      { role: "user", content: text },
    ];
    const { status, json, headers } = await post("/v1/chat/completions", { model: "router-linear", messages, temperature: 0.2 });
    expect(status).toBe(200);
    expect(json.model).toBe(want);
    expect(json.choices[0].message.content).toBe(`answer from ${upstreamId(want)}`);
    expect(headers.get("x-routekit-model")).toBe(want);
    expect(headers.get("x-routekit-router")).toBe("router-linear");
    expect(Number(headers.get("x-routekit-expected-cost"))).toBe(reference.expectedCost(want));
    expect(fake.received.length).toBe(before + 1);
    const got = fake.received.at(-1)!;
    expect(got.path).toBe("/v1/chat/completions");
    expect(got.authorization).toBe(`Bearer ${KEY}`);
    // Everything but the model name passes through untouched.
    expect(got.body).toEqual({ model: upstreamId(want), messages, temperature: 0.2 });
  });

  it("routes on the last user message, and reads text parts of content arrays", async () => {
    const text = "Write a Python function that reverses a linked list.";
    const want = await expectedModel(text);
    const { status, json } = await post("/v1/chat/completions", {
      model: "router-linear",
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "hello" },
        { role: "user", content: [{ type: "text", text }] },
      ],
    });
    expect(status).toBe(200);
    expect(json.model).toBe(want);
  });

  it("streams the upstream's events through one by one, each naming the routed model", async () => {
    const text = "Explain photosynthesis to a child.";
    const want = await expectedModel(text);
    fake.set(upstreamId(want), { kind: "ok", chunkDelayMs: 150 });
    try {
      const t0 = performance.now();
      const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "router-linear", stream: true, messages: [{ role: "user", content: text }] }) });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
      expect(res.headers.get("x-routekit-model")).toBe(want);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let all = "";
      const arrivals: number[] = [];
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        all += decoder.decode(value, { stream: true });
        arrivals.push(performance.now() - t0);
      }
      // Passed through as they come: the first event arrives well before the last (3 x 150 ms apart).
      expect(arrivals.length).toBeGreaterThan(1);
      expect(arrivals[arrivals.length - 1] - arrivals[0]).toBeGreaterThan(200);
      const data = all.split("\n").filter((l) => l.startsWith("data: "));
      expect(data.at(-1)).toBe("data: [DONE]");
      const chunks = data.slice(0, -1).map((l) => JSON.parse(l.slice(6)));
      expect(chunks.map((c) => c.model)).toEqual([want, want, want]);
      expect(chunks.map((c) => c.choices[0].delta.content).join("")).toBe("Hello from the model");
    } finally {
      fake.set(upstreamId(want), { kind: "ok" });
    }
  });
});

describe("completions", () => {
  it("forwards a completion, streaming and not", async () => {
    const prompt = "Once upon a time";
    const want = await expectedModel(prompt);
    const plain = await post("/v1/completions", { model: "router-linear", prompt, max_tokens: 5 });
    expect(plain.status).toBe(200);
    expect(plain.json.model).toBe(want);
    expect(plain.json.choices[0].text).toBe(`answer from ${upstreamId(want)}`);
    expect(fake.received.at(-1)!.path).toBe("/v1/completions");
    expect(fake.received.at(-1)!.body).toEqual({ model: upstreamId(want), prompt, max_tokens: 5 });
    const res = await fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "router-linear", prompt: [prompt], stream: true }) });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toContain(`"model":"${want}"`);
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);
  });

  it("refuses several prompts in one completion request (route them with /v1/route)", async () => {
    const r = await post("/v1/completions", { model: "router-linear", prompt: ["a", "b"] });
    expect(r.status).toBe(400);
    expect(r.json.error.param).toBe("prompt");
  });
});

describe("/v1/route", () => {
  it("answers decisions for a batch without calling any upstream", async () => {
    const before = fake.received.length;
    const prompts = ["What is 2 + 2?", "Translate 'cat' into French.", "Prove that there are infinitely many primes."];
    const { status, json } = await post("/v1/route", { model: "router-linear", prompt: prompts });
    expect(status).toBe(200);
    expect(fake.received.length).toBe(before);
    const lib = await reference.route({ texts: prompts }, "default");
    expect(json.decisions.map((d: { model: string }) => d.model)).toEqual(lib.routed.map((r) => r.model));
    expect(json.decisions[0].quality).toEqual(lib.routed[0].quality);
    expect(json.plan.mode).toBe("target");
    expect(json.plan.defaulted).toBe("best-quality point");
  });

  it("routes at a budget from the model name or the body, and at a lambda", async () => {
    const ops = reference.operatingPoints!.points;
    const cheapest = ops[0];
    const byName = await post("/v1/route", { model: `router-linear@${cheapest.cost}`, prompt: "Summarise the plot of Hamlet." });
    expect(byName.status).toBe(200);
    expect(byName.json.plan.expected_cost).toBeCloseTo(cheapest.cost, 12);
    const byBody = await post("/v1/route", { model: "router-linear", prompt: "Summarise the plot of Hamlet.", budget: cheapest.cost });
    expect(byBody.json.plan).toEqual(byName.json.plan);
    const cheap = await post("/v1/route", { model: "router-linear", prompt: ["a question", "another question"], lambda: 0 });
    const cheapestModel = pool[reference.router.expectedCosts.indexOf(Math.min(...reference.router.expectedCosts))];
    expect(cheap.json.decisions.map((d: { model: string }) => d.model)).toEqual([cheapestModel, cheapestModel]);
    const best = await post("/v1/route", { model: "router-linear", prompt: "a question", lambda: "inf" });
    expect(best.json.decisions[0].lambda).toBe("inf");
  });

  it("says what is wrong with a bad routing request", async () => {
    const both = await post("/v1/route", { model: "router-linear", prompt: "x", messages: [{ role: "user", content: "x" }] });
    expect(both.status).toBe(400);
    const evals = await post("/v1/route", { model: "router-linear", prompt: ["a", "b"], eval: ["mmlu"] });
    expect(evals.status).toBe(400);
    expect(evals.json.error.param).toBe("eval");
    const share = await post("/v1/route", { model: "router-linear", prompt: "a", max_share: { "no-such-model": 0.5 } });
    expect(share.status).toBe(400);
    expect(share.json.error.message).toContain("no-such-model");
    const extra = await post("/v1/route", { model: "router-linear", prompt: "a", temprature: 1 });
    expect(extra.status).toBe(400);
    expect(extra.json.error.message).toContain("temprature");
  });
});

describe("errors in OpenAI's shape", () => {
  const shape = (json: Json) => {
    expect(typeof json.error.message).toBe("string");
    expect(typeof json.error.type).toBe("string");
    expect("param" in json.error && "code" in json.error).toBe(true);
  };

  it("invalid JSON, missing messages, a body over the limit, an unknown model, a bad budget", async () => {
    const bad = await post("/v1/chat/completions", "{not json");
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/not valid JSON/);
    shape(bad.json);
    const missing = await post("/v1/chat/completions", { model: "router-linear" });
    expect(missing.status).toBe(400);
    expect(missing.json.error.param).toBe("messages");
    shape(missing.json);
    const wrongType = await post("/v1/chat/completions", { model: "router-linear", messages: [{ role: "user", content: "x" }], stream: "yes" });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.error.param).toBe("stream");
    const big = await post("/v1/chat/completions", { model: "router-linear", messages: [{ role: "user", content: "x".repeat(70 * 1024) }] });
    expect(big.status).toBe(413);
    shape(big.json);
    const unknown = await post("/v1/chat/completions", { model: "gpt-4", messages: [{ role: "user", content: "x" }] });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe("model_not_found");
    expect(unknown.json.error.message).toContain("router-linear");
    const budget = await post("/v1/chat/completions", { model: "router-linear@cheap", messages: [{ role: "user", content: "x" }] });
    expect(budget.status).toBe(400);
    expect(budget.json.error.param).toBe("model");
    const empty = await post("/v1/chat/completions", { model: "router-linear", messages: [{ role: "user", content: "  " }] });
    expect(empty.status).toBe(400);
    const nowhere = await fetch(`${url}/v2/nothing`);
    expect(nowhere.status).toBe(404);
    shape((await nowhere.json()) as Json);
  });

  it("an upstream failure is 502, a timeout 504, the client's own 4xx passes through; the key is never echoed", async () => {
    const text = "Tell me a joke about routers.";
    const up = upstreamId(await expectedModel(text));
    const chat = () => post("/v1/chat/completions", { model: "router-linear", messages: [{ role: "user", content: text }] });
    try {
      fake.set(up, { kind: "status", status: 500, message: "boom" });
      const e500 = await chat();
      expect(e500.status).toBe(502);
      expect(e500.json.error.message).toContain("500: boom");
      fake.set(up, { kind: "status", status: 401, message: "bad key" });
      expect((await chat()).status).toBe(502);
      fake.set(up, { kind: "status", status: 400, message: "max_tokens too large" });
      const e400 = await chat();
      expect(e400.status).toBe(400);
      expect(e400.json.error.message).toContain("max_tokens too large");
      fake.set(up, { kind: "drop" });
      const dropped = await chat();
      expect(dropped.status).toBe(502);
      expect(dropped.json.error.code).toBe("upstream_error");
      fake.set(up, { kind: "hang" });
      const slow = await chat();
      expect(slow.status).toBe(504);
      expect(slow.json.error.code).toBe("upstream_timeout");
      for (const r of [e500, e400, dropped, slow]) expect(JSON.stringify(r.json)).not.toContain(KEY);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/routekit_upstream_errors_total\{model="[^"]+",kind="timeout"\} 1/);
      expect(metrics).toMatch(/routekit_upstream_errors_total\{model="[^"]+",kind="500"\} 1/);
      expect(metrics).not.toContain(KEY);
    } finally {
      fake.set(up, { kind: "ok" });
    }
  });

  it("a slow upstream within its timeout still answers", async () => {
    const text = "Describe the water cycle.";
    const up = upstreamId(await expectedModel(text));
    fake.set(up, { kind: "ok", delayMs: 400 });
    try {
      const r = await post("/v1/chat/completions", { model: "router-linear", messages: [{ role: "user", content: text }] });
      expect(r.status).toBe(200);
    } finally {
      fake.set(up, { kind: "ok" });
    }
  });
});

describe("concurrency, models, health, metrics", () => {
  it("64 concurrent clients get the decisions a lone client gets, sharing batches", async () => {
    const texts = Array.from({ length: 64 }, (_, i) => `Question number ${i}: what is ${i} squared?`);
    const lib = await reference.route({ texts }, "default");
    const answers = await Promise.all(texts.map((t) => post("/v1/route", { model: "router-linear", prompt: t })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.map((a) => a.json.decisions[0].model)).toEqual(lib.routed.map((r) => r.model));
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const count = Number(/routekit_batch_prompts_count\{router="linear"\} (\d+)/.exec(metrics)![1]);
    const sum = Number(/routekit_batch_prompts_sum\{router="linear"\} (\d+)/.exec(metrics)![1]);
    // Some batch held more than one request's prompt.
    expect(sum / count).toBeGreaterThan(1);
  });

  it("lists routing names, answers health checks and exports Prometheus metrics", async () => {
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { object: string; data: { id: string }[] };
    expect(models.object).toBe("list");
    expect(models.data.map((m) => m.id)).toEqual(["router-linear"]);
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: "ok", routers: ["router-linear"] });
    const res = await fetch(`${url}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/routekit_requests_total\{endpoint="\/v1\/chat\/completions",status="200"\} \d+/);
    expect(text).toMatch(/routekit_decisions_total\{router="linear",model="[^"]+"\} \d+/);
    expect(text).toMatch(/routekit_routing_seconds_bucket\{le="0.1",router="linear"\} \d+/);
    expect(text).toMatch(/routekit_estimated_spend_usd_total\{router="linear",model="[^"]+"\} [0-9.e-]+/);
    // the process's own CPU and memory, under the same prefix (the benchmark reads them)
    expect(text).toMatch(/^routekit_process_cpu_seconds_total [0-9.e+-]+$/m);
    expect(text).toMatch(/^routekit_process_resident_memory_bytes \d+$/m);
  });
});

describe("the official openai client", () => {
  it("chats, streams and lists models through the server", async () => {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused-by-the-router", maxRetries: 0 });
    const text = "Which planet is the largest?";
    const want = await expectedModel(text);
    const done = await client.chat.completions.create({ model: "router-linear", messages: [{ role: "user", content: text }] });
    expect(done.model).toBe(want);
    expect(done.choices[0].message.content).toBe(`answer from ${upstreamId(want)}`);
    const stream = await client.chat.completions.create({ model: "router-linear", messages: [{ role: "user", content: text }], stream: true });
    let content = "";
    for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? "";
    expect(content).toBe("Hello from the model");
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toContain("router-linear");
    await expect(client.chat.completions.create({ model: "gpt-4", messages: [{ role: "user", content: "x" }] })).rejects.toMatchObject({ status: 404 });
  });
});
