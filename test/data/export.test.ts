import { describe, expect, it } from "vitest";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { outcomeTableDigest, readOutcomeTable, writeOutcomeTable } from "../../src/data/arrow-io.js";
import { EXPORT_METADATA_KEY, exportColumns, exportFormatOf, exportTable, type ExportFormat } from "../../src/data/export.js";
import { importFiles } from "../../src/data/importers/index.js";
import { synthesize } from "../../src/data/synth/index.js";
import type { OutcomeTable } from "../../src/data/table.js";
import { InputError } from "../../src/util/errors.js";
import { runCli } from "../helpers/cli.js";
import { tableFrom } from "../helpers/tables.js";

const fx = (name: string) => fileURLToPath(new URL(`../fixtures/data/${name}`, import.meta.url));
const tmp = () => mkdtemp(join(tmpdir(), "rk-export-"));

/** A table with the awkward corners: missing outcomes (one prompt has none), text that needs escaping, responses with nulls and "". */
function awkwardTable(): OutcomeTable {
  const base = tableFrom(
    ["org/model-a", "model-b|x", "m c"],
    [
      { id: "p1", text: 'line1\nline2\t"quoted" \\ é 😀 \u2028 \r\n end', dataset: "mmlu", eval: "mmlu-anatomy", scores: [1, 0, 0.25], costs: [0.001, 2e-5, 0.1] },
      { id: "p2", text: "missing one", dataset: "gsm", eval: "gsm", scores: [NaN, 0.5, 1], costs: [NaN, 0, 1e-9] },
      { id: "p3", text: "nobody answered", dataset: "gsm", eval: "gsm", scores: [NaN, NaN, NaN], costs: [NaN, NaN, NaN] },
      { id: "p4", text: "score without cost", dataset: "arc", eval: "arc-challenge", scores: [0, 1, 0.1 + 0.2], costs: [NaN, 3, 0.30000000000000004] },
    ],
  );
  const tok = (xs: number[]) => Float64Array.from(xs);
  return {
    ...base,
    // No tokens where there is a score but no cost (p4, model a): the importer would price them.
    inputTokens: tok([10, 11, 12, NaN, 20, 21, NaN, NaN, NaN, NaN, 6, 7]),
    outputTokens: tok([1, 2, 3, NaN, 4, 5, NaN, NaN, NaN, NaN, 9, 10]),
    responses: ["a", "", null, null, "b\nc", "ünï", null, null, null, "x", "y", "z"],
  };
}

async function roundTrip(t: OutcomeTable, format: ExportFormat, rowGroupRows?: number): Promise<{ back: OutcomeTable; out: string }> {
  const dir = await tmp();
  const out = join(dir, `t.${format}`);
  const report = await exportTable(t, out, { format, rowGroupRows });
  expect(report.rows).toBe(t.ids.length * t.models.length);
  const { table, report: imp } = await importFiles([out]);
  expect(imp.files[0].format).toBe(format === "parquet" ? "long-parquet" : "long-jsonl");
  expect(imp.warnings.filter((w) => !/score but no cost/.test(w))).toEqual([]);
  return { back: table, out };
}

describe("exportTable: long form that `import` reads back into the same table", () => {
  for (const format of ["parquet", "jsonl"] as const) {
    it(`${format}: a synthetic table (tokens) round-trips to the same content digest`, async () => {
      const t = synthesize({ prompts: 120, seed: 3 });
      const { back } = await roundTrip(t, format);
      expect(outcomeTableDigest(back)).toBe(outcomeTableDigest(t));
    });

    it(`${format}: missing outcomes, escapes, responses and a prompt no model answered round-trip`, async () => {
      const t = awkwardTable();
      const { back } = await roundTrip(t, format);
      expect(back.ids).toEqual(t.ids);
      expect(back.models).toEqual(t.models);
      expect(back.responses).toEqual(t.responses);
      expect(outcomeTableDigest(back)).toBe(outcomeTableDigest(t));
    });

    it(`${format}: an imported RouterBench table (wide.csv, a missing model) round-trips`, async () => {
      const { table: t } = await importFiles([fx("wide.csv")]);
      const { back } = await roundTrip(t, format);
      expect(outcomeTableDigest(back)).toBe(outcomeTableDigest(t));
    });
  }

  for (const format of ["parquet", "jsonl"] as const) {
    it(`${format}: latencies (ttft_ms, total_latency_ms) round-trip`, async () => {
      const t = synthesize({ prompts: 60, seed: 6, latency: true });
      expect(t.ttftMs && t.totalLatencyMs).toBeTruthy();
      const { back } = await roundTrip(t, format);
      expect(back.totalLatencyMs).toEqual(t.totalLatencyMs);
      expect(outcomeTableDigest(back)).toBe(outcomeTableDigest(t));
    });
  }

  it("parquet: several row groups (one per few prompts) still round-trip", async () => {
    const t = synthesize({ prompts: 50, seed: 4 });
    const { back, out } = await roundTrip(t, "parquet", 3 * t.models.length);
    const meta = await parquetMetadataAsync(await asyncBufferFromFile(out));
    expect(meta.row_groups.length).toBe(Math.ceil(50 / 3));
    expect(outcomeTableDigest(back)).toBe(outcomeTableDigest(t));
  });

  it("parquet: one row per prompt x model, model names as values, missing outcomes as nulls (never 0)", async () => {
    const t = awkwardTable();
    const out = join(await tmp(), "t.parquet");
    await exportTable(t, out, { format: "parquet" });
    const file = await asyncBufferFromFile(out);
    const meta = await parquetMetadataAsync(file);
    expect(meta.schema.slice(1).map((e) => e.name)).toEqual(["prompt_id", "dataset", "eval", "prompt", "model", "score", "cost", "input_tokens", "output_tokens", "response"]);
    expect(meta.schema.find((e) => e.name === "score")?.type).toBe("DOUBLE");
    expect(meta.schema.find((e) => e.name === "model")?.converted_type).toBe("UTF8");
    const kv = meta.key_value_metadata?.find((k) => k.key === EXPORT_METADATA_KEY);
    expect(JSON.parse(kv!.value!).models).toEqual(t.models);
    const rows = await parquetReadObjects({ file });
    expect(rows).toHaveLength(12);
    expect(rows.map((r) => r.model)).toEqual([...t.models, ...t.models, ...t.models, ...t.models]);
    expect(rows[3]).toMatchObject({ prompt_id: "p2", model: "org/model-a", score: null, cost: null, input_tokens: null, response: null });
    expect(rows.filter((r) => r.prompt_id === "p3").map((r) => r.score)).toEqual([null, null, null]);
    expect(rows[9]).toMatchObject({ prompt_id: "p4", model: "org/model-a", score: 0, cost: null });
    expect(rows[0]).toMatchObject({ prompt: t.texts[0], dataset: "mmlu", eval: "mmlu-anatomy", score: 1, cost: 0.001 });
  });

  it("a missing outcome is written with every outcome field null, even if the table holds a stray cost", async () => {
    const t = { ...tableFrom(["a", "b"], [{ id: "x", scores: [NaN, 1], costs: [5, 2] }]), responses: ["stray", "ok"] };
    const out = join(await tmp(), "t.jsonl");
    await exportTable(t, out, { format: "jsonl" });
    const objs = (await readFile(out, "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(objs.map((o) => [o.model, o.score, o.cost, o.response])).toEqual([["a", null, null, null], ["b", 1, 2, "ok"]]);
  });

  it("jsonl: one object per line with every column, nulls for missing values", async () => {
    const t = awkwardTable();
    const out = join(await tmp(), "t.jsonl");
    await exportTable(t, out, { format: "jsonl" });
    const lines = (await readFile(out, "utf8")).split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(12);
    const objs = lines.map((l) => JSON.parse(l));
    for (const o of objs) expect(Object.keys(o)).toEqual(exportColumns(t));
    expect(objs[3]).toMatchObject({ prompt_id: "p2", model: "org/model-a", score: null, cost: null, response: null });
    expect(objs[11]).toMatchObject({ prompt_id: "p4", model: "m c", score: 0.30000000000000004, cost: 0.30000000000000004 });
  });

  it("writes only the columns the table has; latencies when the table has them", async () => {
    const plain = tableFrom(["a", "b"], [{ id: "x", scores: [1, 0], costs: [1, 2] }]);
    expect(exportColumns(plain)).toEqual(["prompt_id", "dataset", "eval", "prompt", "model", "score", "cost"]);
    const withLatency: OutcomeTable = { ...plain, ttftMs: Float64Array.from([12.5, NaN]), totalLatencyMs: Float64Array.from([100, 200]) };
    expect(exportColumns(withLatency)).toEqual(["prompt_id", "dataset", "eval", "prompt", "model", "score", "cost", "ttft_ms", "total_latency_ms"]);
    const out = join(await tmp(), "l.jsonl");
    await exportTable(withLatency, out, { format: "jsonl" });
    const objs = (await readFile(out, "utf8")).trim().split("\n").map((l) => JSON.parse(l));
    expect(objs.map((o) => [o.ttft_ms, o.total_latency_ms])).toEqual([[12.5, 100], [null, 200]]);
  });

  it("large JSON Lines go out in pieces, with progress in prompts", async () => {
    const t = synthesize({ prompts: 3000, seed: 5 });
    const out = join(await tmp(), "big.jsonl");
    const seen: number[] = [];
    await exportTable(t, out, { format: "jsonl", onProgress: (done, total) => (expect(total).toBe(3000), seen.push(done)) });
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.at(-1)).toBe(3000);
    expect((await readFile(out, "utf8")).split("\n")).toHaveLength(3000 * t.models.length + 1);
  });

  it("replaces an existing file whole and leaves no staging file behind", async () => {
    const dir = await tmp();
    const out = join(dir, "t.parquet");
    await writeFile(out, "old");
    await exportTable(awkwardTable(), out, { format: "parquet" });
    expect((await readFile(out)).subarray(0, 4).toString()).toBe("PAR1");
    expect(await readdir(dir)).toEqual(["t.parquet"]);
  });

  it("bad input is one InputError line naming the field", async () => {
    const out = join(await tmp(), "t.x");
    await expect(exportTable(awkwardTable(), out, { format: "csv" as ExportFormat })).rejects.toThrow(InputError);
    await expect(exportTable(awkwardTable(), out, { format: "csv" as ExportFormat })).rejects.toThrow(/field "format".*unknown export format "csv"/);
    await expect(exportTable(awkwardTable(), out, { format: "parquet", rowGroupRows: 0 })).rejects.toThrow(/field "rowGroupRows"/);
    const broken = { ...awkwardTable(), texts: ["only one"] };
    await expect(exportTable(broken, out, { format: "jsonl" })).rejects.toThrow(/texts has 1 entries for 4 prompts/);
    // A file where a folder of the path should be: one line naming the output, no staging path.
    const dir = await tmp();
    await writeFile(join(dir, "f"), "a file");
    const under = join(dir, "f", "t.jsonl");
    const err = await exportTable(awkwardTable(), under, { format: "jsonl" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/t\.jsonl: cannot write: a part of the path is a file/);
    expect((err as Error).message).not.toMatch(/tmp-new/);
  });

  it("exportFormatOf reads the --out extension", () => {
    expect(exportFormatOf("a/b.parquet")).toBe("parquet");
    expect(exportFormatOf("b.JSONL")).toBe("jsonl");
    expect(exportFormatOf("b.ndjson")).toBe("jsonl");
    expect(exportFormatOf("b.csv")).toBeNull();
  });
});

describe("routekit export", () => {
  it("exports, and `routekit import` of the result gives the same table; refuses --out that is the input", async () => {
    const dir = await tmp();
    const { table } = await importFiles([fx("wide.csv")]);
    const arrow = join(dir, "w.arrow");
    await writeOutcomeTable(arrow, table);

    const pq = join(dir, "out", "w.parquet");
    const r = await runCli(["export", arrow, "--out", pq, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ out: pq, format: "parquet", prompts: table.ids.length, rows: table.ids.length * table.models.length, models: table.models });

    const jl = join(dir, "w.data");
    const j = await runCli(["export", arrow, "--out", jl, "--format", "jsonl", "--quiet"]);
    expect(j.code, j.stderr).toBe(0);
    expect(j.stdout).toMatch(/exported 10 prompts x 3 models = 30 rows \(jsonl\)/);

    for (const f of [pq, jl]) {
      const back = join(dir, `${f.endsWith("parquet") ? "p" : "j"}.arrow`);
      const imp = await runCli(["import", f, "--out", back, "--quiet"]);
      expect(imp.code, imp.stderr).toBe(0);
      expect(outcomeTableDigest(await readOutcomeTable(back))).toBe(outcomeTableDigest(table));
    }

    const same = await runCli(["export", arrow, "--out", arrow, "--format", "parquet"]);
    expect(same.code).toBe(1);
    expect(same.stderr.trim().split("\n")).toHaveLength(1);
    expect(same.stderr).toMatch(/--out: .* is also an input/);

    const unknown = await runCli(["export", arrow, "--out", join(dir, "w.txt")]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/--out: cannot tell the format .*--format parquet/);

    const missing = await runCli(["export", join(dir, "nope.arrow"), "--out", join(dir, "n.parquet")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.arrow/);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
  });
});
