import { describe, expect, it } from "vitest";
import { evaluateSplit } from "../../src/evaluate/evaluate.js";
import { aiq } from "../../src/evaluate/metrics.js";
import { nonDecreasingHull } from "../../src/evaluate/hull.js";
import { normalQuantile, quantileWithInterval } from "../../src/evaluate/latency.js";
import { routeAt } from "../../src/routers/routing.js";
import type { OutcomeTable } from "../../src/data/table.js";
import { renderReport } from "../../src/report/markdown.js";
import { makeResults, resultsSchema, serializeResults, splitEntry } from "../../src/report/results.js";
import { latencyView } from "../../src/report/latency.js";
import { renderPlotSvg } from "../../src/report/plot.js";
import { makeRng } from "../../src/util/rng.js";
import { directFrom, fixedPredictor } from "./fixtures.js";

/**
 * Three models: cheap and weak (2 s), mid-priced and fairly good and fast (0.5 s), dear and best
 * but slow (5 s). Latency is per model plus noise unless `exact`.
 */
function latencyTable(n: number, seed: number, opts: { exact?: boolean } = {}): OutcomeTable {
  const rng = makeRng(seed);
  const models = ["weak", "fast", "slow-best"];
  const skill = [0.3, 0.6, 0.85];
  const price = [0.0001, 0.0005, 0.003];
  const seconds = [2, 0.5, 5];
  const m = models.length;
  const scores = new Float64Array(n * m);
  const costs = new Float64Array(n * m);
  const totalLatencyMs = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const hard = rng();
    for (let j = 0; j < m; j++) {
      scores[i * m + j] = rng() < skill[j] * (1.2 - hard * 0.4) ? 1 : 0;
      costs[i * m + j] = price[j] * (0.5 + rng());
      totalLatencyMs[i * m + j] = 1000 * seconds[j] * (opts.exact ? 1 : 0.5 + rng());
    }
  }
  const ids = Array.from({ length: n }, (_, i) => `${seed}-p${i}`);
  return { ids, texts: ids, datasets: ids.map(() => "d"), evals: ids.map(() => "d"), models, scores, costs, totalLatencyMs };
}

/** Predictions: the true score blurred with noise (a router that knows something). */
function predictor(tables: OutcomeTable[], seed: number) {
  const rng = makeRng(seed);
  const byId = new Map<string, number[]>();
  for (const t of tables) {
    const m = t.models.length;
    t.ids.forEach((id, i) => byId.set(id, Array.from({ length: m }, (_, j) => 0.5 * t.scores[i * m + j] + 0.5 * rng())));
  }
  return fixedPredictor(tables[0].models, [0.0001, 0.0005, 0.003], byId);
}

const withoutLatency = (t: OutcomeTable): OutcomeTable => {
  const { totalLatencyMs: _drop, ...rest } = t;
  return rest;
};

describe("order-statistic quantile interval", () => {
  it("nearest-rank p95 and an interval of two observed values around it", () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    const values = Float64Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted
    const q = quantileWithInterval(values, 0.95, 0.95);
    expect(q.value).toBe(95);
    expect(q.interval).toEqual([90, 100]);
    expect(quantileWithInterval(values, 0.95, null).interval).toBeNull();
  });

  it("covers the true p95 of a known distribution in about 95% of samples", () => {
    const rng = makeRng(5);
    let covered = 0;
    const trials = 400;
    const truth = -Math.log(0.05); // p95 of Exp(1)
    for (let t = 0; t < trials; t++) {
      const x = Float64Array.from({ length: 200 }, () => -Math.log(1 - rng()));
      const iv = quantileWithInterval(x, 0.95, 0.95).interval!;
      if (iv[0] <= truth && truth <= iv[1]) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.9);
    expect(covered / trials).toBeLessThan(0.995);
  });
});

describe("latency in the judgement", () => {
  const test = latencyTable(600, 1);
  const validation = latencyTable(300, 2);
  const router = predictor([test, validation], 3);

  it("reports each operating point's mean and p95 latency, as routing at its lambda realises them", async () => {
    const r = await evaluateSplit({ table: test, embeddings: null }, [{ name: "pred", router }], { seed: 1, bootstrap: 100, validation: { table: validation, embeddings: null } });
    const row = r.rows.find((x) => x.name === "pred")!;
    expect(row.latency).not.toBeNull();
    expect(row.latency!.length).toBe(row.points.length);
    const q = await router.predictQuality({ ids: test.ids, texts: test.texts, evals: test.evals, embeddings: null });
    for (const p of row.latency!) {
      const chosen = routeAt(q, router.expectedCosts, 3, row.points[p.point].lambda);
      const seconds = Float64Array.from(chosen, (j, i) => test.totalLatencyMs![i * 3 + j] / 1000);
      expect(p.meanSeconds).toBeCloseTo(seconds.reduce((a, b) => a + b, 0) / seconds.length, 10);
      expect(p.p95Seconds).toBe(quantileWithInterval(seconds, 0.95, null).value);
      expect(p.meanInterval![0]).toBeLessThanOrEqual(p.meanSeconds);
      expect(p.meanInterval![1]).toBeGreaterThanOrEqual(p.meanSeconds);
      expect(p.p95Interval![0]).toBeLessThanOrEqual(p.p95Seconds);
    }
    // The best single model's one point: its mean latency.
    const best = r.rows.find((x) => x.role === "best-single")!;
    const slow = r.latency!.singles.find((s) => s.model === "slow-best")!;
    expect(best.latency![0].meanSeconds).toBeCloseTo(slow.meanSeconds, 12);
  });

  it("judges quality against latency as against cost: Zero is the singles' latency hull, AIQ over the fastest to slowest", async () => {
    const r = await evaluateSplit({ table: test, embeddings: null }, [{ name: "pred", router }], { seed: 1, bootstrap: 100, validation: { table: validation, embeddings: null } });
    const l = r.latency!;
    expect(l.expectedFrom).toBe("validation");
    const singles = l.singles.map((s) => ({ cost: s.meanSeconds, quality: s.quality }));
    expect(l.latencyRange).toEqual([Math.min(...singles.map((s) => s.cost)), Math.max(...singles.map((s) => s.cost))]);
    const zero = l.rows.find((x) => x.role === "zero")!;
    expect(zero.aiq).toBeCloseTo(aiq(nonDecreasingHull(singles), l.latencyRange[0], l.latencyRange[1]), 12);
    const pred = l.rows.find((x) => x.name === "pred")!;
    expect(pred.aiqInterval![0]).toBeLessThanOrEqual(pred.aiq);
    expect(pred.aiqInterval![1]).toBeGreaterThanOrEqual(pred.aiq);
    // Its points are mean seconds: within the singles' range.
    for (const p of pred.points) expect(p.cost).toBeGreaterThanOrEqual(Math.min(...singles.map((s) => s.cost)) - 1e-12);
    // The Oracle bounds every router in seconds too.
    expect(l.rows.find((x) => x.role === "oracle")!.aiq).toBeGreaterThan(pred.aiq);
  });

  it("the latency price lowers mean latency step by step while quality and cost are reported with intervals", async () => {
    // Exact per-model latencies: the chosen model's latency can only fall as mu grows.
    const t = latencyTable(600, 11, { exact: true });
    const v = latencyTable(300, 12, { exact: true });
    const r = await evaluateSplit({ table: t, embeddings: null }, [{ name: "pred", router: predictor([t, v], 13) }], { seed: 1, bootstrap: 100, validation: { table: v, embeddings: null } });
    const sweep = r.latency!.sweeps.find((s) => s.name === "pred")!;
    expect(sweep.points[0].mu).toBe(0);
    const means = sweep.points.map((p) => p.meanSeconds);
    for (let k = 1; k < means.length; k++) expect(means[k]).toBeLessThanOrEqual(means[k - 1] + 1e-12);
    expect(means[means.length - 1]).toBeLessThan(means[0] - 0.5);
    for (const p of sweep.points) {
      for (const [x, iv] of [[p.quality, p.qualityInterval], [p.cost, p.costInterval], [p.meanSeconds, p.meanInterval]] as const) {
        expect(iv![0]).toBeLessThanOrEqual(x + 1e-12);
        expect(iv![1]).toBeGreaterThanOrEqual(x - 1e-12);
      }
    }
    // mu = 0 is the router at its chosen lambda without the term: one of its operating points.
    const row = r.rows.find((x) => x.name === "pred")!;
    expect(row.points.some((p) => p.lambda === sweep.lambdas[0] && Math.abs(p.quality - sweep.points[0].quality) < 1e-12)).toBe(true);
  });

  it("given prices are used as they are", async () => {
    const r = await evaluateSplit({ table: test, embeddings: null }, [{ name: "pred", router }], {
      seed: 1,
      bootstrap: 0,
      validation: { table: validation, embeddings: null },
      latencyWeights: [0, 0.5],
    });
    expect(r.latency!.sweeps[0].points.map((p) => p.mu)).toEqual([0, 0.5]);
    expect(r.latency!.sweeps[0].points[0].meanInterval).toBeNull();
  });

  it("direct routers are judged on latency by the settings they realise", async () => {
    const direct = directFrom(test.models, (b) =>
      [0, 1, 2].map((j) => ({ setting: `all ${j}`, chosen: new Int32Array(b.ids.length).fill(j), costs: Float64Array.from(b.ids, (_, i) => b.outcomes!.costs[i * 3 + j]), scores: Float64Array.from(b.ids, (_, i) => b.outcomes!.scores[i * 3 + j]) })),
    );
    const r = await evaluateSplit({ table: test, embeddings: null }, [{ name: "d", router: direct }], { seed: 1, bootstrap: 0, validation: { table: validation, embeddings: null } });
    const row = r.latency!.rows.find((x) => x.name === "d")!;
    // Each setting sends every prompt to one model: its points are single models' (on the validation hull in seconds).
    for (const p of row.points) expect(r.latency!.singles.some((s) => Math.abs(s.meanSeconds - p.cost) < 1e-12 && Math.abs(s.quality - p.quality) < 1e-12)).toBe(true);
    expect(r.latency!.sweeps).toEqual([]);
  });

  it("leaves the cost judgement as it was, and is absent without latencies, with one missing, or when turned off", async () => {
    const opts = { seed: 1, bootstrap: 50, validation: { table: validation, embeddings: null } };
    const a = await evaluateSplit({ table: test, embeddings: null }, [{ name: "pred", router }], opts);
    const b = await evaluateSplit({ table: withoutLatency(test), embeddings: null }, [{ name: "pred", router }], { ...opts, validation: { table: withoutLatency(validation), embeddings: null } });
    expect(b.latency).toBeNull();
    expect(a.rows.map((r) => ({ ...r, latency: null }))).toEqual(b.rows);
    const holed = { ...test, totalLatencyMs: Float64Array.from(test.totalLatencyMs!, (x, k) => (k === 7 ? NaN : x)) };
    expect((await evaluateSplit({ table: holed, embeddings: null }, [{ name: "pred", router }], opts)).latency).toBeNull();
    expect((await evaluateSplit({ table: test, embeddings: null }, [{ name: "pred", router }], { ...opts, latency: false })).latency).toBeNull();
  });

  it("goes into results.json, report.md and a quality-latency plot", async () => {
    const r = await evaluateSplit({ table: test, embeddings: null }, [{ name: "pred", router }], { seed: 1, bootstrap: 50, validation: { table: validation, embeddings: null } });
    const entry = splitEntry("d", "holdout", r);
    const results = makeResults([entry], {});
    const parsed = resultsSchema.parse(JSON.parse(serializeResults(results)));
    const l = parsed.splits[0].latency!;
    expect(l.routers.map((x) => x.name)).toEqual(r.latency!.rows.map((x) => x.name));
    expect(l.sweeps[0].points.length).toBe(r.latency!.sweeps[0].points.length);
    expect(parsed.splits[0].routers[0].latency!.length).toBe(r.rows[0].latency!.length);
    const md = renderReport(parsed, { plotsDir: "plots" });
    expect(md).toContain("### Latency");
    expect(md).toContain("plots/d--holdout-latency.png");
    expect(md).toMatch(/\| pred \| [0-9.]+ \[/);
    expect(md).toContain("pred with a latency price");
    const svg = renderPlotSvg(latencyView(parsed.splits[0])!, { xLabel: "mean latency per query (s)" });
    expect(svg).toContain("mean latency per query (s)");
    expect(svg).toContain('data-router="pred"');
    // No latency: no section, no view.
    const plain = splitEntry("d", "holdout", { ...r, latency: null, rows: r.rows.map((x) => ({ ...x, latency: null })) });
    expect(latencyView(plain)).toBeNull();
    expect(renderReport(makeResults([plain], {}))).not.toContain("Latency");
  });
});
