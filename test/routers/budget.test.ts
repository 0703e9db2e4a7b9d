/**
 * Routing at a budget, end to end on the bundled data: a router trained with `train` carries
 * its operating points; routing the held-out test prompts at a budget spends, on average,
 * within 10% of it and reaches the quality its points promised (within their interval); share
 * caps hold on held-out traffic; `calibrate` rewrites the points on a user's traffic.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readOutcomeTable, writeOutcomeTable } from "../../src/data/arrow-io.js";
import { makeSplits, pooledSplit } from "../../src/data/splits.js";
import { selectRows, type OutcomeTable } from "../../src/data/table.js";
import { loadRouter, operatingPointsOf } from "../../src/routers/artifact.js";
import { calibrateSavedRouter } from "../../src/workflow/calibrate.js";
import { trainAndSave } from "../../src/workflow/train.js";
import { routeWithSavedRouter } from "../../src/workflow/session.js";
import { percentileInterval } from "../../src/evaluate/bootstrap.js";
import { makeRng } from "../../src/util/rng.js";
import { runCli } from "../helpers/cli.js";

let root = "";
let cache = "";
let router = "";
let table: OutcomeTable;
let heldOut: OutcomeTable;
const SEED = 42;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "routekit-budget-"));
  cache = join(root, "cache");
  router = join(root, "linear");
  table = await readOutcomeTable("data/default.arrow");
  // Budget fidelity is bounded by the prompts the points are measured on (BENCHMARKS.md, budget):
  // 10% of the bundled training part is 140 prompts, about ±10% on a budget; 30% is 420.
  await trainAndSave(table, router, { spec: "linear:alpha=1", seed: SEED, embedder: "hash", cacheDir: cache, validationFraction: 0.3 });
  // The prompts the router never saw: the test parts of the split it was trained on.
  const split = pooledSplit(table, makeSplits(table, { kind: "in-distribution", testFraction: 0.3, validationFraction: 0.3, seed: SEED }));
  heldOut = selectRows(table, split.test);
}, 120_000);
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Realised mean cost and quality of routing decisions on the held-out rows, and each model's share. */
function realised(models: string[]): { cost: number; quality: number; share: Record<string, number> } {
  const m0 = heldOut.models.length;
  let cost = 0;
  let quality = 0;
  const share: Record<string, number> = {};
  models.forEach((model, i) => {
    const j = heldOut.models.indexOf(model);
    cost += heldOut.costs[i * m0 + j];
    quality += heldOut.scores[i * m0 + j];
    share[model] = (share[model] ?? 0) + 1 / models.length;
  });
  return { cost: cost / models.length, quality: quality / models.length, share };
}

/** 95% bootstrap intervals of the held-out mean cost and quality of these decisions (seeded). */
function heldOutIntervals(models: string[]): { cost: [number, number]; quality: [number, number] } {
  const m0 = heldOut.models.length;
  const n = models.length;
  const c = models.map((model, i) => heldOut.costs[i * m0 + heldOut.models.indexOf(model)]);
  const q = models.map((model, i) => heldOut.scores[i * m0 + heldOut.models.indexOf(model)]);
  const rng = makeRng("held-out");
  const costs: number[] = [];
  const quals: number[] = [];
  for (let b = 0; b < 1000; b++) {
    let sc = 0;
    let sq = 0;
    for (let k = 0; k < n; k++) {
      const i = Math.floor(rng() * n);
      sc += c[i];
      sq += q[i];
    }
    costs.push(sc / n);
    quals.push(sq / n);
  }
  return { cost: percentileInterval(costs, 0.95), quality: percentileInterval(quals, 0.95) };
}

const prompts = () => ({ ids: heldOut.ids, texts: heldOut.texts, evals: heldOut.evals });

describe("route --budget on a saved router", () => {
  it("spends within 10% of the budget and reaches the promised quality, across the router's range", async () => {
    const { manifest } = await loadRouter(router);
    const ops = operatingPointsOf(manifest)!;
    expect(ops.on).toBe("validation");
    expect(ops.prompts).toBe(420); // the trained router itself, on its 420 validation prompts
    const lo = ops.points[0].cost;
    const hi = ops.points[ops.points.length - 1].cost;
    // Budgets spread evenly (log scale) over the range the router can spend in: not chosen by outcome.
    const deviations: number[] = [];
    for (const f of [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) {
      const budget = lo * (hi / lo) ** f;
      const { routed, plan } = await routeWithSavedRouter(router, prompts(), { target: { budget } }, { cacheDir: cache });
      expect(plan.choice!.cost).toBeCloseTo(budget, 12); // the expected spend is the budget itself
      const models = routed.map((r) => r.model);
      const got = realised(models);
      const deviation = Math.abs(got.cost / budget - 1);
      deviations.push(deviation);
      // The points were measured on 420 prompts and the spend on 600 others: both are samples.
      // Where the spend misses by more than 10%, the miss must be within their joint noise
      // (the 95% half-widths of the promised cost and of the held-out spend, in quadrature).
      const held = heldOutIntervals(models);
      const half = (iv: readonly [number, number]) => (iv[1] - iv[0]) / 2;
      const noise = Math.hypot(half(plan.choice!.costInterval!), half(held.cost));
      if (deviation > 0.1) expect(Math.abs(got.cost - budget), `budget ${budget}: spent ${got.cost}, joint noise ${noise}`).toBeLessThanOrEqual(noise);
      // Quality: no shortfall beyond the same joint noise.
      const qNoise = Math.hypot(half(plan.choice!.qualityInterval!), half(held.quality));
      expect(got.quality, `budget ${budget}: got ${got.quality}, promised ${plan.choice!.quality}`).toBeGreaterThanOrEqual(plan.choice!.quality - qNoise);
    }
    // On average over the budgets, within 10%.
    expect(deviations.reduce((a, b) => a + b, 0) / deviations.length).toBeLessThanOrEqual(0.1);
  });

  it("says, in text and JSON, the point each prompt was routed at", async () => {
    const file = join(root, "p.jsonl");
    await writeFile(file, heldOut.texts.slice(0, 40).map((t, i) => JSON.stringify({ id: heldOut.ids[i], prompt: t })).join("\n"));
    const j = await runCli(["route", router, "--budget", "0.0003", "--input", file, "--cache-dir", cache, "--json"]);
    expect(j.code, j.stderr).toBe(0);
    const out = JSON.parse(j.stdout);
    expect(out.plan.mode).toBe("target");
    expect(out.plan.expectedCost).toBeCloseTo(0.0003, 12);
    const lambdas = new Set([out.plan.low.lambda, out.plan.high.lambda]);
    for (const p of out.prompts) {
      expect(lambdas.has(p.lambda)).toBe(true);
      const point = p.lambda === out.plan.low.lambda ? out.plan.low : out.plan.high;
      expect([p.expectedCost, p.expectedQuality]).toEqual([point.cost, point.quality]);
    }
    expect(new Set(out.prompts.map((p: { lambda: number }) => p.lambda)).size).toBe(2); // 40 prompts: both points drawn
    const t = await runCli(["route", router, "--budget", "0.0003", "--input", file, "--cache-dir", cache]);
    expect(t.stdout).toMatch(/^expected \$0\.000300\/query \[\$0\.\d+, \$0\.\d+\], quality 0\.\d{3} \[0\.\d{3}, 0\.\d{3}\]: mixing lambda \S+ \(\d+\.\d% of prompts\) and lambda \S+ \(\d+\.\d%\) by a seeded draw per prompt text \(operating points measured on 420 validation prompts\)$/m);
    expect(t.stdout).toMatch(/^id\s+model\s+lambda\s+point \$\/query\s+point quality$/m);
    // The same prompt routes the same way alone as in a batch (the draw is keyed by its text).
    const one = await runCli(["route", router, "--budget", "0.0003", heldOut.texts[3], "--cache-dir", cache, "--json"]);
    expect(JSON.parse(one.stdout).prompts[0]).toEqual({ ...out.prompts[3], id: "1" });
    const again = await runCli(["route", router, "--budget", "0.0003", "--input", file, "--cache-dir", cache, "--json"]);
    expect(JSON.parse(again.stdout).prompts).toEqual(out.prompts);
  });

  it("a budget below the cheapest point routes there and says so; --lambda and a target together are refused", async () => {
    const r = await runCli(["route", router, "--budget", "0.000001", "hello there", "--cache-dir", cache]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^note: budget \$0\.00000100\/query is below the router's cheapest operating point/m);
    const both = await runCli(["route", router, "--budget", "0.1", "--lambda", "1", "x"]);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/give --lambda or a target \(--budget, --max-share\), not both/);
    const bad = await runCli(["route", router, "--budget", "0x1", "x"]);
    expect(bad.stderr).toMatch(/--budget must be US\$ per query/);
    const share = await runCli(["route", router, "--max-share", "gpt-4-1106-preview=2", "x"]);
    expect(share.stderr).toMatch(/field "--max-share": expected <model>=<fraction in \[0, 1\]>, got "gpt-4-1106-preview=2"/);
  });

  it("--max-share caps a model's share of held-out traffic", async () => {
    const { manifest } = await loadRouter(router);
    const ops = operatingPointsOf(manifest)!;
    const top = ops.points[ops.points.length - 1];
    // The model with the largest share at the router's best point, capped at half of that share.
    const [model, share] = Object.entries(top.shares).sort((a, b) => b[1] - a[1])[0];
    const cap = share / 2;
    const { routed, plan } = await routeWithSavedRouter(router, prompts(), { target: { maxShare: { [model]: cap } } }, { cacheDir: cache });
    expect(plan.choice!.shares[model]).toBeLessThanOrEqual(cap + 1e-9);
    const got = realised(routed.map((r) => r.model));
    // Held-out traffic differs from the points' prompts: the cap holds within sampling error (600 prompts).
    expect(got.share[model] ?? 0).toBeLessThanOrEqual(cap + 0.05);
    const uncapped = realised((await routeWithSavedRouter(router, prompts(), { target: {} }, { cacheDir: cache })).routed.map((r) => r.model));
    expect(uncapped.share[model]).toBeGreaterThan(got.share[model] ?? 0);
  });
});

describe("operating points measured out of fold (--points-on crossfit)", () => {
  it("come from every training and validation prompt, each predicted by a router that never saw it", async () => {
    const dir = join(root, "linear-crossfit");
    await trainAndSave(table, dir, { spec: "linear:alpha=1", seed: SEED, embedder: "hash", cacheDir: cache, pointsOn: "crossfit" });
    const ops = operatingPointsOf((await loadRouter(dir)).manifest)!;
    expect(ops.on).toBe("crossfit");
    expect(ops.prompts).toBe(1400);
    // More prompts, narrower intervals than the 420 validation prompts give.
    const width = (o: typeof ops) => o.points[o.points.length - 1].qualityInterval![1] - o.points[o.points.length - 1].qualityInterval![0];
    expect(width(ops)).toBeLessThan(width(operatingPointsOf((await loadRouter(router)).manifest)!));
    const { plan } = await routeWithSavedRouter(dir, prompts(), { target: { budget: 0.0003 } }, { cacheDir: cache });
    expect(plan.pointsOn).toEqual({ on: "crossfit", prompts: 1400 });
    expect(plan.choice!.cost).toBeCloseTo(0.0003, 12);
  });
});

describe("calibrate", () => {
  let traffic = "";
  beforeAll(async () => {
    traffic = join(root, "traffic.arrow");
    await writeOutcomeTable(traffic, heldOut);
  });

  it("recomputes the points on held-out traffic into a copy, with a default target that route uses", async () => {
    const out = join(root, "calibrated");
    const r = await runCli(["calibrate", router, traffic, "--budget", "0.0004", "--out", out, "--cache-dir", cache]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/operating points on 600 calibration prompts/);
    expect(r.stdout).toMatch(/default target:\nexpected \$0\.000400\/query/);
    const { manifest } = await loadRouter(out);
    expect(manifest.operatingPoints!.on).toBe("calibration");
    expect(manifest.operatingPoints!.prompts).toBe(600);
    expect(manifest.defaultTarget).toEqual({ budget: 0.0004 });
    const original = JSON.parse(await readFile(join(router, "router.json"), "utf8"));
    expect(manifest.files).toEqual(original.files); // weights copied untouched
    expect(manifest.fittedOn).toEqual(original.fittedOn);
    const routed = await runCli(["route", out, "hello", "--cache-dir", cache]);
    expect(routed.code, routed.stderr).toBe(0);
    expect(routed.stdout).toMatch(/^no --budget, --max-share or --lambda: routing at the router's default target \(set by calibrate\)$/m);
    expect(routed.stdout).toMatch(/^expected \$0\.000400\/query \[/m);
  });

  it("library: calibrated points on the very traffic routed give back the budget exactly in expectation", async () => {
    const res = await calibrateSavedRouter(router, heldOut, { out: join(root, "cal-lib"), target: { budget: 0.0004 }, cacheDir: cache });
    expect(res.prompts).toBe(600);
    expect(res.overlap).toBe(0);
    expect(res.choice!.cost).toBeCloseTo(0.0004, 12);
    // Routing those same prompts: the points were measured on them, so spend matches closely.
    const { routed } = await routeWithSavedRouter(join(root, "cal-lib"), prompts(), "default", { cacheDir: cache });
    const got = realised(routed.map((x) => x.model));
    expect(Math.abs(got.cost / 0.0004 - 1)).toBeLessThan(0.1);
  });

  it("refuses traffic the router was fitted or tuned on, unless --allow-overlap", async () => {
    const seen = join(root, "seen.arrow");
    await writeOutcomeTable(seen, table);
    const r = await runCli(["calibrate", router, seen, "--out", join(root, "nope"), "--cache-dir", cache]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/this router was fitted or tuned on 1400 of the 2000 calibration prompts \(980 training, 420 validation\); use prompts it has not seen, or pass --allow-overlap/);
    const ok = await runCli(["calibrate", router, seen, "--out", join(root, "yes"), "--cache-dir", cache, "--allow-overlap"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/warning: 1400 of the 2000 prompts were fitted or tuned on/);
  });
});
