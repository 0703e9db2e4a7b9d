/**
 * /metrics in Prometheus text, through prom-client (the de-facto Node client), on a registry of
 * the server's own so that two servers in one process (tests) do not share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { HealthTracker } from "./health.js";

export interface ServerMetrics {
  readonly registry: Registry;
  readonly requests: Counter<"endpoint" | "status">;
  readonly decisions: Counter<"router" | "model">;
  readonly routingSeconds: Histogram<"router">;
  readonly batchPrompts: Histogram<"router">;
  readonly upstreamErrors: Counter<"model" | "kind">;
  readonly spend: Counter<"router" | "model">;
}

/**
 * Each model's live health (./health.ts), read from the tracker at every scrape: healthy (1, 0
 * when unhealthy or half-open), its state by label, consecutive failures, the moving average of
 * its observed latency, and its calls and failures.
 */
function registerHealth(registry: Registry, health: HealthTracker): void {
  const registers = [registry];
  const gauge = (name: string, help: string, value: (s: ReturnType<HealthTracker["snapshot"]>[number]) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ["model"],
      registers,
      collect() {
        this.reset();
        for (const s of health.snapshot()) {
          const v = value(s);
          if (v !== null) this.set({ model: s.model }, v);
        }
      },
    });
  gauge("routekit_model_healthy", "1 while the model's upstream is healthy (routed to), 0 while it is unhealthy or half-open (routed around; one probe at a time)", (s) => (s.state === "healthy" ? 1 : 0));
  new Gauge({
    name: "routekit_model_state",
    help: "The model's circuit state: 1 for its current state (healthy, unhealthy, half-open), 0 for the others",
    labelNames: ["model", "state"],
    registers,
    collect() {
      this.reset();
      for (const s of health.snapshot()) for (const state of ["healthy", "unhealthy", "half-open"]) this.set({ model: s.model, state }, s.state === state ? 1 : 0);
    },
  });
  gauge("routekit_model_consecutive_failures", "Upstream calls of the model that failed in a row", (s) => s.consecutiveFailures);
  gauge("routekit_model_latency_ema_seconds", "Moving average of the model's observed total latency per successful call, in seconds", (s) => s.latencyEma);
  const counter = (name: string, help: string, value: (s: ReturnType<HealthTracker["snapshot"]>[number]) => number) =>
    new Counter({
      name,
      help,
      labelNames: ["model"],
      registers,
      collect() {
        this.reset();
        for (const s of health.snapshot()) this.inc({ model: s.model }, value(s));
      },
    });
  counter("routekit_model_upstream_calls_total", "Upstream calls of the model that ended with a verdict (answered or failed; client hang-ups and 4xx not counted)", (s) => s.requests);
  counter("routekit_model_upstream_failures_total", "Upstream calls of the model that failed (connection, 5xx, timeout, broken stream, slower than the limit)", (s) => s.failures);
}

export function createMetrics(health?: HealthTracker): ServerMetrics {
  const registry = new Registry();
  if (health) registerHealth(registry, health);
  // Node's defaults (process_cpu_seconds_total, process_resident_memory_bytes, nodejs_*) under our prefix.
  collectDefaultMetrics({ register: registry, prefix: "routekit_" });
  return {
    registry,
    requests: new Counter({ name: "routekit_requests_total", help: "HTTP requests answered, by endpoint and status code", labelNames: ["endpoint", "status"], registers: [registry] }),
    decisions: new Counter({ name: "routekit_decisions_total", help: "Routing decisions, by router and chosen model", labelNames: ["router", "model"], registers: [registry] }),
    routingSeconds: new Histogram({
      name: "routekit_routing_seconds",
      help: "Time to route one request (queueing for a batch, embedding, predicting), by router",
      labelNames: ["router"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    batchPrompts: new Histogram({ name: "routekit_batch_prompts", help: "Prompts per micro-batch, by router", labelNames: ["router"], buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers: [registry] }),
    upstreamErrors: new Counter({ name: "routekit_upstream_errors_total", help: "Upstream calls that failed, by model and kind (status, timeout, connection)", labelNames: ["model", "kind"], registers: [registry] }),
    spend: new Counter({
      name: "routekit_estimated_spend_usd_total",
      help: "Estimated spend in US$: each forwarded request counted at its model's expected cost per query (from the router's training rows)",
      labelNames: ["router", "model"],
      registers: [registry],
    }),
  };
}
