/**
 * /metrics in Prometheus text, through prom-client (the de-facto Node client), on a registry of
 * the server's own so that two servers in one process (tests) do not share counters.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface ServerMetrics {
  readonly registry: Registry;
  readonly requests: Counter<"endpoint" | "status">;
  readonly decisions: Counter<"router" | "model">;
  readonly routingSeconds: Histogram<"router">;
  readonly batchPrompts: Histogram<"router">;
  readonly upstreamErrors: Counter<"model" | "kind">;
  readonly spend: Counter<"router" | "model">;
}

export function createMetrics(): ServerMetrics {
  const registry = new Registry();
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
