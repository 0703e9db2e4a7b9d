import { describe, expect, it, beforeAll } from "vitest";
import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeOutcomeTable } from "../../src/data/arrow-io.js";
import { crossFitFolds, splitSpecOf } from "../../src/data/splits.js";
import { selectRows } from "../../src/data/table.js";
import { synthesize } from "../../src/data/synth/index.js";
import { evaluateFolds, evaluateSplit, type FoldUnderTest } from "../../src/evaluate/evaluate.js";
import { parseExperiment } from "../../src/experiments/config.js";
import type { PredictiveRouter } from "../../src/routers/router.js";
import { evaluateRoutersOnTable } from "../../src/workflow/evaluate.js";
import { runExperiment } from "../../src/workflow/experiment.js";
import { foldsOf } from "../../src/workflow/splits.js";
import { trainAndSave } from "../../src/index.js";
import { fixedPredictor } from "../evaluate/fixtures.js";
import { tableFrom } from "../helpers/tables.js";
import { renderSplitSection } from "../../src/report/markdown.js";
import { splitEntry } from "../../src/report/results.js";
import { runCli } from "../helpers/cli.js";

const MODELS = ["a", "b"];
const small = tableFrom(
  MODELS,
  Array.from({ length: 103 }, (_, i) => ({ id: `p${i}`, dataset: i % 3 ? "x" : "y", scores: [i % 2, 1], costs: [0.1, 1] })),
);

describe("cross-fitting folds", () => {
  const spec = { validationFraction: 0.2, seed: 3 };
  it("test every prompt exactly once; each fold's parts are disjoint and cover its dataset", () => {
    for (const { dataset, folds } of crossFitFolds(small, spec, 5)) {
      const rows = small.datasets.flatMap((d, i) => (d === dataset ? [i] : []));
      const tested = folds.flatMap((f) => f.test).sort((a, b) => a - b);
      expect(tested).toEqual(rows);
      for (const f of folds) {
        const parts = [...f.train, ...f.validation, ...f.test];
        expect(new Set(parts).size).toBe(parts.length);
        expect(parts.sort((a, b) => a - b)).toEqual(rows);
        // near-equal folds, validation a fifth of the rest
        expect(Math.abs(f.test.length - rows.length / 5)).toBeLessThanOrEqual(1);
        expect(f.validation.length).toBe(Math.round((rows.length - f.test.length) * 0.2));
      }
    }
  });
  it("are a function of ids and seed: row order changes nothing, another seed changes the folds", () => {
    const reversed = selectRows(small, small.ids.map((_, i) => small.ids.length - 1 - i));
    const ids = (t: typeof small, seed: number) => crossFitFolds(t, { ...spec, seed }, 4).map((g) => g.folds.map((f) => f.test.map((r) => t.ids[r]).sort()));
    expect(ids(reversed, 3)).toEqual(ids(small, 3));
    expect(ids(small, 4)).not.toEqual(ids(small, 3));
  });
  it("refuse fewer prompts than folds and fewer than 2 folds", () => {
    const tiny = tableFrom(MODELS, [0, 1, 2].map((i) => ({ id: `t${i}`, scores: [0, 1], costs: [0.1, 1] })));
    expect(() => crossFitFolds(tiny, spec, 5)).toThrow(/3 prompt\(s\), fewer than the 5 folds/);
    expect(() => crossFitFolds(small, spec, 1)).toThrow(/folds must be an integer >= 2/);
  });
  it("pooled: fold f of 'all' is every dataset's fold f; out-of-distribution stays one fold", () => {
    const pooled = foldsOf(small, splitSpecOf({ validationFraction: 0.2, seed: 3 }), 4, { pooled: true });
    expect(pooled.map((g) => g.name)).toEqual(["all"]);
    expect(pooled[0].folds.flatMap((f) => f.test).sort((a, b) => a - b)).toEqual(small.ids.map((_, i) => i));
    const ood = foldsOf(small, splitSpecOf({ kind: "out-of-distribution", seed: 3 }), 4);
    expect(ood.map((g) => g.folds.length)).toEqual([1, 1]);
  });
});

describe("evaluateFolds", () => {
  // A router that knows every prompt's true scores (so its curve is the Oracle's where it routes).
  const knowing = (t: typeof small): PredictiveRouter => fixedPredictor(MODELS, [0.1, 1], new Map(t.ids.map((id, i) => [id, [t.scores[i * 2], t.scores[i * 2 + 1]]])));
  it("one fold is evaluateSplit, bit for bit", async () => {
    const [fold] = crossFitFolds(small, { validationFraction: 0.3, seed: 1 }, 2)[0].folds;
    const test = { table: selectRows(small, fold.test), embeddings: null };
    const validation = { table: selectRows(small, fold.validation), embeddings: null };
    const opts = { seed: 5, bootstrap: 30 };
    const a = await evaluateSplit(test, [{ name: "r", router: knowing(small) }], { ...opts, validation });
    const b = await evaluateFolds([{ test, validation, routers: [{ name: "r", router: knowing(small) }] }], opts);
    expect(b).toEqual(a);
    expect(b.folds).toBe(1);
  });
  it("pools the folds' test prompts: every prompt once, curves on all of them", async () => {
    const folds: FoldUnderTest[] = crossFitFolds(small, { validationFraction: 0.3, seed: 1 }, 4)
      .flatMap((g) => g.folds)
      .filter((f) => small.datasets[f.test[0]] === "x")
      .map((f) => ({ test: { table: selectRows(small, f.test), embeddings: null }, validation: { table: selectRows(small, f.validation), embeddings: null }, routers: [{ name: "r", router: knowing(small) }] }));
    const r = await evaluateFolds(folds, { seed: 5, bootstrap: 30 });
    const nx = small.datasets.filter((d) => d === "x").length;
    expect(r.prompts).toBe(nx);
    expect(r.folds).toBe(4);
    // A router that knows the outcomes reaches the Oracle's best quality on the pooled prompts.
    const row = r.rows.find((x) => x.name === "r")!;
    const oracle = r.rows.find((x) => x.role === "oracle")!;
    expect(row.maxQuality).toBeCloseTo(oracle.maxQuality, 12);
    expect(row.diffInterval).not.toBeNull();
  });
  it("needs validation rows on every fold to choose operating points", async () => {
    const folds = crossFitFolds(small, { validationFraction: 0.3, seed: 1 }, 2)[0].folds.map((f) => ({ test: { table: selectRows(small, f.test), embeddings: null }, routers: [{ name: "r", router: knowing(small) }] }));
    await expect(evaluateFolds(folds, { seed: 5, bootstrap: 0, operatingPoints: "test" })).rejects.toThrow(/operatingPoints: validation/);
  });
});

describe("crossfit in run and eval", () => {
  let dir: string;
  let tablePath: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rk-crossfit-"));
    tablePath = join(dir, "t.arrow");
    await writeOutcomeTable(tablePath, synthesize({ prompts: 300, seed: 3 }));
  });
  const config = (table: string) => `
name: cf
seed: 7
data:
  table: ${table}
  datasets: [mmlu, hellaswag]
  models: [gpt-4-1106-preview, gpt-3.5-turbo-1106, mistralai/mistral-7b-chat]
splits:
  - kind: in-distribution
    validationFraction: 0.25
  - kind: in-distribution
    validationFraction: 0.25
    pooled: true
embedder:
  spec: hash:64
routers:
  - type: linear
  - type: task-prior
  # a direct router whose settings (budgets) depend on each fold's training rows
  - type: cascade
    params:
      epsilon: 0.1
evaluation:
  bootstrap: 40
  protocol: crossfit
  folds: 3
`;

  it("run: every prompt of a split tested once, no routers saved, results byte-identical on rerun", async () => {
    const cfg = parseExperiment(config(tablePath), "cf.yaml");
    const cache = join(dir, "cache");
    const a = await runExperiment(cfg, { outDir: join(dir, "a"), cacheDir: cache });
    await runExperiment(cfg, { outDir: join(dir, "b"), cacheDir: cache });
    expect(await readFile(join(dir, "b", "results.json"), "utf8")).toBe(await readFile(join(dir, "a", "results.json"), "utf8"));
    const t = synthesize({ prompts: 300, seed: 3 });
    const count = (d: string) => t.datasets.filter((x) => x === d).length;
    const byName = new Map(a.splits.map((s) => [s.name, s]));
    expect(byName.get("mmlu")!.test).toBe(count("mmlu"));
    expect(byName.get("hellaswag")!.test).toBe(count("hellaswag"));
    expect(byName.get("all")!.test).toBe(count("mmlu") + count("hellaswag"));
    for (const s of a.splits) {
      expect(s.result.folds).toBe(3);
      const cascade = s.result.rows.find((r) => r.name === "cascade")!;
      // aligned by validation cost across folds
      expect(cascade.settings!.every((l) => l.startsWith("validation cost <= "))).toBe(true);
    }
    expect(existsSync(join(dir, "a", "routers"))).toBe(false);
    // results.json and report.md say so
    const results = JSON.parse(await readFile(join(dir, "a", "results.json"), "utf8"));
    expect(results.splits.map((x: { folds?: number }) => x.folds)).toEqual([3, 3, 3]);
    expect(await readFile(join(dir, "a", "report.md"), "utf8")).toMatch(/cross-fitted over 3 folds: every prompt tested once/);
    expect(a.files.some((f) => f.startsWith("routers"))).toBe(false);
  });

  it("eval --protocol crossfit from the command line", async () => {
    const r = await runCli(["eval", tablePath, "--routers", "task-prior", "--protocol", "crossfit", "--folds", "3", "--dataset", "mmlu", "--bootstrap", "20", "--out", join(dir, "cli"), "--json"]);
    expect(r.code).toBe(0);
    const results = JSON.parse(await readFile(join(dir, "cli", "results.json"), "utf8"));
    expect(results.splits[0].folds).toBe(3);
    expect(results.config).toMatchObject({ protocol: "crossfit", folds: 3 });
    const bad = await runCli(["eval", tablePath, "--routers", "task-prior", "--protocol", "crossfit", "--folds", "1", "--out", join(dir, "cli2")]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--folds/);
  });

  it("crossfit with operating points on test is refused before any work, in a config and in eval", async () => {
    const bad = config(tablePath).replace("  protocol: crossfit", "  operatingPoints: test\n  protocol: crossfit");
    expect(() => parseExperiment(bad, "cf.yaml")).toThrow(/cf\.yaml, row \d+, field "evaluation\.protocol": cross-fitting chooses operating points on each fold's validation rows/);
    const t = synthesize({ prompts: 300, seed: 3 });
    await expect(evaluateRoutersOnTable(t, { routers: ["task-prior"], seed: 1, protocol: "crossfit", operatingPoints: "test" })).rejects.toThrow(/needs operatingPoints: validation/);
  });

  it("eval: specs are cross-fitted; a saved router is refused", async () => {
    const t = synthesize({ prompts: 300, seed: 3 });
    const r = await evaluateRoutersOnTable(t, { routers: ["task-prior"], seed: 1, bootstrap: 20, protocol: "crossfit", folds: 3, dataset: "mmlu", validationFraction: 0.25, cacheDir: false });
    expect(r.splits).toHaveLength(1);
    expect(r.splits[0].prompts).toBe(t.datasets.filter((d) => d === "mmlu").length);
    const saved = join(dir, "saved");
    await trainAndSave(t, saved, { spec: "task-prior", seed: 1 });
    await expect(evaluateRoutersOnTable(t, { routers: [saved], seed: 1, protocol: "crossfit" })).rejects.toThrow(/cross-fitting trains every router afresh/);
  });
});

describe("pools where every model costs the same", () => {
  it("are scored: AIQ is quality at that one cost, with intervals", async () => {
    // b is right on even prompts, a on odd ones; both cost 1 per query.
    const t = tableFrom(
      MODELS,
      Array.from({ length: 80 }, (_, i) => ({ id: `q${i}`, scores: i % 2 ? [1, 0] : [0, 1], costs: [1, 1] })),
    );
    const knows = fixedPredictor(MODELS, [1, 1], new Map(t.ids.map((id, i) => [id, i % 2 ? [1, 0] : [0, 1]])));
    const r = await evaluateSplit({ table: t, embeddings: null }, [{ name: "r", router: knows }], { seed: 1, bootstrap: 50 });
    expect(r.costRange).toEqual([1, 1]);
    const row = (name: string) => r.rows.find((x) => x.name === name)!;
    expect(row("Zero router").aiq).toBeCloseTo(0.5, 12);
    expect(row("r").aiq).toBeCloseTo(1, 12);
    expect(row("Oracle").aiq).toBeCloseTo(1, 12);
    expect(row("r").beatsZero).toBe(true);
    expect(renderSplitSection(splitEntry("d", "in-distribution", r))).toMatch(/every model costs \$1 per query, so cost cannot separate routers/);
  });
});
