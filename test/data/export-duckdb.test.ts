// The done-when check of Parquet export: an independent reader (DuckDB, through its Node API, a
// devDependency) reads `routekit export`'s Parquet and gets the same per-model mean scores and
// costs as `routekit info` on the same table; missing outcomes are NULLs it skips, not zeros.
import { describe, expect, it } from "vitest";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { outcomeTableDigest, writeOutcomeTable } from "../../src/data/arrow-io.js";
import { exportTable } from "../../src/data/export.js";
import { importFiles } from "../../src/data/importers/index.js";
import { tableInfo } from "../../src/data/info.js";
import { synthesize } from "../../src/data/synth/index.js";
import type { OutcomeTable } from "../../src/data/table.js";
import { runCli } from "../helpers/cli.js";

/** A synthetic table with some outcomes knocked out (missing score and cost), so NULL handling counts. */
function tableWithGaps(): OutcomeTable {
  const t = synthesize({ prompts: 400, seed: 7 });
  const scores = t.scores.slice();
  const costs = t.costs.slice();
  const inputTokens = t.inputTokens?.slice();
  const outputTokens = t.outputTokens?.slice();
  for (let k = 0; k < scores.length; k += 13) {
    for (const a of [scores, costs, inputTokens, outputTokens]) if (a) a[k] = NaN;
  }
  return { ...t, scores, costs, ...(inputTokens && outputTokens ? { inputTokens, outputTokens } : {}) };
}

async function duckdb(sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(":memory:");
  const c = await db.connect();
  try {
    const r = await c.runAndReadAll(sql);
    return r.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    c.closeSync();
  }
}

const q = (path: string) => `'${path.replace(/'/g, "''")}'`;

describe("DuckDB reads the exported Parquet", () => {
  it("per-model mean scores and costs equal `routekit info` on the same table", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-duck-"));
    const t = tableWithGaps();
    const arrow = join(dir, "t.arrow");
    await writeOutcomeTable(arrow, t);
    const out = join(dir, "t.parquet");
    const r = await runCli(["export", arrow, "--out", out, "--quiet"]);
    expect(r.code, r.stderr).toBe(0);
    const info = await runCli(["info", arrow, "--json"]);
    expect(info.code, info.stderr).toBe(0);
    const models: { name: string; meanScore: number; meanCost: number; missing: number }[] = JSON.parse(info.stdout).models;

    const rows = await duckdb(
      `SELECT model, avg(score) AS mean_score, avg(cost) AS mean_cost, count(*) AS n, count(score) AS scored ` +
        `FROM read_parquet(${q(out)}) GROUP BY model`,
    );
    const byModel = new Map(rows.map((row) => [row.model as string, row]));
    expect([...byModel.keys()].sort()).toEqual(t.models.slice().sort());
    const lib = tableInfo(t);
    for (const m of models) {
      const d = byModel.get(m.name)!;
      // Same figures, summed in another order: equal to 1e-12 relative.
      expect(d.mean_score as number).toBeCloseTo(m.meanScore, 12);
      expect((d.mean_cost as number) / m.meanCost).toBeCloseTo(1, 12);
      expect(Number(d.n)).toBe(t.ids.length);
      expect(Number(d.n) - Number(d.scored)).toBe(m.missing);
      expect(m.missing).toBeGreaterThan(0);
      expect(lib.models.find((x) => x.model === m.name)!.meanScore).toBe(m.meanScore);
    }
    const types = await duckdb(`DESCRIBE SELECT * FROM read_parquet(${q(out)})`);
    expect(Object.fromEntries(types.map((c) => [c.column_name, c.column_type]))).toMatchObject({
      prompt_id: "VARCHAR",
      model: "VARCHAR",
      score: "DOUBLE",
      cost: "DOUBLE",
    });
  });

  it("reads the JSON Lines export to the same means", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-duck-"));
    const t = tableWithGaps();
    const out = join(dir, "t.jsonl");
    await exportTable(t, out, { format: "jsonl" });
    const rows = await duckdb(`SELECT model, avg(score) AS mean_score FROM read_json_auto(${q(out)}) GROUP BY model`);
    const info = tableInfo(t);
    for (const row of rows) expect(row.mean_score as number).toBeCloseTo(info.models.find((m) => m.model === row.model)!.meanScore, 12);
  });

  it("a Parquet export that DuckDB rewrites with zstd (as polars writes) imports to the same table", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-duck-"));
    const t = tableWithGaps();
    const out = join(dir, "t.parquet");
    await exportTable(t, out, { format: "parquet" });
    const z = join(dir, "t-zstd.parquet");
    await duckdb(`COPY (SELECT * FROM read_parquet(${q(out)})) TO ${q(z)} (FORMAT parquet, COMPRESSION zstd)`);
    const { table } = await importFiles([z]);
    expect(outcomeTableDigest(table)).toBe(outcomeTableDigest(t));
  });
});
