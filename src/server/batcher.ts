/**
 * Micro-batching: concurrent requests to one router share an embedding batch and a prediction.
 * A request waits at most `windowMs` for company when the router is idle; while a batch is being
 * routed, arriving requests queue and go together in the next one. So one client pays about
 * one window of extra latency, and under load the batch grows with the queue (up to `maxBatch`
 * prompts), which is what lets throughput grow with concurrency: an encoder call on 32 short
 * prompts costs little more than on one.
 */
import type { RoutedPrompt, RoutePlan, RoutingRequest, RoutingSession } from "../workflow/session.js";

export interface BatcherOptions {
  /** Longest wait for other requests when nothing is in flight (default 2 ms). */
  windowMs?: number;
  /** Most prompts in one batch (default 64). */
  maxBatch?: number;
  /** Batches routed at once (default 2: the encoder has as many workers as cores). */
  maxInFlight?: number;
  /** Called with each batch's prompt count (metrics). */
  onBatch?: (prompts: number) => void;
}

interface Pending {
  request: RoutingRequest;
  resolve: (v: { routed: RoutedPrompt[]; plan: RoutePlan }) => void;
  reject: (e: Error) => void;
}

export class MicroBatcher {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly windowMs: number;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly session: RoutingSession,
    private readonly opts: BatcherOptions = {},
  ) {
    this.windowMs = opts.windowMs ?? 2;
    this.maxBatch = opts.maxBatch ?? 64;
    this.maxInFlight = opts.maxInFlight ?? 2;
  }

  route(request: RoutingRequest): Promise<{ routed: RoutedPrompt[]; plan: RoutePlan }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.schedule();
    });
  }

  private queuedPrompts(): number {
    return this.queue.reduce((a, p) => a + p.request.texts.length, 0);
  }

  private schedule(): void {
    if (this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    if (this.queuedPrompts() >= this.maxBatch) return this.flush();
    this.timer ??= setTimeout(() => this.flush(), this.windowMs);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.queue.length === 0 || this.inFlight >= this.maxInFlight) return;
    // Whole requests, up to maxBatch prompts (a single larger request goes alone).
    const batch: Pending[] = [];
    let prompts = 0;
    while (this.queue.length && (batch.length === 0 || prompts + this.queue[0].request.texts.length <= this.maxBatch)) {
      const p = this.queue.shift()!;
      batch.push(p);
      prompts += p.request.texts.length;
    }
    this.inFlight++;
    this.opts.onBatch?.(prompts);
    this.session
      .routeSettled(batch.map((p) => p.request))
      .then((results) => results.forEach((r, i) => (r instanceof Error ? batch[i].reject(r) : batch[i].resolve(r))))
      .catch((err: Error) => batch.forEach((p) => p.reject(err)))
      .finally(() => {
        this.inFlight--;
        // What queued meanwhile has waited long enough: go now.
        if (this.queue.length) this.flush();
      });
    // A second batch may start at once when there is room and more waiting.
    if (this.queue.length) this.schedule();
  }
}
