import { beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PRICES, synthesize } from "../../src/data/synth/index.js";
import type { OutcomeTable } from "../../src/data/table.js";
import { copyRouterWith, loadRouter, MANIFEST_FILE, readManifest, REPRICING_FILE, saveRouter } from "../../src/routers/artifact.js";
import { getRouterFactory } from "../../src/routers/registry.js";
import { readPriceFile, repriceRouter } from "../../src/workflow/reprice.js";
import { routeWithSavedRouter, type RouteAt } from "../../src/workflow/session.js";
import { trainAndSave, type TrainAndSaveResult } from "../../src/workflow/train.js";
import { runCli } from "../helpers/cli.js";
import { writeOutcomeTable } from "../../src/data/arrow-io.js";

const MODELS = ["gpt-4-1106-preview", "gpt-3.5-turbo-1106", "claude-instant-v1", "mistralai/mixtral-8x7b-chat"];
type PriceMap = Record<string, { input: number; output: number }>;
const P0: PriceMap = Object.fromEntries(MODELS.map((m) => [m, PRICES[m as keyof typeof PRICES]]));
/** P1: gpt-3.5 ten times dearer, gpt-4 halved, mixtral with another input/output mix. */
const P1: PriceMap = { ...P0, "gpt-3.5-turbo-1106": { input: 10, output: 20 }, "gpt-4-1106-preview": { input: 5, output: 15 }, "mistralai/mixtral-8x7b-chat": { input: 0.2, output: 1.5 } };

/** The table with every cost recomputed from its token counts at `prices` (as `import --prices` would). */
function priced(table: OutcomeTable, prices: PriceMap): OutcomeTable {
  const m = table.models.length;
  const costs = Float64Array.from(table.costs, (_, k) => {
    const p = prices[table.models[k % m]];
    return (table.inputTokens![k] * p.input + table.outputTokens![k] * p.output) / 1e6;
  });
  return { ...table, costs };
}

const relClose = (a: number, b: number, tol = 1e-12) => Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b), 1e-300);

let root: string;
let table: OutcomeTable;
let p1File: string;
const trained: Record<string, { p0: string; repriced: string; fresh: string; result: TrainAndSaveResult }> = {};

async function writePrices(name: string, prices: unknown): Promise<string> {
  const f = join(root, name);
  await writeFile(f, JSON.stringify(prices));
  return f;
}

describe("reprice", () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "routekit-reprice-"));
    const synth = synthesize({ prompts: 500, seed: 11, models: MODELS });
    expect(synth.inputTokens && synth.outputTokens).toBeTruthy();
    // The synthetic costs are tokens x the facts-page prices: P0.
    const p0Table = priced(synth, P0);
    for (let k = 0; k < synth.costs.length; k++) expect(relClose(p0Table.costs[k], synth.costs[k])).toBe(true);
    table = synth;
    p1File = await writePrices("p1.json", { ...P1, "some-other-model": { input: 1, output: 1 } });
    const p1 = await readPriceFile(p1File);
    for (const spec of ["knn:k=7", "linear:alpha=1"]) {
      const type = spec.split(":")[0];
      const opts = { spec, seed: 5, embedder: "hash:64", cacheDir: false as const, validationFraction: 0.25, testFraction: 0.2 };
      const p0 = join(root, `${type}-p0`);
      const fresh = join(root, `${type}-fresh`);
      const repriced = join(root, `${type}-repriced`);
      const result = await trainAndSave(table, p0, opts);
      await trainAndSave(priced(table, P1), fresh, opts);
      await repriceRouter(p0, p1, { out: repriced });
      trained[type] = { p0, repriced, fresh, result };
    }
  }, 240_000);

  for (const type of ["knn", "linear"]) {
    it(`${type}: the repriced router equals one trained with the new prices from the start (costs, operating points, decisions)`, async () => {
      const { p0, repriced, fresh, result } = trained[type];
      const r = await readManifest(repriced);
      const f = await readManifest(fresh);
      const o = await readManifest(p0);
      // Expected costs: equal to the fresh router's, and changed from the original's.
      r.pool.forEach((p, j) => expect(relClose(p.expectedCost, f.pool[j].expectedCost), `${p.model}: ${p.expectedCost} vs ${f.pool[j].expectedCost}`).toBe(true));
      expect(r.pool[1].expectedCost / o.pool[1].expectedCost).toBeGreaterThan(9);
      // Operating points: the same hull, lambdas within rounding.
      const rp = r.operatingPoints!.points;
      const fp = f.operatingPoints!.points;
      expect(rp.length).toBe(fp.length);
      expect(rp.length).toBeGreaterThan(2);
      rp.forEach((p, k) => {
        const q = fp[k];
        if (p.lambda === "inf" || q.lambda === "inf") expect(p.lambda).toBe(q.lambda);
        else expect(relClose(p.lambda as number, q.lambda as number, 1e-9)).toBe(true);
        expect(relClose(p.cost, q.cost, 1e-12)).toBe(true);
        expect(p.quality).toBe(q.quality);
        expect(p.shares).toEqual(q.shares);
        expect(p.costInterval![0]).toBeCloseTo(q.costInterval![0], 12);
        expect(p.qualityInterval).toEqual(q.qualityInterval);
      });
      expect(r.operatingPoints!.bootstrap).toEqual(f.operatingPoints!.bootstrap);
      expect(r.fit!.validation.costAtMaxLambda).toBeCloseTo(f.fit!.validation.costAtMaxLambda, 12);
      // Recorded: repriced from which prices, and from which router.
      const sha = (await readPriceFile(p1File)).sha256;
      expect(r.repricedFrom).toEqual({ prices: "p1.json", pricesSha256: sha, routerManifestSha256: o.manifestSha256 });
      expect(r.files).toEqual(o.files);
      // Decisions on held-out prompts: several lambdas (the points' own and fixed ones) and budgets.
      const test = result.rows.test;
      const prompts = { ids: test.map((i) => table.ids[i]), texts: test.map((i) => table.texts[i]), evals: test.map((i) => table.evals[i]) };
      const lambdas = [0, 3, 30, 300, ...rp.map((p) => (p.lambda === "inf" ? Infinity : (p.lambda as number)))];
      const ats: RouteAt[] = [...lambdas.map((lambda) => ({ lambda })), ...[0.0005, 0.001, 0.002].map((budget) => ({ target: { budget } }))];
      let changed = 0;
      for (const at of ats) {
        const route = async (dir: string) => (await routeWithSavedRouter(dir, prompts, at, { cacheDir: false })).routed.map((x) => x.model);
        const [a, b, before] = [await route(repriced), await route(fresh), await route(p0)];
        expect(a, JSON.stringify(at)).toEqual(b);
        const share = (xs: string[], m: string) => xs.filter((x) => x === m).length;
        // gpt-3.5 made 10x dearer is chosen no more often at any lambda (and less overall).
        if ("lambda" in at) expect(share(a, "gpt-3.5-turbo-1106")).toBeLessThanOrEqual(share(before, "gpt-3.5-turbo-1106"));
        changed += share(before, "gpt-3.5-turbo-1106") - share(a, "gpt-3.5-turbo-1106");
      }
      expect(changed).toBeGreaterThan(0);
    });
  }

  it("the copy loads (checksums verified), and can be repriced back to the original prices", async () => {
    const { p0, repriced } = trained.knn;
    const { router, manifest } = await loadRouter(repriced);
    expect(router.kind).toBe("predictive");
    expect(Array.from((router as { expectedCosts: Float64Array }).expectedCosts)).toEqual(manifest.pool.map((p) => p.expectedCost));
    const back = join(root, "knn-back");
    await repriceRouter(repriced, await readPriceFile(await writePrices("p0.json", P0)), { out: back });
    const b = await readManifest(back);
    const o = await readManifest(p0);
    b.pool.forEach((p, j) => expect(relClose(p.expectedCost, o.pool[j].expectedCost)).toBe(true));
    expect(b.operatingPoints!.points.map((p) => p.shares)).toEqual(o.operatingPoints!.points.map((p) => p.shares));
  });

  it("refuses: old routers, tables and models without token counts, missing and bad prices, baselines", async () => {
    const { p0, result } = trained.knn;
    const p1 = await readPriceFile(p1File);
    // A router saved without the records (as before reprice): one line, retrain.
    const old = join(root, "old");
    await saveRouter(result.router, old, { embedder: result.embedder, split: result.split, seed: result.seed, fittedOn: result.fittedOn, operatingPoints: result.operatingPoints });
    const m = await readManifest(old);
    expect(m.repricing).toBeUndefined();
    expect(m.pool.every((p) => p.meanInputTokens === undefined)).toBe(true);
    await expect(repriceRouter(old, p1, { out: join(root, "x1") })).rejects.toThrow(/router\.json: .*retrain or re-save it with `routekit train`/);
    // Trained on a table without token counts: nothing recorded, refused alike.
    const { inputTokens: _in, outputTokens: _out, ...untokened } = table;
    void _in;
    void _out;
    const plain = join(root, "plain");
    await trainAndSave(untokened, plain, { spec: "knn:k=7", seed: 5, embedder: "hash:64", cacheDir: false, validationFraction: 0.25, testFraction: 0.2 });
    const pm = await readManifest(plain);
    expect(pm.repricing).toBeUndefined();
    expect(Object.keys(pm.files)).not.toContain(REPRICING_FILE);
    await expect(repriceRouter(plain, p1, { out: join(root, "x0") })).rejects.toThrow(/retrain or re-save/);
    // A model whose costs came per call without tokens: refused, named.
    const noTok = join(root, "no-tokens");
    await saveRouter(result.router, noTok, {
      embedder: result.embedder,
      split: result.split,
      seed: result.seed,
      fittedOn: result.fittedOn,
      operatingPoints: result.operatingPoints,
      tokenMeans: { input: Float64Array.from([1, NaN, 2, 3]), output: Float64Array.from([1, NaN, 2, 3]) },
      repricing: { q: new Float64Array(8), scores: new Float64Array(8), inputTokens: new Float64Array(8), outputTokens: new Float64Array(8) },
    });
    await expect(repriceRouter(noTok, p1, { out: join(root, "x2") })).rejects.toThrow(/cannot reprice model "gpt-3.5-turbo-1106": .*without token counts/);
    // Prices: a pool model missing, a bad price, not an object.
    const partial = await readPriceFile(await writePrices("partial.json", { "gpt-4-1106-preview": { input: 1, output: 2 } }));
    await expect(repriceRouter(p0, partial, { out: join(root, "x3") })).rejects.toThrow(/partial\.json, field "gpt-3\.5-turbo-1106": no price for model "gpt-3\.5-turbo-1106".*missing: gpt-3\.5-turbo-1106, claude-instant-v1, mistralai\/mixtral-8x7b-chat/);
    await expect(readPriceFile(await writePrices("neg.json", { a: { input: 1, output: -2 } }))).rejects.toThrow(/neg\.json, field "a\.output": model "a": price "output"/);
    await expect(readPriceFile(await writePrices("extra.json", { a: { input: 1, output: 2, perCall: 3 } }))).rejects.toThrow(/extra\.json, field "a": model "a"/);
    await expect(readPriceFile(await writePrices("list.json", [1]))).rejects.toThrow(/list\.json: expected an object/);
    await expect(readPriceFile(join(root, "nope.json"))).rejects.toThrow(/nope\.json/);
    // An evaluation baseline (needs the prompts' outcomes; cascade's settings are costs): refused by type.
    const oracle = getRouterFactory("oracle").create(MODELS, {});
    await oracle.fit({ table: result.fitted.table, embeddings: null });
    await saveRouter(oracle, join(root, "oracle"), { embedder: null, split: { kind: "test" }, seed: 0, fittedOn: { train: ["x"], validation: [] }, operatingPoints: null });
    await expect(repriceRouter(join(root, "oracle"), p1, { out: join(root, "x4") })).rejects.toThrow(/router type oracle cannot be repriced: only built-in predictive routers that route new prompts/);
    // The output may not be the router itself.
    await expect(repriceRouter(p0, p1, { out: p0 })).rejects.toThrow(/--out/);
    // A copy without the record file is no router (checksums), and without the note it is "old".
    const copy = join(root, "copied");
    await copyRouterWith(p0, copy, {});
    expect((await readManifest(copy)).repricing?.file).toBe(REPRICING_FILE);
    const raw = JSON.parse(await readFile(join(copy, MANIFEST_FILE), "utf8"));
    expect(raw.files[REPRICING_FILE]).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);

  it("the CLI: reprice writes the copy and says what changed; an old router is refused in one line", async () => {
    const { p0 } = trained.knn;
    const out = join(root, "cli-out");
    const ok = await runCli(["reprice", p0, "--prices", p1File, "--out", out]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/expected US\$ per query/);
    expect(ok.stdout).toMatch(/ignored \(not in the pool\): some-other-model/);
    expect(ok.stdout).toMatch(/saved to/);
    expect((await readManifest(out)).repricedFrom?.prices).toBe("p1.json");
    const bad = await runCli(["reprice", join(root, "old"), "--prices", p1File, "--out", join(root, "cli-bad")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/retrain or re-save/);
  }, 60_000);

  it("a router saved by `run` records what reprice needs, and reprices to the new prices", async () => {
    const data = join(root, "run-table.arrow");
    await writeOutcomeTable(data, table);
    const cfg = join(root, "run.yaml");
    const out = join(root, "run-out");
    await writeFile(
      cfg,
      [`name: rp`, `seed: 5`, `data:`, `  table: ${data}`, `splits:`, `  - kind: in-distribution`, `    validationFraction: 0.25`, `    pooled: true`, `embedder:`, `  spec: "hash:64"`, `routers:`, `  - type: linear`, `    params: {alpha: 1}`, `evaluation:`, `  bootstrap: 0`, `output: ${out}`].join("\n"),
    );
    const r = await runCli(["run", cfg, "--quiet", "--workers", "1"]);
    expect(r.code, r.stderr).toBe(0);
    const saved = join(out, "routers", "all", "linear");
    const o = await readManifest(saved);
    expect(o.repricing?.file).toBe(REPRICING_FILE);
    expect(o.pool.every((p) => p.meanInputTokens !== undefined && p.meanOutputTokens !== undefined)).toBe(true);
    const copy = join(root, "run-repriced");
    await repriceRouter(saved, await readPriceFile(p1File), { out: copy });
    const c = await readManifest(copy);
    c.pool.forEach((p, j) => {
      const price = P1[p.model];
      expect(relClose(p.expectedCost, (o.pool[j].meanInputTokens! * price.input + o.pool[j].meanOutputTokens! * price.output) / 1e6, 1e-9)).toBe(true);
    });
    expect(c.operatingPoints!.points.length).toBeGreaterThan(1);
  }, 120_000);
});
