import { beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { importFiles, loadPrices, type ImportOptions } from "../../src/data/importers/index.js";
import { InputError } from "../../src/util/errors.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rk-imp-err-"));
});

async function file(name: string, content: string | Uint8Array): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, content);
  return p;
}

/** The import fails with an InputError located at file/row/field, and the message says so. */
async function expectFails(
  files: string[],
  where: { row?: number; field?: string; message: RegExp },
  opts?: ImportOptions,
): Promise<InputError> {
  let err: unknown;
  try {
    await importFiles(files, opts);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InputError);
  const e = err as InputError;
  expect(e.message).toMatch(where.message);
  expect(e.location.file).toBe(files[files.length - 1]);
  expect(e.message.startsWith(`${e.location.file}`)).toBe(true);
  if (where.row !== undefined) {
    expect(e.location.row).toBe(where.row);
    expect(e.message).toContain(`row ${where.row}`);
  }
  if (where.field !== undefined) {
    expect(e.location.field).toBe(where.field);
    expect(e.message).toContain(`field "${where.field}"`);
  }
  expect(e.message).not.toContain("\n");
  return e;
}

const HEADER = ",sample_id,prompt,eval_name,m1,m2,m1|model_response,m2|model_response,m1|total_cost,m2|total_cost";
const ROW = (id: string, s1: string, s2: string, c1 = "0.001", c2 = "0.002", prompt = "['q']") =>
  `0,${id},"${prompt.replace(/"/g, '""')}",arc,${s1},${s2},['a'],['b'],${c1},${c2}`;
const csv = (...rows: string[]) => [HEADER, ...rows].join("\n") + "\n";

describe("every import error names the file, the row and the field", () => {
  it("missing column", async () => {
    const f = await file("nocol.csv", csv(ROW("x.1", "1", "0")).replace(",eval_name", ",evalname"));
    await expectFails([f], { field: "eval_name", message: /missing column/ });
  });

  it("missing score column of a model", async () => {
    const f = await file("noscore.csv", ",sample_id,prompt,eval_name,m1,m1|total_cost,m2|total_cost\n0,x,['q'],e,1,0.1,0.2\n");
    await expectFails([f], { field: "m2", message: /missing column.*model "m2"/ });
  });

  it("bad number", async () => {
    const f = await file("badnum.csv", csv(ROW("x.1", "1", "0"), ROW("x.2", "1", "zero")));
    await expectFails([f], { row: 2, field: "m2", message: /bad number "zero"/ });
  });

  it("bad cost", async () => {
    const f = await file("badcost.csv", csv(ROW("x.1", "1", "0", "1e-3", "$0.01")));
    await expectFails([f], { row: 1, field: "m2|total_cost", message: /bad number/ });
  });

  it("score outside [0,1]", async () => {
    const f = await file("range.csv", csv(ROW("x.1", "1.5", "0")));
    await expectFails([f], { row: 1, field: "m1", message: /outside \[0,1\]/ });
  });

  it("negative cost", async () => {
    const f = await file("negcost.csv", csv(ROW("x.1", "1", "0", "-0.1")));
    await expectFails([f], { row: 1, field: "m1|total_cost", message: /negative/ });
  });

  it("malformed list literal in a prompt and in a response", async () => {
    const f = await file("badlit.csv", csv(ROW("x.1", "1", "0"), ROW("x.2", "1", "0", "0.1", "0.1", "['unterminated]")));
    await expectFails([f], { row: 2, field: "prompt", message: /malformed Python list literal: unterminated string/ });
    const g = await file("badresp.csv", csv(ROW("x.1", "1", "0").replace("['b']", "\"['b\\x4']\"")));
    await expectFails([g], { row: 1, field: "m2|model_response", message: /malformed Python list literal: truncated \\x escape/ });
  });

  it("empty file, whitespace only, header only", async () => {
    await expectFails([await file("empty.csv", "")], { message: /empty file/ });
    await expectFails([await file("blank.csv", "\n \n")], { message: /empty file/ });
    await expectFails([await file("header.csv", `${HEADER}\n`)], { message: /no data rows/ });
    await expectFails([await file("empty.jsonl", "")], { message: /empty file/ });
    await expectFails([await file("empty.parquet", "")], { message: /empty file/ }, { format: "routerbench-parquet" });
    await expectFails([await file("blank.jsonl", "\n\n")], { message: /empty file/ }, { format: "long-jsonl" });
  });

  it("a row with the wrong number of fields", async () => {
    const f = await file("short.csv", csv(ROW("x.1", "1", "0"), "0,x.2,['q'],arc,1"));
    await expectFails([f], { row: 2, message: /has 5 fields but the header has 10/ });
  });

  it("malformed CSV quoting names the row", async () => {
    await expectFails([await file("q1.csv", 'prompt,model,score,cost\na,m,1,0.1\nb"x,m,1,0.1\n')], { row: 2, message: /malformed CSV \(line 3\): Invalid Opening Quote/ });
    await expectFails([await file("q2.csv", 'prompt,model,score,cost\na,m,1,0.1\n"b,m,1,0.1\n')], { row: 2, message: /malformed CSV.*Quote Not Closed/ });
  });

  it("a missing sample_id", async () => {
    const f = await file("noid.csv", csv(ROW("x.1", "1", "0"), ROW("", "1", "0")));
    await expectFails([f], { row: 2, field: "sample_id", message: /missing value/ });
  });

  it("conflicting duplicate: both rows have the score and they differ (names both rows)", async () => {
    const f = await file("dup.csv", csv(ROW("x.1", "1", "0"), ROW("x.2", "1", "0"), ROW("x.1", "1", "1")));
    const e = await expectFails([f], { row: 3, field: "m2", message: /conflicting duplicate outcome.*"x\.1".*"m2"/ });
    expect(e.message).toContain(`${f} row 1`);
  });

  it("conflicting duplicate across files: different prompt text", async () => {
    const a = await file("a.csv", csv(ROW("x.1", "1", "")));
    const b = await file("b.csv", csv(ROW("x.1", "", "0", "0.1", "0.1", "['another question']")));
    const e = await expectFails([a, b], { row: 1, field: "prompt", message: /conflicting duplicate of sample_id "x\.1"/ });
    expect(e.message).toContain(`${a} row 1`);
  });

  it("a complementary duplicate is merged, not an error, and nothing is missing", async () => {
    const f = await file("comp.csv", csv(ROW("x.1", "1", ""), ROW("x.1", "", "0")));
    const { table, report } = await importFiles([f]);
    expect(table.ids).toEqual(["x.1"]);
    expect(Array.from(table.scores)).toEqual([1, 0]);
    expect(report.mergedDuplicates).toBe(1);
    expect(report.rowsWithMissingScores).toEqual([]);
  });

  it("cannot tell the layout", async () => {
    await expectFails([await file("what.csv", "a,b\n1,2\n")], { message: /cannot tell the layout.*--format/ });
  });

  it("JSON Lines: invalid JSON and non-objects name the line", async () => {
    const ok = JSON.stringify({ prompt: "p", model: "m", score: 1, cost: 0.1 });
    await expectFails([await file("bad.jsonl", `${ok}\n\n{"prompt": "p", "model"\n`)], { row: 3, message: /not valid JSON/ });
    await expectFails([await file("arr.jsonl", `${ok}\n[1, 2]\n`)], { row: 2, message: /one JSON object per line/ });
    await expectFails([await file("array.json", `[${ok}]`)], { message: /JSON array/ });
  });

  it("Parquet and pickle that cannot be read", async () => {
    await expectFails([await file("bad.parquet", "PAR1 this is not parquet PAR1")], { message: /cannot read Parquet/ });
    const e = await expectFails([await file("bad.pkl", new Uint8Array([0x80, 0x04, 0x95, 0x10]))], { message: /cannot read the pickle/ });
    expect(e.message).toContain("to_parquet");
    // pickle.dumps([1], protocol=2): a pickle, but not of a DataFrame
    const list = new Uint8Array([0x80, 0x02, 0x5d, 0x71, 0x00, 0x4b, 0x01, 0x61, 0x2e]);
    const e2 = await expectFails([await file("list.pkl", list)], { message: /not a pandas DataFrame.*to_parquet/ });
    expect(e2.message).toContain("pd.read_pickle");
    const series = fileURLToPath(new URL("../fixtures/data/series.pkl", import.meta.url));
    await expectFails([series], { message: /a pandas Series, not a DataFrame.*to_parquet/ });
    await expectFails([await file("x.pkl.gz", new Uint8Array([0x1f, 0x8b, 8, 0]))], { message: /gzip-compressed/ });
  });

  it("a missing input file", async () => {
    await expectFails([join(dir, "nope.csv")], { message: /cannot read: no such file/ });
  });
});

describe("long-form errors", () => {
  const prices = { m: { input: 1, output: 2 } };
  const line = (o: Record<string, unknown>) => JSON.stringify(o);

  it("unknown model price", async () => {
    const f = await file(
      "price.jsonl",
      [line({ prompt: "a", model: "m", score: 1, input_tokens: 10, output_tokens: 5 }), line({ prompt: "a", model: "other", score: 0, input_tokens: 10, output_tokens: 5 })].join("\n"),
    );
    await expectFails([f], { row: 2, field: "model", message: /no price for model "other".*never costed at 0/ }, { prices });
  });

  it("token counts without any price table", async () => {
    const f = await file("noprice.csv", "prompt,model,score,input_tokens,output_tokens\na,m,1,10,5\n");
    await expectFails([f], { field: "input_tokens", message: /--prices/ });
  });

  it("neither cost nor token columns", async () => {
    await expectFails([await file("nocost.csv", "prompt,model,score\na,m,1\n")], { field: "cost", message: /missing column/ });
  });

  it("bad number, score outside [0,1], missing model", async () => {
    await expectFails([await file("lbad.csv", "prompt,model,score,cost\na,m,1,0.1\nb,m,high,0.1\n")], { row: 2, field: "score", message: /bad number/ });
    await expectFails([await file("lrange.csv", "prompt,model,score,cost\na,m,-0.5,0.1\n")], { row: 1, field: "score", message: /outside/ });
    await expectFails([await file("lmodel.csv", "prompt,model,score,cost\na,,1,0.1\n")], { row: 1, field: "model", message: /missing value/ });
  });

  it("conflicting duplicate (prompt, model) rows; identical ones are merged and counted", async () => {
    const f = await file("ldup.csv", "prompt_id,prompt,model,score,cost\nq1,a,m,1,0.1\nq1,a,m,0,0.1\n");
    const e = await expectFails([f], { row: 2, field: "score", message: /conflicting duplicate outcome for prompt "q1", model "m"/ });
    expect(e.message).toContain(`${f} row 1`);
    const g = await file("ldup2.csv", "prompt_id,prompt,model,score,cost\nq1,a,m,1,0.1\nq1,a,m,1,0.1\nq1,a,n,0,0.2\n");
    const { table, report } = await importFiles([g]);
    expect(table.ids).toEqual(["q1"]);
    expect(report.mergedDuplicates).toBe(1);
  });

  it("one prompt id with two texts", async () => {
    const f = await file("ltext.csv", "prompt_id,prompt,model,score,cost\nq1,a,m,1,0.1\nq1,b,n,1,0.1\n");
    await expectFails([f], { row: 2, field: "prompt", message: /conflicting duplicate of prompt_id "q1"/ });
  });

  it("price table problems name the file and the field", async () => {
    const bad = await file("prices-bad.json", JSON.stringify({ m: { input: 1, output: "2" } }));
    await expect(loadPrices(bad)).rejects.toThrow(`${bad}, field "m.output": price "output" must be a non-negative number`);
    const broken = await file("prices-broken.json", "{");
    await expect(loadPrices(broken)).rejects.toThrow(/not valid JSON/);
    const ok = JSON.parse(await readFile(fileURLToPath(new URL("../fixtures/data/prices.json", import.meta.url)), "utf8"));
    expect(await loadPrices(fileURLToPath(new URL("../fixtures/data/prices.json", import.meta.url)))).toEqual(ok);
  });

  it("without prompt_id, the id comes from the text, so equal texts are one prompt", async () => {
    const f = await file("noid.jsonl", [line({ prompt: "same", model: "a", score: 1, cost: 0 }), line({ prompt: "same", model: "b", score: 0, cost: 0.5 })].join("\n"));
    const { table } = await importFiles([f]);
    expect(table.ids).toHaveLength(1);
    expect(table.ids[0]).toMatch(/^p-[0-9a-f]{16}$/);
    expect(table.models).toEqual(["a", "b"]);
    expect(table.datasets).toEqual(["default"]);
  });
});
