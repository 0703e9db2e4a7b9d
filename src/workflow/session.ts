/**
 * A routing session: a saved router directory loaded once (weights, manifest, operating points,
 * learned prefixes) with its encoder kept warm, routing batches of prompts at a lambda, a budget
 * or traffic shares. `routekit route` opens one per call; `routekit serve` keeps one per router
 * for its lifetime and hands it the prompts of many concurrent requests at once (routeMany), so
 * they share one embedding batch and one prediction.
 *
 * Routing is the one rule of ../routers/routing.ts (argmax lambda * q - c - mu * latency per
 * prompt, mu = 0 unless a latency weight is asked for); a target is met by the router's operating
 * points (../routers/targets.ts), mixing two points by a seeded draw keyed by each prompt's text,
 * so a prompt gets the same model in any batch.
 */
import { join } from "node:path";
import { selectEmbeddingRows, type Embedder, type EmbeddingMatrix } from "../embed/embedder.js";
import { createEmbedder, defaultCacheDir, embedTexts } from "../embed/index.js";
import { expectedLatenciesOfManifest, loadRouter, MANIFEST_FILE, operatingPointsOf, type SavedRouterManifest } from "../routers/artifact.js";
import type { PredictiveRouter, Router } from "../routers/router.js";
import { routePrompts, type LatencyTerm } from "../routers/routing.js";
import { chooseTarget, pointsForPrompts, type OperatingPoint, type OperatingPoints, type RoutingTarget, type TargetChoice } from "../routers/targets.js";
import { InputError } from "../util/errors.js";
import type { ProgressFn } from "../util/progress.js";

export interface RoutedPrompt {
  id: string;
  model: string;
  /** The lambda this prompt was routed at (Infinity: best predicted quality). */
  lambda: number;
  /**
   * What the point promises: with a target, the operating point's expected US$ per query and
   * quality (measured on validation or calibration prompts); with a bare lambda, this prompt's
   * own figures (the chosen model's expected cost and the router's predicted quality for it).
   */
  expectedCost: number;
  expectedQuality: number;
  /** Predicted quality of every pool model. */
  quality: Record<string, number>;
  /** The chosen model's expected latency in seconds (from its training rows, or observed live when the request gave that), when known. */
  expectedLatency?: number;
}

/**
 * The latency side of routing: route to argmax lambda * q - c - weight * latency, optionally only
 * among models whose expected latency is at most maxSeconds. Needs a router that records expected
 * latencies (trained on a table with latency).
 */
export interface LatencyOptions {
  /** mu: US$ per second of waiting (default 0). */
  weight?: number;
  /** Only models whose expected latency is at most this many seconds. */
  maxSeconds?: number;
  /**
   * Expected latencies observed live (seconds, e.g. the server's moving average of each model's
   * recent calls): they replace the training rows' figure for the models they name, so the term
   * follows an endpoint that slows down or speeds up. Names outside the pool are ignored.
   */
  observedSeconds?: ReadonlyMap<string, number>;
}

/** How to route: at a bare lambda (for experts), or at a target met by the router's operating points. */
export type RouteAt = { lambda: number } | { target: RoutingTarget; seed?: number };

export interface RoutePlan {
  /** "lambda" or "target"; with a target, the choice on the hull. */
  mode: "lambda" | "target";
  lambda?: number;
  choice?: TargetChoice;
  /** Where the operating points were measured, and on how many prompts. */
  pointsOn?: { on: OperatingPoints["on"]; prompts: number };
  /** Set when no routing was asked for: the router's recorded default target, or its best-quality point. */
  defaulted?: "recorded target" | "best-quality point";
  /** The latency term and limit applied, when asked for; `observed`: the live latencies (s) used in place of the training figures. */
  latency?: { weight: number; maxSeconds?: number; note?: string; observed?: Record<string, number> };
}

/** Prompts to route. `ids` default to "1", "2", ...; `evals` (each prompt's task, or null) reach task-aware routers only. */
export interface PromptsToRoute {
  ids?: readonly string[];
  texts: readonly string[];
  evals?: readonly (string | null)[];
}

export interface RoutingRequest extends PromptsToRoute {
  at: RouteAt | "default";
  latency?: LatencyOptions;
  /**
   * Pool models to leave out of this request's decisions (e.g. the server's unhealthy upstreams):
   * the same rule over the rest. Names outside the pool are ignored; leaving out every model is
   * an error. Empty or absent: decisions exactly as without.
   */
  exclude?: readonly string[];
}

export interface SessionOptions {
  /** Embedding cache on disk (default: none; `route` passes the user's cache). */
  cacheDir?: string | false;
  /** Encoder threads (use-lite workers). */
  threads?: number;
  /** Keep this many prompt embeddings in memory, by prepared text (default 0: none). A server repeats prompts. */
  memo?: number;
  /** Embed one prompt at open, so the first real request does not pay the encoder's warm-up. */
  warm?: boolean;
  /** A ready encoder to use instead of creating one (the caller closes it). */
  embedder?: Embedder;
}

/** A router that can route new prompts: predictive, and not an evaluation baseline that needs outcomes. */
export function routable(dir: string, router: Router): PredictiveRouter {
  if (router.kind !== "predictive" || router.needsOutcomes) {
    throw new InputError(`router type ${router.type} needs the realised outcomes of the prompts it routes (it is a baseline for evaluation), so it cannot route new prompts`, { file: dir });
  }
  return router;
}

/** The target a router routes at when not told: its recorded default, else the best-quality point. */
export function defaultRouteAt(manifest: SavedRouterManifest): RouteAt {
  return { target: manifest.defaultTarget ?? {} };
}

/** Embed prompts the way a saved router's training prompts were embedded; null for routers that do not read prompts. */
export async function embedForRouter(
  dir: string,
  router: Router,
  manifest: SavedRouterManifest,
  prompts: { texts: readonly string[]; evals?: readonly (string | null)[] | null },
  opts: { cacheDir?: string | false; onProgress?: ProgressFn; embedder?: Embedder },
): Promise<EmbeddingMatrix | null> {
  if (!router.needsEmbeddings) return null;
  const e = embedderOf(dir, manifest);
  const evals = prompts.evals && prompts.evals.every((x) => typeof x === "string") ? (prompts.evals as string[]) : null;
  const { matrix } = await embedTexts(prompts.texts, evals, {
    spec: e.spec,
    embedder: opts.embedder,
    preparation: e.preparation,
    prefixes: manifest.prefixes ?? {},
    cacheDir: opts.cacheDir,
    onProgress: opts.onProgress,
  });
  if (matrix.embedderId !== e.id) {
    throw new InputError(`the router was trained on embeddings from ${e.id}, but "${e.spec}" now gives ${matrix.embedderId}; retrain the router`, { file: join(dir, MANIFEST_FILE) });
  }
  return matrix;
}

function embedderOf(dir: string, manifest: SavedRouterManifest): NonNullable<SavedRouterManifest["embedder"]> {
  if (!manifest.embedder) throw new InputError("the router reads embeddings but router.json names no embedder", { file: join(dir, MANIFEST_FILE) });
  return manifest.embedder;
}

/** A resolved RouteAt: the plan, and the per-prompt lambda and promised point. */
interface Resolved {
  plan: RoutePlan;
  choice: TargetChoice | null;
  lambda: number;
  seed: number;
  /** The latency term for routeAt; undefined when none was asked for (decisions exactly as without). */
  latency?: LatencyTerm;
}

/** The operating points' promise does not price latency: said once where the plan is shown. */
export const LATENCY_TARGET_NOTE = "the operating points were measured without the latency term; with it, spend and quality may differ from the point's figures";

export class RoutingSession {
  private closed = false;
  private readonly memo = new Map<string, Float32Array>();

  private constructor(
    readonly dir: string,
    readonly router: PredictiveRouter,
    readonly manifest: SavedRouterManifest,
    private readonly embedder: Embedder | null,
    private readonly ownsEmbedder: boolean,
    private readonly opts: SessionOptions,
  ) {}

  /** Load a router directory once; its encoder is created (and warmed when asked) here, not per call. */
  static async open(dir: string, opts: SessionOptions = {}): Promise<RoutingSession> {
    const { router: loaded, manifest } = await loadRouter(dir);
    const router = routable(dir, loaded);
    let embedder: Embedder | null = null;
    let owns = false;
    if (router.needsEmbeddings) {
      const e = embedderOf(dir, manifest);
      embedder = opts.embedder ?? (await createEmbedder(e.spec, { threads: opts.threads, cacheDir: typeof opts.cacheDir === "string" ? opts.cacheDir : undefined }));
      owns = !opts.embedder;
      if (embedder.id !== e.id) {
        if (owns) await embedder.close();
        throw new InputError(`the router was trained on embeddings from ${e.id}, but "${e.spec}" now gives ${embedder.id}; retrain the router`, { file: join(dir, MANIFEST_FILE) });
      }
    }
    const session = new RoutingSession(dir, router, manifest, embedder, owns, opts);
    if (opts.warm && embedder) await session.embed(["warm up"]);
    return session;
  }

  get pool(): readonly string[] {
    return this.router.pool;
  }

  /** The operating points targets are met on, or null when the router records none. */
  get operatingPoints(): OperatingPoints | null {
    return operatingPointsOf(this.manifest);
  }

  /** Expected latency in seconds of each pool model (NaN where unknown), or null when the router records none. */
  get expectedLatencies(): Float64Array | null {
    return expectedLatenciesOfManifest(this.manifest);
  }

  /** Expected US$ per query of a pool model (from its training rows). */
  expectedCost(model: string): number {
    const i = this.router.pool.indexOf(model);
    if (i < 0) throw new Error(`"${model}" is not in the pool of ${this.dir}`);
    return this.router.expectedCosts[i];
  }

  /**
   * Check a RouteAt and resolve it once: a target becomes its choice on the hull. Throws an
   * InputError naming the field for a target the router cannot meet (an unknown model's share,
   * no operating points).
   */
  plan(at: RouteAt | "default", latency?: LatencyOptions): RoutePlan {
    return this.resolve(at, latency).plan;
  }

  /**
   * Check a latency term against the router: a weight >= 0 and a limit >= 0, and every pool model
   * with an expected latency. undefined when none is asked for (weight 0, no limit).
   */
  private latencyTerm(latency: LatencyOptions | undefined): (LatencyTerm & { observed?: string[] }) | undefined {
    if (!latency) return undefined;
    const { weight = 0, maxSeconds } = latency;
    if (!(weight >= 0) || !Number.isFinite(weight)) throw new InputError(`the latency weight must be US$ per second as a finite number >= 0, got ${weight}`, { field: "latencyWeight" });
    if (maxSeconds !== undefined && !(maxSeconds >= 0)) throw new InputError(`the latency limit must be a number of seconds >= 0, got ${maxSeconds}`, { field: "maxLatency" });
    if (weight === 0 && maxSeconds === undefined) return undefined;
    const trained = this.expectedLatencies;
    const observed = latency.observedSeconds;
    const live = observed ? this.router.pool.filter((m) => { const x = observed.get(m); return x !== undefined && x >= 0 && Number.isFinite(x); }) : [];
    const seconds = live.length ? Float64Array.from(this.router.pool, (m, j) => (live.includes(m) ? observed!.get(m)! : (trained?.[j] ?? NaN))) : trained;
    const field = weight > 0 ? "latencyWeight" : "maxLatency";
    if (!seconds) {
      throw new InputError(
        `the router records no expected latencies (trained before routekit kept them, or on a table without latency), so it cannot route with a latency weight or limit; retrain it on a table with latency columns`,
        { file: join(this.dir, MANIFEST_FILE), field },
      );
    }
    const unknown = this.router.pool.filter((_, j) => Number.isNaN(seconds[j]));
    if (unknown.length) {
      throw new InputError(`the router records no expected latency for ${unknown.join(", ")} (its training rows had none), so it cannot route with a latency weight or limit`, { file: join(this.dir, MANIFEST_FILE), field });
    }
    return { seconds, weight, ...(maxSeconds !== undefined ? { maxSeconds } : {}), models: this.router.pool, ...(live.length ? { observed: live } : {}) };
  }

  private resolve(at: RouteAt | "default", latencyAsked?: LatencyOptions): Resolved {
    const latency = this.latencyTerm(latencyAsked);
    const resolved = this.resolveAt(at);
    if (!latency) return resolved;
    const plan: RoutePlan = {
      ...resolved.plan,
      latency: {
        weight: latency.weight,
        ...(latency.maxSeconds !== undefined ? { maxSeconds: latency.maxSeconds } : {}),
        ...(resolved.plan.mode === "target" ? { note: LATENCY_TARGET_NOTE } : {}),
        ...(latency.observed ? { observed: Object.fromEntries(latency.observed.map((m) => [m, latency.seconds[this.router.pool.indexOf(m)]])) } : {}),
      },
    };
    // A limit no model meets is the same error for every prompt: say it before any work.
    if (latency.maxSeconds !== undefined && !latency.seconds.some((x) => x <= latency.maxSeconds!)) {
      let fastest = 0;
      latency.seconds.forEach((x, j) => (x < latency.seconds[fastest] ? (fastest = j) : 0));
      throw new InputError(
        `no model's expected latency fits the limit of ${latency.maxSeconds} s; the fastest is ${this.router.pool[fastest]} at ${Number(latency.seconds[fastest].toPrecision(3))} s`,
        { field: "maxLatency" },
      );
    }
    return { ...resolved, plan, latency };
  }

  private resolveAt(at: RouteAt | "default"): Resolved {
    const asked = at === "default" ? defaultRouteAt(this.manifest) : at;
    if ("lambda" in asked) {
      if (!(asked.lambda >= 0)) throw new InputError(`lambda must be >= 0, got ${asked.lambda}`, { field: "lambda" });
      return { plan: { mode: "lambda", lambda: asked.lambda }, choice: null, lambda: asked.lambda, seed: 0 };
    }
    const ops = this.operatingPoints;
    if (!ops || ops.points.length === 0) {
      throw new InputError("the router records no operating points (it had no validation rows); run `routekit calibrate` on held-out traffic, or route with --lambda", { file: join(this.dir, MANIFEST_FILE) });
    }
    const choice = chooseTarget(ops, asked.target, this.router.pool);
    const plan: RoutePlan = { mode: "target", choice, pointsOn: { on: ops.on, prompts: ops.prompts } };
    if (at === "default") plan.defaulted = this.manifest.defaultTarget ? "recorded target" : "best-quality point";
    return { plan, choice, lambda: NaN, seed: asked.seed ?? 0 };
  }

  /** Embeddings of prompts as the router's training prompts were embedded (memoised by text when asked); null when the router reads none. */
  async embed(texts: readonly string[], onProgress?: ProgressFn): Promise<EmbeddingMatrix | null> {
    if (this.closed) throw new Error(`routing session ${this.dir} is closed`);
    if (!this.embedder) return null;
    const size = this.opts.memo ?? 0;
    const misses = size > 0 ? [...new Set(texts.filter((t) => !this.memo.has(t)))] : (texts as string[]);
    // Embedding never sees evals: a deployment may not know them (prefixes go by longest match).
    const computed = misses.length || size === 0 ? await embedForRouter(this.dir, this.router, this.manifest, { texts: misses }, { cacheDir: this.opts.cacheDir ?? false, embedder: this.embedder, onProgress }) : null;
    if (size === 0) return computed;
    const d = this.embedder.dimension;
    misses.forEach((t, i) => this.remember(t, computed!.data.slice(i * d, i * d + d)));
    const data = new Float32Array(texts.length * d);
    texts.forEach((t, i) => {
      const v = this.memo.get(t)!;
      // Refresh its place: the map's order is least recently used first.
      this.memo.delete(t);
      this.memo.set(t, v);
      data.set(v, i * d);
    });
    const e = this.manifest.embedder!;
    return { rows: texts.length, dimension: d, data, embedderId: e.id, preparation: e.preparation };
  }

  private remember(text: string, v: Float32Array): void {
    this.memo.set(text, v);
    const size = this.opts.memo ?? 0;
    while (this.memo.size > size) this.memo.delete(this.memo.keys().next().value!);
  }

  /** Route one batch of prompts at one RouteAt. */
  async route(prompts: PromptsToRoute, at: RouteAt | "default", onProgress?: ProgressFn, latency?: LatencyOptions): Promise<{ routed: RoutedPrompt[]; plan: RoutePlan }> {
    const [result] = await this.routeMany([{ ...prompts, at, ...(latency ? { latency } : {}) }], onProgress);
    return result;
  }

  /**
   * Route several requests, each at its own RouteAt, with one embedding batch and one
   * prediction for all their prompts. Throws on the first request that cannot be routed.
   */
  async routeMany(requests: readonly RoutingRequest[], onProgress?: ProgressFn): Promise<{ routed: RoutedPrompt[]; plan: RoutePlan }[]> {
    return (await this.routeSettled(requests, onProgress, false)) as { routed: RoutedPrompt[]; plan: RoutePlan }[];
  }

  /**
   * routeMany for requests from different callers (the server's micro-batches): every request
   * is checked before any work, and one that cannot be routed (a bad target) fails alone: its
   * slot holds the error, the others are routed.
   */
  async routeSettled(requests: readonly RoutingRequest[], onProgress?: ProgressFn, settle = true): Promise<({ routed: RoutedPrompt[]; plan: RoutePlan } | Error)[]> {
    const resolved: (Resolved | Error)[] = requests.map((r) => {
      try {
        if (r.ids && r.ids.length !== r.texts.length) throw new Error(`${r.ids.length} ids for ${r.texts.length} prompts`);
        if (r.evals && r.evals.length !== r.texts.length) throw new Error(`${r.evals.length} evals for ${r.texts.length} prompts`);
        this.availability(r.exclude);
        return this.resolve(r.at, r.latency);
      } catch (err) {
        if (!settle) throw err;
        return err as Error;
      }
    });
    const ok = requests.flatMap((r, k) => (resolved[k] instanceof Error ? [] : [{ r, k, res: resolved[k] as Resolved }]));
    const texts = ok.flatMap(({ r }) => r.texts);
    const out: ({ routed: RoutedPrompt[]; plan: RoutePlan } | Error)[] = resolved.map((x) => (x instanceof Error ? x : (null as never)));
    if (texts.length === 0) {
      for (const { k, res } of ok) out[k] = { routed: [], plan: res.plan };
      return out;
    }
    // Per prompt: its lambda, and what the point it is routed at promises (null: the prompt's own figures).
    const lambdas: number[] = [];
    const points: (OperatingPoint | null)[] = [];
    for (const { r, res } of ok) {
      if (res.choice) {
        for (const p of pointsForPrompts(res.choice, r.texts, res.seed)) {
          lambdas.push(p.lambda ?? Infinity);
          points.push(p);
        }
      } else {
        for (let i = 0; i < r.texts.length; i++) {
          lambdas.push(res.lambda);
          points.push(null);
        }
      }
    }
    const ids = ok.flatMap(({ r }) => r.ids ?? r.texts.map((_, i) => String(i + 1)));
    const anyEval = ok.some(({ r }) => r.evals);
    const evals = anyEval ? ok.flatMap(({ r }) => r.evals ?? r.texts.map(() => null)) : undefined;
    const embeddings = await this.embed(texts, onProgress);
    const pool = this.router.pool;
    const m = pool.length;
    const batch = { ids, texts, ...(evals ? { evals } : {}), embeddings };
    const { chosen, quality } = await this.routeByLatency(batch, lambdas, ok.map(({ r, res }) => ({ prompts: r.texts.length, latency: res.latency, available: this.availability(r.exclude) })));
    const trained = this.expectedLatencies;
    let at = 0;
    for (const { r, k, res } of ok) {
      // The figures the decision used: live ones where the request brought them.
      const seconds = res.latency?.seconds ?? trained;
      const routed: RoutedPrompt[] = [];
      for (let j = 0; j < r.texts.length; j++, at++) {
        const c = chosen[at];
        const p = points[at];
        routed.push({
          id: ids[at],
          model: pool[c],
          lambda: lambdas[at],
          expectedCost: p ? p.cost : this.router.expectedCosts[c],
          expectedQuality: p ? p.quality : quality[at * m + c],
          quality: Object.fromEntries(pool.map((name, x) => [name, quality[at * m + x]])),
          ...(seconds && Number.isFinite(seconds[c]) ? { expectedLatency: seconds[c] } : {}),
        });
      }
      out[k] = { routed, plan: res.plan };
    }
    return out;
  }

  /** The availability mask for routeAt of a request's excluded models; undefined when none of the pool is excluded. */
  private availability(exclude: readonly string[] | undefined): boolean[] | undefined {
    if (!exclude || exclude.length === 0) return undefined;
    const out = this.router.pool.map((m) => !exclude.includes(m));
    if (out.every(Boolean)) return undefined;
    if (!out.some(Boolean)) throw new Error(`every model of the pool of ${this.dir} is excluded`);
    return out;
  }

  /**
   * routePrompts over the whole batch, once per distinct latency term and availability mask
   * among its requests (in the usual case, one): a prompt's predicted quality does not depend on
   * which prompts share its batch, so splitting changes no decision.
   */
  private async routeByLatency(
    batch: { ids: string[]; texts: string[]; evals?: (string | null)[]; embeddings: EmbeddingMatrix | null },
    lambdas: number[],
    parts: readonly { prompts: number; latency?: LatencyTerm; available?: boolean[] }[],
  ): Promise<{ chosen: Int32Array; quality: Float64Array }> {
    const keyOf = (p: { latency?: LatencyTerm; available?: boolean[] }) => `${p.latency ? `${p.latency.weight}:${p.latency.maxSeconds ?? ""}:${p.latency.seconds.join(",")}` : ""}|${p.available ? p.available.map(Number).join("") : ""}`;
    const keys = [...new Set(parts.map((p) => keyOf(p)))];
    if (keys.length === 1) return routePrompts(this.router, batch, lambdas, parts[0].latency, parts[0].available);
    const m = this.router.pool.length;
    const n = batch.ids.length;
    const chosen = new Int32Array(n);
    const quality = new Float64Array(n * m);
    for (const key of keys) {
      const rows: number[] = [];
      let latency: LatencyTerm | undefined;
      let available: boolean[] | undefined;
      let start = 0;
      for (const p of parts) {
        if (keyOf(p) === key) {
          latency = p.latency;
          available = p.available;
          for (let i = 0; i < p.prompts; i++) rows.push(start + i);
        }
        start += p.prompts;
      }
      const e = batch.embeddings;
      const sub = {
        ids: rows.map((i) => batch.ids[i]),
        texts: rows.map((i) => batch.texts[i]),
        ...(batch.evals ? { evals: rows.map((i) => batch.evals![i]) } : {}),
        embeddings: e ? selectEmbeddingRows(e, rows) : null,
      };
      const r = await routePrompts(this.router, sub, rows.map((i) => lambdas[i]), latency, available);
      rows.forEach((i, k) => {
        chosen[i] = r.chosen[k];
        quality.set(r.quality.subarray(k * m, (k + 1) * m), i * m);
      });
    }
    return { chosen, quality };
  }

  /** Release the encoder (its worker threads) and the router's tensors. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.memo.clear();
    if (this.ownsEmbedder) await this.embedder?.close();
    (this.router as { dispose?: () => void }).dispose?.();
  }
}

/**
 * Load a saved router, route prompts once (at a lambda, a target, or its default), close. Routers
 * that need outcomes are refused. A caller routing more than once should keep a RoutingSession.
 */
export async function routeWithSavedRouter(
  dir: string,
  prompts: PromptsToRoute,
  at: RouteAt | "default",
  opts: { cacheDir?: string | false; onProgress?: ProgressFn; latency?: LatencyOptions } = {},
): Promise<{ routed: RoutedPrompt[]; plan: RoutePlan; manifest: SavedRouterManifest }> {
  // As every command: the user's embedding cache unless told otherwise.
  const session = await RoutingSession.open(dir, { cacheDir: opts.cacheDir ?? defaultCacheDir() });
  try {
    const { routed, plan } = await session.route(prompts, at, opts.onProgress, opts.latency);
    return { routed, plan, manifest: session.manifest };
  } finally {
    await session.close();
  }
}
