import { describe, expect, it } from "vitest";
import { permutationP, routerNull, shuffledOutcomes } from "../../src/evaluate/null.js";
import { tableFrom } from "../helpers/tables.js";

describe("the permutation null's shuffled outcomes", () => {
  const t = tableFrom(
    ["a", "b"],
    Array.from({ length: 40 }, (_, i) => ({ id: `p${i}`, dataset: i < 20 ? "x" : "y", scores: [i / 40, 1 - i / 40], costs: [i, 100 + i] })),
  );
  const rowsOf = (s: typeof t, d: string) => s.ids.flatMap((_, i) => (s.datasets[i] === d ? [`${s.scores[2 * i]}|${s.scores[2 * i + 1]}|${s.costs[2 * i]}|${s.costs[2 * i + 1]}`] : []));
  it("moves whole outcome rows among one dataset's prompts, never across datasets, seeded", () => {
    const s = shuffledOutcomes(t, 1);
    for (const d of ["x", "y"]) expect(rowsOf(s, d).sort()).toEqual(rowsOf(t, d).sort());
    // prompts keep their ids, texts and datasets; most outcome rows moved
    expect(s.ids).toEqual(t.ids);
    expect(s.datasets).toEqual(t.datasets);
    const moved = t.ids.filter((_, i) => s.costs[2 * i] !== t.costs[2 * i]).length;
    expect(moved).toBeGreaterThan(30);
    expect(shuffledOutcomes(t, 1)).toEqual(s);
    expect(shuffledOutcomes(t, 2).costs).not.toEqual(s.costs);
  });
});

describe("permutation p-values", () => {
  it("counts the real ordering once and the draws that reach the real value", () => {
    expect(permutationP(0.01, [0, 0.002, -0.001, 0.003], "greater")).toBe(1 / 5);
    expect(permutationP(0.002, [0, 0.002, -0.001, 0.003], "greater")).toBe(3 / 5);
    // two-sided: on |value|
    expect(permutationP(-0.004, [0.005, -0.001, 0.002, -0.0045], "both")).toBe(3 / 5);
    expect(permutationP(-0.004, [0.005, -0.001, 0.002, -0.0045], "greater")).toBe(4 / 5);
    expect(permutationP(0.5, [], "greater")).toBe(1);
  });

  it("gives a router's null: draws in order, p of the real figures, no comparison when a draw lacks one", () => {
    const draws = [
      { diffToZero: 0.001, vsReference: -0.002 },
      { diffToZero: 0.004, vsReference: 0.0 },
      { diffToZero: -0.002, vsReference: -0.006 },
    ];
    const n = routerNull({ diffToZero: 0.003, vsReference: -0.005 }, draws);
    expect(n).toEqual({ shuffles: 3, diffToZero: [0.001, 0.004, -0.002], pBeatsZero: 2 / 4, vsReference: { diffs: [-0.002, 0, -0.006], p: 2 / 4 } });
    expect(routerNull({ diffToZero: 0.003, vsReference: null }, draws).vsReference).toBeNull();
    expect(routerNull({ diffToZero: 0.003, vsReference: 0.001 }, [...draws, { diffToZero: 0, vsReference: null }]).vsReference).toBeNull();
  });
});
