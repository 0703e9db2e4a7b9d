import { describe, expect, it } from "vitest";
import { mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readOutcomeTable, writeOutcomeTable } from "../../src/data/arrow-io.js";
import { selectRows, selectModels, completeRows, validateTable, datasetOfEval, type OutcomeTable } from "../../src/data/table.js";

function sample(): OutcomeTable {
  return {
    ids: ["a.test.1", "b.test.2", "c.test.3"],
    texts: ["What is 2+2?", "Write a function ‘f’ with\nnewlines", ""],
    datasets: ["a", "b", "c"],
    evals: ["a", "b", "c"],
    models: ["m/one|x", "two"],
    scores: new Float64Array([1, 0, 0.25, NaN, 0.5, 1]),
    costs: new Float64Array([1e-5, 2e-4, 3e-6, NaN, 0, 1.5e-3]),
    inputTokens: new Float64Array([10, 10, 20, NaN, 30, 30]),
    outputTokens: new Float64Array([1, 2, 3, NaN, 5, 6]),
    responses: ["4", "four", null, null, "def f(): pass", "x"],
  };
}

describe("outcome table Arrow round trip", () => {
  it("reads back exactly what was written, NaN and nulls included", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-arrow-"));
    const path = join(dir, "t.arrow");
    const t = sample();
    await writeOutcomeTable(path, t);
    const back = await readOutcomeTable(path);
    expect(back.ids).toEqual(t.ids);
    expect(back.texts).toEqual(t.texts);
    expect(back.models).toEqual(t.models);
    expect(Array.from(back.scores)).toEqual(Array.from(t.scores));
    expect(Array.from(back.costs)).toEqual(Array.from(t.costs));
    expect(Array.from(back.inputTokens!)).toEqual(Array.from(t.inputTokens!));
    expect(Array.from(back.outputTokens!)).toEqual(Array.from(t.outputTokens!));
    expect(back.responses).toEqual(t.responses);
    // the atomic writer leaves no staging file behind
    expect(await readdir(dir)).toEqual(["t.arrow"]);
  });

  it("omits optional columns when absent", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-arrow-"));
    const path = join(dir, "t.arrow");
    const { inputTokens: _a, outputTokens: _b, responses: _c, ...t } = sample();
    await writeOutcomeTable(path, t);
    const back = await readOutcomeTable(path);
    expect(back.inputTokens).toBeUndefined();
    expect(back.responses).toBeUndefined();
  });

  it("refuses a file that is not an outcome table, naming it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-arrow-"));
    const path = join(dir, "junk.arrow");
    await writeFile(path, "not arrow");
    await expect(readOutcomeTable(path)).rejects.toThrow(/junk\.arrow/);
  });
});

describe("table helpers", () => {
  it("selects rows and models, and finds complete rows", () => {
    const t = sample();
    const r = selectRows(t, [2, 0]);
    expect(r.ids).toEqual(["c.test.3", "a.test.1"]);
    expect(Array.from(r.scores)).toEqual([0.5, 1, 1, 0]);
    expect(r.responses).toEqual(["def f(): pass", "x", "4", "four"]);
    const s = selectModels(t, ["two"]);
    expect(Array.from(s.scores)).toEqual([0, NaN, 1]);
    expect(completeRows(t)).toEqual([0, 2]);
  });

  it("validates scores, costs and unique ids with the row and field", () => {
    const t = { ...sample(), scores: new Float64Array([1, 0, 1.5, 0, 0, 0]) };
    expect(() => validateTable(t, "x.arrow")).toThrow(/x\.arrow, row 2, field "m\/one\|x": score 1.5/);
    const d = { ...sample(), ids: ["a", "b", "a"] };
    expect(() => validateTable(d, "y.arrow")).toThrow(/row 3, field "id": duplicate prompt id "a"/);
  });

  it("groups eval names into datasets by listed prefixes only", () => {
    expect(datasetOfEval("mmlu-professional-psychology")).toBe("mmlu");
    expect(datasetOfEval("arc-challenge")).toBe("arc-challenge");
    expect(datasetOfEval("grade-school-math")).toBe("grade-school-math");
  });
});

describe("embedding rows", () => {
  it("selects rows of an embedding matrix in the order given", async () => {
    const { selectEmbeddingRows, DEFAULT_PREPARATION } = await import("../../src/embed/embedder.js");
    const m = { rows: 3, dimension: 2, data: Float32Array.from([1, 0, 0, 1, 0.6, 0.8]), embedderId: "t", preparation: DEFAULT_PREPARATION };
    const s = selectEmbeddingRows(m, [2, 0]);
    expect(s.rows).toBe(2);
    expect(Array.from(s.data)).toEqual(Array.from(Float32Array.from([0.6, 0.8, 1, 0])));
    expect(() => selectEmbeddingRows(m, [3])).toThrow(/out of range/);
  });
});
