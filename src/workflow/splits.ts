/**
 * Which splits of a table `train`, `eval` and `run` work on. The rows of each split are
 * makeSplits' (per dataset, keyed by prompt id); this only chooses among them, the same way for
 * every command.
 */
import { crossFitFolds, makeSplits, pooledSplit, type Split, type SplitSpec } from "../data/splits.js";
import type { OutcomeTable } from "../data/table.js";
import { InputError } from "../util/errors.js";

export interface SplitChoice {
  /** That dataset's split alone (out-of-distribution: the dataset left out for testing). */
  dataset?: string;
  /** Without a dataset: every dataset's parts in one split "all", for one router for all the traffic. */
  pooled?: boolean;
}

/** The splits chosen (see SplitChoice); without dataset or pooled, every dataset's split. */
export function splitsOf(table: OutcomeTable, spec: SplitSpec, choice: SplitChoice = {}): Split[] {
  const splits = makeSplits(table, spec);
  if (choice.dataset !== undefined) {
    const s = splits.find((x) => x.dataset === choice.dataset);
    if (!s) throw new InputError(`no dataset "${choice.dataset}" in the table (has: ${[...new Set(table.datasets)].sort().join(", ")})`, { field: "dataset" });
    return [s];
  }
  if (!choice.pooled) return splits;
  // Pooling every dataset's test rows would leave no dataset out.
  if (spec.kind === "out-of-distribution") throw new InputError("an out-of-distribution split needs --dataset: the dataset to leave out for testing");
  return [pooledSplit(table, splits)];
}

/** One evaluated split under cross-fitting: its folds, each a train / validation / test split. */
export interface FoldedSplit {
  name: string;
  dataset: string;
  /** K folds whose test parts cover every prompt of the split once (one fold: a plain split). */
  folds: Split[];
}

/**
 * The splits of splitsOf, each as K cross-fitting folds (in-distribution; testFraction is not
 * used: each fold tests 1/K of the prompts). Pooled: fold f of "all" is every dataset's fold f
 * together. Out-of-distribution splits already test every prompt of the dataset left out once,
 * so each stays one fold.
 */
export function foldsOf(table: OutcomeTable, spec: SplitSpec, folds: number, choice: SplitChoice = {}): FoldedSplit[] {
  if (spec.kind === "out-of-distribution") return splitsOf(table, spec, choice).map((s) => ({ name: s.name, dataset: s.dataset, folds: [s] }));
  let groups = crossFitFolds(table, spec, folds);
  if (choice.dataset !== undefined) {
    groups = groups.filter((g) => g.dataset === choice.dataset);
    if (groups.length === 0) throw new InputError(`no dataset "${choice.dataset}" in the table (has: ${[...new Set(table.datasets)].sort().join(", ")})`, { field: "dataset" });
  }
  if (!choice.pooled || choice.dataset !== undefined) return groups.map((g) => ({ name: g.dataset, dataset: g.dataset, folds: g.folds }));
  return [{ name: "all", dataset: "all", folds: Array.from({ length: folds }, (_, f) => pooledSplit(table, groups.map((g) => g.folds[f]))) }];
}
