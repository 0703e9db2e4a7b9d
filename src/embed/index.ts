// The embedding layer's public API (re-exported from src/index.ts).
export * from "./embedder.js";
export { createEmbedder, parseEmbedderSpec, embedderIdOf, DEFAULT_EMBEDDER_SPEC, type EmbedderOptions, type ParsedSpec } from "./registry.js";
export {
  prepareTexts,
  learnSharedPrefixes,
  stripKnownPrefix,
  unwrapPythonList,
  truncate,
  normalizePreparation,
  MIN_SHARED_PREFIX_CHARS,
  type PrefixMap,
} from "./prepare.js";
export { embedTable, embedTexts, type EmbedTableOptions, type EmbedStats, type EmbedResult } from "./embed-table.js";
export { EmbeddingCache, cacheKeyDir, textHash } from "./cache.js";
export { defaultCacheDir } from "./paths.js";
export { createHashEmbedder, hashEmbedderId, DEFAULT_HASH_DIM, HASH_EMBEDDER_VERSION } from "./hash.js";
export { createUseLiteEmbedder, useLiteEmbedderId, type UseLiteOptions } from "./use-lite.js";
export { createHfEmbedder, hfEmbedderId, type HfOptions } from "./hf.js";
