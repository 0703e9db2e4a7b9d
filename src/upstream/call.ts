/**
 * Forwarding one OpenAI-compatible request to the upstream serving the chosen model, with a
 * timeout, the key from the environment, and streamed answers passed through event by event.
 *
 * What a client gets when the upstream fails: 504 when it does not answer within its timeout;
 * 502 when it cannot be reached, answers 5xx, or refuses our key (401/403: the server's
 * configuration, not the client's request); the upstream's own status for other 4xx (400, 404,
 * 422: the client's request as forwarded; 429: the client may retry). The cause is named, the
 * key never.
 */
import { Readable } from "node:stream";
import type { Upstream } from "./config.js";

export type UpstreamFailure = "timeout" | "connection" | "status";

export class UpstreamError extends Error {
  constructor(
    message: string,
    /** The status the client gets. */
    readonly status: number,
    readonly kind: UpstreamFailure,
    /** The upstream's own status, when it answered. */
    readonly upstreamStatus: number | null = null,
    /** How long the upstream asked us to wait (its Retry-After header), in ms; null without one. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}

export type UpstreamAnswer = { kind: "json"; status: number; body: Record<string, unknown> } | { kind: "stream"; status: number; body: Readable };

/** The client's status for an upstream's error status (see above). */
function clientStatus(upstream: number): number {
  if (upstream === 401 || upstream === 403 || upstream >= 500) return 502;
  return upstream;
}

/** A Retry-After header (seconds, or an HTTP date) in ms from `now`; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === "") return null;
  const t = header.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const at = Date.parse(t);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function errorText(body: string): string {
  try {
    const e = (JSON.parse(body) as { error?: { message?: unknown } | string }).error;
    const m = typeof e === "string" ? e : e?.message;
    if (typeof m === "string") return m.slice(0, 500);
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.slice(0, 200).replace(/\s+/g, " ").trim() || "(empty body)";
}

/**
 * POST `body` (its model replaced by the upstream's id) to `${baseUrl}${path}`. `clientGone`
 * aborts the upstream call when the client disconnects. For a streamed answer, the timeout then
 * applies between events (an upstream that stops sending mid-answer is cut off).
 */
export async function callUpstream(up: Upstream, path: "/chat/completions" | "/completions", body: Record<string, unknown>, clientGone: AbortSignal, rewriteModel: string): Promise<UpstreamAnswer> {
  const ctrl = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | null = null;
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort();
    }, up.timeoutMs);
  };
  const disarm = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  const onGone = () => ctrl.abort();
  clientGone.addEventListener("abort", onGone, { once: true });
  const cleanup = () => {
    disarm();
    clientGone.removeEventListener("abort", onGone);
  };
  const seconds = up.timeoutMs / 1000;
  const failed = (err: unknown): UpstreamError => {
    if (timedOut) return new UpstreamError(`the upstream of "${up.name}" did not answer within ${seconds} s`, 504, "timeout");
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return new UpstreamError(`the upstream of "${up.name}" (${up.baseUrl}) could not be reached: ${cause?.code ?? cause?.message ?? (err as Error).message}`, 502, "connection");
  };
  arm();
  let res: Response;
  try {
    res = await fetch(`${up.baseUrl}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: body.stream ? "text/event-stream" : "application/json", ...(up.apiKey ? { authorization: `Bearer ${up.apiKey}` } : {}) },
      body: JSON.stringify({ ...body, model: up.model }),
      signal: ctrl.signal,
    });
  } catch (err) {
    cleanup();
    throw failed(err);
  }
  const streamed = res.ok && (res.headers.get("content-type") ?? "").includes("text/event-stream");
  if (!streamed) {
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      cleanup();
      throw failed(err);
    }
    cleanup();
    if (!res.ok) throw new UpstreamError(`the upstream of "${up.name}" answered ${res.status}: ${errorText(text)}`, clientStatus(res.status), "status", res.status, retryAfterMs(res.headers.get("retry-after")));
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UpstreamError(`the upstream of "${up.name}" answered with a body that is not JSON: ${errorText(text)}`, 502, "status", res.status);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new UpstreamError(`the upstream of "${up.name}" answered with JSON that is not an object`, 502, "status", res.status);
    return { kind: "json", status: res.status, body: { ...(json as Record<string, unknown>), model: rewriteModel } };
  }
  const source = res.body!;
  async function* events(): AsyncGenerator<Buffer> {
    const reader = source.getReader();
    const decoder = new TextDecoder();
    let carry = "";
    try {
      for (;;) {
        arm();
        const { done, value } = await reader.read();
        if (done) break;
        carry += decoder.decode(value, { stream: true });
        // Whole lines only; each event's data line gets the routed model's name.
        const cut = carry.lastIndexOf("\n");
        if (cut < 0) continue;
        const lines = carry.slice(0, cut + 1);
        carry = carry.slice(cut + 1);
        yield Buffer.from(rewriteSse(lines, rewriteModel), "utf8");
      }
      carry += decoder.decode();
      if (carry) yield Buffer.from(rewriteSse(carry, rewriteModel), "utf8");
    } catch (err) {
      throw failed(err);
    } finally {
      cleanup();
      reader.releaseLock();
    }
  }
  return { kind: "stream", status: res.status, body: Readable.from(events()) };
}

/** SSE text with each `data: {json}` line's model set; other lines (comments, [DONE]) as they were. */
export function rewriteSse(text: string, model: string): string {
  return text.replace(/^data: ?(\{.*\})\r?$/gm, (line, json: string) => {
    try {
      const v = JSON.parse(json) as Record<string, unknown>;
      return `data: ${JSON.stringify({ ...v, model })}`;
    } catch {
      return line;
    }
  });
}
