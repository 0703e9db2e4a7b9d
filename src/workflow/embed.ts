/**
 * Embedding a table's rows once for the routers trained or evaluated on them, and what a saved
 * router records of it (embedder id, spec, preparation, the shared prefixes stripped), so that
 * its new prompts are embedded alike.
 */
import type { OutcomeTable } from "../data/table.js";
import type { EmbeddingMatrix, PreparationOptions } from "../embed/embedder.js";
import { embedTexts, type EmbedStats } from "../embed/embed-table.js";
import { learnSharedPrefixes, normalizePreparation, type PrefixMap } from "../embed/prepare.js";
import type { SavedRouterManifest } from "../routers/artifact.js";
import type { ProgressFn } from "../util/progress.js";

export interface EmbedRowsOptions {
  /** Embedder spec (see parseEmbedderSpec: use-lite, use-lite-static, hash:<dim>, hf:<model>, openai:<model>@<url>). */
  spec: string;
  preparation?: Partial<PreparationOptions>;
  /** The shared prefixes to strip (a trained router's). Absent: learned on `learnOn`'s prompts. */
  prefixes?: PrefixMap;
  /** Where prefixes are learned when not given (default: the rows embedded); training learns them on its training rows only. */
  learnOn?: OutcomeTable;
  cacheDir?: string | false;
  threads?: number;
  onProgress?: ProgressFn;
}

export interface EmbeddedRows {
  /** Aligned with the table's rows. */
  matrix: EmbeddingMatrix;
  /** What a router's manifest records to embed new prompts alike. */
  embedder: NonNullable<SavedRouterManifest["embedder"]>;
  prefixes: PrefixMap;
  stats: EmbedStats;
}

/** The table's prompts embedded through the cache, in row order. */
export async function embedRows(table: OutcomeTable, opts: EmbedRowsOptions): Promise<EmbeddedRows> {
  const preparation = normalizePreparation(opts.preparation);
  const learnOn = opts.learnOn ?? table;
  const prefixes = opts.prefixes ?? (preparation.stripSharedPrefix ? learnSharedPrefixes(learnOn.texts, learnOn.evals, preparation) : {});
  const { matrix, stats } = await embedTexts(table.texts, table.evals, {
    spec: opts.spec,
    preparation,
    prefixes,
    cacheDir: opts.cacheDir,
    threads: opts.threads,
    onProgress: opts.onProgress,
  });
  return { matrix, embedder: { id: matrix.embedderId, spec: opts.spec, preparation }, prefixes, stats };
}
