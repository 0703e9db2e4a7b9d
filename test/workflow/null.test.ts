import { beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeOutcomeTable } from "../../src/data/arrow-io.js";
import { selectModels, selectRows } from "../../src/data/table.js";
import { synthesize } from "../../src/data/synth/index.js";
import { shuffledOutcomes } from "../../src/evaluate/null.js";
import { parseExperiment } from "../../src/experiments/config.js";
import { readResults } from "../../src/report/results.js";
import { runExperiment } from "../../src/workflow/experiment.js";
import { evaluateRoutersOnTable } from "../../src/workflow/evaluate.js";
import { trainAndSave } from "../../src/workflow/train.js";

/** The permutation null in `routekit run` (evaluation.nullShuffles). */
describe("run with a permutation null", () => {
  let dir: string;
  const table = (() => {
    const t = synthesize({ prompts: 300, seed: 3 });
    const rows = t.datasets.flatMap((d, i) => (d === "mmlu" || d === "hellaswag" ? [i] : []));
    return selectModels(selectRows(t, rows), ["gpt-4-1106-preview", "gpt-3.5-turbo-1106", "mistralai/mistral-7b-chat"]);
  })();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rk-null-"));
    await writeOutcomeTable(join(dir, "t.arrow"), table);
    await writeOutcomeTable(join(dir, "shuffle-2.arrow"), shuffledOutcomes(table, "7:2"));
  });
  const config = (path: string, evaluation: string) => `
name: null-test
seed: 7
data:
  table: ${path}
splits:
  - kind: in-distribution
    validationFraction: 0.25
    pooled: true
  - kind: in-distribution
    validationFraction: 0.25
embedder:
  spec: hash:64
routers:
  - type: linear
  - type: task-prior
evaluation:
  protocol: crossfit
  folds: 3
  compareTo: task-prior
${evaluation}`;

  it("gives every router on every split its figures on each shuffle and permutation p-values, in results.json and report.md", async () => {
    const cache = join(dir, "cache");
    const run = await runExperiment(parseExperiment(config(join(dir, "t.arrow"), "  bootstrap: 20\n  nullShuffles: 3\n"), "n.yaml"), { outDir: join(dir, "a"), cacheDir: cache });
    const results = await readResults(join(dir, "a", "results.json"));
    expect(results.splits.map((s) => s.dataset)).toEqual(["all", "hellaswag", "mmlu"]);
    for (const s of results.splits) {
      for (const r of s.routers) {
        if (r.role !== "router") {
          expect(r.null).toBeUndefined();
          continue;
        }
        const z = r.null!;
        expect(z.shuffles).toBe(3);
        expect(z.diffToZero).toHaveLength(3);
        expect([1, 2, 3, 4].map((k) => k / 4)).toContain(z.pBeatsZero);
        expect(z.pBeatsZero).toBe((1 + z.diffToZero.filter((d) => d >= r.diffToZero! - 1e-12).length) / 4);
        if (r.name === "task-prior") expect(z.vsReference).toBeNull();
        else expect(z.vsReference!.diffs).toHaveLength(3);
      }
    }
    // Shuffle 2 is the run of the same config on the table shuffled with the seed's second shuffle.
    const plain = await runExperiment(parseExperiment(config(join(dir, "shuffle-2.arrow"), "  bootstrap: 0\n"), "s.yaml"), { outDir: join(dir, "s2"), cacheDir: cache });
    for (const [j, s] of results.splits.entries()) {
      for (const r of s.routers.filter((x) => x.role === "router")) {
        const row = plain.splits[j].result.rows.find((x) => x.name === r.name)!;
        expect(r.null!.diffToZero[1]).toBe(row.diffToZero);
        if (r.null!.vsReference) expect(r.null!.vsReference.diffs[1]).toBe(row.vsReference!.diff);
      }
    }
    // The real figures are those of a run without the null: the shuffles change nothing else.
    await runExperiment(parseExperiment(config(join(dir, "t.arrow"), "  bootstrap: 20\n"), "n.yaml"), { outDir: join(dir, "b"), cacheDir: cache });
    const without = await readResults(join(dir, "b", "results.json"));
    const strip = (x: typeof results) => x.splits.map((s) => s.routers.map(({ null: _n, ...rest }) => rest));
    expect(strip(results)).toEqual(strip(without));
    expect(without.splits.every((s) => s.routers.every((r) => r.null === undefined))).toBe(true);
    expect(run.splits).toHaveLength(3);

    const report = await readFile(join(dir, "a", "report.md"), "utf8");
    expect(report).toMatch(/Permutation null: the same folds, routers and grids on 3 shuffles/);
    expect(report).toMatch(/\| linear \| [+-]\d\.\d{4} \| [+-]\d\.\d{4} … [+-]\d\.\d{4} \| (0\.\d{3}|1\.000) \|/);
    expect(report).toMatch(/ p=\d\.\d\d/);
    const plainReport = await readFile(join(dir, "b", "report.md"), "utf8");
    expect(plainReport).not.toMatch(/Permutation null|p=\d/);
  }, 120_000);

  it("refuses a negative or fractional shuffle count in the config, naming the field", () => {
    expect(() => parseExperiment(config("t.arrow", "  nullShuffles: -1\n"), "bad.yaml")).toThrow(/nullShuffles/);
    expect(() => parseExperiment(config("t.arrow", "  nullShuffles: 1.5\n"), "bad.yaml")).toThrow(/nullShuffles/);
  });
});

describe("eval with a permutation null", () => {
  const t = synthesize({ prompts: 300, seed: 3 });
  const opts = { routers: ["linear", "task-prior"], seed: 5, protocol: "crossfit" as const, folds: 3, validationFraction: 0.25, embedder: "hash:64", cacheDir: false as const, compareTo: "task-prior" };

  it("gives each router its figures on every shuffle, the shuffles seeded as run's", async () => {
    const r = await evaluateRoutersOnTable(t, { ...opts, dataset: "mmlu", bootstrap: 10, nullShuffles: 2 });
    const linear = r.splits[0].routers.find((x) => x.name === "linear")!;
    expect(linear.null!.shuffles).toBe(2);
    expect(linear.null!.vsReference!.diffs).toHaveLength(2);
    expect(r.splits[0].routers.find((x) => x.name === "task-prior")!.null!.vsReference).toBeNull();
    // shuffle 2 = the same evaluation of the table shuffled with "<seed>:2"
    const plain = await evaluateRoutersOnTable(shuffledOutcomes(t, "5:2"), { ...opts, dataset: "mmlu", bootstrap: 0 });
    const row = plain.splits[0].routers.find((x) => x.name === "linear")!;
    expect(linear.null!.diffToZero[1]).toBe(row.diffToZero);
    expect(linear.null!.vsReference!.diffs[1]).toBe(row.vsReference!.diff);
  }, 120_000);

  it("refuses a saved router: it cannot be retrained on shuffles", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-null-eval-"));
    await trainAndSave(t, join(dir, "saved"), { spec: "task-prior", seed: 1 });
    await expect(evaluateRoutersOnTable(t, { routers: [join(dir, "saved")], seed: 1, nullShuffles: 3 })).rejects.toThrow(/permutation null retrains every router/);
  });
});
