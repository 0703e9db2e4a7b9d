/**
 * Where to route, said in strings at the edges (CLI flags, the server's model names and request
 * fields) and parsed here once into the typed RouteAt the routing session takes, and the
 * latency flags into the LatencyOptions it takes beside it.
 */
import type { RoutingTarget } from "../routers/targets.js";
import { InputError } from "../util/errors.js";
import type { LatencyOptions, RouteAt } from "./session.js";

/** A plain decimal number (no hex, no empty string, no "Infinity" unless asked for). */
export const DECIMAL = /^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** "inf" / "Infinity" for argmax quality; otherwise a non-negative decimal number. */
export function parseLambda(value: string): number {
  const v = value.trim().toLowerCase();
  if (v === "inf" || v === "infinity") return Infinity;
  if (!DECIMAL.test(v)) throw new InputError(`--lambda must be a non-negative decimal number or inf, got "${value}"`, { field: "--lambda" });
  return Number(v);
}

/** A budget in US$ per query: a non-negative decimal number. */
export function parseBudget(value: string, field = "--budget"): number {
  const v = value.trim().replace(/^\$/, "");
  if (!DECIMAL.test(v) || !Number.isFinite(Number(v))) throw new InputError(`${field} must be US$ per query as a non-negative decimal number (e.g. 0.002), got "${value}"`, { field });
  return Number(v);
}

/** --max-share gpt-4=0.2 (repeatable): model -> largest share of prompts, a fraction in [0, 1]. */
export function parseMaxShares(values: readonly string[] = [], field = "--max-share"): Record<string, number> | undefined {
  if (values.length === 0) return undefined;
  const out: Record<string, number> = {};
  for (const raw of values) {
    const eq = raw.lastIndexOf("=");
    const model = raw.slice(0, eq).trim();
    const f = raw.slice(eq + 1).trim();
    if (eq <= 0 || !DECIMAL.test(f) || !(Number(f) <= 1)) throw new InputError(`expected <model>=<fraction in [0, 1]>, got "${raw}"`, { field });
    if (model in out) throw new InputError(`"${model}" given twice`, { field });
    out[model] = Number(f);
  }
  return out;
}

/** The CLI's routing flags as a RouteAt: --lambda alone, or a target from --budget / --max-share; neither: the router's default. */
export function routeAtOf(o: { lambda?: string; budget?: string; maxShare?: string[]; seed: string }): RouteAt | "default" {
  const maxShare = parseMaxShares(o.maxShare);
  const targeted = o.budget !== undefined || maxShare !== undefined;
  if (o.lambda !== undefined && targeted) throw new InputError("give --lambda or a target (--budget, --max-share), not both", { field: "--lambda" });
  if (!/^-?\d+$/.test(o.seed.trim())) throw new InputError(`--seed must be an integer, got "${o.seed}"`, { field: "--seed" });
  if (o.lambda !== undefined) return { lambda: parseLambda(o.lambda) };
  if (!targeted) return "default";
  const target: RoutingTarget = { ...(o.budget !== undefined ? { budget: parseBudget(o.budget) } : {}), ...(maxShare ? { maxShare } : {}) };
  return { target, seed: Number(o.seed) };
}


/** --latency-weight: mu, US$ per second of waiting, a non-negative decimal number. */
export function parseLatencyWeight(value: string, field = "--latency-weight"): number {
  const v = value.trim().replace(/^\$/, "");
  if (!DECIMAL.test(v) || !Number.isFinite(Number(v))) throw new InputError(`${field} must be US$ per second of waiting as a non-negative decimal number (e.g. 0.0001), got "${value}"`, { field });
  return Number(v);
}

/** --max-latency: seconds, a non-negative decimal number (an "s" suffix is allowed). */
export function parseMaxLatency(value: string, field = "--max-latency"): number {
  const v = value.trim().replace(/s$/i, "");
  if (!DECIMAL.test(v) || !Number.isFinite(Number(v))) throw new InputError(`${field} must be a number of seconds (e.g. 2.5), got "${value}"`, { field });
  return Number(v);
}

/** The CLI's latency flags as LatencyOptions; undefined when neither is given (routing exactly as without). */
export function latencyOf(o: { latencyWeight?: string; maxLatency?: string }): LatencyOptions | undefined {
  if (o.latencyWeight === undefined && o.maxLatency === undefined) return undefined;
  return {
    ...(o.latencyWeight !== undefined ? { weight: parseLatencyWeight(o.latencyWeight) } : {}),
    ...(o.maxLatency !== undefined ? { maxSeconds: parseMaxLatency(o.maxLatency) } : {}),
  };
}
