/**
 * `routekit serve` as a user runs it: the shipped example router (use-lite) behind the built CLI,
 * a fake upstream on 127.0.0.1 for every pool model; chat (streaming and not), /v1/route without
 * an upstream call, start-up refusals, and SIGTERM letting an in-flight request finish.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeOpenAI, type FakeOpenAI } from "../../bench/fake-openai.js";
import { CLI, runCli } from "../helpers/cli.js";

const ROUTER = "models/example-linear";
let root = "";
let fake: FakeOpenAI;
let upstreams = "";
let pool: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "routekit-serve-cli-"));
  fake = await startFakeOpenAI();
  pool = (JSON.parse(await readFile(join(ROUTER, "router.json"), "utf8")) as { pool: { model: string }[] }).pool.map((p) => p.model);
  upstreams = join(root, "upstreams.yaml");
  await writeFile(upstreams, ["models:", ...pool.flatMap((m) => [`  ${JSON.stringify(m)}:`, `    baseUrl: ${fake.baseUrl}`, "    apiKeyEnv: FAKE_KEY"])].join("\n"));
});
afterAll(async () => {
  await fake?.close();
  await rm(root, { recursive: true, force: true });
});

/** Start `routekit serve`; resolves with its URL once it says it is serving. */
function serve(args: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string; exit: Promise<number> }> {
  const child = spawn(process.execPath, [CLI, "serve", ...args], { env: { ...process.env, FAKE_KEY: "k" }, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  const exit = new Promise<number>((r) => child.on("close", (code) => r(code ?? -1)));
  return new Promise((resolve, reject) => {
    child.stderr!.on("data", (d) => {
      err += d;
      const m = /serving .* on (http:\/\/\S+) /.exec(err);
      if (m) resolve({ child, url: m[1], stderr: () => err, exit });
    });
    void exit.then((code) => reject(new Error(`serve exited with ${code}: ${err}`)));
  });
}

const chat = (url: string, body: Record<string, unknown>) => fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "router-example-linear", ...body }) });

describe("routekit serve", () => {
  it("serves the example router: chat streaming and not, /v1/route without upstream calls; SIGTERM drains", async () => {
    const { child, url, exit } = await serve(["--router", ROUTER, "--upstreams", upstreams, "--port", "0", "--log-level", "silent"]);
    try {
      const messages = [{ role: "user", content: "What is the derivative of x squared?" }];
      const plain = await chat(url, { messages });
      expect(plain.status).toBe(200);
      const model = plain.headers.get("x-routekit-model")!;
      expect(pool).toContain(model);
      expect(((await plain.json()) as { model: string }).model).toBe(model);
      expect(fake.received.at(-1)!.body.model).toBe(model);
      expect(fake.received.at(-1)!.authorization).toBe("Bearer k");

      const streamed = await chat(url, { messages, stream: true });
      expect(streamed.headers.get("x-routekit-model")).toBe(model);
      expect((await streamed.text()).trim().endsWith("data: [DONE]")).toBe(true);

      const before = fake.received.length;
      const route = await fetch(`${url}/v1/route`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "router-example-linear", prompt: ["What is the derivative of x squared?", "Write a haiku."] }) });
      const decisions = ((await route.json()) as { decisions: { model: string }[] }).decisions;
      expect(decisions[0].model).toBe(model);
      expect(decisions).toHaveLength(2);
      expect(fake.received.length).toBe(before);

      // An in-flight request finishes after SIGTERM; then the process exits 0.
      fake.set(model, { kind: "ok", delayMs: 1500 });
      const inFlight = chat(url, { messages });
      await new Promise((r) => setTimeout(r, 400));
      child.kill("SIGTERM");
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(await exit).toBe(0);
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    } finally {
      fake.set(pool[0], { kind: "ok" });
      child.kill("SIGKILL");
    }
  }, 120_000);

  it("refuses to start when a pool model has no upstream or a key is unset, in one line, before loading the encoder", async () => {
    const partial = join(root, "partial.yaml");
    await writeFile(partial, `models:\n  ${JSON.stringify(pool[0])}:\n    baseUrl: ${fake.baseUrl}\n`);
    const missing = await runCli(["serve", "--router", ROUTER, "--upstreams", partial, "--port", "0"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toContain('router "example-linear" may route to');
    const unset = await runCli(["serve", "--router", ROUTER, "--upstreams", upstreams, "--port", "0"], { env: { FAKE_KEY: "" } });
    expect(unset.code).toBe(1);
    expect(unset.stderr).toContain("environment variable FAKE_KEY");
  });

  it("--latency-weight / --max-latency: a bad value or a router without expected latencies is one line, before loading", async () => {
    const bad = await runCli(["serve", "--router", ROUTER, "--upstreams", upstreams, "--port", "0", "--latency-weight", "fast"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/--latency-weight/);
    const old = await runCli(["serve", "--router", ROUTER, "--upstreams", upstreams, "--port", "0", "--max-latency", "2"]);
    expect(old.code).toBe(1);
    expect(old.stderr.trim().split("\n")).toHaveLength(1);
    expect(old.stderr).toMatch(/router\.json.*no expected latency/);
    const help = await runCli(["serve", "--help"]);
    expect(help.stdout).toMatch(/--latency-weight/);
    expect(help.stdout).toMatch(/--max-latency/);
  });
});
