import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
// The registry first, as the CLI and the library load it (stack.ts is also safe to import first).
import { getRouterFactory, registerRouter } from "../../src/routers/registry.js";
import { copyRouterWith, loadRouter, saveRouter } from "../../src/routers/artifact.js";
import { maskedMse, poolScores } from "../../src/routers/common.js";
import { beatsByOneSe, chooseBlend, fitBlend, simplestMember, splitPredictions, StackRouter } from "../../src/routers/stack.js";
import { routePrompts } from "../../src/routers/routing.js";
import { trainRouter } from "../../src/routers/train.js";
import type { FitReport, PredictiveRouter, PromptBatch, TrainingSet } from "../../src/routers/router.js";
import { checkParams } from "../../src/workflow/train.js";
import { parseExperiment, experimentToYaml } from "../../src/experiments/config.js";
import { DEFAULT_PREPARATION } from "../../src/embed/embedder.js";
import { InputError } from "../../src/util/errors.js";
import { makeRng, normal } from "../../src/util/rng.js";
import { tableFrom } from "../helpers/tables.js";
import { embeddingsOf } from "./synthetic.js";

const MODELS = ["big", "mid", "small"];
const COSTS = [1e-3, 1e-4, 1e-5];
const TASKS = ["t0", "t1", "t2", "t3"];
/** Each task's effect on each model's quality: the part of q only task identity tells. */
const TASK_EFFECT = [
  [0.15, -0.1, 0.0],
  [-0.15, 0.1, 0.05],
  [0.05, 0.15, -0.15],
  [-0.05, -0.15, 0.1],
];
/** Each model's quality moves with the prompt's embedding along axis 0 (big up, mid down) or 1 (small): the part only the text tells. */
const TEXT_EFFECT = [
  [0.25, 0],
  [-0.25, 0],
  [0, 0.2],
];

/**
 * n prompts, tasks dealt in turn, embeddings drawn independently of the task (so an embedding
 * router cannot recognise the task, and task-prior cannot read the text):
 *   q_m = 0.5 + TASK_EFFECT[task][m] + text * TEXT_EFFECT[m] . v,   score = q_m + U(-0.1, 0.1)
 * with v the L2-normalised 6-d embedding; scores stay inside [0, 1].
 */
function taskTextSet(n: number, seed: number, prefix: string, text: number, difficulty = 0): TrainingSet {
  const rng = makeRng(seed);
  const rows: number[][] = [];
  const specs = [];
  for (let i = 0; i < n; i++) {
    const t = i % TASKS.length;
    const raw = Array.from({ length: 6 }, () => normal(rng));
    const norm = Math.hypot(...raw);
    const v = raw.map((x) => x / norm);
    rows.push(raw);
    // A prompt's difficulty moves every model alike (known to the difficulty-oracle test router).
    const easiness = difficulty * (rng() - 0.5);
    EASINESS.set(`${prefix}${i}`, easiness);
    const scores = MODELS.map((_, m) => 0.5 + easiness + TASK_EFFECT[t][m] + text * (TEXT_EFFECT[m][0] * v[0] + TEXT_EFFECT[m][1] * v[1]) + 0.2 * (rng() - 0.5));
    specs.push({ id: `${prefix}${i}`, dataset: "d", eval: TASKS[t], scores, costs: COSTS.map((c) => c * (0.9 + 0.2 * rng())) });
  }
  return { table: tableFrom(MODELS, specs), embeddings: embeddingsOf(rows) };
}

const MEMBERS = ["task-prior", "linear", "knn:engine=js"];

/** Each generated prompt's easiness (by id), for the difficulty-oracle member. */
const EASINESS = new Map<string, number>();

/** A test member that knows each prompt's easiness and nothing else: q_m = 0.5 + easiness, the same for every model. */
class DifficultyOracle implements PredictiveRouter {
  readonly type = "difficulty-oracle";
  readonly kind = "predictive" as const;
  readonly needsEmbeddings = false;
  readonly needsOutcomes = false;
  readonly params = {};
  expectedCosts: Float64Array;
  constructor(readonly pool: readonly string[]) {
    this.expectedCosts = new Float64Array(pool.length);
  }
  async fit(): Promise<FitReport> {
    return { chosen: {}, validation: {}, seconds: 0 };
  }
  async predictQuality(batch: PromptBatch): Promise<Float64Array> {
    return Float64Array.from(batch.ids.flatMap((id) => this.pool.map(() => 0.5 + EASINESS.get(id)!)));
  }
}
registerRouter({ type: "difficulty-oracle", kind: "predictive", describe: "test", needsEmbeddings: false, needsOutcomes: false, create: (pool) => new DifficultyOracle(pool) });

async function testMse(router: PredictiveRouter, test: TrainingSet): Promise<number> {
  const q = await router.predictQuality({ ids: test.table.ids, texts: test.table.texts, evals: test.table.evals, embeddings: test.embeddings });
  return maskedMse(q, poolScores(test.table, MODELS));
}

async function predict(router: PredictiveRouter, test: TrainingSet): Promise<Float64Array> {
  return router.predictQuality({ ids: test.table.ids, texts: test.table.texts, evals: test.table.evals, embeddings: router.needsEmbeddings ? test.embeddings : null });
}

const bytes = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe("the blend", () => {
  it("recovers non-negative weights and the intercept exactly", () => {
    const rng = makeRng(1);
    const n = 200;
    const x = new Float64Array(n * 3);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      for (let r = 0; r < 3; r++) x[i * 3 + r] = rng();
      y[i] = 0.1 + 0.6 * x[i * 3] + 0.3 * x[i * 3 + 1];
    }
    const rows = Array.from({ length: n }, (_, i) => i);
    const fit = fitBlend(x, y, 3, rows, 0);
    expect(fit.weights[0]).toBeCloseTo(0.6, 10);
    expect(fit.weights[1]).toBeCloseTo(0.3, 10);
    expect(fit.weights[2]).toBeCloseTo(0, 10);
    expect(fit.intercept).toBeCloseTo(0.1, 10);
  });

  it("never gives a member a negative weight (it is left out instead)", () => {
    const rng = makeRng(2);
    const n = 200;
    const x = new Float64Array(n * 2);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[i * 2] = rng();
      x[i * 2 + 1] = rng();
      y[i] = 0.5 + 0.4 * x[i * 2] - 0.4 * x[i * 2 + 1];
    }
    const fit = fitBlend(x, y, 2, Array.from({ length: n }, (_, i) => i), 0);
    expect(fit.weights[1]).toBe(0);
    expect(fit.weights[0]).toBeGreaterThan(0.3);
  });

  it("falls back to the best member when the cross-validated blend does not beat it", () => {
    const rng = makeRng(3);
    const n = 300;
    const x = new Float64Array(n * 2);
    const y = new Float64Array(n);
    const fold = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      x[i * 2] = rng(); // a calibrated member: y is its prediction plus noise
      x[i * 2 + 1] = rng(); // noise
      y[i] = x[i * 2] + 0.1 * normal(rng);
      fold[i] = i % 5;
    }
    const c = chooseBlend(x, y, 2, fold, 5, 0.01, 0);
    expect(c.blend.choice).toBe(0);
    expect(c.blend.weights).toEqual([1, 0]);
    expect(c.blend.intercept).toBe(0);
    expect(c.blendSse).toBeGreaterThanOrEqual(c.memberSse[0]);
    // And when the blend is clearly better than the fallback member, it is chosen.
    const noisy = chooseBlend(x, y, 2, fold, 5, 0.01, 1);
    expect(noisy.blend.choice).toBe(-1);
  });

  it("picks the fallback member by the one-standard-error rule, simplest (first listed) within noise", () => {
    const rng = makeRng(5);
    const n = 400;
    const rows = Array.from({ length: n }, (_, i) => i);
    const base = Float64Array.from(rows, () => rng());
    // The same errors on other rows, a hair less in total: the least error, but by noise.
    const tied = Float64Array.from(rows, (i) => base[(i + 1) % n] - 1e-6);
    const better = Float64Array.from(base, (v) => 0.5 * v);
    expect(simplestMember([base, tied], rows)).toBe(0);
    expect(simplestMember([tied, base, better], rows)).toBe(2);
    expect(simplestMember([better, base], rows)).toBe(0);
    expect(beatsByOneSe(better, base, rows)).toBe(true);
    expect(beatsByOneSe(base, better, rows)).toBe(false);
  });
});

describe("levels and contrasts", () => {
  it("split each prompt's predictions into their mean over the models and each model's difference from it", () => {
    const q = Float64Array.of(0.2, 0.4, 0.9, 0.5, NaN, 0.7);
    const strict = splitPredictions(q, 2, 3, true);
    expect(strict.levels[0]).toBeCloseTo(0.5, 15);
    expect(Array.from(strict.contrasts.subarray(0, 3)).map((v) => +v.toFixed(12))).toEqual([-0.3, -0.1, 0.4]);
    expect(strict.levels[1]).toBeNaN();
    const lax = splitPredictions(q, 2, 3, false);
    expect(lax.levels[1]).toBeCloseTo(0.6, 15);
    expect(lax.contrasts[4]).toBeNaN();
  });
});

describe("stack router", () => {
  const train = taskTextSet(400, 11, "tr", 1);
  const val = taskTextSet(100, 12, "va", 1);
  const test = taskTextSet(600, 13, "te", 1);
  const spec = { type: "stack", params: { members: MEMBERS }, grid: {} };
  let stack: StackRouter;
  let report: Awaited<ReturnType<StackRouter["fit"]>>;

  beforeAll(async () => {
    stack = new StackRouter(MODELS, { members: MEMBERS, seed: 4 });
    report = await stack.fit(train);
  });

  it("beats each member alone where quality depends on the task and on the text", async () => {
    const stackMse = await testMse(stack, test);
    for (const member of MEMBERS) {
      const { router } = await trainRouter(train, val, { spec: member, seed: 4 });
      const mse = await testMse(router as PredictiveRouter, test);
      expect(stackMse, member).toBeLessThan(mse * 0.9);
    }
    // It blends (task-prior and linear both weighted) rather than picking one.
    expect(stack.contrasts.every((b) => b.choice === -1 && b.weights[0] > 0.5 && b.weights[1] > 0.5)).toBe(true);
    expect(report.validation["oofMse[blend]"]).toBeLessThan(Math.min(report.validation["oofMse[task-prior]"], report.validation["oofMse[linear]"], report.validation["oofMse[knn]"]));
    expect(report.validation.modelsBlended).toBe(3);
    expect(report.chosen.perModel).toEqual({ big: "blend", mid: "blend", small: "blend" });
  });

  it("falls back to the one member that knows something when the others are noise", async () => {
    const tr = taskTextSet(400, 21, "tr", 0);
    const te = taskTextSet(600, 23, "te", 0);
    const s = new StackRouter(MODELS, { members: MEMBERS, seed: 4 });
    const fit = await s.fit(tr);
    const { router: alone } = await trainRouter(tr, null, { spec: "task-prior", seed: 4 });
    expect(await testMse(s, te)).toBeLessThan((await testMse(alone as PredictiveRouter, te)) * 1.01);
    // Explicit: every model answers with task-prior's prediction as is, and says so in the report.
    expect([s.level!, ...s.contrasts].map((b) => [b.choice, b.intercept, ...b.weights])).toEqual([...MODELS, "level"].map(() => [0, 0, 1, 0, 0]));
    expect(fit.chosen.perModel).toEqual({ big: "task-prior", mid: "task-prior", small: "task-prior" });
    expect(fit.validation.modelsBlended).toBe(0);
    expect(fit.validation["oofMse[stack]"]).toBe(fit.validation["oofMse[task-prior]"]);
    // Members no blend uses are not trained on all rows, nor kept.
    expect(s.members.map((m) => m?.type ?? null)).toEqual(["task-prior", null, null]);
    expect((fit.chosen.members as Record<string, unknown>).linear).toBeNull();
  });

  it("a member that knows only how hard a prompt is (for every model alike) sets the level, not the routing", async () => {
    // Routing compares models on one prompt, so only the contrasts matter. Blending each model's
    // q as a whole would let the shared difficulty (most of the squared error) decide the weights.
    const tr = taskTextSet(400, 31, "dtr", 0, 0.2);
    const te = taskTextSet(600, 33, "dte", 0, 0.2);
    const s = new StackRouter(MODELS, { members: ["task-prior", "difficulty-oracle"], seed: 4 });
    const fit = await s.fit(tr);
    expect(s.level!.choice).toBe(-1);
    expect(s.level!.weights[1]).toBeGreaterThan(0.8);
    expect(s.contrasts.map((b) => [b.choice, ...b.weights])).toEqual(MODELS.map(() => [0, 1, 0]));
    expect(fit.chosen.perModel).toEqual({ big: "task-prior", mid: "task-prior", small: "task-prior" });
    const { router: prior } = await trainRouter(tr, null, { spec: "task-prior", seed: 4 });
    expect(await testMse(s, te)).toBeLessThan((await testMse(prior as PredictiveRouter, te)) * 0.8);
    // ... and every routing decision is task-prior's (task-prior trained alike: on the same 90% of rows).
    const alike = new StackRouter(MODELS, { members: ["task-prior"], seed: 4 });
    await alike.fit(tr);
    const batch = { ids: te.table.ids, texts: te.table.texts, evals: te.table.evals, embeddings: null };
    for (const lambda of [0, 30, 300, 3000, Infinity]) {
      expect(Array.from((await routePrompts(s, batch, lambda)).chosen)).toEqual(Array.from((await routePrompts(alike, batch, lambda)).chosen));
    }
  });

  it("seeded runs are bitwise identical, through trainRouter too", async () => {
    const again = new StackRouter(MODELS, { members: MEMBERS, seed: 4 });
    const report2 = await again.fit(train);
    expect(bytes(await predict(again, test)).equals(bytes(await predict(stack, test)))).toBe(true);
    expect(report2.validation).toEqual(report.validation);
    const a = await trainRouter(train, val, { spec, seed: 9 });
    const b = await trainRouter(train, val, { spec, seed: 9 });
    expect(a.router.params.seed).toBe(9);
    expect(bytes(await predict(a.router as PredictiveRouter, test)).equals(bytes(await predict(b.router as PredictiveRouter, test)))).toBe(true);
  });

  it("does not read the validation rows it is given", async () => {
    const a = new StackRouter(MODELS, { members: MEMBERS, seed: 4 });
    await a.fit(train, val);
    expect(bytes(await predict(a, test)).equals(bytes(await predict(stack, test)))).toBe(true);
  });

  describe("save and load", () => {
    let root = "";
    const meta = { embedder: { id: "test", spec: "hash", preparation: DEFAULT_PREPARATION }, split: { kind: "test" }, seed: 4, fittedOn: { train: ["a"], validation: [] }, operatingPoints: null };
    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), "routekit-stack-"));
    });
    afterAll(async () => {
      await rm(root, { recursive: true, force: true });
    });

    it("a saved stack loads into a new router that predicts identically, also after a calibrate-style copy", async () => {
      const dir = join(root, "stack");
      await saveRouter(stack, dir, { ...meta, fit: report });
      const files = (await readdir(dir)).sort();
      // Flat names, every one listed (and so checksummed) in router.json; no scratch folders left.
      const { router: loaded, manifest } = await loadRouter(dir);
      expect(Object.keys(manifest.files).sort()).toEqual(files.filter((f) => f !== "router.json"));
      expect(files.some((f) => f.startsWith("member0."))).toBe(true);
      expect(manifest.params).toEqual(stack.params);
      expect(loaded).toBeInstanceOf(StackRouter);
      expect(bytes(await predict(loaded as PredictiveRouter, test)).equals(bytes(await predict(stack, test)))).toBe(true);
      const copy = join(root, "copy");
      await copyRouterWith(dir, copy, { operatingPoints: null });
      const { router: copied } = await loadRouter(copy);
      expect(bytes(await predict(copied as PredictiveRouter, test)).equals(bytes(await predict(stack, test)))).toBe(true);
    });

    it("a changed member file is refused", async () => {
      const dir = join(root, "stack");
      const name = (await readdir(dir)).find((f) => f.startsWith("member1."))!;
      await writeFile(join(dir, name), "tampered");
      await expect(loadRouter(dir)).rejects.toThrow(/checksum mismatch/);
    });

    it("a stack of members that read no prompt text needs no embeddings, and saves without an embedder", async () => {
      const s = new StackRouter(MODELS, { members: "task-prior+best-single", seed: 1 });
      expect(s.needsEmbeddings).toBe(false);
      await s.fit({ table: train.table, embeddings: null });
      const dir = join(root, "no-embeddings");
      await saveRouter(s, dir, { ...meta, embedder: null });
      const { router: loaded, manifest } = await loadRouter(dir);
      expect(manifest.embedder).toBeNull();
      expect(bytes(await predict(loaded as PredictiveRouter, test)).equals(bytes(await predict(s, test)))).toBe(true);
    });
  });
});

describe("stack parameters", () => {
  it("takes members as a list of spec strings and objects, or as one a+b string, and records them as full specs", () => {
    const a = new StackRouter(MODELS, { members: ["task-prior", { type: "knn", grid: { k: [5, 10] } }, "linear:alpha=1|10"] });
    expect(a.params.members).toEqual([
      { type: "task-prior", params: {}, grid: {} },
      { type: "knn", params: {}, grid: { k: [5, 10] } },
      { type: "linear", params: {}, grid: { alpha: [1, 10] } },
    ]);
    expect(new StackRouter(MODELS, { members: "task-prior+knn:k=5" }).params.members).toEqual([
      { type: "task-prior", params: {}, grid: {} },
      { type: "knn", params: { k: 5 }, grid: {} },
    ]);
    const d = new StackRouter(MODELS, {});
    expect((d.params.members as { type: string }[]).map((m) => m.type)).toEqual(["task-prior", "knn", "linear", "irt"]);
    expect(d.needsEmbeddings).toBe(getRouterFactory("stack").needsEmbeddings);
  });

  it("refuses a direct router, an evaluation baseline and a nested stack as members, naming the member", () => {
    const refused = (members: unknown, re: RegExp) => {
      expect(() => new StackRouter(MODELS, { members })).toThrow(InputError);
      expect(() => new StackRouter(MODELS, { members })).toThrow(re);
    };
    refused(["task-prior", "cascade"], /stack member "cascade": cascade is a direct router.*only predictive routers can be members/);
    refused(["zero"], /stack member "zero": zero is a direct router/);
    refused(["oracle", "knn"], /stack member "oracle": oracle needs the realised outcomes/);
    refused(["stack"], /stack member "stack": a stack cannot be a member of a stack/);
    refused(["nope"], /stack member "nope": unknown router type "nope"/);
    refused(["knn:k=0"], /stack member "knn".*k must be a positive integer/);
    refused(["knn", { type: "linear", grid: { alpha: [1, -1] } }], /stack member "linear".*alpha/);
    refused([{ type: "knn", k: 5 }], /stack member 1 \("knn"\) has an unknown key "k"/);
    refused([], /members must be a non-empty list/);
    refused(Array(9).fill("task-prior"), /at most 8 members/);
    // The workflow's early check (before any embedding) runs the same checks.
    expect(() => checkParams("stack:members=task-prior+cascade")).toThrow(/cascade is a direct router/);
    expect(() => checkParams("stack:folds=1")).toThrow(/folds must be at least 2/);
    expect(() => checkParams("stack:ridge=-1")).toThrow(/ridge/);
    expect(() => checkParams("stack:validationFraction=1")).toThrow(/validationFraction/);
    expect(() => checkParams("stack:bogus=1")).toThrow(/bogus/);
  });

  it("too few training rows for its folds is a clear error", async () => {
    const tiny = taskTextSet(9, 1, "x", 1);
    await expect(new StackRouter(MODELS, { members: ["task-prior"], folds: 5 }).fit(tiny)).rejects.toThrow(/9 training rows, need at least 2 x folds = 10/);
  });

  it("an experiment config entry {type: stack, params: {members: [...]}} validates, and round-trips", () => {
    const yaml = `
name: demo
data:
  table: data/default.arrow
routers:
  - type: stack
    params:
      folds: 4
      members:
        - task-prior
        - type: knn
          grid:
            k: [5, 10]
        - linear:alpha=1|10
  - type: task-prior
`;
    const cfg = parseExperiment(yaml, "demo.yaml");
    expect(cfg.routers[0].params.members).toEqual(["task-prior", { type: "knn", grid: { k: [5, 10] } }, "linear:alpha=1|10"]);
    expect(parseExperiment(experimentToYaml(cfg), "resolved.yaml")).toEqual(cfg);
    const bad = yaml.replace("        - task-prior\n", "        - task-prior\n        - cascade\n");
    expect(() => parseExperiment(bad, "demo.yaml")).toThrow(/^demo\.yaml, row 10, field "routers\[0\]\.params\.members": stack member "cascade": cascade is a direct router/);
  });
});
