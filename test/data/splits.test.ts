import { describe, expect, it } from "vitest";
import { ROUTERBENCH_SPLIT, makeSplits, pooledSplit, type Split, type SplitSpec } from "../../src/data/splits.js";
import { selectRows, type OutcomeTable } from "../../src/data/table.js";
import { makeRng, shuffled } from "../../src/util/rng.js";
import { tableFrom } from "../helpers/tables.js";

/** Three datasets of different sizes, rows interleaved so that row order is not dataset order. */
function table(): OutcomeTable {
  const sizes: Record<string, number> = { arc: 50, mbpp: 23, mmlu: 101 };
  const rows = [];
  let i = 0;
  const left = { ...sizes };
  while (Object.values(left).some((n) => n > 0)) {
    for (const d of Object.keys(left)) {
      if (left[d]-- > 0) rows.push({ id: `${d}.${i++}`, dataset: d, scores: [1, 0], costs: [0.1, 0.2] });
    }
  }
  return tableFrom(["a", "b"], rows);
}

function rowsOf(t: OutcomeTable, dataset: string): number[] {
  return t.datasets.flatMap((d, i) => (d === dataset ? [i] : []));
}

const sorted = (a: number[]) => a.slice().sort((x, y) => x - y);

function expectPartition(s: Split, universe: number[]): void {
  const all = [...s.train, ...s.validation, ...s.test];
  expect(new Set(all).size).toBe(all.length); // disjoint
  expect(sorted(all)).toEqual(sorted(universe)); // covers
}

// Computed independently: python3 hashlib.sha256(f"0\0mbpp\0{id}"), lowest 7 of 23, sorted by id.
const PINNED_MBPP_TEST = ["mbpp.13", "mbpp.22", "mbpp.34", "mbpp.4", "mbpp.49", "mbpp.52", "mbpp.61"];

describe("in-distribution splits (RouterBench protocol)", () => {
  it("per dataset: 70/30 by sample, validation carved from train, disjoint and covering", () => {
    const t = table();
    const splits = makeSplits(t, ROUTERBENCH_SPLIT);
    expect(splits.map((s) => s.name)).toEqual(["arc", "mbpp", "mmlu"]);
    for (const s of splits) {
      const rows = rowsOf(t, s.dataset);
      expectPartition(s, rows);
      expect(s.test.length).toBe(Math.round(rows.length * 0.3));
      expect(s.validation.length).toBe(Math.round((rows.length - s.test.length) * 0.1));
      for (const i of [...s.train, ...s.validation, ...s.test]) expect(t.datasets[i]).toBe(s.dataset);
      const ids = s.train.map((r) => t.ids[r]);
      expect(ids).toEqual(ids.slice().sort()); // parts list rows in prompt-id order
    }
  });

  it("the same seed gives the same split; another seed another", () => {
    const t = table();
    const spec = (seed: number): SplitSpec => ({ kind: "in-distribution", testFraction: 0.3, validationFraction: 0.1, seed });
    expect(makeSplits(t, spec(7))).toEqual(makeSplits(t, spec(7)));
    const a = makeSplits(t, spec(7));
    const b = makeSplits(t, spec(8));
    for (let k = 0; k < a.length; k++) expect(a[k].test).not.toEqual(b[k].test);
  });

  it("is pinned: seed 0 gives these test ids on every machine", () => {
    // The split is a keyed sha256 of (seed, dataset, id); this guards against an accidental change
    // of hash, key layout or rounding, which would silently change every published result.
    const t = table();
    const mbpp = makeSplits(t, ROUTERBENCH_SPLIT).find((s) => s.dataset === "mbpp")!;
    expect(mbpp.test.map((i) => t.ids[i])).toEqual(PINNED_MBPP_TEST);
  });

  it("is a function of the prompt ids: shuffled and re-ordered tables give the same split", () => {
    const t = table();
    const idsOfSplits = (tt: OutcomeTable, spec: SplitSpec) =>
      makeSplits(tt, spec).map((s) => ({ name: s.name, train: s.train.map((r) => tt.ids[r]), validation: s.validation.map((r) => tt.ids[r]), test: s.test.map((r) => tt.ids[r]) }));
    const reversed = selectRows(t, t.ids.map((_, i) => t.ids.length - 1 - i));
    const shuffledTable = selectRows(t, shuffled(t.ids.map((_, i) => i), makeRng("order")));
    // Datasets in one block each, as `import test.csv train.csv` vs `import train.csv test.csv` would give.
    const blocks = selectRows(t, [...t.ids.keys()].sort((a, b) => (t.datasets[a] < t.datasets[b] ? 1 : t.datasets[a] > t.datasets[b] ? -1 : a - b)));
    for (const spec of [ROUTERBENCH_SPLIT, { kind: "out-of-distribution", validationFraction: 0.2, seed: 5 } as SplitSpec]) {
      const want = idsOfSplits(t, spec);
      for (const other of [reversed, shuffledTable, blocks]) expect(idsOfSplits(other, spec)).toEqual(want);
    }
    const pooledIds = (tt: OutcomeTable) => pooledSplit(tt, makeSplits(tt, ROUTERBENCH_SPLIT)).test.map((r) => tt.ids[r]);
    expect(pooledIds(shuffledTable)).toEqual(pooledIds(t));
  });

  it("refuses a table whose ids are not unique or whose columns disagree", () => {
    const t = table();
    expect(() => makeSplits({ ...t, ids: t.ids.map((id, i) => (i === 3 ? t.ids[0] : id)) }, ROUTERBENCH_SPLIT)).toThrow(/not unique/);
    expect(() => makeSplits({ ...t, datasets: t.datasets.slice(0, 10) }, ROUTERBENCH_SPLIT)).toThrow(/10 dataset entries/);
  });

  it("a dataset's split does not change when other datasets are added", () => {
    const t = table();
    const only = tableFrom(["a", "b"], t.ids.flatMap((id, i) => (t.datasets[i] === "arc" ? [{ id, dataset: "arc", scores: [1, 0], costs: [0.1, 0.2] }] : [])));
    const full = makeSplits(t, ROUTERBENCH_SPLIT).find((s) => s.dataset === "arc")!;
    const alone = makeSplits(only, ROUTERBENCH_SPLIT)[0];
    const arcRows = rowsOf(t, "arc");
    expect(full.test.map((i) => t.ids[i])).toEqual(alone.test.map((i) => only.ids[i]));
    expect(full.validation.map((i) => t.ids[i])).toEqual(alone.validation.map((i) => only.ids[i]));
    expect(arcRows.length).toBe(only.ids.length);
    // ...nor when they are removed.
    const twoSets = selectRows(t, t.datasets.flatMap((d, i) => (d !== "mbpp" ? [i] : [])));
    const arcOf = (tt: OutcomeTable) => makeSplits(tt, ROUTERBENCH_SPLIT).find((s) => s.dataset === "arc")!.test.map((i) => tt.ids[i]);
    expect(arcOf(twoSets)).toEqual(arcOf(t));
  });

  it("rejects fractions outside [0, 1)", () => {
    const t = table();
    expect(() => makeSplits(t, { kind: "in-distribution", testFraction: 1.2, validationFraction: 0.1, seed: 0 })).toThrow(/testFraction/);
    expect(() => makeSplits(t, { kind: "in-distribution", testFraction: 0.3, validationFraction: -1, seed: 0 })).toThrow(/validationFraction/);
  });
});

describe("out-of-distribution splits (leave one dataset out)", () => {
  it("tests on the held-out dataset and never trains or validates on it", () => {
    const t = table();
    const splits = makeSplits(t, { kind: "out-of-distribution", validationFraction: 0.1, seed: 3 });
    expect(splits.map((s) => s.name)).toEqual(["ood:arc", "ood:mbpp", "ood:mmlu"]);
    for (const s of splits) {
      expect(sorted(s.test)).toEqual(rowsOf(t, s.dataset));
      for (const i of [...s.train, ...s.validation]) expect(t.datasets[i]).not.toBe(s.dataset);
      expectPartition(s, t.ids.map((_, i) => i));
      const others = t.ids.length - s.test.length;
      expect(s.validation.length).toBe(Math.round(others * 0.1));
    }
  });

  it("is deterministic for a seed and differs across seeds", () => {
    const t = table();
    const spec = (seed: number): SplitSpec => ({ kind: "out-of-distribution", validationFraction: 0.2, seed });
    expect(makeSplits(t, spec(1))).toEqual(makeSplits(t, spec(1)));
    expect(makeSplits(t, spec(1))[0].validation).not.toEqual(makeSplits(t, spec(2))[0].validation);
  });

  it("needs two datasets", () => {
    const t = tableFrom(["a"], [{ id: "x", dataset: "only", scores: [1], costs: [0] }]);
    expect(() => makeSplits(t, { kind: "out-of-distribution", validationFraction: 0.1, seed: 0 })).toThrow(/at least 2 datasets/);
  });
});
