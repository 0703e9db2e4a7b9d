/**
 * Live model health: a circuit breaker per pool model, fed by the server's own upstream calls.
 *
 * A call fails when its upstream cannot be reached, answers 5xx, times out, or breaks off a
 * streamed answer; a call that answers but takes longer than `slowSeconds` (when set) counts as
 * a failure too. A model is marked unhealthy (the breaker opens) after `failures` consecutive
 * failures, or when at least `errorRate` of its last `window` calls failed (once it has had
 * `window` calls). Client mistakes (4xx) and client hang-ups say nothing about the upstream and
 * are not counted.
 *
 * An unhealthy model is routed around: the server routes with it excluded from the pool (the same
 * rule over the other models). After `coolDownSeconds` it is half-open: it is offered to routing
 * again and the first request routed to it is the probe (one at a time; the others still route
 * around it). A probe that succeeds closes the breaker (healthy, counters reset); one that fails
 * opens it for another cool-down. Real requests are the probes, so no traffic is invented; a
 * failed probe is retried on the next model like any failed call.
 *
 * Each model's observed total latency (request sent to answer complete) is kept as an
 * exponential moving average, shown by /metrics.
 */

export interface HealthOptions {
  /** Consecutive failures that mark a model unhealthy. */
  failures: number;
  /** Calls in the error-rate window. */
  window: number;
  /** Share of the window's calls that failed, at or above which the model is unhealthy (0..1]. */
  errorRate: number;
  /** How long an unhealthy model is routed around before one request probes it. */
  coolDownSeconds: number;
  /** A call slower than this (seconds) counts as a failure; undefined: no limit beyond the upstream's timeout. */
  slowSeconds?: number;
  /** Weight of the newest call in the latency moving average (0..1]. */
  latencyAlpha: number;
  /**
   * Successful calls before a model's moving average replaces its training latency in the
   * routing rule's latency term (until then, one slow or fast call would swing it).
   */
  latencyMinCalls: number;
  /**
   * How long an observation counts in full: the moving average's weight in the rule is
   * exp(-age / latencyMemorySeconds), age since the model's last timed call, and the rest is its
   * training figure. A model routed away for being slow gets no new calls to show it recovered;
   * this way its figure drifts back and it is tried again.
   */
  latencyMemorySeconds: number;
}

/** The defaults, stated once (upstreams.yaml's `health:` section overrides each). */
export const DEFAULT_HEALTH: HealthOptions = { failures: 3, window: 20, errorRate: 0.5, coolDownSeconds: 30, latencyAlpha: 0.2, latencyMinCalls: 5, latencyMemorySeconds: 120 };

export type HealthState = "healthy" | "unhealthy" | "half-open";

interface ModelHealth {
  state: HealthState;
  consecutiveFailures: number;
  /** The last `window` outcomes, true: failed. */
  recent: boolean[];
  openedAt: number;
  probing: boolean;
  latencyEma: number | null;
  /** Successful calls timed into latencyEma, and when the last one ended. */
  timed: number;
  timedAt: number;
  requests: number;
  failures: number;
}

/** What one call said about its upstream. */
export type CallOutcome = { ok: true; seconds: number } | { ok: false };

export class HealthTracker {
  private readonly models = new Map<string, ModelHealth>();
  readonly options: HealthOptions;

  constructor(
    models: Iterable<string>,
    options: Partial<HealthOptions> = {},
    private readonly now: () => number = () => performance.now(),
  ) {
    this.options = { ...DEFAULT_HEALTH, ...options };
    for (const m of models) this.models.set(m, { state: "healthy", consecutiveFailures: 0, recent: [], openedAt: 0, probing: false, latencyEma: null, timed: 0, timedAt: 0, requests: 0, failures: 0 });
  }

  private of(model: string): ModelHealth {
    const h = this.models.get(model);
    if (!h) throw new Error(`no health record for "${model}"`);
    return h;
  }

  /** Models that routing must leave out now: unhealthy and cooling down, or half-open with a probe in flight. */
  excluded(): string[] {
    const t = this.now();
    const out: string[] = [];
    for (const [m, h] of this.models) {
      if (h.state === "unhealthy" && t - h.openedAt >= this.options.coolDownSeconds * 1000) h.state = "half-open";
      if (h.state === "unhealthy" || (h.state === "half-open" && h.probing)) out.push(m);
    }
    return out;
  }

  /**
   * A request is about to call `model`: false when it may not (a probe is already in flight, or
   * it is cooling down), so the caller routes again without it. Calling a half-open model makes
   * this request its probe.
   */
  acquire(model: string): boolean {
    if (this.excluded().includes(model)) return false;
    const h = this.of(model);
    if (h.state === "half-open") h.probing = true;
    return true;
  }

  /** The call to `model` ended: its outcome, or null when it says nothing about the upstream (the client hung up, a 4xx). */
  release(model: string, outcome: CallOutcome | null): void {
    const h = this.of(model);
    const probe = h.state === "half-open" && h.probing;
    h.probing = false;
    if (!outcome) return;
    h.requests++;
    const o = this.options;
    const slow = outcome.ok && o.slowSeconds !== undefined && outcome.seconds > o.slowSeconds;
    if (outcome.ok) {
      h.latencyEma = h.latencyEma === null ? outcome.seconds : o.latencyAlpha * outcome.seconds + (1 - o.latencyAlpha) * h.latencyEma;
      h.timed++;
      h.timedAt = this.now();
    }
    const failed = !outcome.ok || slow;
    h.recent.push(failed);
    if (h.recent.length > o.window) h.recent.shift();
    if (!failed) {
      h.consecutiveFailures = 0;
      // A success is the evidence a probe waits for (also one sent while every model was unhealthy).
      if (h.state !== "healthy") {
        h.state = "healthy";
        h.recent = [];
      }
      return;
    }
    h.failures++;
    h.consecutiveFailures++;
    const rate = h.recent.length >= o.window ? h.recent.filter(Boolean).length / h.recent.length : 0;
    if (probe || h.state === "half-open" || h.consecutiveFailures >= o.failures || rate >= o.errorRate) {
      if (h.state !== "unhealthy") h.openedAt = this.now();
      h.state = "unhealthy";
      if (probe) h.openedAt = this.now();
    }
  }

  /**
   * Each model's expected latency as served, for the routing rule's latency term (seconds): for
   * models with at least latencyMinCalls timed calls, the moving average of those calls blended
   * with `trained(model)` (its training figure; the average alone when that is unknown) by the
   * weight exp(-age / latencyMemorySeconds). Models without enough calls are left out.
   */
  observedLatencies(trained: (model: string) => number | undefined = () => undefined): Map<string, number> {
    const out = new Map<string, number>();
    const t = this.now();
    for (const [m, h] of this.models) {
      if (h.latencyEma === null || h.timed < this.options.latencyMinCalls) continue;
      const base = trained(m);
      const w = Math.exp(-Math.max(0, t - h.timedAt) / 1000 / this.options.latencyMemorySeconds);
      out.set(m, base !== undefined && Number.isFinite(base) ? w * h.latencyEma + (1 - w) * base : h.latencyEma);
    }
    return out;
  }

  /** Each model's live state, for /metrics. */
  snapshot(): { model: string; state: HealthState; consecutiveFailures: number; latencyEma: number | null; requests: number; failures: number }[] {
    this.excluded(); // moves cooled-down models to half-open
    return [...this.models].map(([model, h]) => ({ model, state: h.state, consecutiveFailures: h.consecutiveFailures, latencyEma: h.latencyEma, requests: h.requests, failures: h.failures }));
  }
}
