/**
 * An embedder that fails part-way (a remote endpoint that stopped answering) may throw a
 * PartialEmbedError carrying the rows it did finish: embedTexts stores them in the cache before
 * the error propagates, so a rerun computes only what is still missing.
 */
export class PartialEmbedError extends Error {
  /**
   * @param rows indices into the texts given to `embed` whose vectors are in `vectors`
   * @param vectors rows.length x dimension floats, row-major, L2-normalised, in `rows` order
   */
  constructor(
    message: string,
    readonly rows: readonly number[],
    readonly vectors: Float32Array,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "PartialEmbedError";
  }
}
