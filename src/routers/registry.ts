/**
 * Router types by name, and the spec strings users write for them:
 *   "knn"                      defaults (and the type's default grid when validation rows exist)
 *   "knn:k=10"                 one value: fixed, never searched
 *   "knn:k=5|10|40"            several values: a grid searched on the validation split
 *   "mlp:hidden=100x100,epochs=200", "cascade:epsilon=0.1"
 */
import { InputError } from "../util/errors.js";
import type { Router, RouterManifest } from "./router.js";

export interface RouterFactory {
  type: string;
  kind: "predictive" | "direct";
  describe: string;
  /** Declared by the type, so a workflow knows before building a router whether to embed prompts. */
  needsEmbeddings: boolean;
  /**
   * The router needs the realised outcomes of the prompts it routes (oracle, zero, cascade): an
   * evaluation baseline, which cannot route new prompts and so is not trained for deployment.
   */
  needsOutcomes: boolean;
  create(pool: readonly string[], params: Record<string, unknown>): Router;
  /** Searched on the validation split when the spec does not fix these parameters. */
  defaultGrid?: Record<string, unknown[]>;
  /** The router takes a `seed` parameter; trainRouter fills it from its own seed unless the spec sets it. */
  seeded?: boolean;
  load?(dir: string, manifest: RouterManifest): Promise<Router>;
  /** Writes the router's weight files into `dir`; returns their names (relative to dir). */
  save?(router: Router, dir: string): Promise<string[]>;
}

const factories = new Map<string, RouterFactory>();

export function registerRouter(f: RouterFactory): void {
  if (factories.has(f.type)) throw new Error(`router type "${f.type}" is already registered`);
  factories.set(f.type, f);
}

export function getRouterFactory(type: string): RouterFactory {
  const f = factories.get(type);
  if (!f) throw new InputError(`unknown router type "${type}"; known: ${routerTypes().join(", ")}`);
  return f;
}

export function routerTypes(): string[] {
  return [...factories.keys()];
}

/** Types registered from outside routekit (by a library user): another thread does not know them. */
export function customRouterTypes(): string[] {
  return routerTypes().filter((t) => !BUILT_IN.has(t));
}

/** "5" -> 5, "true" -> true, "100x100" stays a string (the router parses its own formats). */
function parseValue(raw: string): unknown {
  const s = raw.trim();
  if (s === "true") return true;
  if (s === "false") return false;
  if (s !== "" && Number.isFinite(Number(s))) return Number(s);
  return s;
}

/**
 * A router type with its fixed parameters and the grid to search on validation rows: what the
 * spec strings above parse to, and what an experiment config's router entry already is.
 */
export interface RouterSpec {
  type: string;
  params: Record<string, unknown>;
  grid: Record<string, unknown[]>;
}

/** For library callers that still pass a spec string: parsed once, at the entry point. */
export function toRouterSpec(spec: RouterSpec | string): RouterSpec {
  return typeof spec === "string" ? parseRouterSpec(spec) : spec;
}

export function parseRouterSpec(spec: string): RouterSpec {
  const colon = spec.indexOf(":");
  const type = (colon < 0 ? spec : spec.slice(0, colon)).trim();
  if (!/^[a-z][a-z0-9-]*$/.test(type)) throw new InputError(`router spec "${spec}": "${type}" is not a router type`);
  const params: Record<string, unknown> = {};
  const grid: Record<string, unknown[]> = {};
  const rest = colon < 0 ? "" : spec.slice(colon + 1);
  for (const part of rest.split(",")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw new InputError(`router spec "${spec}": "${part}" is not name=value`);
    const name = part.slice(0, eq).trim();
    if (name in params || name in grid) throw new InputError(`router spec "${spec}": "${name}" given twice`);
    const values = part.slice(eq + 1).split("|").map(parseValue);
    if (values.some((v) => v === "")) throw new InputError(`router spec "${spec}": empty value for "${name}"`);
    if (values.length === 1) params[name] = values[0];
    else grid[name] = values;
  }
  return { type, params, grid };
}

// The built-in routers. Their modules import only types from here, so there is no cycle, except
// stack, which builds its members through this registry: its factory lives in stack-factory.ts
// (types only), and stack.ts re-exports it first, so importing stack.js or this file first works.
import { knnFactory } from "./knn.js";
import { mlpFactory } from "./mlp.js";
import { linearFactory } from "./linear.js";
import { oracleFactory } from "./baselines/oracle.js";
import { bestSingleFactory } from "./baselines/best-single.js";
import { zeroFactory } from "./baselines/zero.js";
import { cascadeFactory } from "./baselines/cascade.js";
import { irtFactory } from "./irt.js";
import { taskPriorFactory } from "./baselines/task-prior.js";
import { mfFactory } from "./mf.js";
import { stackFactory } from "./stack.js";

const BUILT_IN_FACTORIES = [knnFactory, mlpFactory, linearFactory, oracleFactory, bestSingleFactory, zeroFactory, cascadeFactory, irtFactory, taskPriorFactory, mfFactory, stackFactory];
const BUILT_IN = new Set(BUILT_IN_FACTORIES.map((f) => f.type));
for (const f of BUILT_IN_FACTORIES) registerRouter(f);
