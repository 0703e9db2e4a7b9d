/**
 * What keeps a collect run polite and within budget:
 * - `EndpointLimiter`: per endpoint, at most `concurrency` calls in flight, at most
 *   `requestsPerMinute` calls started and `tokensPerMinute` tokens (estimated before the call,
 *   corrected by the answer's usage) in any 60-second window, and a pause when the endpoint
 *   answers 429 with Retry-After (no call to it starts before then). Waiters are served first
 *   come, first served.
 * - `SpendCap`: --max-spend. A call starts only if what was spent, plus the worst case of every
 *   call in flight, plus this call's worst case, stays within the cap; so the cap holds however
 *   the calls in flight end. See `worstCaseCost` for the bound.
 */
export interface LimiterSettings {
  concurrency: number;
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
}

export interface Slot {
  /** Give the slot back; `tokens` corrects the tokens this call is counted for in the window. */
  release(tokens?: number): void;
}

const WINDOW_MS = 60_000;

interface Waiter {
  tokens: number;
  grant: (slot: Slot) => void;
}

export class EndpointLimiter {
  private inFlight = 0;
  private readonly queue: Waiter[] = [];
  private readonly window: { t: number; tokens: number }[] = [];
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly settings: LimiterSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Wait for a slot for a call of about `tokens` tokens (input estimate + max output). */
  acquire(tokens: number): Promise<Slot> {
    return new Promise((grant) => {
      this.queue.push({ tokens, grant });
      this.pump();
    });
  }

  /** No call starts before `ms` from now (a 429's Retry-After). */
  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
  }

  private prune(t: number): void {
    while (this.window.length && this.window[0].t <= t - WINDOW_MS) this.window.shift();
  }

  /** ms until the head waiter may start (0: now). */
  private waitFor(tokens: number): number {
    const t = this.now();
    if (t < this.pausedUntil) return this.pausedUntil - t;
    this.prune(t);
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = this.settings;
    if (rpm !== null && this.window.length >= rpm) return this.window[this.window.length - rpm].t + WINDOW_MS - t;
    if (tpm !== null && this.window.length > 0) {
      let sum = this.window.reduce((a, e) => a + e.tokens, 0);
      // A call larger than the whole budget goes alone into an empty window.
      const need = Math.min(tokens, tpm);
      for (const e of this.window) {
        if (sum + need <= tpm) return 0;
        sum -= e.tokens;
        if (sum + need <= tpm) return e.t + WINDOW_MS - t;
      }
      return 0;
    }
    return 0;
  }

  private pump(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.queue.length && this.inFlight < this.settings.concurrency) {
      const head = this.queue[0];
      const wait = this.waitFor(head.tokens);
      if (wait > 0) {
        this.timer = setTimeout(() => this.pump(), Math.max(1, Math.ceil(wait)));
        return;
      }
      this.queue.shift();
      this.inFlight++;
      const entry = { t: this.now(), tokens: head.tokens };
      this.window.push(entry);
      let released = false;
      head.grant({
        release: (tokens?: number) => {
          if (released) return;
          released = true;
          if (tokens !== undefined && Number.isFinite(tokens)) entry.tokens = tokens;
          this.inFlight--;
          this.pump();
        },
      });
    }
  }
}

/** Reservations of worst-case cost against a cap (null: no cap, only counting). */
export class SpendCap {
  private spentUsd: number;
  private reservedUsd = 0;
  private inFlightCount = 0;
  private waiters: (() => void)[] = [];

  constructor(
    readonly cap: number | null,
    /** Spend already recorded (the journal's, on a resumed run). */
    spent = 0,
  ) {
    this.spentUsd = spent;
  }

  get spent(): number {
    return this.spentUsd;
  }
  get reserved(): number {
    return this.reservedUsd;
  }
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Reserve `worst` US$ if it fits under the cap with every reservation in flight. */
  tryReserve(worst: number): boolean {
    if (this.cap !== null && this.spentUsd + this.reservedUsd + worst > this.cap + 1e-12) return false;
    this.reservedUsd += worst;
    this.inFlightCount++;
    return true;
  }

  /** A reservation ended: `actual` US$ were (or may have been) spent. */
  settle(worst: number, actual: number): void {
    this.reservedUsd = Math.max(0, this.reservedUsd - worst);
    this.inFlightCount--;
    this.spentUsd += actual;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves at the next settle (for a call that did not fit while others are in flight). */
  nextSettle(): Promise<void> {
    return new Promise((r) => this.waiters.push(r));
  }
}
