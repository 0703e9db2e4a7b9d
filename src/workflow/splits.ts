/**
 * Which splits of a table `train`, `eval` and `run` work on. The rows of each split are
 * makeSplits' (per dataset, keyed by prompt id); this only chooses among them, the same way for
 * every command.
 */
import { makeSplits, pooledSplit, type Split, type SplitSpec } from "../data/splits.js";
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
