import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FakeEmbeddings, startFakeEmbeddings } from "../../bench/embed-remote.js";
import { EmbeddingCache } from "../../src/embed/cache.js";
import { DEFAULT_PREPARATION, type Embedder } from "../../src/embed/embedder.js";
import { embedTexts } from "../../src/embed/embed-table.js";
import { type OpenAIEmbedderOptions, createOpenAIEmbedder, openaiEmbedderId, openaiOptionsFromEnv, parseOpenAISpec, requestBatches, retryAfterMs } from "../../src/embed/openai.js";
import { PartialEmbedError } from "../../src/embed/partial.js";
import { createEmbedder, embedderIdOf, parseEmbedderSpec } from "../../src/embed/registry.js";
import { runCli } from "../helpers/cli.js";
import { checkContract } from "./contract.js";

let fake: FakeEmbeddings;
let root: string;
const FAST: OpenAIEmbedderOptions = { apiKey: "", backoffMs: 1, maxBackoffMs: 5, timeoutMs: 5_000 };
const texts = (n: number, tag = "t") => Array.from({ length: n }, (_, i) => `${tag} prompt number ${i} about ${i % 7 === 0 ? "math" : "code"}`);

/** The fake's vector for a text, L2-normalised as the client stores it. */
function expected(text: string): Float32Array {
  const v = fake.vectorOf(text === "" ? " " : text);
  const n = Math.hypot(...v);
  return Float32Array.from(v, (x) => x / n);
}
function expectRows(got: Float32Array, input: readonly string[], dim: number): void {
  expect(got.length).toBe(input.length * dim);
  input.forEach((t, i) => {
    const want = expected(t);
    for (let j = 0; j < dim; j++) expect(Math.abs(got[i * dim + j] - want[j]), `row ${i} col ${j}`).toBeLessThan(1e-6);
  });
}
/** The requests after the probe (the probe is the first request an embedder makes). */
const sizes = () => fake.received.filter((r) => r.input[0] !== "dimension probe").map((r) => r.input.length);
const make = (o: OpenAIEmbedderOptions = {}) => createOpenAIEmbedder("fake-model", fake.baseUrl, { ...FAST, ...o });
/** The error an embed call ends with. */
async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a failure");
}

beforeAll(async () => {
  fake = await startFakeEmbeddings({ dimension: 24 });
  root = await mkdtemp(join(tmpdir(), "rk-openai-emb-"));
});
afterAll(async () => {
  await fake.close();
  await rm(root, { recursive: true, force: true });
});
beforeEach(() => fake.reset());

describe("openai: spec", () => {
  it("parses model and base URL into a canonical id, known without a request", async () => {
    expect(parseOpenAISpec("openai:text-embedding-3-small@https://API.openai.com/v1/")).toEqual({ model: "text-embedding-3-small", baseUrl: "https://api.openai.com/v1" });
    expect(parseOpenAISpec("openai:BAAI/bge-small-en-v1.5@http://tei.internal:8080/v1/embeddings")).toEqual({ model: "BAAI/bge-small-en-v1.5", baseUrl: "http://tei.internal:8080/v1" });
    expect(parseEmbedderSpec("openai:m@http://h:1/v1")).toEqual({ kind: "openai", model: "m", baseUrl: "http://h:1/v1" });
    const id = await embedderIdOf(`openai:fake-model@${fake.baseUrl}/`);
    expect(id).toBe(openaiEmbedderId("fake-model", fake.baseUrl));
    expect(id).toBe(`openai:fake-model@${fake.baseUrl}#l2-v1`);
    expect(fake.received).toHaveLength(0);
  });

  it("refuses malformed specs in one line naming the embedder field, and keys in URLs", () => {
    for (const bad of ["openai:", "openai:model", "openai:@http://h/v1", "openai:m@ftp://h/v1", "openai:m@http://h/v1?x=1"]) {
      expect(() => parseEmbedderSpec(bad), bad).toThrow(/field "embedder"/);
    }
    let msg = "";
    try {
      parseEmbedderSpec("openai:m@https://user:sk-secret@h/v1");
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toMatch(/holds credentials/);
    expect(msg).not.toContain("sk-secret");
  });

  it("reads its tuning and the key's variable from the environment, refusing bad values in one line", () => {
    expect(openaiOptionsFromEnv({})).toEqual({});
    expect(
      openaiOptionsFromEnv({ ROUTEKIT_EMBED_API_KEY_ENV: "MY_KEY", MY_KEY: "k", ROUTEKIT_EMBED_BATCH_SIZE: "8", ROUTEKIT_EMBED_BATCH_CHARS: "1000", ROUTEKIT_EMBED_CONCURRENCY: "2", ROUTEKIT_EMBED_TIMEOUT: "2.5", ROUTEKIT_EMBED_MAX_ATTEMPTS: "3" }),
    ).toEqual({ apiKeyEnv: "MY_KEY", batchSize: 8, batchChars: 1000, concurrency: 2, timeoutMs: 2500, maxAttempts: 3 });
    expect(() => openaiOptionsFromEnv({ ROUTEKIT_EMBED_API_KEY_ENV: "MY_KEY" })).toThrow(/names MY_KEY, which is not set/);
    expect(() => openaiOptionsFromEnv({ ROUTEKIT_EMBED_BATCH_SIZE: "0" })).toThrow(/ROUTEKIT_EMBED_BATCH_SIZE must be an integer >= 1, got "0"/);
    expect(() => openaiOptionsFromEnv({ ROUTEKIT_EMBED_CONCURRENCY: "two" })).toThrow(/ROUTEKIT_EMBED_CONCURRENCY/);
  });

  it("reads Retry-After as seconds, an HTTP date or retry-after-ms", () => {
    expect(retryAfterMs(new Headers({ "retry-after": "2" }))).toBe(2000);
    expect(retryAfterMs(new Headers({ "retry-after-ms": "150", "retry-after": "9" }))).toBe(150);
    expect(retryAfterMs(new Headers({ "retry-after": new Date(10_000).toUTCString() }), 4_000)).toBe(6000);
    expect(retryAfterMs(new Headers({ "retry-after": "soon" }))).toBeUndefined();
    expect(retryAfterMs(new Headers())).toBeUndefined();
  });
});

describe("openai: embedder against a fake /v1/embeddings on 127.0.0.1", () => {
  it("meets the Embedder contract: unit rows in input order, independent of the batch", async () => {
    const e = await make({ batchSize: 2, concurrency: 2 });
    expect(e.dimension).toBe(24);
    expect(e.id).toBe(openaiEmbedderId("fake-model", fake.baseUrl));
    await checkContract(e);
    const input = texts(9);
    expectRows(await e.embed(input), input, 24);
    expectRows(await e.embed([""]), [""], 24); // an empty text goes as " " (OpenAI refuses empty strings)
    expect(fake.received.every((r) => r.model === "fake-model")).toBe(true);
  });

  it("batches by count and by characters, a long text alone", async () => {
    expect(requestBatches(["aa", "bb", "cc", "dd", "ee"], 2, 100)).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
    expect(requestBatches(["aaaa", "bbbbbbbbbb", "cc", "dd"], 10, 5)).toEqual([
      [0, 1],
      [1, 2],
      [2, 4],
    ]);
    const e = await make({ batchSize: 32, concurrency: 1 });
    fake.reset();
    await e.embed(texts(70));
    expect(sizes()).toEqual([32, 32, 6]);
    const byChars = await make({ batchSize: 32, batchChars: 100, concurrency: 1 });
    fake.reset();
    const input = ["x".repeat(40), "y".repeat(40), "z".repeat(40), "w".repeat(250), "v".repeat(10)];
    expectRows(await byChars.embed(input), input, 24);
    expect(sizes()).toEqual([2, 1, 1, 1]);
  });

  it("keeps at most `concurrency` requests in flight, and uses them", async () => {
    const e = await make({ batchSize: 4, concurrency: 3 });
    fake.reset();
    fake.fallback = { kind: "ok", delayMs: 40 };
    const input = texts(48);
    const progress: number[] = [];
    expectRows(
      await e.embed(input, (done) => progress.push(done)),
      input,
      24,
    );
    expect(sizes()).toEqual(Array(12).fill(4));
    expect(fake.maxInFlight).toBe(3);
    expect(progress.at(-1)).toBe(48);
  });

  it("retries 429 after the Retry-After it names, 500s and dropped connections", async () => {
    const e = await make({ batchSize: 5, concurrency: 1, maxAttempts: 4, backoffMs: 0, maxBackoffMs: 0 });
    fake.reset();
    fake.script({ kind: "status", status: 429, retryAfter: "1" });
    const input = texts(5);
    const t0 = performance.now();
    expectRows(await e.embed(input), input, 24);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(950); // waited as told (backoff alone would be 0)
    expect(fake.received).toHaveLength(2);

    fake.reset();
    fake.script({ kind: "status", status: 500 }, { kind: "status", status: 503 }, { kind: "drop" });
    expectRows(await e.embed(input), input, 24);
    expect(fake.received).toHaveLength(4);
    expect(fake.answered).toHaveLength(1);
  });

  it("times out a hung request and retries it; one that never answers ends in one error line", async () => {
    const e = await make({ batchSize: 5, concurrency: 1, maxAttempts: 3, timeoutMs: 500 });
    fake.reset();
    fake.script({ kind: "hang" });
    const input = texts(5);
    expectRows(await e.embed(input), input, 24);
    expect(fake.received).toHaveLength(2);

    fake.reset();
    fake.fallback = { kind: "hang" };
    const err = await failure(e.embed(input));
    expect(err).toBeInstanceOf(PartialEmbedError);
    expect(err.message).toBe(`openai:fake-model: POST ${fake.baseUrl}/embeddings: no answer within 0.5 s (gave up after 3 attempts)`);
    expect(fake.received).toHaveLength(3);

    fake.fallback = { kind: "drop" };
    const dropped = await failure(e.embed(input));
    expect(dropped.message).toMatch(/^openai:fake-model: POST http:\/\/127\.0\.0\.1:\d+\/v1\/embeddings: connection (failed|dropped during the answer) \(.+\) \(gave up after 3 attempts\)$/);
  });

  it("does not retry a client error, and fails fast on a bad answer: one line naming the endpoint and the field", async () => {
    const e = await make({ batchSize: 3, concurrency: 1 });
    const input = texts(3);
    const cases: [string, (b: { data: { index: number; embedding: number[] }[] }) => unknown, RegExp][] = [
      ["count", (b) => ({ ...b, data: b.data.slice(1) }), /field data: 2 embeddings for 3 inputs$/],
      ["no data", () => ({ error: "x" }), /field data: missing or not an array$/],
      ["index twice", (b) => ({ data: b.data.map((d) => ({ ...d, index: 0 })) }), /field data\[1\]\.index: 0 appears twice$/],
      ["index range", (b) => ({ data: b.data.map((d, k) => ({ ...d, index: k + 1 })) }), /field data\[2\]\.index: 3 is not an integer in \[0, 2\]$/],
      ["not finite", (b) => ({ data: b.data.map((d, k) => (k === 1 ? { ...d, embedding: d.embedding.map((x, j) => (j === 5 ? null : x)) } : d)) }), /field data\[1\]\.embedding\[5\]: null is not a finite number$/],
      ["dimension", (b) => ({ data: b.data.map((d, k) => (k === 2 ? { ...d, embedding: d.embedding.slice(1) } : d)) }), /field data\[2\]\.embedding: 23 numbers, expected 24$/],
      ["base64", (b) => ({ data: b.data.map((d) => ({ ...d, embedding: "AAAA" })) }), /field data\[0\]\.embedding: a string \(base64\?\)/],
      ["zero", (b) => ({ data: b.data.map((d) => ({ ...d, embedding: d.embedding.map(() => 0) })) }), /field data\[0\]\.embedding: a zero vector$/],
    ];
    for (const [name, edit, re] of cases) {
      fake.reset();
      fake.script({ kind: "bad", edit });
      const err = await failure(e.embed(input));
      expect(err.message, name).toMatch(new RegExp(`^openai:fake-model: POST ${fake.baseUrl.replace(/[./]/g, "\\$&")}/embeddings: bad response: `));
      expect(err.message, name).toMatch(re);
      expect(err.message).not.toContain("\n");
      expect(fake.received, name).toHaveLength(1);
    }
    fake.reset();
    fake.script({ kind: "status", status: 400, body: '{"error":{"message":"input too long"}}' });
    const err = await failure(e.embed(input));
    expect(err.message).toMatch(/HTTP 400: \{"error":\{"message":"input too long"\}\}$/);
    expect(fake.received).toHaveLength(1);
    // Indices out of order are placed by index.
    fake.reset();
    fake.script({ kind: "bad", edit: (b) => ({ data: [...b.data].reverse() }) });
    expectRows(await e.embed(input), input, 24);
  });

  it("sends the key only as the Authorization header, from the variable named, and never shows it", async () => {
    const key = "sk-test-0123456789abcdef";
    process.env.RK_TEST_EMBED_KEY = key;
    try {
      const e = await createOpenAIEmbedder("fake-model", fake.baseUrl, { ...FAST, apiKey: undefined, ...openaiOptionsFromEnv({ ...process.env, ROUTEKIT_EMBED_API_KEY_ENV: "RK_TEST_EMBED_KEY" }) });
      await e.embed(texts(3));
      expect(fake.received.length).toBeGreaterThan(1);
      for (const r of fake.received) {
        expect(r.authorization).toBe(`Bearer ${key}`);
        expect(r.raw.split(key)).toHaveLength(2); // once: the header
        expect(JSON.stringify(r.input)).not.toContain(key);
      }
      expect(e.id).not.toContain(key);
      // A server that echoes the key: the error line redacts it; 401 is not retried.
      fake.reset();
      fake.script({ kind: "status", status: 401, body: `{"error":{"message":"Incorrect API key provided: ${key}"}}` });
      const err = await failure(e.embed(texts(2)));
      expect(err.message).not.toContain(key);
      expect(err.message).toMatch(/HTTP 401: .*Incorrect API key provided: \*\*\*.*\(the key is read from \$RK_TEST_EMBED_KEY, which is set\)$/);
      expect(fake.received).toHaveLength(1);
    } finally {
      delete process.env.RK_TEST_EMBED_KEY;
    }
    // No key: no Authorization header at all (a local TEI or Ollama needs none).
    fake.reset();
    const saved = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    try {
      const e = await createEmbedder(`openai:fake-model@${fake.baseUrl}`);
      await e.embed(texts(2));
      expect(fake.received.every((r) => r.authorization === undefined)).toBe(true);
    } finally {
      if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
    }
  });
});

describe("openai: embedder through the cache", () => {
  const prep = { ...DEFAULT_PREPARATION, stripSharedPrefix: false };

  it("through the cache, a shard is never smaller than what the endpoint takes at once: every request slot is used", async () => {
    // 128 texts per request x 4 in flight: a 256-text shard would allow only 2 requests at a time.
    const e = await make({ batchSize: 128, concurrency: 4 });
    expect(e.textsInFlight).toBe(4 * 128 * 4);
    fake.reset();
    fake.fallback = { kind: "ok", delayMs: 40 };
    const input = texts(1024, "slots");
    const { matrix } = await embedTexts(input, null, { embedder: e, cacheDir: join(root, "slots"), preparation: prep });
    expect(matrix.rows).toBe(1024);
    expect(fake.maxInFlight).toBe(4);
    // A shard size given explicitly still wins (the most an interrupt can lose is the user's call).
    fake.reset();
    fake.fallback = { kind: "ok", delayMs: 40 };
    await embedTexts(texts(1024, "slots-small"), null, { embedder: e, cacheDir: join(root, "slots-small"), preparation: prep, shardSize: 256 });
    expect(fake.maxInFlight).toBe(2);
  });

  it("an interrupted run keeps the batches answered; the rerun sends only the missing texts", async () => {
    const cacheDir = join(root, "resume");
    const input = texts(40, "resume");
    let e: Embedder = await make({ batchSize: 4, concurrency: 2, maxAttempts: 2 });
    fake.reset();
    // Three batches answered, then the connection drops for good (each attempt of every later batch).
    fake.script({ kind: "ok" }, { kind: "ok" }, { kind: "ok" });
    fake.fallback = { kind: "drop" };
    const err = await failure(embedTexts(input, null, { embedder: e, cacheDir, preparation: prep }));
    expect(err.message).toMatch(/connection .* \(gave up after 2 attempts\)$/);
    const kept = new Set(fake.answered.flatMap((r) => r.input));
    expect(kept.size).toBe(12);
    const cache = await EmbeddingCache.open(cacheDir, e.id, prep);
    expect(cache.size).toBe(12);

    fake.reset();
    e = await make({ batchSize: 4, concurrency: 2 });
    fake.reset();
    const { matrix, stats } = await embedTexts(input, null, { embedder: e, cacheDir, preparation: prep });
    expect(stats).toMatchObject({ cacheHits: 12, computed: 28 });
    const sent = fake.received.flatMap((r) => r.input);
    expect(sent).toHaveLength(28);
    expect(new Set(sent)).toEqual(new Set(input.filter((t) => !kept.has(t))));
    expect(fake.received).toHaveLength(7);
    expectRows(matrix.data, input, 24);
    expect(matrix.embedderId).toBe(openaiEmbedderId("fake-model", fake.baseUrl));

    // A fully cached rerun from the spec alone never calls the server (not even the probe).
    fake.reset();
    const again = await embedTexts(input, null, { spec: `openai:fake-model@${fake.baseUrl}`, cacheDir, preparation: prep });
    expect(again.stats.cacheHits).toBe(40);
    expect(fake.received).toHaveLength(0);
    expect(Buffer.from(again.matrix.data.buffer).equals(Buffer.from(matrix.data.buffer))).toBe(true);
  });

  it("refuses, in one line, a served dimension other than the one cached under the same id", async () => {
    const cacheDir = join(root, "dim");
    const id = openaiEmbedderId("fake-model", fake.baseUrl);
    const cache = await EmbeddingCache.open(cacheDir, id, prep);
    await cache.append(["0".repeat(64)], new Float32Array(8).fill(Math.SQRT1_2 / 2), 8);
    const err = await failure(embedTexts(["something new"], null, { spec: `openai:fake-model@${fake.baseUrl}`, cacheDir, preparation: prep }));
    expect(err.message).toMatch(/now gives 24-dimensional vectors, but the cache holds 8-dimensional ones under that id/);
  });
});

describe("openai: a router trained on it routes in a fresh process", () => {
  it("routekit synth -> train --embedder openai:... -> route (new process, new cache) asks the same server", async () => {
    const dir = join(root, "cli");
    const table = join(dir, "s.arrow");
    const spec = `openai:fake-model@${fake.baseUrl}`;
    const env = { ROUTEKIT_EMBED_API_KEY_ENV: "RK_CLI_KEY", RK_CLI_KEY: "sk-cli-secret", ROUTEKIT_EMBED_BATCH_SIZE: "16" };
    const s = await runCli(["synth", "--out", table, "--prompts", "120", "--seed", "5"]);
    expect(s.code, s.stderr).toBe(0);
    fake.reset();
    const t = await runCli(["train", table, "--router", "knn:k=5", "--embedder", spec, "--cache-dir", join(dir, "cache"), "--out", join(dir, "router")], { env });
    expect(t.code, t.stderr).toBe(0);
    expect(fake.received.length).toBeGreaterThan(1);
    expect(Math.max(...fake.received.map((r) => r.input.length))).toBe(16);
    expect(fake.received.every((r) => r.authorization === "Bearer sk-cli-secret")).toBe(true);
    const manifest = await readFile(join(dir, "router", "router.json"), "utf8");
    expect(JSON.parse(manifest).embedder).toMatchObject({ spec, id: openaiEmbedderId("fake-model", fake.baseUrl) });
    expect(manifest).not.toContain("sk-cli-secret");

    fake.reset();
    const prompt = "A brand new prompt about integrals that nobody has embedded";
    const r = await runCli(["route", join(dir, "router"), prompt, "--lambda", "0", "--cache-dir", join(dir, "route-cache"), "--json"], { env });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { prompts: { model: string }[] };
    expect(out.prompts).toHaveLength(1);
    expect(typeof out.prompts[0].model).toBe("string");
    expect(fake.received.some((q) => q.input.includes(prompt))).toBe(true);
    // The endpoint failing: routing says so in one line, naming it.
    fake.fallback = { kind: "status", status: 503 };
    const down = await runCli(["route", join(dir, "router"), "another prompt", "--lambda", "0", "--cache-dir", join(dir, "route-cache")], { env: { ...env, ROUTEKIT_EMBED_MAX_ATTEMPTS: "1" } });
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(`routekit: error: openai:fake-model: POST ${fake.baseUrl}/embeddings: HTTP 503: {"error":{"message":"fake status 503","type":"fake"}} (gave up after 1 attempt)\n`);
  });
});
