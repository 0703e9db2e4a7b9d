import { describe, expect, it } from "vitest";
import { ROUTERBENCH_SPLIT, splitSpecOf } from "../../src/data/splits.js";
import { parseRouterSpec, toRouterSpec } from "../../src/routers/registry.js";
import { specParameters } from "../../src/routers/train.js";
import { splitsOf } from "../../src/workflow/splits.js";
import { checkParams, trainingRows } from "../../src/workflow/train.js";
import { tableFrom } from "../helpers/tables.js";

const MODELS = ["a", "b"];
const table = tableFrom(
  MODELS,
  Array.from({ length: 60 }, (_, i) => ({ id: `p${i}`, dataset: i % 2 ? "odd" : "even", scores: [1, 0], costs: [1, 0.1] })),
);

describe("split defaults, stated once", () => {
  it("fills what is not given from ROUTERBENCH_SPLIT, testFraction only in distribution", () => {
    expect(splitSpecOf({})).toEqual(ROUTERBENCH_SPLIT);
    expect(splitSpecOf({ seed: 7, validationFraction: 0.2 })).toEqual({ ...ROUTERBENCH_SPLIT, seed: 7, validationFraction: 0.2 });
    expect(splitSpecOf({ kind: "out-of-distribution", testFraction: 0.5 })).toEqual({ kind: "out-of-distribution", validationFraction: 0.1, seed: 0 });
  });
});

describe("splitsOf: which splits a command works on", () => {
  const spec = splitSpecOf({});
  it("every dataset's split by default, one dataset's when named, one pooled split on request", () => {
    expect(splitsOf(table, spec).map((s) => s.name).sort()).toEqual(["even", "odd"]);
    expect(splitsOf(table, spec, { dataset: "odd" }).map((s) => s.name)).toEqual(["odd"]);
    const [pooled] = splitsOf(table, spec, { pooled: true });
    const parts = splitsOf(table, spec);
    expect(pooled.name).toBe("all");
    // The pooled split is the union of the per-dataset parts: no test row of any dataset trains it.
    expect(new Set(pooled.test)).toEqual(new Set(parts.flatMap((s) => s.test)));
    expect(pooled.train.length + pooled.validation.length + pooled.test.length).toBe(60);
  });
  it("refuses an unknown dataset, and a pooled out-of-distribution split (no dataset would be left out)", () => {
    expect(() => splitsOf(table, spec, { dataset: "nope" })).toThrow(/no dataset "nope".*has: even, odd/);
    expect(() => splitsOf(table, splitSpecOf({ kind: "out-of-distribution" }), { pooled: true })).toThrow(/needs --dataset/);
  });
  it("trainingRows is the pooled split without a dataset, that dataset's split with one", () => {
    expect(trainingRows(table, spec).name).toBe("all");
    expect(trainingRows(table, spec, "even")).toEqual(splitsOf(table, spec, { dataset: "even" })[0]);
  });
});

describe("typed router specs", () => {
  it("a spec string is parsed once, a typed spec passes as it is", () => {
    const typed = { type: "knn", params: { k: 5 }, grid: {} };
    expect(toRouterSpec(typed)).toBe(typed);
    expect(toRouterSpec("knn:k=5|10")).toEqual(parseRouterSpec("knn:k=5|10"));
    expect(toRouterSpec("knn:k=5|10").grid).toEqual({ k: [5, 10] });
  });
  it("a one-value grid is a fixed parameter; a parameter both fixed and searched, or an empty grid, is refused", () => {
    expect(specParameters({ type: "knn", params: {}, grid: { k: [5] } })).toEqual({ params: { k: 5 }, grid: {} });
    expect(specParameters({ type: "knn", params: { weights: "distance" }, grid: { k: [5, 10] } })).toEqual({ params: { weights: "distance" }, grid: { k: [5, 10] } });
    expect(() => specParameters({ type: "knn", params: { k: 3 }, grid: { k: [3, 9] } })).toThrow(/"k" is given both/);
    expect(() => specParameters({ type: "knn", params: {}, grid: { k: [] } })).toThrow(/lists no values/);
  });
  it("checkParams builds every grid point, so a bad value fails before any data is read", () => {
    expect(() => checkParams({ type: "knn", params: {}, grid: { k: [5, 0] } })).toThrow();
    expect(() => checkParams({ type: "no-such-router", params: {}, grid: {} })).toThrow(/no-such-router/);
    expect(() => checkParams("linear:alpha=1|10")).not.toThrow();
  });
});
