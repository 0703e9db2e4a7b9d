import { describe, expect, it } from "vitest";
import { shuffledOutcomes } from "../../bench/judged.js";
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
