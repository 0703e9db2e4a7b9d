import type { Embedder } from "../../src/embed/embedder.js";
import { createHashEmbedder } from "../../src/embed/hash.js";

export const WRITER_DIM = 16;

/** The hash embedder, made slow (a pause per batch) so that concurrent writers overlap in time. */
export function slowHashEmbedder(pauseMs = 15): Embedder & { computed: number } {
  const inner = createHashEmbedder(WRITER_DIM);
  const e = {
    id: inner.id,
    dimension: WRITER_DIM,
    computed: 0,
    async embed(texts: readonly string[]) {
      await new Promise((r) => setTimeout(r, pauseMs));
      e.computed += texts.length;
      return inner.embed(texts);
    },
    close: () => inner.close(),
  };
  return e;
}

export function generatedTexts(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `concurrent prompt ${i}: ${"word ".repeat(i % 13)}end`);
}
