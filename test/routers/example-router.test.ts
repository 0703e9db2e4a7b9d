import { describe, expect, it } from "vitest";
import { loadRouter } from "../../src/routers/artifact.js";
import { runCli } from "../helpers/cli.js";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The committed example router must stay loadable by the current code (format, checksums).
describe("models/example-linear", () => {
  it("loads with verified checksums and records how it was made", async () => {
    const { router, manifest } = await loadRouter("models/example-linear");
    expect(manifest.type).toBe("linear");
    expect(manifest.embedder?.spec).toBe("use-lite");
    expect(manifest.seed).toBe(42);
    expect(router.pool).toHaveLength(11);
    // What models/README.md says it was made with: 30% of train for validation, points measured there.
    expect(manifest.split).toMatchObject({ validationFraction: 0.3, trainRows: 980, validationRows: 420 });
    expect(manifest.operatingPoints).toMatchObject({ on: "validation", prompts: 420 });
    expect(manifest.fittedOn.train.count + manifest.fittedOn.validation.count).toBe(1400);
  });

  it("routes at a budget, as the README shows", async () => {
    const cache = await mkdtemp(join(tmpdir(), "rk-example-"));
    const r = await runCli(["route", "models/example-linear", "--budget", "0.0002", "--json", "--cache-dir", cache, "Write a Python function that returns the nth Fibonacci number."]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.plan.expectedCost).toBeCloseTo(0.0002, 12);
    expect(j.plan.low.cost).toBeLessThan(0.0002);
    expect(j.plan.high.cost).toBeGreaterThan(0.0002);
    expect([j.plan.low.lambda, j.plan.high.lambda]).toContain(j.prompts[0].lambda);
  });

  it("routes a prompt from a fresh process, cheap at lambda 0 and by quality at a high lambda", async () => {
    const cache = await mkdtemp(join(tmpdir(), "rk-example-"));
    const prompt = "Write a Python function that returns the nth Fibonacci number.";
    const cheap = await runCli(["route", "models/example-linear", "--lambda", "0", "--json", "--cache-dir", cache, prompt]);
    expect(cheap.code, cheap.stderr).toBe(0);
    const j = JSON.parse(cheap.stdout) as { pool: { model: string; expectedCost: number }[]; prompts: { model: string; quality: Record<string, number> }[] };
    const cheapest = j.pool.reduce((a, b) => (b.expectedCost < a.expectedCost ? b : a)).model;
    expect(j.prompts[0].model).toBe(cheapest);
    const rich = await runCli(["route", "models/example-linear", "--lambda", "1e12", "--json", "--cache-dir", cache, prompt]);
    const r = JSON.parse(rich.stdout) as typeof j;
    const q = r.prompts[0].quality;
    const best = Object.keys(q).reduce((a, b) => (q[b] > q[a] ? b : a));
    expect(r.prompts[0].model).toBe(best);
  });
});
