// Real RouterBench rows from ../shared (absent on a fresh clone: then these tests skip).
import { describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { importFiles } from "../../src/data/importers/index.js";
import { oracleChoice } from "../../src/data/info.js";
import { runCli } from "../helpers/cli.js";
import { SHARED_SUBSET_DIR } from "../helpers/shared.js";

const DIR = SHARED_SUBSET_DIR;
const present = existsSync(DIR);
const FILES = present ? readdirSync(DIR).filter((f) => f.endsWith(".csv")).sort().map((f) => join(DIR, f)) : [];

type Row = Record<string, string>;
function rawRows(): Row[] {
  return FILES.flatMap((f) => parse(readFileSync(f), { columns: true }) as Row[]);
}

describe.skipIf(!present)("RouterBench 5-shot subset in ../shared", () => {
  it("all six CSVs: 3,164 unique prompts x 11 models, no missing score, ARC's 14 split rows merged", async () => {
    expect(FILES).toHaveLength(6);
    const { table, report } = await importFiles(FILES);
    expect(report.files.reduce((a, f) => a + f.rows, 0)).toBe(3178);
    expect(report.prompts).toBe(3164);
    expect(table.models).toHaveLength(11);
    expect(report.mergedDuplicates).toBe(14);
    expect(report.rowsWithMissingScores).toEqual([]);
    expect(Array.from(table.scores).filter(Number.isNaN)).toHaveLength(0);
    expect(Array.from(table.costs).filter(Number.isNaN)).toHaveLength(0);
    // the facts page: 1,470 ARC-Challenge prompts
    expect(table.datasets.filter((d) => d === "arc-challenge")).toHaveLength(1470);
    // prompts are unwrapped from their Python list: no brackets, real newlines
    expect(table.texts.every((t) => !t.startsWith("['") && !t.startsWith('["'))).toBe(true);
    expect(table.texts[0]).toContain("\n");
  });

  it("our Oracle agrees with RouterBench's oracle_model_to_route_to on every row that is not a duplicate", async () => {
    const { table } = await importFiles(FILES);
    const raw = rawRows();
    const count = new Map<string, number>();
    for (const r of raw) count.set(r.sample_id, (count.get(r.sample_id) ?? 0) + 1);
    const index = new Map(table.ids.map((id, i) => [id, i]));
    let checked = 0;
    for (const r of raw) {
      if (count.get(r.sample_id) !== 1) continue;
      const o = oracleChoice(table, index.get(r.sample_id)!);
      expect(o < 0 ? "no_model_correct" : table.models[o]).toBe(r.oracle_model_to_route_to);
      checked++;
    }
    expect(checked).toBe(3178 - 28);
  });

  it("`info --json` per-model means equal a direct computation from the raw CSVs", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "rk-shared-")), "subset.arrow");
    const imp = await runCli(["import", ...FILES, "--out", out, "--json", "--quiet"]);
    expect(imp.code, imp.stderr).toBe(0);
    expect(JSON.parse(imp.stdout).prompts).toBe(3164);
    const res = await runCli(["info", out, "--json"]);
    expect(res.code, res.stderr).toBe(0);
    const info = JSON.parse(res.stdout) as {
      prompts: number;
      datasets: { name: string; prompts: number }[];
      models: { name: string; meanScore: number; meanCost: number; oracleShare: number }[];
    };
    expect(info.prompts).toBe(3164);
    expect(info.datasets.find((d) => d.name === "arc-challenge")?.prompts).toBe(1470);

    // Direct: per sample_id and model, the score and cost from the row that has the score.
    const raw = rawRows();
    const models = Object.keys(raw[0]).filter((k) => k.endsWith("|model_response")).map((k) => k.slice(0, -"|model_response".length));
    const cell = new Map<string, { s: number; c: number }>();
    for (const r of raw) {
      for (const m of models) {
        if (r[m] === "") continue;
        cell.set(`${r.sample_id}\u0000${m}`, { s: Number(r[m]), c: Number(r[`${m}|total_cost`]) });
      }
    }
    const ids = new Set(raw.map((r) => r.sample_id));
    expect(ids.size).toBe(3164);
    expect(info.models.map((m) => m.name).sort()).toEqual(models.slice().sort());
    for (const m of models) {
      let s = 0;
      let c = 0;
      for (const id of ids) {
        const v = cell.get(`${id}\u0000${m}`)!;
        s += v.s;
        c += v.c;
      }
      const got = info.models.find((x) => x.name === m)!;
      expect(got.meanScore).toBeCloseTo(s / ids.size, 12);
      expect(got.meanCost).toBeCloseTo(c / ids.size, 15);
    }
  });
});
