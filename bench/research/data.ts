/**
 * The research scripts' data: the real RouterBench rows of ../shared beside the checkout
 * (ARC-Challenge, MBPP, Winogrande, 5-shot), never copied into the repo. `ROUTEKIT_SUBSET_DIR`
 * points elsewhere.
 * Without the data every script prints a message and exits 0.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { importFiles } from "../../src/data/importers/index.js";
import { completeRows, selectRows, type OutcomeTable } from "../../src/data/table.js";
import { makeSplits } from "../../src/data/splits.js";
import { embedTexts } from "../../src/embed/embed-table.js";
import { DEFAULT_PREPARATION } from "../../src/embed/embedder.js";
import { prepareTexts } from "../../src/embed/prepare.js";
import { SHARED_SUBSET_DIR } from "../shared.js";

export const SUBSET_DIR = process.env.ROUTEKIT_SUBSET_DIR ?? SHARED_SUBSET_DIR;
const FILES = ["arc_challenge_train.csv", "arc_challenge_test.csv", "mbpp_train.csv", "mbpp_test.csv", "winograde_train.csv", "winograde_test.csv"];

/** The six CSVs as one table, or null (with a message on stderr) when they are not there. */
export async function loadSubset(): Promise<OutcomeTable | null> {
  const files = FILES.map((f) => join(SUBSET_DIR, f));
  const absent = files.filter((f) => !existsSync(f));
  if (absent.length) {
    process.stderr.write(`skipped: the RouterBench subset is not here (${absent[0]} missing; set ROUTEKIT_SUBSET_DIR)\n`);
    return null;
  }
  const { table } = await importFiles(files);
  return table;
}

/** Prompt embeddings (row-aligned, L2-normalised) through routekit's embedding cache. */
export async function embedSubset(table: OutcomeTable, spec: string): Promise<{ data: Float32Array; dimension: number }> {
  const { matrix } = await embedTexts(table.texts, table.evals, { spec, threads: 1, preparation: DEFAULT_PREPARATION });
  return { data: matrix.data, dimension: matrix.dimension };
}

/** The texts the encoder sees (list unwrapped, each eval's shared few-shot block stripped). */
export function preparedTexts(table: OutcomeTable): string[] {
  return prepareTexts(table.texts, table.evals, DEFAULT_PREPARATION);
}

export interface DatasetSplit {
  name: string;
  /** Row indices of complete rows (every score and cost present): 70% train, 30% test. */
  trainRows: number[];
  testRows: number[];
}

/** Per dataset, seeded 70/30 (routekit's in-distribution split with no validation part: choices use CV inside train). */
export function splitsOf(table: OutcomeTable, seed: number): DatasetSplit[] {
  const complete = new Set(completeRows(table));
  return makeSplits(table, { kind: "in-distribution", testFraction: 0.3, validationFraction: 0, seed }).map((s) => ({
    name: s.dataset,
    trainRows: s.train.filter((i) => complete.has(i)),
    testRows: s.test.filter((i) => complete.has(i)),
  }));
}

export { selectRows };
