import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeOutcomeTable } from "../../src/data/arrow-io.js";
import { loadRouter, saveRouter } from "../../src/routers/artifact.js";
import { BestSingleRouter } from "../../src/routers/baselines/best-single.js";
import { TaskPriorRouter } from "../../src/routers/baselines/task-prior.js";
import { batchOfTable } from "../../src/routers/common.js";
import { getRouterFactory } from "../../src/routers/registry.js";
import type { PredictiveRouter, PromptBatch } from "../../src/routers/router.js";
import { routePrompts } from "../../src/routers/routing.js";
import { trainRouter } from "../../src/routers/train.js";
import { runCli } from "../helpers/cli.js";
import { tableFrom } from "../helpers/tables.js";

// A is dearer and best on eval X; B is cheaper and best on eval Y; A is best overall.
const MODELS = ["A", "B"];
const COSTS = [2, 1];
const train = tableFrom(MODELS, [
  { id: "x1", eval: "X", scores: [1, 0], costs: COSTS },
  { id: "x2", eval: "X", scores: [1, 0], costs: COSTS },
  { id: "x3", eval: "X", scores: [1, 1], costs: COSTS },
  { id: "x4", eval: "X", scores: [1, 0], costs: COSTS },
  // A's score missing: skipped in A's eval-X mean (and the row is not complete, so not in the overall means).
  { id: "x5", eval: "X", scores: [NaN, 0], costs: COSTS },
  { id: "y1", eval: "Y", scores: [0, 1], costs: COSTS },
  { id: "y2", eval: "Y", scores: [0, 1], costs: COSTS },
]);
// By hand. Overall (complete rows x1-x4, y1, y2): A 4/6, B 3/6.
// Eval X: A 4 scores, mean 1; B 5 scores, mean 1/5. Eval Y: A 2 scores, mean 0; B 2 scores, mean 1.
const ALL = [4 / 6, 3 / 6];
const shrunk = (n: number, mean: number, all: number, s: number) => (n * mean + s * all) / (n + s);

function prompts(evals: (string | null)[] | undefined): PromptBatch {
  const n = evals?.length ?? 3;
  const ids = Array.from({ length: n }, (_, i) => `p${i}`);
  return { ids, texts: ids, ...(evals ? { evals } : {}), embeddings: null };
}

async function fitted(params: Record<string, unknown> = {}, table = train): Promise<TaskPriorRouter> {
  const r = new TaskPriorRouter(MODELS, params);
  await r.fit({ table, embeddings: null });
  return r;
}

async function choices(r: PredictiveRouter, evals: (string | null)[] | undefined, lambda = 1e6): Promise<string[]> {
  return (await routePrompts(r, prompts(evals), lambda)).models;
}

describe("task-prior router", () => {
  it("is registered, predictive, reads neither embeddings nor outcomes, and grids shrink on validation", () => {
    const f = getRouterFactory("task-prior");
    expect(f.kind).toBe("predictive");
    expect(f.defaultGrid).toEqual({ shrink: [0, 5, 20] });
    const r = f.create(MODELS, {});
    expect([r.needsEmbeddings, r.needsOutcomes]).toEqual([false, false]);
    expect(r.params).toEqual({ shrink: 5, level: "eval" });
    expect(() => f.create(MODELS, { level: "prompt" })).toThrow(/level must be "eval" or "dataset"/);
    expect(() => f.create(MODELS, { shrink: -1 })).toThrow(/shrink must be a non-negative number/);
    expect(() => f.create(MODELS, { k: 3 })).toThrow(/no parameter "k"/);
  });

  it("at high lambda routes each task to its best model: X -> A, Y -> B", async () => {
    const r = await fitted();
    expect(await choices(r, ["X", "Y", "X", "Y"])).toEqual(["A", "B", "A", "B"]);
    // At lambda 0 the cheaper model wins whatever the task.
    expect(await choices(r, ["X", "Y"], 0)).toEqual(["B", "B"]);
  });

  it("an unknown eval (absent, null, unseen) gets the overall means: exactly best-single's choice", async () => {
    const r = await fitted();
    const best = new BestSingleRouter(MODELS, {});
    await best.fit({ table: train, embeddings: null });
    expect(Array.from(r.expectedCosts)).toEqual(Array.from(best.expectedCosts));
    const bestQ = await best.predictQuality(prompts(undefined));
    for (const evals of [undefined, [null, null, null], ["Z", "x", ""]]) {
      expect(Array.from(await r.predictQuality(prompts(evals)))).toEqual(Array.from(bestQ));
      for (const lambda of [0, 0.1, 1e6]) expect(await choices(r, evals, lambda)).toEqual(await choices(best, evals, lambda));
    }
    expect(await choices(r, [null, "Y", "Z"])).toEqual(["A", "B", "A"]);
  });

  it("shrinks each task mean toward the model's overall mean: (n mean_e + s mean_all) / (n + s)", async () => {
    for (const s of [0, 5, 20]) {
      const r = await fitted({ shrink: s });
      const q = Array.from(await r.predictQuality(prompts(["X", "Y"])));
      const want = [shrunk(4, 1, ALL[0], s), shrunk(5, 1 / 5, ALL[1], s), shrunk(2, 0, ALL[0], s), shrunk(2, 1, ALL[1], s)];
      q.forEach((v, i) => expect(v).toBeCloseTo(want[i], 12));
    }
    // s = 5 by hand: A on X (4 + 10/3) / 9 = 22/27; B on Y (2 + 2.5) / 7 = 9/14.
    const q5 = await (await fitted()).predictQuality(prompts(["X", "Y"]));
    expect(q5[0]).toBeCloseTo(22 / 27, 12);
    expect(q5[3]).toBeCloseTo(9 / 14, 12);
    // A huge s forgets the task: every prompt gets the overall means.
    const qInf = await (await fitted({ shrink: 1e12 })).predictQuality(prompts(["X", "Y"]));
    Array.from(qInf).forEach((v, i) => expect(v).toBeCloseTo(ALL[i % 2], 9));
  });

  it("level=dataset pools the evals of one dataset; a dataset name or an unseen eval of it is understood", async () => {
    const table = tableFrom(MODELS, [
      { id: "a1", dataset: "mmlu", eval: "mmlu-anatomy", scores: [1, 0], costs: COSTS },
      { id: "a2", dataset: "mmlu", eval: "mmlu-anatomy", scores: [1, 0], costs: COSTS },
      { id: "b1", dataset: "mmlu", eval: "mmlu-law", scores: [0, 1], costs: COSTS },
      { id: "g1", dataset: "gsm", eval: "gsm-easy", scores: [0, 1], costs: COSTS },
      { id: "g2", dataset: "gsm", eval: "gsm-hard", scores: [0, 0], costs: COSTS },
    ]);
    const all = [2 / 5, 2 / 5];
    const ds = await fitted({ level: "dataset", shrink: 1 }, table);
    // mmlu: A 2/3 over 3 rows, B 1/3; gsm: A 0 over 2 rows, B 1/2.
    const mmlu = [shrunk(3, 2 / 3, all[0], 1), shrunk(3, 1 / 3, all[1], 1)];
    const gsm = [shrunk(2, 0, all[0], 1), shrunk(2, 1 / 2, all[1], 1)];
    // "gsm-easy" has no prefix rule (datasetOfEval keeps it): it is found through the training rows' eval -> dataset.
    const evals = ["mmlu-anatomy", "mmlu-law", "mmlu", "mmlu-virology", "gsm-easy", "gsm", "gsm-other"];
    const q = Array.from(await ds.predictQuality(prompts(evals)));
    const want = [mmlu, mmlu, mmlu, mmlu, gsm, gsm, all].flat();
    q.forEach((v, i) => expect(v).toBeCloseTo(want[i], 12));
    // At eval level the two mmlu evals differ and route apart.
    const ev = await fitted({ shrink: 1 }, table);
    expect(await choices(ev, ["mmlu-anatomy", "mmlu-law"])).toEqual(["A", "B"]);
    expect(await choices(ds, ["mmlu-anatomy", "mmlu-law"])).toEqual(["A", "A"]);
  });

  describe("save -> load", () => {
    let root = "";
    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), "routekit-task-prior-"));
    });
    afterAll(async () => {
      await rm(root, { recursive: true, force: true });
    });

    for (const spec of ["task-prior", "task-prior:level=dataset,shrink=2"]) {
      it(`gives identical predictions (${spec})`, async () => {
        const table = tableFrom(
          MODELS,
          Array.from({ length: 24 }, (_, i) => ({
            id: `r${i}`,
            dataset: i % 3 === 0 ? "mmlu" : "D",
            eval: i % 3 === 0 ? `mmlu-${i % 2}` : `e${i % 4}`,
            scores: [(i * 7) % 5 === 0 ? 1 : 0, i % 2],
            costs: COSTS,
          })),
        );
        const val = tableFrom(MODELS, [
          { id: "v1", dataset: "D", eval: "e1", scores: [1, 0], costs: COSTS },
          { id: "v2", dataset: "mmlu", eval: "mmlu-0", scores: [0, 1], costs: COSTS },
        ]);
        const { router, report } = await trainRouter({ table, embeddings: null }, { table: val, embeddings: null }, { spec, seed: 0 });
        if (spec === "task-prior") expect(Object.keys(report.validation)).toEqual(expect.arrayContaining(["mse[shrink=0]", "mse[shrink=5]", "mse[shrink=20]"]));
        const dir = join(root, spec.replace(/[^a-z0-9]/g, "_"));
        await saveRouter(router, dir, { embedder: null, split: { kind: "test" }, seed: 0, fit: report, fittedOn: { train: [], validation: [] }, operatingPoints: null });
        const { router: loaded, manifest } = await loadRouter(dir);
        expect(manifest.params).toEqual(router.params);
        expect(loaded).toBeInstanceOf(TaskPriorRouter);
        const evals = ["e0", "e1", "e2", "e3", "mmlu-0", "mmlu-1", "mmlu", "D", "mmlu-new", "unseen", null];
        const batch = prompts(evals);
        const p = router as PredictiveRouter;
        const l = loaded as PredictiveRouter;
        expect(Array.from(await l.predictQuality(batch))).toEqual(Array.from(await p.predictQuality(batch)));
        expect(Array.from(l.expectedCosts)).toEqual(Array.from(p.expectedCosts));
        const tb = batchOfTable(table, null, MODELS, false);
        expect(Array.from(await l.predictQuality(tb))).toEqual(Array.from(await p.predictQuality(tb)));
      });
    }
  });
});

describe("routekit train --router task-prior / route with evals", () => {
  let root = "";
  let dir = "";
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "routekit-task-prior-cli-"));
    // 60 X prompts (A right, B wrong) and 40 Y prompts (B right, A wrong): A is the best single model.
    const rows = [];
    for (let i = 0; i < 60; i++) rows.push({ id: `x${i}`, eval: "X", scores: [1, 0], costs: [0.002, 0.001] });
    for (let i = 0; i < 40; i++) rows.push({ id: `y${i}`, eval: "Y", scores: [0, 1], costs: [0.002, 0.001] });
    await writeOutcomeTable(join(root, "t.arrow"), tableFrom(MODELS, rows));
    dir = join(root, "tp");
    const r = await runCli(["train", join(root, "t.arrow"), "--router", "task-prior", "--out", dir, "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.type).toBe("task-prior");
    expect([0, 5, 20]).toContain(out.fit.chosen.shrink);
    await writeFile(
      join(root, "p.jsonl"),
      [
        JSON.stringify({ id: "px", prompt: "anything", eval: "X" }),
        JSON.stringify({ id: "py", prompt: "anything", eval: "Y" }),
        JSON.stringify({ id: "pnull", prompt: "anything", eval: null }),
        JSON.stringify({ id: "pnone", prompt: "anything" }),
        JSON.stringify({ id: "punseen", prompt: "anything", eval: "W" }),
        JSON.stringify("a bare string line"),
      ].join("\n") + "\n",
    );
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("saves the task means with the router", async () => {
    const manifest = JSON.parse(await readFile(join(dir, "router.json"), "utf8"));
    expect(Object.keys(manifest.files).sort()).toEqual(["fitted-prompts.json", "overall-means.f64", "task-counts.f64", "task-means.f64", "task-prior.json"]);
    expect(JSON.parse(await readFile(join(dir, "task-prior.json"), "utf8")).tasks.sort()).toEqual(["X", "Y"]);
  });

  it("--eval routes one prompt by its task; without it, as best-single", async () => {
    const run = (extra: string[]) => runCli(["route", dir, "--lambda", "inf", "a prompt", ...extra]);
    const y = await run(["--eval", "Y"]);
    expect(y.code).toBe(0);
    expect(y.stdout).toMatch(/^1\s+B\s/m);
    const x = await run(["--eval", "X"]);
    expect(x.stdout).toMatch(/^1\s+A\s/m);
    const none = await run([]);
    expect(none.stdout).toMatch(/^1\s+A\s/m);
  });

  it('--input lines carry an optional "eval"', async () => {
    const r = await runCli(["route", dir, "--lambda", "inf", "--input", join(root, "p.jsonl"), "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.prompts.map((p: { id: string; model: string }) => [p.id, p.model])).toEqual([
      ["px", "A"],
      ["py", "B"],
      ["pnull", "A"],
      ["pnone", "A"],
      ["punseen", "A"],
      ["6", "A"],
    ]);
    expect(out.prompts[1].quality.B).toBeGreaterThan(out.prompts[1].quality.A);
  });

  it("refuses --eval with --input, and a non-string eval field naming its row", async () => {
    const both = await runCli(["route", dir, "--lambda", "inf", "--input", join(root, "p.jsonl"), "--eval", "X"]);
    expect(both.code).toBe(1);
    expect(both.stderr).toMatch(/--eval is for one prompt/);
    await writeFile(join(root, "bad.jsonl"), `${JSON.stringify({ prompt: "ok" })}\n${JSON.stringify({ prompt: "p", eval: 3 })}\n`);
    const bad = await runCli(["route", dir, "--lambda", "inf", "--input", join(root, "bad.jsonl")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad\.jsonl.*2.*eval.*eval must be a string/);
  });

  it("--help documents --eval and the eval field", async () => {
    const r = await runCli(["route", "--help"]);
    expect(r.stdout).toMatch(/--eval <name>/);
    expect(r.stdout).toMatch(/"eval": "\.\.\."/);
  });
});
