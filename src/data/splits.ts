/**
 * Seeded train / validation / test splits, per dataset (RouterBench's protocol).
 *
 * In-distribution: for each dataset, its rows are shuffled with a generator seeded by
 * (seed, dataset name); the first round(n * testFraction) are the test part, and validation is
 * carved from the rest: round(nTrain * validationFraction) rows. Each dataset's split depends
 * only on its own rows and the seed, so adding another dataset to the table does not change it.
 *
 * Out-of-distribution (leave one dataset out): for each dataset D, test = all of D; train and
 * validation = the other datasets' rows, shuffled with (seed, "ood", D), validation carved the
 * same way. D never appears in train or validation.
 *
 * The index lists are sorted ascending (row order), so a split reads the same on any machine:
 * seedrandom's alea stream is the same everywhere and nothing else is random.
 */
import { InputError } from "../util/errors.js";
import { makeRng, shuffled } from "../util/rng.js";
import type { OutcomeTable } from "./table.js";

export type SplitSpec =
  | { kind: "in-distribution"; testFraction: number; validationFraction: number; seed: number }
  | { kind: "out-of-distribution"; validationFraction: number; seed: number };

export interface Split {
  /** The dataset name (in-distribution) or `ood:<dataset>` (out-of-distribution). */
  name: string;
  dataset: string;
  /** Row indices into the table, ascending. */
  train: number[];
  validation: number[];
  test: number[];
}

/**
 * RouterBench's protocol: per dataset, 70% train / 30% test; hyperparameters are chosen on a
 * validation part carved from train (10% of train, i.e. 7% of the dataset), never on test.
 */
export const ROUTERBENCH_SPLIT: SplitSpec = { kind: "in-distribution", testFraction: 0.3, validationFraction: 0.1, seed: 0 };

function checkFraction(name: string, x: number): void {
  if (!(typeof x === "number" && x >= 0 && x < 1)) throw new InputError(`${name} must be in [0, 1), got ${x}`, { field: name });
}

function rowsByDataset(t: OutcomeTable): Map<string, number[]> {
  const out = new Map<string, number[]>();
  t.datasets.forEach((d, i) => {
    let rows = out.get(d);
    if (!rows) out.set(d, (rows = []));
    rows.push(i);
  });
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const asc = (a: number, b: number) => a - b;

function carve(rows: readonly number[], fraction: number, seed: string): { first: number[]; rest: number[] } {
  const order = shuffled(rows, makeRng(seed));
  const k = Math.round(rows.length * fraction);
  return { first: order.slice(0, k).sort(asc), rest: order.slice(k).sort(asc) };
}

export function makeSplits(t: OutcomeTable, spec: SplitSpec): Split[] {
  checkFraction("validationFraction", spec.validationFraction);
  if (!Number.isInteger(spec.seed)) throw new InputError(`seed must be an integer, got ${spec.seed}`, { field: "seed" });
  const groups = rowsByDataset(t);
  if (spec.kind === "in-distribution") {
    checkFraction("testFraction", spec.testFraction);
    return [...groups.entries()].map(([dataset, rows]) => {
      const { first: test, rest } = carve(rows, spec.testFraction, `${spec.seed}:${dataset}:test`);
      const { first: validation, rest: train } = carve(rest, spec.validationFraction, `${spec.seed}:${dataset}:validation`);
      return { name: dataset, dataset, train, validation, test };
    });
  }
  if (spec.kind === "out-of-distribution") {
    if (groups.size < 2) {
      throw new InputError(`an out-of-distribution split needs at least 2 datasets; the table has ${groups.size}`);
    }
    return [...groups.entries()].map(([dataset, test]) => {
      const others: number[] = [];
      for (const [d, rows] of groups) if (d !== dataset) others.push(...rows);
      others.sort(asc);
      const { first: validation, rest: train } = carve(others, spec.validationFraction, `${spec.seed}:ood:${dataset}:validation`);
      return { name: `ood:${dataset}`, dataset, train, validation, test: test.slice() };
    });
  }
  throw new InputError(`unknown split kind "${(spec as { kind: string }).kind}"`, { field: "kind" });
}

/**
 * Every dataset's parts together: one router for all the traffic (split "all"), trained on
 * every dataset's training rows and tested on all their test rows.
 */
export function pooledSplit(perDataset: readonly Split[]): Split {
  const union = (pick: (s: Split) => number[]) => perDataset.flatMap(pick).sort((a, b) => a - b);
  return { name: "all", dataset: "all", train: union((s) => s.train), validation: union((s) => s.validation), test: union((s) => s.test) };
}
