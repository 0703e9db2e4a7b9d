/**
 * The permutation null: the same evaluation on outcomes shuffled among each dataset's prompts.
 *
 * Why: a router's AIQ is the area under the hull of its test points, and a hull is a maximum
 * over points. On a dataset whose models' hull is flat, routers with no signal at all get hulls
 * that climb on test noise, and the bootstrap interval, centred on that climb, does not see it:
 * on Winogrande with outcomes shuffled among the prompts (no prompt says anything about its
 * outcomes), ridge "beat Zero" with its whole interval above 0 in 2 of 5 shuffles, once by
 * +0.0097 [+0.0048, +0.0159], more than its gain on the real outcomes (docs/FINDINGS.md,
 * finding 6). A shuffle keeps everything but the link between a prompt's text and its outcomes:
 * each prompt keeps its dataset (so task identity still says as much as before), each outcome
 * row moves whole (every model's score and cost of one prompt), and the folds, keyed by prompt
 * id, stay where they were. A gain is real only where it stands above what the shuffles give;
 * the permutation p-value says how often they gave as much.
 */
import type { OutcomeTable } from "../data/table.js";
import { makeRng, shuffled } from "../util/rng.js";

/** The outcome rows (scores and costs of every model) shuffled among each dataset's prompts; `seed` names the shuffle. */
export function shuffledOutcomes(t: OutcomeTable, seed: number | string): OutcomeTable {
  const m = t.models.length;
  const rng = makeRng(`outcome-shuffle:${seed}`);
  const scores = new Float64Array(t.scores.length);
  const costs = new Float64Array(t.costs.length);
  const byDataset = new Map<string, number[]>();
  t.datasets.forEach((d, i) => {
    const rows = byDataset.get(d);
    if (rows) rows.push(i);
    else byDataset.set(d, [i]);
  });
  for (const rows of byDataset.values()) {
    const perm = shuffled(rows, rng);
    rows.forEach((r, k) => {
      scores.set(t.scores.subarray(perm[k] * m, perm[k] * m + m), r * m);
      costs.set(t.costs.subarray(perm[k] * m, perm[k] * m + m), r * m);
    });
  }
  return { ...t, scores, costs };
}

/**
 * Permutation p-value of `real` against the null draws: (1 + #{null >= real}) / (1 + draws), so
 * never 0 (the real outcome is one of the orderings). One-sided ("greater": is the real gain
 * larger than noise gives?) or two-sided ("both": on |value|, for a difference that may go
 * either way).
 */
export function permutationP(real: number, nulls: readonly number[], side: "greater" | "both"): number {
  const as = side === "both" ? Math.abs : (x: number) => x;
  // A null draw equal to the real value up to rounding counts as reaching it.
  const tie = 1e-12;
  const count = nulls.filter((x) => as(x) >= as(real) - tie).length;
  return (1 + count) / (1 + nulls.length);
}

/** One router's null, as results.json stores it. */
export interface RouterNull {
  /** Shuffles run. */
  shuffles: number;
  /** AIQ minus Zero on each shuffle. */
  diffToZero: number[];
  /** One-sided permutation p of the real AIQ minus Zero. */
  pBeatsZero: number;
  /** AIQ minus the compareTo router's on each shuffle, and the two-sided p of the real difference; null without compareTo. */
  vsReference: { diffs: number[]; p: number } | null;
}

/** A router's null from its real figures and the shuffles' (diffs in shuffle order; null entries: not evaluated there). */
export function routerNull(real: { diffToZero: number; vsReference: number | null }, draws: readonly { diffToZero: number; vsReference: number | null }[]): RouterNull {
  const diffToZero = draws.map((d) => d.diffToZero);
  const refs = draws.map((d) => d.vsReference).filter((x): x is number => x !== null);
  return {
    shuffles: draws.length,
    diffToZero,
    pBeatsZero: permutationP(real.diffToZero, diffToZero, "greater"),
    vsReference: real.vsReference !== null && refs.length === draws.length ? { diffs: refs, p: permutationP(real.vsReference, refs, "both") } : null,
  };
}
