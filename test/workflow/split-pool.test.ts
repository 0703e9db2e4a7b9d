import { beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeOutcomeTable } from "../../src/data/arrow-io.js";
import { selectModels, selectRows } from "../../src/data/table.js";
import { synthesize } from "../../src/data/synth/index.js";
import { parseExperiment } from "../../src/experiments/config.js";
import { InputError } from "../../src/util/errors.js";
import { runExperiment } from "../../src/workflow/experiment.js";
import { runSplitJobs } from "../../src/workflow/split-pool.js";
import { foldsOf } from "../../src/workflow/splits.js";
import { splitSpecOf } from "../../src/data/splits.js";

/** `routekit run` on worker threads: the same bytes as one thread, and errors that say the same. */
describe("run's split jobs on worker threads", () => {
  let dir: string;
  const table = (() => {
    const t = synthesize({ prompts: 500, seed: 5 });
    const rows = t.datasets.flatMap((d, i) => (d === "mmlu" || d === "hellaswag" || d === "grade-school-math" ? [i] : []));
    return selectModels(selectRows(t, rows), ["gpt-4-1106-preview", "gpt-3.5-turbo-1106", "mistralai/mistral-7b-chat", "meta/llama-2-70b-chat"]);
  })();
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rk-pool-"));
    await writeOutcomeTable(join(dir, "t.arrow"), table);
  });
  const config = (evaluation: string, onlyPooled = false) => `
name: pool-test
seed: 11
data:
  table: ${join(dir, "t.arrow")}
splits:
  - kind: in-distribution
    validationFraction: 0.25
    pooled: true
${onlyPooled ? "" : "  - kind: in-distribution\n    validationFraction: 0.25\n"}embedder:
  spec: hash:64
routers:
  - type: knn
    grid:
      k: [3, 9]
  - type: mlp
    params:
      hidden: "16"
      epochs: 8
  - type: linear
  - type: irt
    params:
      iterations: 5
  - type: task-prior
  - name: cascade
    type: cascade
    params:
      epsilon: 0.1
evaluation:
  compareTo: task-prior
${evaluation}`;

  /** Every file of a saved-routers tree, name -> bytes, leaving out the fit's wall time. */
  async function routerFiles(root: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const f of (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile())) {
      const path = join(f.parentPath, f.name);
      // router.json records fit seconds (and so its own checksum); TF.js names layers by a
      // process-wide counter in model.json. Weights and every other file must match byte for byte.
      if (f.name === "router.json" || f.name === "model.json") continue;
      out.set(path.slice(root.length), (await readFile(path)).toString("base64"));
    }
    return out;
  }

  for (const [protocol, evaluation] of [
    ["holdout", "  bootstrap: 30\n  nullShuffles: 2\n"],
    ["crossfit", "  protocol: crossfit\n  folds: 3\n  bootstrap: 30\n  nullShuffles: 1\n"],
  ] as const) {
    it(`${protocol}: results.json from 2 worker threads is byte-identical to one thread's, with the null's shuffles`, async () => {
      const cfg = parseExperiment(config(evaluation), "p.yaml");
      const cache = join(dir, "cache");
      const logs: string[] = [];
      const serial = await runExperiment(cfg, { outDir: join(dir, `${protocol}-1`), cacheDir: cache, workers: 1 });
      const parallel = await runExperiment(cfg, { outDir: join(dir, `${protocol}-2`), cacheDir: cache, workers: 2, log: (l) => logs.push(l) });
      expect(logs.some((l) => /^\d+ split job\(s\), \d+ router trainings, on 2 worker threads$/.test(l))).toBe(true);
      // Worker log lines reach the caller (every router's training is logged).
      expect(logs.filter((l) => /^training knn on /.test(l)).length).toBeGreaterThan(0);
      expect(logs.some((l) => /^null 1\/\d+: training /.test(l))).toBe(true);
      const a = await readFile(join(dir, `${protocol}-1`, "results.json"));
      const b = await readFile(join(dir, `${protocol}-2`, "results.json"));
      expect(b.equals(a)).toBe(true);
      expect(parallel.files).toEqual(serial.files);
      expect(JSON.parse(a.toString()).splits.length).toBe(4);
      if (protocol === "holdout") {
        const r1 = await routerFiles(join(dir, "holdout-1", "routers"));
        const r2 = await routerFiles(join(dir, "holdout-2", "routers"));
        expect(r1.size).toBeGreaterThan(10);
        expect(r2).toEqual(r1);
      }
    }, 300_000);
  }

  it("a run of one split still uses both threads (a task per router), with the same bytes", async () => {
    const cfg = parseExperiment(config("  bootstrap: 30\n", true), "p.yaml");
    const cache = join(dir, "cache");
    const logs: string[] = [];
    await runExperiment(cfg, { outDir: join(dir, "one-1"), cacheDir: cache, workers: 1 });
    await runExperiment(cfg, { outDir: join(dir, "one-2"), cacheDir: cache, workers: 2, log: (l) => logs.push(l) });
    expect(logs).toContain("1 split job(s), 6 router trainings, on 2 worker threads");
    const a = await readFile(join(dir, "one-1", "results.json"));
    expect((await readFile(join(dir, "one-2", "results.json"))).equals(a)).toBe(true);
    expect(JSON.parse(a.toString()).splits.length).toBe(1);
  }, 300_000);

  it("a router that fails inside a worker fails the run with the same one-line InputError as in one thread", async () => {
    const cfg = parseExperiment(config("  bootstrap: 0\n"), "p.yaml");
    // Jobs given no embeddings: knn refuses to fit, inside the job (the config itself is valid).
    const bad = { ...cfg, routers: cfg.routers.filter((r) => r.type === "knn") };
    const spec = splitSpecOf({ ...cfg.splits[0], seed: cfg.seed });
    const jobs = foldsOf(table, spec, 3, { pooled: false }).map((split) => ({ splitCfg: cfg.splits[1], split, shuffle: 0, bootstrap: 0 }));
    const errorOf = async (workers: number) => {
      try {
        await runSplitJobs({ cfg: bad, data: { table, embeddings: null }, embedder: null, prefixes: {} }, jobs, { workers, log: () => {}, progress: () => ({ update: () => {}, stop: () => {} }) });
      } catch (err) {
        return err as Error;
      }
      throw new Error("expected the jobs to fail");
    };
    const one = await errorOf(1);
    const two = await errorOf(2);
    expect(one).toBeInstanceOf(InputError);
    expect(two).toBeInstanceOf(InputError);
    expect(two.message).toBe(one.message);
    expect(two.message).toMatch(/knn/);
    expect((two as InputError).location).toEqual((one as InputError).location);
  }, 120_000);
});
