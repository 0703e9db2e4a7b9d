import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeOutcomeTable } from "../../src/data/arrow-io.js";
import { saveRouter } from "../../src/routers/artifact.js";
import { routeWithSavedRouter } from "../../src/workflow/session.js";
import { getRouterFactory } from "../../src/routers/registry.js";
import { runCli } from "../helpers/cli.js";
import { tableFrom } from "../helpers/tables.js";
import { COSTS, MODELS } from "./synthetic.js";

// Topic A prompts talk algebra, topic B prompts talk poetry: the hash embedder separates them.
const A_WORDS = ["solve", "equation", "algebra", "integer", "variable", "polynomial", "root", "factor"];
const B_WORDS = ["poem", "river", "flower", "sonnet", "verse", "moon", "rhyme", "garden"];
function prompt(words: string[], i: number): string {
  return Array.from({ length: 6 }, (_, j) => words[(i * 3 + j * 5) % words.length]).join(" ") + ` item ${i}`;
}

let root = "";
let data = "";
let cache = "";
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "routekit-cli-routers-"));
  cache = join(root, "cache");
  data = join(root, "topics.arrow");
  const rows = [];
  for (let i = 0; i < 60; i++) {
    rows.push({ id: `a${i}`, text: prompt(A_WORDS, i), dataset: "A", scores: [1, 0.5, 0], costs: COSTS });
    rows.push({ id: `b${i}`, text: prompt(B_WORDS, i), dataset: "B", scores: [0, 0.5, 0], costs: COSTS });
  }
  await writeOutcomeTable(data, tableFrom(MODELS, rows));
  await writeFile(
    join(root, "prompts.jsonl"),
    [
      JSON.stringify({ id: "alg", prompt: prompt(A_WORDS, 101) }),
      JSON.stringify({ id: "poe", prompt: prompt(B_WORDS, 102) }),
      JSON.stringify(prompt(A_WORDS, 103)),
    ].join("\n") + "\n",
  );
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const train = (router: string, out: string, extra: string[] = []) =>
  runCli(["train", data, "--router", router, "--embedder", "hash:64", "--cache-dir", cache, "--out", join(root, out), "--json", ...extra]);

describe("routekit train / route", () => {
  it("trains knn with a grid, reports validation figures, writes the router directory", async () => {
    const r = await train("knn", "knn", ["--grid", "k=3|9"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.type).toBe("knn");
    expect([3, 9]).toContain(out.fit.chosen.k);
    expect(out.fit.validation["mse[k=3]"]).toBeGreaterThanOrEqual(0);
    expect(out.split).toMatchObject({ kind: "in-distribution", dataset: "all", trainRows: 76, validationRows: 8, testRows: 36 });
    const manifest = JSON.parse(await readFile(join(root, "knn", "router.json"), "utf8"));
    expect(manifest.embedder.spec).toBe("hash:64");
    expect(manifest.pool.map((p: { model: string }) => p.model)).toEqual(MODELS);
  });

  it("routes in a fresh process exactly as in this one, topic by topic", async () => {
    const r = await runCli(["route", join(root, "knn"), "--lambda", "1e6", "--input", join(root, "prompts.jsonl"), "--cache-dir", cache, "--json"]);
    expect(r.code).toBe(0);
    const cli = JSON.parse(r.stdout);
    expect(cli.prompts.map((p: { id: string; model: string }) => [p.id, p.model])).toEqual([
      ["alg", "specialist"],
      ["poe", "generalist"],
      ["3", "specialist"],
    ]);
    const texts = [prompt(A_WORDS, 101), prompt(B_WORDS, 102), prompt(A_WORDS, 103)];
    const here = await routeWithSavedRouter(join(root, "knn"), { ids: ["alg", "poe", "3"], texts }, { lambda: 1e6 }, { cacheDir: false });
    expect(cli.prompts).toEqual(here.routed.map((p) => ({ ...p, lambda: p.lambda })));
    expect(Object.keys(cli.prompts[0].quality)).toEqual(MODELS);
  });

  it("prints the chosen model for one prompt; lambda 0 picks the cheapest", async () => {
    const r = await runCli(["route", join(root, "knn"), "--lambda", "0", prompt(A_WORDS, 7), "--cache-dir", cache]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^1\s+dud\s/m);
  });

  it("trains a tiny seeded mlp twice to the same weights", async () => {
    const args = ["--seed", "4"];
    const a = await train("mlp:hidden=8,epochs=4,batchSize=16", "mlp-a", args);
    const b = await train("mlp:hidden=8,epochs=4,batchSize=16", "mlp-b", args);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const wa = await readFile(join(root, "mlp-a", "weights.bin"));
    const wb = await readFile(join(root, "mlp-b", "weights.bin"));
    expect(wa.equals(wb)).toBe(true);
    const r = await runCli(["route", join(root, "mlp-a"), "--lambda", "inf", "--input", join(root, "prompts.jsonl"), "--cache-dir", cache, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).prompts).toHaveLength(3);
  });

  it("refuses to train the baselines that need outcomes, at once", async () => {
    for (const type of ["oracle", "zero", "cascade"]) {
      const t = await train(type, type);
      expect(t.code).toBe(1);
      expect(t.stderr.trim().split("\n")).toHaveLength(1);
      expect(t.stderr).toMatch(new RegExp(`router type ${type} is an evaluation baseline: it needs the realised outcomes`));
      expect(t.stderr).not.toMatch(/embed/); // refused before any data was read or embedded
    }
  });

  it("refuses to route with a router that needs outcomes", async () => {
    // Such a directory can still exist (routekit run saves its baselines for eval): write one through the library.
    const router = getRouterFactory("oracle").create(MODELS, {});
    await router.fit({ table: tableFrom(MODELS, [{ id: "x", scores: [1, 0, 0], costs: COSTS }]), embeddings: null });
    await saveRouter(router, join(root, "oracle"), { embedder: null, split: { kind: "test" }, seed: 0, fittedOn: { train: ["x"], validation: [] }, operatingPoints: null });
    const r = await runCli(["route", join(root, "oracle"), "--lambda", "1", "hello"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/oracle needs the realised outcomes .* cannot route new prompts/);
  });

  it("refuses a tampered router with one line naming the file", async () => {
    await train("linear", "linear");
    const p = join(root, "linear", "coefficients.f64");
    const buf = await readFile(p);
    buf[8] ^= 1;
    await writeFile(p, buf);
    const r = await runCli(["route", join(root, "linear"), "--lambda", "1", "hello", "--cache-dir", cache]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(`${p}: checksum mismatch`);
  });

  it("reports bad input with file, row and field", async () => {
    const bad = join(root, "bad.jsonl");
    await writeFile(bad, `${JSON.stringify({ prompt: "ok" })}\n${JSON.stringify({ id: "x", words: "no prompt" })}\n`);
    const r = await runCli(["route", join(root, "knn"), "--lambda", "1", "--input", bad, "--cache-dir", cache]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}, row 2, field "prompt"`);
    const l = await runCli(["route", join(root, "knn"), "--lambda", "-3", "x"]);
    expect(l.code).toBe(1);
    expect(l.stderr).toMatch(/--lambda must be a non-negative decimal number/);
    // Hex is not a lambda (Number("0x10") would read it as 16).
    const hex = await runCli(["route", join(root, "knn"), "--lambda", "0x10", "x"]);
    expect(hex.code).toBe(1);
    expect(hex.stderr).toMatch(/--lambda must be a non-negative decimal number or inf, got "0x10"/);
    const u = await train("nope", "nope");
    expect(u.code).toBe(1);
    expect(u.stderr).toMatch(/unknown router type "nope"/);
  });

  it("out-of-distribution needs the dataset to leave out", async () => {
    const r = await train("knn:k=3", "ood", ["--split", "out-of-distribution"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/needs --dataset/);
    const ok = await train("knn:k=3", "ood", ["--split", "out-of-distribution", "--dataset", "A"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).split).toMatchObject({ name: "ood:A", testRows: 60 });
  });
});
