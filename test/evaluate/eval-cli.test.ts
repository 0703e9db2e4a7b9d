import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeOutcomeTable } from "../../src/data/arrow-io.js";
import { runCli } from "../helpers/cli.js";
import { randomTable } from "./fixtures.js";

let dir = "";
let data = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rk-eval-cli-"));
  data = join(dir, "data.arrow");
  const t = randomTable(240, 4, 77, { binary: true });
  // Two datasets, so the CLI evaluates one split per dataset.
  const datasets = t.ids.map((_, i) => (i % 2 ? "alpha" : "beta"));
  await writeOutcomeTable(data, { ...t, datasets, evals: datasets });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const common = () => ["--embedder", "hash", "--cache-dir", join(dir, "cache"), "--bootstrap", "60"];

describe("routekit eval", () => {
  it("trains specs per split, writes results.json, report.md and plots, prints the table; reruns are byte-identical", async () => {
    const out1 = join(dir, "out1");
    const out2 = join(dir, "out2");
    const r1 = await runCli(["eval", data, "--routers", "knn:k=5", "linear", "--out", out1, ...common()]);
    expect(r1.stderr.split("\n").filter((l) => l.startsWith("routekit: error"))).toEqual([]);
    expect(r1.code).toBe(0);
    expect(r1.stdout).toMatch(/alpha \(in-distribution\), 36 test prompts/);
    expect(r1.stdout).toMatch(/beta \(in-distribution\)/);
    expect(r1.stdout).toContain("Zero router");
    expect(r1.stdout).toContain("knn:k=5");
    for (const f of ["results.json", "report.md", "plots/alpha--in-distribution.svg", "plots/alpha--in-distribution.png", "plots/beta--in-distribution.png", "run.json"]) {
      expect(existsSync(join(out1, f)), f).toBe(true);
    }
    const r2 = await runCli(["eval", data, "--routers", "knn:k=5", "linear", "--out", out2, ...common()]);
    expect(r2.code).toBe(0);
    for (const f of ["results.json", "report.md", "plots/alpha--in-distribution.svg"]) {
      expect(await readFile(join(out2, f), "utf8"), f).toBe(await readFile(join(out1, f), "utf8"));
    }
    const results = JSON.parse(await readFile(join(out1, "results.json"), "utf8")) as { splits: { dataset: string; routers: { name: string }[] }[]; config: { bootstrap: number } };
    expect(results.splits.map((s) => s.dataset)).toEqual(["alpha", "beta"]);
    expect(results.splits[0].routers.map((r) => r.name)).toEqual(["knn:k=5", "linear", "Zero router", expect.stringMatching(/^Best single/), "Oracle"]);
    expect(results.config.bootstrap).toBe(60);
    // Plots: a log cost axis by default (as `run`), and a forest plot per split.
    expect(await readFile(join(out1, "plots/alpha--in-distribution.svg"), "utf8")).toContain("log scale");
    expect(existsSync(join(out1, "plots/alpha--in-distribution-forest.png"))).toBe(true);
    // Small splits warn, and the summary across splits closes the tables.
    expect(r1.stdout).toMatch(/warning: alpha \(in-distribution\): only 36 test prompts \(fewer than 100\)/);
    expect(r1.stdout).toMatch(/Summary: AIQ - Zero router per split/);
    expect(r1.stdout).toMatch(/router\s+alpha\/in-distribution\s+beta\/in-distribution/);
    expect(r1.stdout.indexOf("Summary:")).toBeGreaterThan(r1.stdout.indexOf("beta (in-distribution)"));
  });

  it("judges latency when the table has it: the report's Latency part, the quality-latency plot, the sweep at --latency-weights", async () => {
    const latencyData = join(dir, "latency.arrow");
    const t = randomTable(240, 4, 78, { binary: true });
    const totalLatencyMs = Float64Array.from(t.scores, (_, k) => 500 * (1 + (k % 4)) + (k % 7) * 10);
    await writeOutcomeTable(latencyData, { ...t, totalLatencyMs });
    const out = join(dir, "out-latency");
    const r = await runCli(["eval", latencyData, "--routers", "linear", "--out", out, "--latency-weights", "0,0.001,1", ...common()]);
    expect(r.code, r.stderr).toBe(0);
    const results = JSON.parse(await readFile(join(out, "results.json"), "utf8")) as { config: { latencyWeights?: number[] }; splits: { latency?: { sweeps: { points: { mu: number }[] }[] } }[] };
    expect(results.config.latencyWeights).toEqual([0, 0.001, 1]);
    expect(results.splits[0].latency!.sweeps[0].points.map((p) => p.mu)).toEqual([0, 0.001, 1]);
    expect(await readFile(join(out, "report.md"), "utf8")).toContain("Latency AIQ");
    expect(existsSync(join(out, "plots/d--in-distribution-latency.png"))).toBe(true);
  });

  it("--linear-cost turns the default log cost axis off; --help says so", async () => {
    const out = join(dir, "out-linear");
    const r = await runCli(["eval", data, "--routers", "oracle", "--dataset", "alpha", "--linear-cost", "--out", out, ...common(), "--bootstrap", "0"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(out, "plots/alpha--in-distribution.svg"), "utf8")).not.toContain("log scale");
    expect((JSON.parse(await readFile(join(out, "results.json"), "utf8")) as { config: { logCost: boolean } }).config.logCost).toBe(false);
    const both = await runCli(["eval", data, "--routers", "oracle", "--log-cost", "--linear-cost", "--out", join(dir, "bad")]);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/--linear-cost.*--log-cost/);
    const help = await runCli(["eval", "--help"]);
    help.stdout = help.stdout.replace(/\s+/g, " ");
    expect(help.stdout).toMatch(/--linear-cost\s+linear cost axis in the plots instead of the default log scale/);
    expect(help.stdout).toMatch(/--log-cost\s+log-scale cost axis in the plots \(the default/);
  });

  it("evaluates a saved router on the test split recorded in its router.json, with --json figures", async () => {
    const routerDir = join(dir, "knn-alpha");
    const t = await runCli(["train", data, "--router", "knn:k=5", "--dataset", "alpha", "--embedder", "hash", "--cache-dir", join(dir, "cache"), "--seed", "3", "--out", routerDir]);
    expect(t.code, t.stderr).toBe(0);
    const r = await runCli(["eval", data, "--routers", routerDir, "oracle", "--out", join(dir, "out3"), "--json", "--lambdas", "routerbench", "--operating-points", "test", ...common()]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { splits: { dataset: string; prompts: number; routers: { name: string; aiqInterval: number[] }[] }[] };
    // The knn router was trained on alpha only: beta is evaluated with the oracle spec alone.
    const alpha = j.splits.find((s) => s.dataset === "alpha")!;
    const beta = j.splits.find((s) => s.dataset === "beta")!;
    expect(alpha.routers.map((x) => x.name)).toContain("knn-alpha");
    expect(beta.routers.map((x) => x.name)).not.toContain("knn-alpha");
    expect(alpha.routers[0].aiqInterval).toHaveLength(2);
    const saved = JSON.parse(await readFile(join(dir, "out3", "results.json"), "utf8")) as { splits: { routers: { name: string; points: unknown[] }[] }[]; config: { split: { seed: number } } };
    expect(saved.config.split.seed).toBe(3);
    expect(saved.splits[0].routers.find((x) => x.name === "knn-alpha")!.points).toHaveLength(32);
  });

  it("bad input: one line naming the option or file, exit 1", async () => {
    const bad = await runCli(["eval", data, "--routers", "knn", "--out", join(dir, "bad"), "--bootstrap", "-1"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/--bootstrap/);
    const notRouter = await runCli(["eval", data, "--routers", dir, "--out", join(dir, "bad")]);
    expect(notRouter.code).toBe(1);
    expect(notRouter.stderr).toMatch(/not a router directory/);
    const weights = await runCli(["eval", data, "--routers", "knn", "--out", join(dir, "bad"), "--latency-weights", "0,x", ...common()]);
    expect(weights.code).toBe(1);
    expect(weights.stderr.trim().split("\n")).toHaveLength(1);
    expect(weights.stderr).toMatch(/--latency-weights/);
    const unknown = await runCli(["eval", data, "--routers", "knn", "--dataset", "gamma", "--out", join(dir, "bad"), ...common()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/gamma/);
  });
});
