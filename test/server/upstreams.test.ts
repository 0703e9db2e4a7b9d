/** upstreams.yaml: validated with file, line and field; keys from the environment, never in messages; every pool model served. */
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { checkPoolsServed, loadUpstreams, parseUpstreams } from "../../src/upstream/config.js";
import { parseRoutingName } from "../../src/server/model-names.js";
import { rewriteSse } from "../../src/upstream/call.js";

const FILE = "upstreams.yaml";

describe("upstreams.yaml", () => {
  it("resolves entries: upstream id defaulting to the pool name, key from the environment, timeouts", () => {
    const text = ["models:", "  gpt-4:", "    baseUrl: https://api.example.com/v1/", "    apiKeyEnv: K1", "  local:", "    baseUrl: http://127.0.0.1:8000/v1", "    model: llama", "    timeoutSeconds: 5", "defaults:", "  timeoutSeconds: 30"].join("\n");
    const u = parseUpstreams(text, FILE, { K1: "secret" });
    expect(u.get("gpt-4")).toEqual({ name: "gpt-4", baseUrl: "https://api.example.com/v1", model: "gpt-4", timeoutMs: 30_000, apiKey: "secret", apiKeyEnv: "K1" });
    expect(u.get("local")).toMatchObject({ model: "llama", timeoutMs: 5000, apiKey: null });
  });

  it("names the file, line and field of a bad entry", () => {
    expect(() => parseUpstreams("models:\n  gpt-4:\n    baseUrl: ftp://x\n", FILE, {})).toThrow(/^upstreams.yaml, row 3, field "models.gpt-4.baseUrl": must be an http\(s\) URL/);
    expect(() => parseUpstreams("models:\n  gpt-4:\n    model: x\n", FILE, {})).toThrow(/row 3, field "models.gpt-4.baseUrl"/);
    expect(() => parseUpstreams("models:\n  gpt-4:\n    baseUrl: http://a\n    apikey: K\n", FILE, {})).toThrow(/field "models.gpt-4"/);
    expect(() => parseUpstreams("models: [\n", FILE, {})).toThrow(/^upstreams.yaml, row \d+: not valid YAML/);
    expect(() => parseUpstreams("models: {}\n", FILE, {})).toThrow(/name at least one model/);
  });

  it("refuses a key variable that is not set, naming the variable and never a value", () => {
    const text = "models:\n  gpt-4:\n    baseUrl: http://a\n    apiKeyEnv: OPENAI_API_KEY\n";
    expect(() => parseUpstreams(text, FILE, {})).toThrow('upstreams.yaml, row 4, field "models.gpt-4.apiKeyEnv": environment variable OPENAI_API_KEY (the key for "gpt-4") is not set');
  });

  it("stops start-up when a pool model has no upstream", () => {
    const u = parseUpstreams("models:\n  a:\n    baseUrl: http://a\n", FILE, {});
    expect(() => checkPoolsServed(u, [{ name: "r1", pool: ["a", "b", "c"] }], FILE)).toThrow('upstreams.yaml, field "models": router "r1" may route to "b", "c", which have no upstream; add them under models (has: a)');
    expect(() => checkPoolsServed(u, [{ name: "r1", pool: ["a"] }], FILE)).not.toThrow();
  });

  it("the shipped example serves every model of the example router's pool", async () => {
    const file = "models/upstreams.example.yaml";
    const env = { OPENAI_API_KEY: "k1", ANTHROPIC_API_KEY: "k2", TOGETHER_API_KEY: "k3" };
    const u = await loadUpstreams(file, env);
    const pool = (JSON.parse(await readFile("models/example-linear/router.json", "utf8")) as { pool: { model: string }[] }).pool.map((p) => p.model);
    expect(() => checkPoolsServed(u, [{ name: "example-linear", pool }], file)).not.toThrow();
    expect(u.get("claude-v2")).toMatchObject({ baseUrl: "https://api.anthropic.com/v1", model: "claude-2.1", apiKey: "k2" });
  });
});

describe("routing names", () => {
  it("router-<name> is the default point, router-<name>@<budget> a budget", () => {
    expect(parseRoutingName("router-linear")).toEqual({ router: "linear", at: "default" });
    expect(parseRoutingName("router-my.router@0.002")).toEqual({ router: "my.router", at: { target: { budget: 0.002 } } });
    expect(parseRoutingName("gpt-4")).toBeNull();
    expect(() => parseRoutingName("router-x@-1")).toThrow(/field "model"/);
  });
});

describe("server-sent events", () => {
  it("sets each data event's model and leaves other lines alone", () => {
    const text = 'data: {"model":"up-x","choices":[]}\n\n: keep-alive\ndata: [DONE]\n\n';
    expect(rewriteSse(text, "x")).toBe('data: {"model":"x","choices":[]}\n\n: keep-alive\ndata: [DONE]\n\n');
  });
});
