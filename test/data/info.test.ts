import { describe, expect, it } from "vitest";
import { oracleChoice, tableInfo } from "../../src/data/info.js";
import { tableFrom } from "../helpers/tables.js";

const MODELS = ["cheap", "mid", "dear"];

describe("oracleChoice", () => {
  const t = tableFrom(MODELS, [
    { id: "best", scores: [0, 1, 0.5], costs: [1, 2, 3] },
    { id: "tie-cheapest", scores: [1, 1, 1], costs: [3, 1, 2] },
    { id: "all-zero", scores: [0, 0, 0], costs: [1, 2, 3] },
    { id: "fraction", scores: [0.25, 0.75, 0.5], costs: [1, 2, 3] },
    { id: "missing-skipped", scores: [NaN, 0.5, 0.5], costs: [0, 3, 2] },
    { id: "all-missing", scores: [NaN, NaN, NaN], costs: [NaN, NaN, NaN] },
    { id: "equal-cost-first", scores: [1, 1, 0], costs: [2, 2, 1] },
    { id: "missing-cost-dearest", scores: [1, 1, 0], costs: [NaN, 5, 1] },
  ]);
  const expected = [1, 1, -1, 1, 2, -1, 0, 1];
  t.ids.forEach((id, i) => {
    it(`${id} -> ${expected[i] < 0 ? "no model correct" : MODELS[expected[i]]}`, () => {
      expect(oracleChoice(t, i)).toBe(expected[i]);
    });
  });
});

describe("tableInfo", () => {
  it("counts prompts per dataset and eval; per model means over present values; oracle shares", () => {
    const t = tableFrom(MODELS, [
      { id: "a", dataset: "mmlu", eval: "mmlu-x", scores: [1, 1, 1], costs: [0.1, 0.2, 0.3] },
      { id: "b", dataset: "mmlu", eval: "mmlu-y", scores: [0, 1, 0], costs: [0.1, 0.2, 0.3] },
      { id: "c", dataset: "arc", eval: "arc", scores: [0, 0, 0], costs: [0.1, 0.2, 0.5] },
      { id: "d", dataset: "arc", eval: "arc", scores: [NaN, 0.5, 1], costs: [NaN, 0.2, 0.4] },
    ]);
    const info = tableInfo(t);
    expect(info.prompts).toBe(4);
    expect(info.datasets).toEqual([
      { name: "arc", prompts: 2, evals: ["arc"] },
      { name: "mmlu", prompts: 2, evals: ["mmlu-x", "mmlu-y"] },
    ]);
    const by = Object.fromEntries(info.models.map((m) => [m.model, m]));
    expect(by.cheap.meanScore).toBeCloseTo(1 / 3, 12);
    expect(by.cheap.meanCost).toBeCloseTo(0.1, 12);
    expect(by.cheap.missing).toBe(1);
    expect(by.mid.meanScore).toBeCloseTo(2.5 / 4, 12);
    expect(by.dear.meanCost).toBeCloseTo((0.3 + 0.3 + 0.5 + 0.4) / 4, 12);
    // a -> cheap (tie, cheapest), b -> mid, c -> none, d -> dear
    expect(by.cheap.oracleShare).toBe(0.25);
    expect(by.mid.oracleShare).toBe(0.25);
    expect(by.dear.oracleShare).toBe(0.25);
    expect(info.noModelCorrectShare).toBe(0.25);
    const total = info.models.reduce((a, m) => a + m.oracleShare, 0) + info.noModelCorrectShare;
    expect(total).toBeCloseTo(1, 12);
  });
});
