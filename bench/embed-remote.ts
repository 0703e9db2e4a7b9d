/**
 * `npm run bench -- embed-remote`: the cost of routekit's `openai:` client (batching, JSON,
 * validation, normalisation, the cache) against a fake OpenAI-compatible /v1/embeddings server
 * on 127.0.0.1 that answers at once. It measures routekit's side only: a real endpoint's speed
 * (TEI or vLLM on GPUs) is the endpoint's, and no GPU is measured here.
 *
 * The fake server (`startFakeEmbeddings`) is also what the tests use: deterministic vectors from
 * each text, scripted misbehaviour (a status with Retry-After, a dropped connection, a hang, a
 * slow or malformed answer), and counts of requests, inputs and requests in flight.
 * It never listens beyond the loopback address.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bench } from "./types.js";
import { createOpenAIEmbedder } from "../src/embed/openai.js";
import { embedTexts } from "../src/embed/embed-table.js";

export type FakeEmbeddingsBehaviour =
  | { kind: "ok"; delayMs?: number }
  | { kind: "status"; status: number; retryAfter?: string; body?: string }
  | { kind: "drop" }
  | { kind: "hang" }
  /** Answer, then let `edit` damage the JSON body first. */
  | { kind: "bad"; edit: (body: { data: { object: string; index: number; embedding: number[] }[] }) => unknown };

export interface FakeEmbeddingsRequest {
  authorization: string | undefined;
  model: string;
  input: string[];
  /** The raw request, headers included, for checks that the key appears nowhere else. */
  raw: string;
}

export interface FakeEmbeddings {
  /** API root, e.g. http://127.0.0.1:41234/v1 */
  readonly baseUrl: string;
  readonly dimension: number;
  /** Every request received, in arrival order. */
  readonly received: FakeEmbeddingsRequest[];
  /** Requests answered with 200. */
  readonly answered: FakeEmbeddingsRequest[];
  /** Most requests in flight at once. */
  readonly maxInFlight: number;
  /** Behaviours for the next requests, one each, in order; then `fallback`. */
  script(...b: FakeEmbeddingsBehaviour[]): void;
  /** What requests get when no script is left (default ok). */
  fallback: FakeEmbeddingsBehaviour;
  /** The vector the fake gives a text (before the client normalises it). */
  vectorOf(text: string): number[];
  reset(): void;
  close(): Promise<void>;
}

/** A deterministic, not normalised (norm 1-3), vector for a text: FNV-1a seed, then xorshift32. */
export function fakeVector(text: string, dim: number): number[] {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  let x = h || 1;
  const v = new Array<number>(dim);
  let ss = 0;
  for (let j = 0; j < dim; j++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    v[j] = x / 0x80000000 - 1;
    ss += v[j] * v[j];
  }
  const scale = (1 + (text.length % 3)) / Math.sqrt(ss || 1);
  for (let j = 0; j < dim; j++) v[j] *= scale;
  return v;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startFakeEmbeddings(opts: { dimension?: number } = {}): Promise<FakeEmbeddings> {
  const dim = opts.dimension ?? 384;
  const queue: FakeEmbeddingsBehaviour[] = [];
  let inFlight = 0;
  const state = {
    received: [] as FakeEmbeddingsRequest[],
    answered: [] as FakeEmbeddingsRequest[],
    maxInFlight: 0,
    fallback: { kind: "ok" } as FakeEmbeddingsBehaviour,
  };
  const hanging = new Set<ServerResponse>();
  const server: Server = createServer(async (req, res) => {
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    res.on("close", () => {
      inFlight--;
      hanging.delete(res);
    });
    const text = await readBody(req);
    if (req.method !== "POST" || req.url !== "/v1/embeddings") {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
      return;
    }
    let body: { model?: unknown; input?: unknown };
    try {
      body = JSON.parse(text);
    } catch {
      res.statusCode = 400;
      res.end(JSON.stringify({ error: { message: "body is not JSON" } }));
      return;
    }
    const input = Array.isArray(body.input) ? (body.input as string[]) : [String(body.input)];
    const rec: FakeEmbeddingsRequest = { authorization: req.headers.authorization, model: String(body.model), input, raw: `${JSON.stringify(req.headers)}\n${req.url}\n${text}` };
    state.received.push(rec);
    const b = queue.shift() ?? state.fallback;
    if (b.kind === "drop") {
      req.socket.destroy();
      return;
    }
    if (b.kind === "hang") {
      hanging.add(res);
      return;
    }
    if (b.kind === "status") {
      res.statusCode = b.status;
      if (b.retryAfter !== undefined) res.setHeader("retry-after", b.retryAfter);
      res.setHeader("content-type", "application/json");
      res.end(b.body ?? JSON.stringify({ error: { message: `fake status ${b.status}`, type: "fake" } }));
      return;
    }
    if (b.kind === "ok" && b.delayMs) await new Promise((r) => setTimeout(r, b.delayMs));
    if (res.destroyed) return;
    const answer = {
      object: "list",
      model: rec.model,
      data: input.map((t, index) => ({ object: "embedding", index, embedding: fakeVector(t, dim) })),
      usage: { prompt_tokens: input.length, total_tokens: input.length },
    };
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify(b.kind === "bad" ? b.edit(answer) : answer));
    state.answered.push(rec);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    dimension: dim,
    get received() {
      return state.received;
    },
    get answered() {
      return state.answered;
    },
    get maxInFlight() {
      return state.maxInFlight;
    },
    get fallback() {
      return state.fallback;
    },
    set fallback(b: FakeEmbeddingsBehaviour) {
      state.fallback = b;
    },
    script(...b) {
      queue.push(...b);
    },
    vectorOf: (t) => fakeVector(t, dim),
    reset() {
      queue.length = 0;
      state.received = [];
      state.answered = [];
      state.maxInFlight = inFlight;
      state.fallback = { kind: "ok" };
    },
    async close() {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function prompts(n: number, words: number): string[] {
  return Array.from({ length: n }, (_, i) => `Prompt ${i}: ${Array.from({ length: words }, (_, k) => `word${(i * 31 + k * 7) % 997}`).join(" ")}?`);
}

export const embedRemoteBench: Bench = {
  name: "embed-remote",
  title: "Remote embeddings (openai: spec): routekit's client overhead against a zero-latency fake server",
  async run() {
    const fake = await startFakeEmbeddings({ dimension: 384 });
    const dir = await mkdtemp(join(tmpdir(), "rk-bench-remote-"));
    const rows: string[] = [];
    try {
      const n = 20_000;
      for (const [words, label] of [
        [30, "short (30 words)"],
        [400, "long (400 words)"],
      ] as const) {
        const texts = prompts(words === 30 ? n : n / 4, words);
        for (const [batchSize, concurrency] of [
          [32, 4],
          [128, 4],
        ] as const) {
          const e = await createOpenAIEmbedder("fake", fake.baseUrl, { batchSize, concurrency, apiKey: "" });
          await e.embed(texts.slice(0, 64));
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          await e.embed(texts);
          const s = (performance.now() - t0) / 1000;
          const c = process.cpuUsage(c0);
          // Through embedTexts: hashing, the cache's shard writes.
          const t1 = performance.now();
          await embedTexts(texts, null, { embedder: e, cacheDir: join(dir, `${words}-${batchSize}`), preparation: { unwrapList: false, stripSharedPrefix: false, maxChars: 0, keep: "head" } });
          const s2 = (performance.now() - t1) / 1000;
          rows.push(`| ${label} | ${texts.length} | ${batchSize} | ${concurrency} | ${(texts.length / s).toFixed(0)} | ${((c.user + c.system) / 1e6).toFixed(2)} | ${(texts.length / s2).toFixed(0)} |`);
          process.stderr.write(`embed-remote: ${rows[rows.length - 1]}\n`);
          await e.close();
        }
      }
    } finally {
      await fake.close();
      await rm(dir, { recursive: true, force: true });
    }
    return [
      "The fake server answers at once with 384-dimensional vectors and runs in the same process as the",
      "client, so its JSON encoding is in the figures too (an upper bound on routekit's overhead).",
      "No GPU endpoint is measured: a real deployment's throughput is the endpoint's.",
      "",
      "| prompts | count | texts/request | in flight | prompts/s (embedder) | CPU-s (client+fake) | prompts/s (embedTexts, cache written) |",
      "|---|---:|---:|---:|---:|---:|---:|",
      ...rows,
    ].join("\n");
  },
};
