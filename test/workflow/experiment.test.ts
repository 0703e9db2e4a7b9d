import { describe, expect, it, beforeAll } from "vitest";
import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { synthesize } from "../../src/data/synth/index.js";
import { writeOutcomeTable } from "../../src/data/arrow-io.js";
import { parseExperiment } from "../../src/experiments/config.js";
import { runExperiment } from "../../src/workflow/experiment.js";
import { registerRouter } from "../../src/routers/registry.js";
import { loadRouter } from "../../src/routers/artifact.js";
import { readResults } from "../../src/report/results.js";
import { runCli } from "../helpers/cli.js";

let dir: string;

registerRouter({
  type: "fails-to-fit",
  kind: "predictive",
  describe: "test: its fit throws",
  needsEmbeddings: false,
  needsOutcomes: false,
  create: (pool, params) => ({
    type: "fails-to-fit",
    kind: "predictive",
    pool,
    params,
    needsEmbeddings: false,
    needsOutcomes: false,
    expectedCosts: new Float64Array(pool.length),
    fit: () => Promise.reject(new Error("fit failed")),
    predictQuality: () => Promise.reject(new Error("never fitted")),
  }),
});
let tablePath: string;

// Small enough to be quick, with the hash embedder and few bootstrap resamples; three datasets.
const configText = (table: string, extra = "") => `
name: tiny
seed: 7
data:
  table: ${table}
  datasets: [mmlu, hellaswag, grade-school-math]
  models: [gpt-4-1106-preview, gpt-3.5-turbo-1106, mistralai/mixtral-8x7b-chat, mistralai/mistral-7b-chat]
splits:
  - kind: in-distribution
  - kind: out-of-distribution
  - kind: in-distribution
    pooled: true
embedder:
  spec: hash:128
routers:
  - type: knn
    grid:
      k: [3, 9]
  - type: linear
  - name: mlp-small
    type: mlp
    params:
      hidden: "8"
      epochs: 5
  - type: cascade
    params:
      epsilon: 0.1
evaluation:
  bootstrap: 50
${extra}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rk-run-"));
  tablePath = join(dir, "t.arrow");
  await writeOutcomeTable(tablePath, synthesize({ prompts: 500, seed: 3 }));
});

describe("routekit run", () => {
  it("a config entry is a router spec, checked before any data is read", async () => {
    // k both fixed and searched: the config check says where, with the config's line
    const both = configText("t.arrow").replace("  - type: knn\n    grid:", "  - type: knn\n    params: {k: 3}\n    grid:");
    expect(() => parseExperiment(both, "c.yaml")).toThrow(/c\.yaml, row \d+, field "routers\[0\]\.grid\.k": .*"k" is given both/);
    // A config built in code is checked by the run itself, before it reads the (missing) table.
    const cfg = parseExperiment(configText(join(dir, "missing.arrow")), "c.yaml");
    const bad = { ...cfg, routers: [{ type: "knn", params: { k: 3 }, grid: { k: [3, 9] } }] };
    await expect(runExperiment(bad, { outDir: join(dir, "never"), cacheDir: join(dir, "cache") })).rejects.toThrow(/"k" is given both/);
    expect(existsSync(join(dir, "never"))).toBe(false);
  });

  it("runs a config end to end; a rerun reproduces results.json byte for byte", async () => {
    const cfg = parseExperiment(configText(tablePath), "c.yaml");
    const cache = join(dir, "cache");
    const a = await runExperiment(cfg, { outDir: join(dir, "a"), cacheDir: cache });
    const b = await runExperiment(cfg, { outDir: join(dir, "b"), cacheDir: cache });
    const ra = await readFile(join(dir, "a", "results.json"), "utf8");
    expect(await readFile(join(dir, "b", "results.json"), "utf8")).toBe(ra);

    // 3 in-distribution + 3 out-of-distribution splits + the pooled one, each with every router and the baselines
    expect(a.splits.map((s) => s.name).sort()).toEqual(["all", "grade-school-math", "hellaswag", "mmlu", "ood:grade-school-math", "ood:hellaswag", "ood:mmlu"]);
    // pooled: trained on every dataset's training rows, tested on all their test rows
    const byName = new Map(a.splits.map((s) => [s.name, s]));
    const perDataset = ["grade-school-math", "hellaswag", "mmlu"].map((d) => byName.get(d)!);
    expect(byName.get("all")!.test).toBe(perDataset.reduce((x, s) => x + s.test, 0));
    expect(byName.get("all")!.train).toBe(perDataset.reduce((x, s) => x + s.train, 0));
    const results = await readResults(join(dir, "a", "results.json"));
    expect(results.splits.find((s) => s.dataset === "all")!.split).toBe("pooled");
    for (const split of results.splits) {
      const names = split.routers.map((r) => r.name);
      expect(names).toEqual(expect.arrayContaining(["knn", "linear", "mlp-small", "cascade", "Zero router", "Oracle"]));
    }
    // OOD: trained without the held-out dataset, tested only on it
    const ood = a.splits.find((s) => s.name === "ood:mmlu")!;
    expect(ood.test).toBe(cfgRows("mmlu"));

    // report, plots, resolved config and versions sit next to the results
    const files = await readdir(join(dir, "a"));
    expect(files).toEqual(expect.arrayContaining(["results.json", "report.md", "plots", "routers", "config.resolved.yaml", "run.json"]));
    expect(parseExperiment(await readFile(join(dir, "a", "config.resolved.yaml"), "utf8"), "resolved.yaml")).toEqual(cfg);
    // a curve plot and a forest plot per split
    const pngs = (await readdir(join(dir, "a", "plots"))).filter((f) => f.endsWith(".png"));
    expect(pngs.filter((f) => !f.endsWith("-forest.png"))).toHaveLength(7);
    expect(pngs.filter((f) => f.endsWith("-forest.png"))).toHaveLength(7);
    expect(b.files).toEqual(a.files);

    // the saved routers load in isolation and record the split and embedder they were made with
    const { manifest } = await loadRouter(join(dir, "a", "routers", "mmlu", "knn"));
    expect(manifest.embedder?.spec).toBe("hash:128");
    expect(manifest.split).toMatchObject({ kind: "in-distribution", dataset: "mmlu", seed: 7 });
    expect([3, 9]).toContain(manifest.params.k);
    // ...and what they were fitted on and their validation operating points, as `train` would
    const split = a.splits.find((s) => s.name === "mmlu")!;
    expect(manifest.fittedOn.train.count).toBe(split.train);
    expect(manifest.fittedOn.validation.count).toBe(split.validation);
    expect(manifest.operatingPoints?.on).toBe("validation");
    expect(manifest.operatingPoints?.prompts).toBe(split.validation);
    expect(manifest.operatingPoints!.points.length).toBeGreaterThan(0);
  });

  it("a failing run leaves the previous output untouched and no staging directory behind", async () => {
    const out = join(dir, "keep");
    await writeFile(join(dir, "marker"), "");
    const good = parseExperiment(configText(tablePath), "c.yaml");
    await runExperiment({ ...good, splits: [good.splits[0]], routers: [good.routers[1]] }, { outDir: out, cacheDir: join(dir, "cache") });
    const before = await readFile(join(out, "results.json"), "utf8");
    // a router that fails inside training, after the first has been trained and saved: mid-run
    const bad = { ...good, routers: [good.routers[1], { type: "fails-to-fit", params: {}, grid: {} }] };
    const logs: string[] = [];
    await expect(runExperiment(bad, { outDir: out, cacheDir: join(dir, "cache"), log: (l) => logs.push(l) })).rejects.toThrow(/fit failed/);
    // A router type registered here is unknown to worker threads: the run stays in this thread.
    expect(logs).toContain("router type(s) fails-to-fit registered in this thread: the splits run here, one after another");
    expect(await readFile(join(out, "results.json"), "utf8")).toBe(before);
    expect((await readdir(dir)).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("the CLI prints the table and where the report is, and fails in one line on a bad config", async () => {
    const cfgPath = join(dir, "cli.yaml");
    await writeFile(cfgPath, configText(tablePath).replace("  - kind: out-of-distribution\n", "").replace("  - kind: in-distribution\n    pooled: true\n", "").replace("  - type: linear\n", ""));
    const ok = await runCli(["run", cfgPath, "--out", join(dir, "cli-out"), "--cache-dir", join(dir, "cache"), "--quiet"]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/mmlu \(in-distribution\), \d+ test prompts/);
    expect(ok.stdout).toMatch(/Best single \(.*\)\s+-\s+point [\d.]+ @ \$/);
    expect(ok.stdout).toMatch(/Zero router/);
    expect(ok.stdout).toContain(`Report: ${relative(process.cwd(), join(dir, "cli-out", "report.md"))}`);
    expect(existsSync(join(dir, "cli-out", "plots", "mmlu--in-distribution.png"))).toBe(true);

    const badPath = join(dir, "bad.yaml");
    await writeFile(badPath, "name: x\ndata: {table: t.arrow}\nrouters:\n  - type: knn\n    grid: {k: []}\n");
    const bad = await runCli(["run", badPath]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/bad\.yaml, row 5, field "routers\[0\]\.grid\.k"/);
  });
});

function cfgRows(dataset: string): number {
  const t = synthesize({ prompts: 500, seed: 3 });
  return t.datasets.filter((d) => d === dataset).length;
}
