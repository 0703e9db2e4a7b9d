/**
 * `routekit collect` end to end against the fake OpenAI server: 200 prompts x 3 models give an
 * outcome table (responses kept, costs from usage and prices) that info, train and run accept;
 * a rerun calls nothing; the CLI prints its report and keeps --help true.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeOpenAI } from "../../bench/fake-openai.js";
import { readOutcomeTable } from "../../src/data/arrow-io.js";
import { runCollect } from "../../src/workflow/collect.js";
import { runCli } from "../helpers/cli.js";
import { KEY_ENV, MODELS, startArithmeticFake, writeCollectFile, writePrompts } from "./fixtures.js";

let dir = "";
let fake: FakeOpenAI;
let prompts = "";
let config = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rk-collect-"));
  fake = await startArithmeticFake();
  prompts = await writePrompts(dir, 200);
  config = await writeCollectFile(dir, fake.baseUrl);
});
afterAll(async () => {
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("collect: 200 prompts x 3 models", () => {
  it("writes a table with scores, costs, tokens and responses; a rerun calls nothing", async () => {
    const out = join(dir, "outcomes.arrow");
    const progress: number[] = [];
    const r = await runCollect({ config, prompts, out, env: KEY_ENV, onProgress: (p) => progress.push(p.done) });
    expect(r.report).toMatchObject({ prompts: 200, cells: 600, called: 600, resumed: 0, missing: 0, notCalled: 0, stoppedBy: null, estimatedTokens: 0 });
    expect(r.report.failures).toEqual([]);
    for (const m of MODELS) expect(fake.count(m)).toBe(200);
    expect(fake.received.every((q) => q.authorization === "Bearer sk-fake")).toBe(true);
    // request options and the prompt as the user message
    expect(fake.received[0].body).toMatchObject({ max_tokens: 64, temperature: 0 });
    expect(progress.at(-1)).toBe(600);

    const t = await readOutcomeTable(out);
    expect(t.ids).toHaveLength(200);
    expect(t.models).toEqual([...MODELS]);
    expect(new Set(t.datasets)).toEqual(new Set(["adds", "sums"]));
    const mean = (j: number) => t.ids.reduce((a, _, i) => a + t.scores[i * 3 + j], 0) / t.ids.length;
    expect(mean(0)).toBe(1);
    expect(mean(1)).toBeCloseTo(133 / 200, 6);
    expect(mean(2)).toBeCloseTo(67 / 200, 6);
    // the fake's usage is 10 in, 4 out: strong costs (10*10 + 4*30)/1e6
    expect(t.costs[0]).toBeCloseTo(220e-6, 12);
    expect(t.costs[2]).toBeCloseTo((10 * 0.1 + 4 * 0.2) / 1e6, 12);
    expect(t.inputTokens![0]).toBe(10);
    expect(t.responses![0]).toMatch(/^Let me add/);
    expect(r.report.modelSpent).toBeCloseTo(200 * (220 + 18 + 1.8) / 1e6, 9);

    const journal = (await readFile(`${out}.journal.jsonl`, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { latencyMs: number; ok: boolean });
    expect(journal).toHaveLength(600);
    expect(journal.every((j) => j.ok && j.latencyMs >= 0)).toBe(true);
    // the table carries each call's journaled latency (collect does not stream: no time to first token)
    const calls = journal as unknown as { kind: string; prompt: string; model: string; latencyMs: number }[];
    const c0 = calls.find((j) => j.kind === "call" && j.prompt === t.ids[0] && j.model === MODELS[1])!;
    expect(t.totalLatencyMs![1]).toBe(c0.latencyMs);
    expect(Array.from(t.totalLatencyMs!).every((x) => x >= 0)).toBe(true);
    expect(t.ttftMs).toBeUndefined();

    const bytes = await readFile(out);
    const again = await runCollect({ config, prompts, out, env: KEY_ENV });
    expect(again.report).toMatchObject({ called: 0, resumed: 600, missing: 0 });
    for (const m of MODELS) expect(fake.count(m)).toBe(200);
    // the same journal gives the same table, byte for byte
    expect((await readFile(out)).equals(bytes)).toBe(true);
  });

  it("info, train and run accept the table as it is", async () => {
    const table = join(dir, "outcomes.arrow");
    const info = await runCli(["info", table, "--json"]);
    expect(info.code, info.stderr).toBe(0);
    expect(JSON.parse(info.stdout)).toBeTruthy();

    const cache = join(dir, "cache");
    const tr = await runCli(["train", table, "--router", "knn:k=5", "--embedder", "hash:32", "--cache-dir", cache, "--out", join(dir, "router"), "--json"]);
    expect(tr.code, tr.stderr).toBe(0);
    expect(JSON.parse(tr.stdout).pool.map((p: { model: string }) => p.model)).toEqual([...MODELS]);

    const cfg = join(dir, "run.yaml");
    await writeFile(
      cfg,
      ["name: collected", "seed: 1", "data:", "  table: outcomes.arrow", "splits:", "  - kind: in-distribution", "    pooled: true", "embedder:", "  spec: hash:32", "routers:", "  - type: knn", "    params: { k: 5 }", "  - type: linear", "evaluation:", "  bootstrap: 20", `output: ${join(dir, "run-out")}`].join("\n"),
    );
    const run = await runCli(["run", cfg, "--cache-dir", cache, "--quiet"]);
    expect(run.code, run.stderr).toBe(0);
    const results = JSON.parse(await readFile(join(dir, "run-out", "results.json"), "utf8")) as { splits: { dataset: string }[] };
    expect(results.splits.length).toBeGreaterThan(0);
  });

  it("the CLI collects, reports and resumes from its journal", async () => {
    const out = join(dir, "cli.arrow");
    const before = fake.count("weak");
    const r = await runCli(["collect", config, "--prompts", prompts, "--out", out, "--quiet"], { env: KEY_ENV });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/collected 600 cells \(200 prompts x 3 models\)/);
    expect(r.stdout).toMatch(/calls this run: 600/);
    expect(fake.count("weak") - before).toBe(200);
    const again = await runCli(["collect", config, "--prompts", prompts, "--out", out, "--json"], { env: KEY_ENV });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ called: 0, resumed: 600, missing: 0 });
    expect(fake.count("weak") - before).toBe(200);
  });

  it("--help names every option", async () => {
    const h = await runCli(["collect", "--help"]);
    expect(h.code).toBe(0);
    for (const opt of ["--out", "--prompts", "--scorer", "--journal", "--max-spend", "--dry-run", "--no-sync", "--json", "--quiet"]) expect(h.stdout).toContain(opt);
  });
});
