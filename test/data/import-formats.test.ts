import { describe, expect, it } from "vitest";
import { copyFile, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { importFiles, type ImportFormat } from "../../src/data/importers/index.js";
import type { OutcomeTable } from "../../src/data/table.js";

const FIX = fileURLToPath(new URL("../fixtures/data/", import.meta.url));
const fx = (name: string) => join(FIX, name);

interface ExpectedRow {
  id: string;
  text: string;
  eval: string;
  dataset: string;
  scores: (number | null)[];
  costs: (number | null)[];
  responses?: (string | null)[];
  inputTokens?: (number | null)[];
  outputTokens?: (number | null)[];
}
interface Expected {
  models: string[];
  rows: ExpectedRow[];
  missing: { id: string; models: string[] }[];
  mergedDuplicates?: number;
}

async function expected(): Promise<{ wide: Expected; long: Expected }> {
  return JSON.parse(await readFile(fx("expected.json"), "utf8"));
}

const nan = (x: number | null | undefined) => (x === null || x === undefined ? NaN : x);

/** Compares a table with what Python computed from the same frame (ast.literal_eval for the lists). */
function expectTable(t: OutcomeTable, e: Expected, opts: { responses?: boolean; tokens?: boolean } = {}): void {
  expect(t.models).toEqual(e.models);
  expect(t.ids).toEqual(e.rows.map((r) => r.id));
  expect(t.texts).toEqual(e.rows.map((r) => r.text));
  expect(t.evals).toEqual(e.rows.map((r) => r.eval));
  expect(t.datasets).toEqual(e.rows.map((r) => r.dataset));
  const m = e.models.length;
  e.rows.forEach((r, i) => {
    for (let j = 0; j < m; j++) {
      expect(t.scores[i * m + j]).toBe(nan(r.scores[j]));
      const c = nan(r.costs[j]);
      if (Number.isNaN(c)) expect(t.costs[i * m + j]).toBeNaN();
      else expect(t.costs[i * m + j]).toBeCloseTo(c, 15);
      if (opts.responses) expect(t.responses?.[i * m + j] ?? null).toBe(r.responses![j]);
      if (opts.tokens) {
        expect(t.inputTokens?.[i * m + j]).toBe(nan(r.inputTokens![j]));
        expect(t.outputTokens?.[i * m + j]).toBe(nan(r.outputTokens![j]));
      }
    }
  });
}

const WIDE: [string, ImportFormat][] = [
  ["wide.csv", "routerbench-csv"],
  ["wide.jsonl", "routerbench-jsonl"],
  ["wide.parquet", "routerbench-parquet"],
  ["wide-gzip.parquet", "routerbench-parquet"],
  ["wide-p2.pkl", "routerbench-pkl"],
  ["wide-p3.pkl", "routerbench-pkl"],
  ["wide-p4.pkl", "routerbench-pkl"],
  ["wide-p5.pkl", "routerbench-pkl"],
  ["wide-ext.pkl", "routerbench-pkl"], // categorical and string-dtype columns
];

describe("RouterBench wide import, every container", () => {
  for (const [file, format] of WIDE) {
    it(`${file}: detected as ${format}, equal to Python's reading of the same frame`, async () => {
      const e = (await expected()).wide;
      const { table, report } = await importFiles([fx(file)]);
      expect(report.files).toEqual([{ file: fx(file), format, rows: e.rows.length + 1 }]);
      expectTable(table, e, { responses: true });
      expect(report.mergedDuplicates).toBe(e.mergedDuplicates);
      expect(report.rowsWithMissingScores).toEqual(e.missing);
      expect(report.warnings.join("\n")).toMatch(/prompt list repeated/);
    });
  }

  it("detects from the content, not the extension", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-detect-"));
    const cases: [string, string, ImportFormat][] = [
      ["wide.parquet", "a.csv", "routerbench-parquet"],
      ["wide-p4.pkl", "b.parquet", "routerbench-pkl"],
      ["wide.jsonl", "c.csv", "routerbench-jsonl"],
      ["wide.csv", "d.jsonl", "routerbench-csv"],
      ["long.csv", "e.parquet", "long-csv"],
      ["long.parquet", "f.jsonl", "long-parquet"],
    ];
    const prices = JSON.parse(await readFile(fx("prices.json"), "utf8"));
    for (const [src, name, format] of cases) {
      await copyFile(fx(src), join(dir, name));
      const { report } = await importFiles([join(dir, name)], { prices });
      expect(report.files[0].format).toBe(format);
    }
  });

  it("--format forces the reader (and a wrong one fails with the file named)", async () => {
    const { report } = await importFiles([fx("wide.csv")], { format: "routerbench-csv" });
    expect(report.files[0].format).toBe("routerbench-csv");
    await expect(importFiles([fx("wide.csv")], { format: "long-csv" })).rejects.toThrow(/wide\.csv.*field "model"/);
  });

  it("merges files: the same prompts in CSV and pickle are duplicates that agree", async () => {
    const e = (await expected()).wide;
    const { table, report } = await importFiles([fx("wide.csv"), fx("wide-p5.pkl")]);
    expectTable(table, e, { responses: true });
    expect(report.mergedDuplicates).toBe(e.rows.length + 1 + 1);
  });

  it("groups eval names into datasets by prefix (mmlu-* -> mmlu) and takes other prefixes when asked", async () => {
    const { table } = await importFiles([fx("wide.csv")], { groupPrefixes: ["mmlu", "arc"] });
    expect(new Set(table.datasets)).toEqual(new Set(["mmlu", "arc", "grade-school-math"]));
  });
});

describe("long-form import", () => {
  for (const [file, format] of [
    ["long.csv", "long-csv"],
    ["long.jsonl", "long-jsonl"],
    ["long.parquet", "long-parquet"],
  ] as [string, ImportFormat][]) {
    it(`${file}: tokens priced with the price table, missing model kept and reported`, async () => {
      const e = (await expected()).long;
      const prices = JSON.parse(await readFile(fx("prices.json"), "utf8"));
      const { table, report } = await importFiles([fx(file)], { prices });
      expect(report.files[0].format).toBe(format);
      expectTable(table, e, { tokens: true });
      expect(report.rowsWithMissingScores).toEqual(e.missing);
      expect(report.mergedDuplicates).toBe(0);
    });
  }

  it("adds a new model's long-form outcomes to RouterBench wide prompts", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-mix-"));
    const f = join(dir, "extra.jsonl");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(f, JSON.stringify({ prompt_id: "arc-challenge.test.2", prompt: "line1\nline2\ttab\r\n #2", model: "new", score: 1, cost: 0.5 }) + "\n");
    const { table, report } = await importFiles([fx("wide.csv"), f]);
    const i = table.ids.indexOf("arc-challenge.test.2");
    const j = table.models.indexOf("new");
    expect(table.scores[i * table.models.length + j]).toBe(1);
    expect(table.costs[i * table.models.length + j]).toBe(0.5);
    // every other prompt lacks the new model: kept and reported, nothing dropped
    expect(report.rowsWithMissingScores.filter((r) => r.models.includes("new"))).toHaveLength(table.ids.length - 1);
    expect(table.evals[i]).toBe("arc-challenge");
  });
});

describe("progress", () => {
  it("reports bytes for CSV/JSON Lines and rows for Parquet/pickle, ending at the total", async () => {
    for (const f of ["wide.csv", "wide.jsonl", "wide-gzip.parquet", "wide-p3.pkl"]) {
      const calls: [number, number, string | undefined][] = [];
      await importFiles([fx(f)], { onProgress: (d, t, l) => calls.push([d, t, l]) });
      expect(calls.length, f).toBeGreaterThan(0);
      const [done, total, label] = calls[calls.length - 1];
      expect(done).toBe(total);
      expect(label).toBe(f);
      for (let i = 1; i < calls.length; i++) expect(calls[i][0]).toBeGreaterThanOrEqual(calls[i - 1][0]);
    }
  });
});
