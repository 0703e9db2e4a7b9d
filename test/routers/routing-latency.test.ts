/**
 * Latency in the decision: the one routing rule with a latency term (argmax lambda * q - c -
 * mu * latency) and a limit; expected latencies saved with the router; `route` with
 * --latency-weight / --max-latency.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { routeAt } from "../../src/routers/routing.js";
import { expectedLatenciesOf } from "../../src/routers/common.js";
import { loadRouter, type SavedRouterManifest } from "../../src/routers/artifact.js";
import { completeRows, selectRows, type OutcomeTable } from "../../src/data/table.js";
import { writeOutcomeTable } from "../../src/data/arrow-io.js";
import { synthesize } from "../../src/data/synth/index.js";
import { trainAndSave } from "../../src/workflow/train.js";
import { RoutingSession, routeWithSavedRouter } from "../../src/workflow/session.js";
import { InputError } from "../../src/util/errors.js";
import { makeRng } from "../../src/util/rng.js";
import { runCli } from "../helpers/cli.js";

const costs = Float64Array.from([3, 2, 1]);

describe("routeAt with a latency term", () => {
  it("mu = 0 and no limit: every decision bitwise as without the term (per-model and per-cell costs, any lambda)", () => {
    const rng = makeRng("latency-inert");
    const n = 500;
    const m = 5;
    const q = Float64Array.from({ length: n * m }, () => (rng() < 0.05 ? NaN : Math.round(rng() * 4) / 4));
    const perModel = Float64Array.from({ length: m }, () => Math.round(rng() * 3) / 1000);
    const perCell = Float64Array.from({ length: n * m }, () => (rng() < 0.02 ? NaN : rng() / 100));
    const seconds = Float64Array.from({ length: m }, () => rng() * 5);
    const lambdas = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 0 : i % 11 === 0 ? Infinity : rng() * 0.05));
    for (const c of [perModel, perCell]) {
      for (const lam of [0, 0.01, Infinity, lambdas]) {
        const plain = routeAt(q, c, m, lam);
        expect(Buffer.from(routeAt(q, c, m, lam, { seconds, weight: 0 }).buffer).equals(Buffer.from(plain.buffer))).toBe(true);
        // NaN latencies are never read when the term is inert.
        expect(Array.from(routeAt(q, c, m, lam, { seconds: new Float64Array(m).fill(NaN), weight: 0 }))).toEqual(Array.from(plain));
      }
    }
  });

  it("mu > 0 picks the faster model when quality and cost tie", () => {
    const q = Float64Array.from([0.7, 0.7, 0.2]);
    const c = Float64Array.from([1e-3, 1e-3, 1e-3]);
    const seconds = Float64Array.from([4, 1, 0.5]);
    expect(Array.from(routeAt(q, c, 3, 1))).toEqual([0]);
    expect(Array.from(routeAt(q, c, 3, 1, { seconds, weight: 1e-4 }))).toEqual([1]);
    // at lambda inf, ties in q go to the lowest c + mu * latency
    expect(Array.from(routeAt(q, c, 3, Infinity, { seconds, weight: 1e-4 }))).toEqual([1]);
    // at lambda 0: the lowest c + mu * latency
    expect(Array.from(routeAt(q, c, 3, 0, { seconds, weight: 1e-4 }))).toEqual([2]);
    // a large mu trades quality for speed: 0.7 - 0.001 - 2 * 1 < 0.2 - 0.001 - 2 * 0.5
    expect(Array.from(routeAt(q, c, 3, 1, { seconds, weight: 2 }))).toEqual([2]);
  });

  it("maxLatency excludes slow models, and says so in one line when none fits", () => {
    const q = Float64Array.from([0.9, 0.5, 0.1, NaN, NaN, NaN]);
    const seconds = Float64Array.from([6, 2, 1]);
    expect(Array.from(routeAt(q, costs, 3, Infinity, { seconds, weight: 0, maxSeconds: 3 }))).toEqual([1, 2]);
    expect(Array.from(routeAt(q, costs, 3, Infinity, { seconds, weight: 0, maxSeconds: 1 }))).toEqual([2, 2]);
    let err: unknown;
    try {
      routeAt(q, costs, 3, Infinity, { seconds, weight: 0, maxSeconds: 0.5, models: ["big", "mid", "small"] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/limit of 0\.5 s; the fastest is small at 1 s/);
    expect(() => routeAt(q, costs, 3, 1, { seconds: Float64Array.from([1, NaN, 1]), weight: 1 })).toThrow(/latency 1 is not a finite/);
    expect(() => routeAt(q, costs, 3, 1, { seconds: Float64Array.from([1, 1]), weight: 1 })).toThrow(/latencies have 2 entries/);
  });

  it("on synthetic data the mean expected latency of the choices falls as mu grows", () => {
    const t = synthesize({ prompts: 400, seed: 11, latency: true });
    const m = t.models.length;
    const seconds = expectedLatenciesOf(t, t.models)!;
    const c = Float64Array.from(t.models, (_, j) => t.ids.reduce((a, _i, i) => a + t.costs[i * m + j], 0) / t.ids.length);
    const meanLatency = (mu: number) => {
      const chosen = routeAt(t.scores, c, m, 0.01, { seconds, weight: mu });
      return chosen.reduce((a, j) => a + seconds[j], 0) / chosen.length;
    };
    const mus = [0, 1e-5, 1e-4, 1e-3, 1e-2];
    const lat = mus.map(meanLatency);
    for (let k = 1; k < lat.length; k++) expect(lat[k]).toBeLessThanOrEqual(lat[k - 1]);
    expect(lat[lat.length - 1]).toBeLessThan(0.8 * lat[0]);
  });
});

describe("expected latencies in a saved router, and routing with them", () => {
  let root = "";
  let table: OutcomeTable;
  let withLatency = "";
  let without = "";
  const prompts = ["What is 7 * 8? Answer with a number.", "Write a python function to reverse a string.", "Which ending makes the most sense? The chef cracks two eggs."];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "rk-route-latency-"));
    table = synthesize({ prompts: 400, seed: 5, latency: true });
    withLatency = join(root, "lat");
    without = join(root, "plain");
    const opts = { spec: "linear:alpha=1", seed: 3, embedder: "hash", cacheDir: false as const, validationFraction: 0.2 };
    await trainAndSave(table, withLatency, opts);
    const { ttftMs: _a, totalLatencyMs: _b, ...plain } = table;
    await trainAndSave(plain, without, opts);
    await writeOutcomeTable(join(root, "t.arrow"), table);
  }, 180_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("router.json keeps each pool model's mean training latency (seconds); it survives save -> load", async () => {
    const manifest = JSON.parse(await readFile(join(withLatency, "router.json"), "utf8")) as SavedRouterManifest;
    const ids = new Set(JSON.parse(await readFile(join(withLatency, "fitted-prompts.json"), "utf8")).train as string[]);
    const train = selectRows(table, table.ids.flatMap((id, i) => (ids.has(id) ? [i] : [])));
    const expected = expectedLatenciesOf(selectRows(train, completeRows(train)), table.models)!;
    manifest.pool.forEach((p, j) => expect(p.expectedLatencySeconds).toBeCloseTo(expected[j], 12));
    const { manifest: loaded } = await loadRouter(withLatency);
    expect(loaded.pool.map((p) => p.expectedLatencySeconds)).toEqual(manifest.pool.map((p) => p.expectedLatencySeconds));
    // A router trained without latency records none, and still loads.
    const plain = (await loadRouter(without)).manifest;
    expect(plain.pool.every((p) => p.expectedLatencySeconds === undefined)).toBe(true);
  });

  it("weight 0 routes exactly as without; the mean expected latency falls as the weight grows; the limit holds", async () => {
    const session = await RoutingSession.open(withLatency);
    try {
      const texts = table.texts.slice(0, 120);
      const at = { lambda: 0.02 };
      const base = await session.route({ texts }, at);
      const zero = await session.route({ texts }, at, undefined, { weight: 0 });
      expect(zero.routed.map((r) => r.model)).toEqual(base.routed.map((r) => r.model));
      expect(base.plan.latency).toBeUndefined();
      const seconds = session.expectedLatencies!;
      const mean = (rs: { model: string }[]) => rs.reduce((a, r) => a + seconds[session.pool.indexOf(r.model)], 0) / rs.length;
      const lat: number[] = [];
      for (const weight of [0, 1e-4, 1e-3, 1e-2]) {
        const r = await session.route({ texts }, at, undefined, { weight });
        lat.push(mean(r.routed));
        for (const d of r.routed) expect(d.expectedLatency).toBe(seconds[session.pool.indexOf(d.model)]);
      }
      for (let k = 1; k < lat.length; k++) expect(lat[k]).toBeLessThanOrEqual(lat[k - 1]);
      expect(lat[3]).toBeLessThan(lat[0]);
      const sorted = Array.from(seconds).sort((a, b) => a - b);
      const limit = sorted[3];
      const capped = await session.route({ texts }, { lambda: Infinity }, undefined, { maxSeconds: limit });
      expect(capped.routed.every((r) => r.expectedLatency! <= limit)).toBe(true);
      expect(capped.plan.latency).toEqual({ weight: 0, maxSeconds: limit });
      // A target: the same, with a note that the points were measured without the term.
      const budget = await session.route({ texts }, { target: { budget: 0.001 } }, undefined, { maxSeconds: limit });
      expect(budget.routed.every((r) => r.expectedLatency! <= limit)).toBe(true);
      expect(budget.plan.latency?.note).toMatch(/without the latency term/);
      // Several requests with different terms in one batch: each as if alone.
      const many = await session.routeMany([
        { texts, at },
        { texts, at, latency: { weight: 1e-2 } },
      ]);
      expect(many[0].routed.map((r) => r.model)).toEqual(base.routed.map((r) => r.model));
      expect(mean(many[1].routed)).toBeCloseTo(lat[3], 12);
      await expect(session.route({ texts }, at, undefined, { maxSeconds: sorted[0] / 2 })).rejects.toThrow(/no model's expected latency fits the limit/);
      await expect(session.route({ texts }, at, undefined, { weight: -1 })).rejects.toThrow(/latency weight/);
    } finally {
      await session.close();
    }
  });

  it("a router without expected latencies refuses a latency term or limit with one clear line", async () => {
    await expect(routeWithSavedRouter(without, { texts: prompts }, { lambda: 1 }, { cacheDir: false, latency: { weight: 1e-3 } })).rejects.toThrow(
      /router\.json.*records no expected latencies.*retrain/,
    );
    await expect(routeWithSavedRouter(without, { texts: prompts }, { lambda: 1 }, { cacheDir: false, latency: { maxSeconds: 5 } })).rejects.toThrow(InputError);
    // Without a term it routes as ever.
    const r = await routeWithSavedRouter(without, { texts: prompts }, { lambda: 1 }, { cacheDir: false, latency: { weight: 0 } });
    expect(r.routed).toHaveLength(3);
  });

  it("routekit route --latency-weight / --max-latency", async () => {
    const cache = join(root, "cache");
    const json = await runCli(["route", withLatency, prompts[0], "--lambda", "0.02", "--latency-weight", "0.01", "--max-latency", "30", "--json", "--cache-dir", cache]);
    expect(json.code, json.stderr).toBe(0);
    const out = JSON.parse(json.stdout) as { plan: { latency: { weight: number; maxSeconds: number } }; prompts: { expectedLatency: number }[] };
    expect(out.plan.latency).toEqual({ weight: 0.01, maxSeconds: 30 });
    expect(out.prompts[0].expectedLatency).toBeGreaterThan(0);
    const text = await runCli(["route", withLatency, prompts[0], "--budget", "0.001", "--max-latency", "30s", "--cache-dir", cache]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/only models expected within 30 s/);
    expect(text.stdout).toMatch(/model latency s/);
    for (const [flag, value, re] of [
      ["--latency-weight", "fast", /--latency-weight.*US\$ per second/],
      ["--max-latency", "-1", /--max-latency.*seconds/],
      ["--max-latency", "0.0001", /no model's expected latency fits the limit of 0\.0001 s/],
    ] as const) {
      const bad = await runCli(["route", withLatency, prompts[0], flag, value, "--cache-dir", cache]);
      expect(bad.code).toBe(1);
      expect(bad.stderr.trim().split("\n")).toHaveLength(1);
      expect(bad.stderr).toMatch(re);
    }
    const old = await runCli(["route", without, prompts[0], "--latency-weight", "0.001", "--cache-dir", cache]);
    expect(old.code).toBe(1);
    expect(old.stderr.trim().split("\n")).toHaveLength(1);
    expect(old.stderr).toMatch(/records no expected latencies/);
  });
});
