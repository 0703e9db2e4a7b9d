/**
 * A fake OpenAI-compatible endpoint on 127.0.0.1 for tests and benchmarks: canned answers that
 * name the model asked for (or `answer(model, body)`'s text, with `usage(...)`'s counts or none),
 * streaming or not, with per-model behaviour set at run time (fail with a status and an optional
 * Retry-After, answer slowly, drop the connection, hang; for the next `times` requests or until
 * set again), a record of every request received and of every one answered with 200, and a hold
 * (`stopAnsweringAfter`) that leaves requests in flight, for kill tests.
 * Never listens beyond the loopback address.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type FakeBehaviour = (
  | { kind: "ok"; delayMs?: number; chunkDelayMs?: number }
  /** `retryAfter`: the Retry-After header sent with it (seconds, or an HTTP date). */
  | { kind: "status"; status: number; message?: string; retryAfter?: string }
  | { kind: "drop" }
  | { kind: "hang" }
) & {
  /** Only for the next `times` requests of the model; then it answers normally again (default: until set again). */
  times?: number;
};

/** What the fake says: the answer's text and its `usage` (null: no usage in the answer). */
export interface FakeOptions {
  answer?: (model: string, body: Record<string, unknown>) => string;
  usage?: (model: string, body: Record<string, unknown>, answer: string) => { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}

export interface ReceivedRequest {
  path: string;
  /** The Authorization header as received (tests check keys reach the upstream, and only it). */
  authorization: string | undefined;
  body: Record<string, unknown>;
}

export interface FakeOpenAI {
  /** API root, e.g. http://127.0.0.1:41234/v1 */
  readonly baseUrl: string;
  readonly received: ReceivedRequest[];
  /** Behaviour for one upstream model id (default: ok). */
  set(model: string, behaviour: FakeBehaviour): void;
  /** Answered calls per upstream model id (a request whose client hung up before the answer is not counted). */
  count(model: string): number;
  /** The requests answered with 200, in order. */
  readonly answered: ReceivedRequest[];
  /** Requests answered with status `status` per upstream model id (e.g. the 429s sent). */
  statusCount(model: string, status: number): number;
  /** After `n` answered calls in all, every further request hangs (null: answer again). */
  stopAnsweringAfter(n: number | null): void;
  close(): Promise<void>;
}

const STREAM_PARTS = ["Hello", " from ", "the model"];

function answerText(model: string): string {
  return `answer from ${model}`;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFakeOpenAI(options: FakeOptions = {}): Promise<FakeOpenAI> {
  const behaviours = new Map<string, FakeBehaviour>();
  const counts = new Map<string, number>();
  const statuses = new Map<string, number>();
  const received: ReceivedRequest[] = [];
  const answered: ReceivedRequest[] = [];
  let answerLimit: number | null = null;
  const behaviourOf = (model: string): FakeBehaviour => {
    const b = behaviours.get(model);
    if (!b) return { kind: "ok" };
    if (b.times !== undefined) {
      if (b.times <= 1) behaviours.delete(model);
      else behaviours.set(model, { ...b, times: b.times - 1 });
    }
    return b;
  };
  const sockets = new Set<import("node:net").Socket>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "").split("?")[0];
    const text = await readBody(req);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text);
    } catch {
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "bad json" } }));
      return;
    }
    const request: ReceivedRequest = { path, authorization: req.headers.authorization, body };
    received.push(request);
    const model = String(body.model);
    const b = behaviourOf(model);
    if (answerLimit !== null && answered.length >= answerLimit) return; // held: hangs like "hang"
    if (b.kind === "drop") {
      req.socket.destroy();
      return;
    }
    if (b.kind === "hang") return; // never answers; closed with the server
    if (b.kind === "status") {
      statuses.set(`${b.status} ${model}`, (statuses.get(`${b.status} ${model}`) ?? 0) + 1);
      res.writeHead(b.status, { "content-type": "application/json", ...(b.retryAfter !== undefined ? { "retry-after": b.retryAfter } : {}) }).end(JSON.stringify({ error: { message: b.message ?? `fake failure ${b.status}`, type: "server_error" } }));
      return;
    }
    if (b.delayMs) await sleep(b.delayMs);
    // A client gone during the delay gets nothing: not an answered call.
    if (req.socket.destroyed) return;
    if (answerLimit !== null && answered.length >= answerLimit) return;
    counts.set(model, (counts.get(model) ?? 0) + 1);
    answered.push(request);
    const chat = path.endsWith("/chat/completions");
    const created = 1_700_000_000;
    if (body.stream === true) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      for (const [i, part] of STREAM_PARTS.entries()) {
        const chunk = chat
          ? { id: "chatcmpl-fake", object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta: i === 0 ? { role: "assistant", content: part } : { content: part }, finish_reason: null }] }
          : { id: "cmpl-fake", object: "text_completion", created, model, choices: [{ index: 0, text: part, finish_reason: null }] };
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        if (b.chunkDelayMs) await sleep(b.chunkDelayMs);
      }
      res.end("data: [DONE]\n\n");
      return;
    }
    const reply = options.answer ? options.answer(model, body) : answerText(model);
    const usage = options.usage ? options.usage(model, body, reply) : { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14 };
    const answer = chat
      ? { id: "chatcmpl-fake", object: "chat.completion", created, model, choices: [{ index: 0, message: { role: "assistant", content: reply }, finish_reason: "stop" }], ...(usage ? { usage } : {}) }
      : { id: "cmpl-fake", object: "text_completion", created, model, choices: [{ index: 0, text: reply, finish_reason: "stop" }], ...(usage ? { usage } : {}) };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => res.writeHead(500).end(err.message));
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    received,
    set: (model, behaviour) => void behaviours.set(model, behaviour),
    count: (model) => counts.get(model) ?? 0,
    answered,
    statusCount: (model, status) => statuses.get(`${status} ${model}`) ?? 0,
    stopAnsweringAfter: (n) => void (answerLimit = n),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
