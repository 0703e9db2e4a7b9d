/**
 * Seeded train / validation / test splits, per dataset (RouterBench's protocol), as a pure
 * function of (prompt id, dataset, seed).
 *
 * In-distribution: each dataset's prompts are ranked by a keyed hash of their ids,
 * sha256(seed, dataset, id); the first round(n * testFraction) are the test part, the next
 * round(nTrain * validationFraction) the validation part, the rest train. A prompt's part thus
 * depends only on its own id, its dataset's other ids and the seed: row order, file order,
 * other datasets present or absent, and the machine change nothing. (A shuffle of row indices,
 * as before, made the test set depend on the order rows were imported in, so the same saved
 * router could be "tested" on its own training prompts after a re-import.)
 *
 * Out-of-distribution (leave one dataset out): for each dataset D, test = all of D; train and
 * validation = the other datasets' prompts, validation being the round(n * validationFraction)
 * of them with the lowest sha256(seed, "ood:" + D, id). D never appears in train or validation.
 *
 * Each part lists its row indices in prompt-id order (code-unit order of the ids), so what a
 * router is trained on and tested on, in which order, is the same however the table's rows
 * were arranged: results are byte-identical across re-imports.
 */
import { createHash } from "node:crypto";
import { InputError } from "../util/errors.js";
import { validateTable, type OutcomeTable } from "./table.js";

export type SplitSpec =
  | { kind: "in-distribution"; testFraction: number; validationFraction: number; seed: number }
  | { kind: "out-of-distribution"; validationFraction: number; seed: number };

export interface Split {
  /** The dataset name (in-distribution) or `ood:<dataset>` (out-of-distribution). */
  name: string;
  dataset: string;
  /** Row indices into the table, in prompt-id order. */
  train: number[];
  validation: number[];
  test: number[];
}

/**
 * RouterBench's protocol: per dataset, 70% train / 30% test; hyperparameters are chosen on a
 * validation part carved from train (10% of train, i.e. 7% of the dataset), never on test.
 */
export const ROUTERBENCH_SPLIT: Extract<SplitSpec, { kind: "in-distribution" }> = { kind: "in-distribution", testFraction: 0.3, validationFraction: 0.1, seed: 0 };

/** Folds of the crossfit protocol unless a config or --folds says otherwise. */
export const DEFAULT_FOLDS = 5;

/** Cross-fitting chooses every fold's operating points on that fold's validation rows: refused with operating points on test, before any work. */
export const CROSSFIT_NEEDS_VALIDATION = "cross-fitting chooses operating points on each fold's validation rows; it needs operatingPoints: validation";

/** A split spec with what is not given taken from ROUTERBENCH_SPLIT (testFraction only for in-distribution). */
export function splitSpecOf(given: { kind?: SplitSpec["kind"]; testFraction?: number; validationFraction?: number; seed?: number }): SplitSpec {
  const kind = given.kind ?? ROUTERBENCH_SPLIT.kind;
  const validationFraction = given.validationFraction ?? ROUTERBENCH_SPLIT.validationFraction;
  const seed = given.seed ?? ROUTERBENCH_SPLIT.seed;
  return kind === "in-distribution" ? { kind, testFraction: given.testFraction ?? ROUTERBENCH_SPLIT.testFraction, validationFraction, seed } : { kind, validationFraction, seed };
}

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

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The key that ranks a prompt within its scope: hex sha256 of seed, scope and id, NUL-separated. */
export function splitKey(seed: number, scope: string, id: string): string {
  return createHash("sha256").update(`${seed}\u0000${scope}\u0000${id}`, "utf8").digest("hex");
}

/** Rows ranked by their key in `scope` (ids are unique, so ties cannot happen; ids break them anyway). */
function ranked(t: OutcomeTable, rows: readonly number[], seed: number, scope: string): number[] {
  const keyed = rows.map((r) => ({ r, k: splitKey(seed, scope, t.ids[r]) }));
  keyed.sort((a, b) => byCodeUnits(a.k, b.k) || byCodeUnits(t.ids[a.r], t.ids[b.r]));
  return keyed.map((x) => x.r);
}

/** Row indices in prompt-id order: the canonical order of every part. */
function inIdOrder(t: OutcomeTable, rows: number[]): number[] {
  return rows.sort((a, b) => byCodeUnits(t.ids[a], t.ids[b]));
}

function checkConsistent(t: OutcomeTable): void {
  const n = t.ids.length;
  if (t.datasets.length !== n) throw new InputError(`the table has ${t.datasets.length} dataset entries for ${n} prompt ids`, { field: "dataset" });
  if (new Set(t.ids).size !== n) throw new InputError("the table's prompt ids are not unique; splits are keyed by id", { field: "id" });
}

export function makeSplits(t: OutcomeTable, spec: SplitSpec): Split[] {
  if (spec === null || typeof spec !== "object") throw new InputError("makeSplits needs a split spec", { field: "spec" });
  checkFraction("validationFraction", spec.validationFraction);
  if (!Number.isInteger(spec.seed)) throw new InputError(`seed must be an integer, got ${spec.seed}`, { field: "seed" });
  checkConsistent(t);
  validateTable(t);
  const groups = rowsByDataset(t);
  if (spec.kind === "in-distribution") {
    checkFraction("testFraction", spec.testFraction);
    return [...groups.entries()].map(([dataset, rows]) => {
      const order = ranked(t, rows, spec.seed, dataset);
      const nTest = Math.round(rows.length * spec.testFraction);
      const nValidation = Math.round((rows.length - nTest) * spec.validationFraction);
      return {
        name: dataset,
        dataset,
        test: inIdOrder(t, order.slice(0, nTest)),
        validation: inIdOrder(t, order.slice(nTest, nTest + nValidation)),
        train: inIdOrder(t, order.slice(nTest + nValidation)),
      };
    });
  }
  if (spec.kind === "out-of-distribution") {
    if (groups.size < 2) {
      throw new InputError(`an out-of-distribution split needs at least 2 datasets; the table has ${groups.size}`);
    }
    return [...groups.entries()].map(([dataset, test]) => {
      const others: number[] = [];
      for (const [d, rows] of groups) if (d !== dataset) others.push(...rows);
      const order = ranked(t, others, spec.seed, `ood:${dataset}`);
      const nValidation = Math.round(others.length * spec.validationFraction);
      return {
        name: `ood:${dataset}`,
        dataset,
        train: inIdOrder(t, order.slice(nValidation)),
        validation: inIdOrder(t, order.slice(0, nValidation)),
        test: inIdOrder(t, test.slice()),
      };
    });
  }
  throw new InputError(`unknown split kind "${(spec as { kind: string }).kind}"`, { field: "kind" });
}

/**
 * Cross-fitting (K folds), in-distribution: each dataset's prompts, ranked by the same keyed
 * hash as makeSplits, are cut into K contiguous folds of near-equal size; fold f's test part is
 * its own prompts, so every prompt is tested exactly once over the K folds. The other prompts are
 * ranked again by a fold-specific key, sha256(seed, dataset + "#fold" + f, id), and the first
 * round(n * validationFraction) of them are that fold's validation part (grids and operating
 * points), the rest its train part. Like makeSplits, a pure function of ids, datasets and seed.
 * Returns, per dataset (sorted), its K splits; each split's `fold` is its index.
 */
export function crossFitFolds(t: OutcomeTable, spec: { validationFraction: number; seed: number }, folds: number): { dataset: string; folds: (Split & { fold: number })[] }[] {
  checkFraction("validationFraction", spec.validationFraction);
  if (!Number.isInteger(spec.seed)) throw new InputError(`seed must be an integer, got ${spec.seed}`, { field: "seed" });
  if (!(Number.isInteger(folds) && folds >= 2)) throw new InputError(`folds must be an integer >= 2, got ${folds}`, { field: "folds" });
  checkConsistent(t);
  validateTable(t);
  return [...rowsByDataset(t).entries()].map(([dataset, rows]) => {
    if (rows.length < folds) throw new InputError(`dataset "${dataset}" has ${rows.length} prompt(s), fewer than the ${folds} folds`, { field: "folds" });
    const order = ranked(t, rows, spec.seed, dataset);
    return {
      dataset,
      folds: Array.from({ length: folds }, (_, f) => {
        const from = Math.round((rows.length * f) / folds);
        const to = Math.round((rows.length * (f + 1)) / folds);
        const rest = ranked(t, [...order.slice(0, from), ...order.slice(to)], spec.seed, `${dataset}#fold${f}`);
        const nValidation = Math.round(rest.length * spec.validationFraction);
        return {
          name: dataset,
          dataset,
          fold: f,
          test: inIdOrder(t, order.slice(from, to)),
          validation: inIdOrder(t, rest.slice(0, nValidation)),
          train: inIdOrder(t, rest.slice(nValidation)),
        };
      }),
    };
  });
}

/**
 * Every dataset's parts together: one router for all the traffic (split "all"), trained on
 * every dataset's training rows and tested on all their test rows; parts in prompt-id order.
 */
export function pooledSplit(t: OutcomeTable, perDataset: readonly Split[]): Split {
  const union = (pick: (s: Split) => number[]) => inIdOrder(t, perDataset.flatMap(pick));
  return { name: "all", dataset: "all", train: union((s) => s.train), validation: union((s) => s.validation), test: union((s) => s.test) };
}

/** The ids of some rows, sorted: what a router records of the prompts it was fitted or tuned on. */
export function idsOf(t: OutcomeTable, rows: readonly number[]): string[] {
  return rows.map((r) => t.ids[r]).sort(byCodeUnits);
}
