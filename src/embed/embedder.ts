/**
 * Sentence encoders. Routers see a prompt only through its embedding, so the embedder id and
 * the preparation options travel with every cached vector and every exported router.
 */

export interface Embedder {
  /** Identifies encoder and version; part of every cache key (e.g. `use-lite@0.2.0`). */
  readonly id: string;
  readonly dimension: number;
  /** Embed a batch: returns texts.length x dimension floats, row-major, each row L2-normalised. */
  embed(texts: readonly string[], onProgress?: (done: number, total: number) => void): Promise<Float32Array>;
  /** Release workers, sessions, tensors. */
  close(): Promise<void>;
  /**
   * Texts it can work on at once, when more than a cache shard (a remote endpoint: texts per
   * request x requests in flight). embedTexts then hands it that many per call, so a shard
   * boundary never caps the requests in flight.
   */
  readonly textsInFlight?: number;
}

/** How a prompt is turned into the text the encoder sees; recorded with the vectors. */
export interface PreparationOptions {
  /** Unwrap a RouterBench stringified Python list (`"['...']"`) if the text still is one. */
  unwrapList: boolean;
  /** Remove the prefix shared by all prompts of one eval (the few-shot block of 5-shot data). */
  stripSharedPrefix: boolean;
  /** Keep at most this many characters (0 = no limit). */
  maxChars: number;
  /** Which end to keep when cutting to maxChars. */
  keep: "head" | "tail";
}

export const DEFAULT_PREPARATION: PreparationOptions = {
  unwrapList: true,
  stripSharedPrefix: true,
  maxChars: 0,
  keep: "head",
};

/** Embeddings of a table's prompts, aligned with its rows. */
export interface EmbeddingMatrix {
  readonly rows: number;
  readonly dimension: number;
  /** rows x dimension, row-major, L2-normalised. */
  readonly data: Float32Array;
  readonly embedderId: string;
  readonly preparation: PreparationOptions;
}

/** The embeddings of table rows `rows`, in that order (for the train/validation/test parts of a split). */
export function selectEmbeddingRows(m: EmbeddingMatrix, rows: ArrayLike<number>): EmbeddingMatrix {
  const d = m.dimension;
  const data = new Float32Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (!(r >= 0 && r < m.rows)) throw new RangeError(`embedding row ${r} out of range 0..${m.rows - 1}`);
    data.set(m.data.subarray(r * d, r * d + d), i * d);
  }
  return { ...m, rows: rows.length, data };
}
