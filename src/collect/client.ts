/**
 * One chat completion for collect, through the server's upstream caller (`callUpstream`: the
 * timeout, the key, errors that name the cause and never the key), with retries, the endpoint's
 * limits and the spend accounting around it.
 *
 * Retried, with exponential backoff (base * 2^(attempt-1), capped, with a jitter keyed by the
 * request so reruns wait alike): 429 (waiting at least its Retry-After, and pausing the whole
 * endpoint that long), 5xx, timeouts and dropped connections. Not retried: other 4xx (the
 * request itself is wrong: 400, 401, 404, ...) and answers without a message.
 *
 * Token counts come from the answer's `usage`; without one they are estimated (characters / 4)
 * and marked so. Cost = input tokens x input price + output tokens x output price (per 1M).
 */
import { createHash } from "node:crypto";
import { callUpstream, UpstreamError } from "../upstream/call.js";
import type { Upstream } from "../upstream/config.js";
import type { Price, RetryPolicy } from "./config.js";
import type { EndpointLimiter, SpendCap } from "./limits.js";
import type { Usage } from "./journal.js";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** Rough token count of a text (4 characters a token), for estimates only. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Per message, tokens a chat template adds around its content (role markers, separators), and once per request. */
const TEMPLATE_TOKENS_PER_MESSAGE = 8;
const TEMPLATE_TOKENS_PER_REQUEST = 16;

/** Estimated input tokens of a request. */
export function estimateInputTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce((a, m) => a + estimateTokens(m.content) + 4, 3);
}

/**
 * An upper bound on a request's input tokens: byte-level BPE tokenizers (GPT, Llama, Mistral,
 * Qwen: every token covers at least one byte of the text) cannot make more tokens than the
 * text has UTF-8 bytes, plus what the chat template adds (bounded here by 8 a message and 16
 * a request). A tokenizer that could exceed this would need a wider bound.
 */
export function maxInputTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce((a, m) => a + Buffer.byteLength(m.content, "utf8") + TEMPLATE_TOKENS_PER_MESSAGE, TEMPLATE_TOKENS_PER_REQUEST);
}

export function costOf(price: Price, inputTokens: number, outputTokens: number): number {
  return (inputTokens * price.input + outputTokens * price.output) / 1e6;
}

/** The most a call can cost: the input bound above and max_tokens of output (Infinity without max_tokens). */
export function worstCaseCost(price: Price, messages: readonly ChatMessage[], maxOutput: number | null): number {
  if (maxOutput === null) return price.output > 0 ? Infinity : costOf(price, maxInputTokens(messages), 0);
  return costOf(price, maxInputTokens(messages), maxOutput);
}

export interface ChatAnswer extends Usage {
  text: string;
  attempts: number;
  /** ms of the successful attempt. */
  latencyMs: number;
  elapsedMs: number;
  /** Worst-case US$ of attempts that timed out or lost their connection (see CallRecord.unconfirmedCost). */
  unconfirmedCost: number;
}

export class ChatFailure extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    readonly elapsedMs: number,
    readonly unconfirmedCost: number,
    /** true when the spend cap stopped a retry (not a failure of the endpoint). */
    readonly capped = false,
  ) {
    super(message);
    this.name = "ChatFailure";
  }
}

export interface ChatCall {
  upstream: Upstream;
  price: Price;
  messages: ChatMessage[];
  options: Record<string, unknown>;
  maxOutput: number | null;
  limiter: EndpointLimiter;
  retry: RetryPolicy;
  /** Reservations against --max-spend; the first attempt's worst case is already reserved by the caller. */
  spend: SpendCap;
  /** What the caller reserved (this call's worst case). */
  reserved: number;
  /** Stops waits and calls (the run is stopping). */
  signal: AbortSignal;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function retryable(err: UpstreamError): boolean {
  if (err.kind === "timeout" || err.kind === "connection") return true;
  const s = err.upstreamStatus;
  return s === 429 || s === 408 || (s !== null && s >= 500);
}

/** Jitter in [0.5, 1) keyed by the request and attempt (deterministic, so reruns wait alike). */
function jitter(key: string, attempt: number): number {
  const h = createHash("sha256").update(`${key}\u0000${attempt}`).digest();
  return 0.5 + h.readUInt32BE(0) / 2 ** 33;
}

function messageText(body: Record<string, unknown>): string | null {
  const choice = (body.choices as { message?: { content?: unknown } }[] | undefined)?.[0];
  const c = choice?.message?.content;
  if (typeof c === "string") return c;
  if (Array.isArray(c)) {
    const parts = c.map((p: { type?: string; text?: unknown }) => (typeof p?.text === "string" ? p.text : "")).join("");
    return parts;
  }
  return c === null ? "" : null;
}

function usageOf(body: Record<string, unknown>, messages: readonly ChatMessage[], text: string): Omit<Usage, "cost"> {
  const u = body.usage as { prompt_tokens?: unknown; completion_tokens?: unknown } | undefined;
  const inT = u?.prompt_tokens;
  const outT = u?.completion_tokens;
  if (typeof inT === "number" && typeof outT === "number" && Number.isFinite(inT) && Number.isFinite(outT) && inT >= 0 && outT >= 0) {
    return { inputTokens: inT, outputTokens: outT, estimated: false };
  }
  return { inputTokens: estimateInputTokens(messages), outputTokens: estimateTokens(text), estimated: true };
}

/**
 * Call until an answer, a failure that is not retried, or the attempts run out. Settles the
 * caller's reservation in every case (actual cost + unconfirmed attempts).
 */
export async function callChat(c: ChatCall): Promise<ChatAnswer> {
  const sleep = c.sleep ?? abortableSleep;
  const started = Date.now();
  const key = `${c.upstream.baseUrl}\u0000${c.upstream.model}\u0000${JSON.stringify(c.messages)}`;
  const estimate = estimateInputTokens(c.messages) + (c.maxOutput ?? 0);
  /** The worst case of one attempt, reserved in the spend cap while `holding`. */
  const reserved = c.reserved;
  /** Worst-case US$ of attempts that timed out or dropped (already counted as spent). */
  let unconfirmed = 0;
  let attempt = 0;
  /** Whether this call holds a reservation (of `reserved` US$, possibly 0) in the spend cap. */
  let holding = true;
  const fail = (message: string, capped = false): never => {
    if (holding) c.spend.settle(reserved, 0);
    holding = false;
    throw new ChatFailure(message, attempt, Date.now() - started, unconfirmed, capped);
  };
  for (;;) {
    attempt++;
    const slot = await c.limiter.acquire(estimate);
    if (c.signal.aborted) {
      slot.release(0);
      fail("stopped before the call");
    }
    const t0 = Date.now();
    let err: UpstreamError;
    try {
      const ans = await callUpstream(c.upstream, "/chat/completions", { ...c.options, messages: c.messages }, c.signal, c.upstream.model);
      const latencyMs = Date.now() - t0;
      const body = ans.kind === "json" ? ans.body : {};
      const text = messageText(body);
      if (text === null) {
        // Answered, so probably billed: a usage it gives is counted as spent.
        const u = usageOf(body, c.messages, "");
        slot.release(estimate);
        if (!u.estimated) {
          const billed = costOf(c.price, u.inputTokens, u.outputTokens);
          c.spend.settle(reserved, billed);
          holding = false;
          unconfirmed += billed;
        }
        return fail(`the answer of "${c.upstream.name}" has no choices[0].message.content`);
      }
      const usage = usageOf(body, c.messages, text);
      slot.release(usage.inputTokens + usage.outputTokens);
      const cost = costOf(c.price, usage.inputTokens, usage.outputTokens);
      c.spend.settle(reserved, cost);
      holding = false;
      return { text, ...usage, cost, attempts: attempt, latencyMs, elapsedMs: Date.now() - started, unconfirmedCost: unconfirmed };
    } catch (e) {
      if (e instanceof ChatFailure) throw e;
      if (!(e instanceof UpstreamError)) {
        slot.release(0);
        return fail(`the call to "${c.upstream.name}" failed: ${(e as Error).message}`);
      }
      err = e;
    }
    slot.release(err.kind === "status" ? 0 : estimate);
    if (err.kind !== "status") {
      // The upstream may have done (and billed) the work: this attempt counts at its worst case.
      c.spend.settle(reserved, reserved);
      holding = false;
      unconfirmed += reserved;
    }
    if (c.signal.aborted) fail(`stopped: ${err.message}`);
    if (!retryable(err)) fail(err.message);
    if (attempt >= c.retry.maxAttempts) fail(`${err.message} (after ${attempt} attempts)`);
    if (!holding) {
      if (!c.spend.tryReserve(reserved)) fail(`${err.message}; not retried: the spend cap leaves no room for another attempt`, true);
      holding = true;
    }
    let wait = Math.min(c.retry.maxDelayMs, c.retry.baseDelayMs * 2 ** (attempt - 1)) * jitter(key, attempt);
    if (err.retryAfterMs !== null) {
      wait = Math.max(wait, err.retryAfterMs);
      if (err.upstreamStatus === 429) c.limiter.pauseFor(err.retryAfterMs);
    }
    await sleep(wait, c.signal);
  }
}
