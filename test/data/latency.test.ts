/** Latency in outcome tables: Arrow round trip, long-form import, synth's own stream, info. */
import { describe, expect, it } from "vitest";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tableToIPC } from "apache-arrow";
import { OUTCOME_FORMAT, OUTCOME_FORMAT_LATENCY, outcomeTableDigest, outcomeTableToArrow, readOutcomeTable, writeOutcomeTable } from "../../src/data/arrow-io.js";
import { concatRows, selectModels, selectRows, validateTable, type OutcomeTable } from "../../src/data/table.js";
import { importFiles } from "../../src/data/importers/index.js";
import { DEFAULT_SYNTH_OPTIONS, SYNTH_LATENCY, synthesize } from "../../src/data/synth/index.js";
import { tableInfo } from "../../src/data/info.js";
import { runCli } from "../helpers/cli.js";

const DEFAULT_FILE = fileURLToPath(new URL("../../data/default.arrow", import.meta.url));

function base(): OutcomeTable {
  return {
    ids: ["p1", "p2", "p3"],
    texts: ["a", "b", "c"],
    datasets: ["d", "d", "d"],
    evals: ["d", "d", "d"],
    models: ["fast", "slow"],
    scores: new Float64Array([1, 1, 0, 1, 0.5, NaN]),
    costs: new Float64Array([1e-4, 2e-4, 1e-4, 2e-4, 1e-4, NaN]),
  };
}

function withLatency(): OutcomeTable {
  return { ...base(), ttftMs: new Float64Array([100, 900, NaN, 800, 120, NaN]), totalLatencyMs: new Float64Array([400, 3000, 500, NaN, 450, NaN]) };
}

const same = (a: Float64Array | undefined, b: Float64Array | undefined) => expect(Buffer.from(a!.buffer).equals(Buffer.from(b!.buffer))).toBe(true);

describe("latency in the outcome table", () => {
  it("round-trips through Arrow, NaN (unknown) kept as NaN, never 0", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-lat-"));
    const path = join(dir, "t.arrow");
    const t = withLatency();
    await writeOutcomeTable(path, t);
    const back = await readOutcomeTable(path);
    same(back.ttftMs, t.ttftMs);
    same(back.totalLatencyMs, t.totalLatencyMs);
    expect(Number.isNaN(back.totalLatencyMs![3])).toBe(true);
    expect(outcomeTableDigest(back)).toBe(outcomeTableDigest(t));
  });

  it("a table without latency is written byte for byte as before (format 2, same digest); with it, format 3", () => {
    const plain = outcomeTableToArrow(base());
    expect(plain.schema.metadata.get("format")).toBe(OUTCOME_FORMAT);
    expect(plain.schema.fields.some((f) => /latency|ttft/.test(f.name))).toBe(false);
    const lat = outcomeTableToArrow(withLatency());
    expect(lat.schema.metadata.get("format")).toBe(OUTCOME_FORMAT_LATENCY);
    expect(lat.schema.fields.map((f) => f.name)).toContain("total_latency_ms:1");
    expect(lat.schema.fields.map((f) => f.name)).toContain("ttft_ms:0");
    // The bundled file carries latencies and re-encodes to its own bytes.
    return readFile(DEFAULT_FILE).then(async (bytes) => {
      const t = await readOutcomeTable(DEFAULT_FILE);
      expect(t.ttftMs?.length).toBe(t.ids.length * t.models.length);
      expect(t.totalLatencyMs?.every((x) => x > 0)).toBe(true);
      expect(Buffer.from(tableToIPC(outcomeTableToArrow(t), "file")).equals(bytes)).toBe(true);
    });
  });

  it("selectRows, selectModels and concatRows carry latencies", () => {
    const t = withLatency();
    const r = selectRows(t, [2, 0]);
    expect(Array.from(r.totalLatencyMs!)).toEqual([450, NaN, 400, 3000]);
    const m = selectModels(t, ["slow"]);
    expect(Array.from(m.ttftMs!)).toEqual([900, 800, NaN]);
    const c = concatRows([selectRows(t, [0]), selectRows(base(), [1])]);
    expect(Array.from(c.totalLatencyMs!)).toEqual([400, 3000, NaN, NaN]);
    expect(c.ttftMs!.length).toBe(4);
    expect(concatRows([base(), base()]).totalLatencyMs).toBeUndefined();
  });

  it("validation refuses a negative latency, naming row and field", () => {
    const t = { ...base(), totalLatencyMs: new Float64Array([1, 2, 3, -4, 5, 6]) };
    expect(() => validateTable(t, "x.arrow")).toThrow(/x\.arrow.*row 2.*slow\|total_latency_ms/);
    expect(() => validateTable({ ...base(), ttftMs: new Float64Array(2) })).toThrow(/ttftMs has 2 cells/);
  });

  it("info shows mean and p95 latency per model when present", () => {
    const info = tableInfo(withLatency());
    expect(info.models[0].latency).toEqual({ meanTotalMs: 450, p95TotalMs: 495, meanTtftMs: 110, p95TtftMs: 119, missingTotal: 0 });
    expect(info.models[1].latency!.meanTotalMs).toBe(3000);
    expect(info.models[1].latency!.missingTotal).toBe(1);
    expect(tableInfo(base()).models[0].latency).toBeUndefined();
  });
});

describe("long-form import of latency columns", () => {
  it("reads latency_ms and ttft_ms; an empty cell stays missing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-lat-"));
    const f = join(dir, "long.csv");
    await writeFile(f, "prompt_id,prompt,model,score,cost,latency_ms,ttft_ms\np1,hi,a,1,0.1,1200,300\np1,hi,b,0,0.2,,\np2,yo,a,1,0.1,800.5,\np2,yo,b,1,0.3,2500,NaN\n");
    const { table } = await importFiles([f]);
    expect(table.models).toEqual(["a", "b"]);
    expect(Array.from(table.totalLatencyMs!)).toEqual([1200, NaN, 800.5, 2500]);
    expect(Array.from(table.ttftMs!)).toEqual([300, NaN, NaN, NaN]);
  });

  it("accepts total_latency_ms; a file without latency columns gives no latency arrays", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-lat-"));
    const f = join(dir, "long.jsonl");
    await writeFile(f, [{ prompt: "x", model: "a", score: 1, cost: 0.1, total_latency_ms: 42 }, { prompt: "x", model: "b", score: 1, cost: 0.1, total_latency_ms: null }].map((o) => JSON.stringify(o)).join("\n") + "\n");
    const { table, report } = await importFiles([f]);
    expect(Array.from(table.totalLatencyMs!)).toEqual([42, NaN]);
    expect(table.ttftMs).toBeUndefined();
    expect(report.warnings.join(" ")).not.toMatch(/ignored/);
    const g = join(dir, "plain.jsonl");
    await writeFile(g, JSON.stringify({ prompt: "x", model: "a", score: 1, cost: 0.1 }) + "\n");
    expect((await importFiles([g])).table.totalLatencyMs).toBeUndefined();
  });

  it("errors name file, row and field: a negative or non-numeric latency, both total columns", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-lat-"));
    const f = join(dir, "bad.csv");
    await writeFile(f, "prompt,model,score,cost,latency_ms\nhi,a,1,0.1,5\nhi,b,1,0.1,-3\n");
    await expect(importFiles([f])).rejects.toThrow(/bad\.csv.*row 2.*latency_ms.*negative/);
    await writeFile(f, "prompt,model,score,cost,ttft_ms\nhi,a,1,0.1,fast\n");
    await expect(importFiles([f])).rejects.toThrow(/bad\.csv.*row 1.*ttft_ms/);
    await writeFile(f, "prompt,model,score,cost,latency_ms,total_latency_ms\nhi,a,1,0.1,5,5\n");
    await expect(importFiles([f])).rejects.toThrow(/not both/);
  });

  it("duplicate rows merge latencies field by field, a conflict is an error", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-lat-"));
    const f = join(dir, "dup.csv");
    await writeFile(f, "prompt,model,score,cost,latency_ms,ttft_ms\nhi,a,1,0.1,,30\nhi,a,1,0.1,500,\n");
    const { table } = await importFiles([f]);
    expect(Array.from(table.totalLatencyMs!)).toEqual([500]);
    expect(Array.from(table.ttftMs!)).toEqual([30]);
    await writeFile(f, "prompt,model,score,cost,latency_ms\nhi,a,1,0.1,400\nhi,a,1,0.1,500\n");
    await expect(importFiles([f])).rejects.toThrow(/dup\.csv.*row 2.*latency_ms/);
  });
});

describe("synth latencies", () => {
  it("come from a stream of their own: scores, costs and tokens are bitwise those of the committed default data", async () => {
    const before = await readOutcomeTable(DEFAULT_FILE);
    const t = synthesize({ ...DEFAULT_SYNTH_OPTIONS, latency: true });
    same(t.scores, before.scores);
    same(t.costs, before.costs);
    same(t.inputTokens, before.inputTokens);
    same(t.outputTokens, before.outputTokens);
    expect(t.ids).toEqual(before.ids);
    // And a model subset draws the same latency columns (one stream per model).
    const sub = synthesize({ prompts: 200, seed: 4, latency: true, models: ["claude-v2", "gpt-4-1106-preview"] });
    const full = synthesize({ prompts: 200, seed: 4, latency: true });
    const j = full.models.indexOf("claude-v2");
    for (let i = 0; i < 200; i++) expect(sub.totalLatencyMs![i * 2]).toBe(full.totalLatencyMs![i * full.models.length + j]);
    expect(synthesize({ prompts: 50, seed: 4 }).totalLatencyMs).toBeUndefined();
  });

  it("are plausible and ordered as the stated per-model parameters say", () => {
    const t = synthesize({ prompts: 1000, seed: 7, latency: true });
    const info = tableInfo(t);
    for (const mi of info.models) {
      const l = mi.latency!;
      expect(l.missingTotal).toBe(0);
      expect(l.meanTtftMs!).toBeGreaterThan(100);
      expect(l.meanTotalMs!).toBeGreaterThan(l.meanTtftMs!);
      expect(l.meanTotalMs!).toBeLessThan(20_000);
      expect(l.p95TotalMs!).toBeGreaterThan(l.meanTotalMs!);
    }
    const mean = (name: string) => info.models.find((x) => x.model === name)!.latency!.meanTotalMs!;
    expect(SYNTH_LATENCY["gpt-4-1106-preview"].tokensPerSecond).toBeLessThan(SYNTH_LATENCY["mistralai/mistral-7b-chat"].tokensPerSecond);
    expect(mean("gpt-4-1106-preview")).toBeGreaterThan(2 * mean("mistralai/mistral-7b-chat"));
    for (let k = 0; k < t.ttftMs!.length; k++) expect(t.totalLatencyMs![k]).toBeGreaterThanOrEqual(t.ttftMs![k]);
  });
});

describe("routekit info with latency", () => {
  it("prints mean and p95 latency columns, and latency in --json", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-lat-"));
    const path = join(dir, "t.arrow");
    await writeOutcomeTable(path, withLatency());
    const r = await runCli(["info", path]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/mean latency ms.*p95 latency ms.*mean ttft ms/);
    const j = await runCli(["info", path, "--json"]);
    const json = JSON.parse(j.stdout) as { models: { name: string; latency: { meanTotalMs: number } }[] };
    expect(json.models[1].latency.meanTotalMs).toBe(3000);
  });
});
