/**
 * The model names a client sends: `router-<name>` routes with router <name> at its default
 * point (its recorded default target, else its best-quality point); `router-<name>@<budget>`
 * at a budget in US$ per query, e.g. `router-linear@0.002`. A client changes only the model name
 * it already sends to switch from one LLM to a router, or to move along the router's hull.
 */
import type { RouteAt } from "../workflow/session.js";
import { parseBudget } from "../workflow/route-at.js";
import { InputError } from "../util/errors.js";

export const ROUTER_PREFIX = "router-";

/** The name a router is served under (its directory name, or name= given on the command line). */
export function routingName(router: string): string {
  return `${ROUTER_PREFIX}${router}`;
}

/** null when `model` is not a routing name at all (the caller answers "unknown model"). */
export function parseRoutingName(model: string): { router: string; at: RouteAt | "default" } | null {
  if (!model.startsWith(ROUTER_PREFIX)) return null;
  const rest = model.slice(ROUTER_PREFIX.length);
  const at = rest.lastIndexOf("@");
  if (at < 0) return { router: rest, at: "default" };
  const budget = parseBudget(rest.slice(at + 1), "model");
  return { router: rest.slice(0, at), at: { target: { budget } } };
}

/** A router name usable in a model name: letters, digits, '.', '_', '-'. */
export function checkRouterName(name: string, field = "--router"): void {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new InputError(`router name "${name}" must use letters, digits, '.', '_' or '-' (it becomes the model name ${routingName(name)})`, { field });
}
