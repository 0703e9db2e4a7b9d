/**
 * The `hash` embedder: signed feature hashing of word unigrams, word bigrams and character
 * 3-5-grams. No model, no dependency, deterministic on every machine, thousands of prompts
 * per second: a baseline for routers and the embedder unit tests of other parts use.
 */
import type { Embedder } from "./embedder.js";

/** Bump when the features or weights change: it is part of the id, so caches invalidate. */
export const HASH_EMBEDDER_VERSION = 1;
export const DEFAULT_HASH_DIM = 512;

// FNV-1a 32-bit over UTF-16 code units, seeded per feature kind so that a word and a
// character n-gram with equal letters land in different buckets.
const FNV_PRIME = 0x01000193;
function fnv(seed: number, s: string, from = 0, to = s.length): number {
  let h = seed >>> 0;
  for (let i = from; i < to; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}
// Final avalanche (murmur3 fmix32): FNV's low bits are weak, and we take bits for index and sign.
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const SEED_WORD = 0x811c9dc5;
const SEED_BIGRAM = 0x9e3779b9;
const SEED_CHAR = 0x7f4a7c15;
const WORD_WEIGHT = 1;
const BIGRAM_WEIGHT = 0.7;
const CHAR_WEIGHT = 0.35;

const WORD_RE = /[\p{L}\p{N}]+/gu;

/** Add one text's hashed features into `out` (length dim) and L2-normalise it. */
export function hashEmbedInto(text: string, dim: number, out: Float32Array): void {
  out.fill(0);
  const add = (h: number, w: number) => {
    const m = mix(h);
    out[m % dim] += m & 0x80000000 ? -w : w;
  };
  const lower = text.toLowerCase();
  const words = lower.match(WORD_RE) ?? [];
  let prev = -1;
  for (const w of words) {
    const hw = fnv(SEED_WORD, w);
    add(hw, WORD_WEIGHT);
    if (prev >= 0) add(Math.imul(prev ^ SEED_BIGRAM, FNV_PRIME) ^ hw, BIGRAM_WEIGHT);
    prev = hw;
  }
  // Character n-grams over the words joined by single spaces, padded, so that the n-grams
  // see word boundaries but not the text's punctuation and spacing quirks.
  const norm = ` ${words.join(" ")} `;
  for (let i = 0; i < norm.length; i++) {
    let h = SEED_CHAR >>> 0;
    for (let n = 1; n <= 5 && i + n <= norm.length; n++) {
      h ^= norm.charCodeAt(i + n - 1);
      h = Math.imul(h, FNV_PRIME) >>> 0;
      if (n >= 3) add(h ^ n, CHAR_WEIGHT);
    }
  }
  let ss = 0;
  for (let j = 0; j < dim; j++) ss += out[j] * out[j];
  if (ss > 0) {
    const inv = 1 / Math.sqrt(ss);
    for (let j = 0; j < dim; j++) out[j] *= inv;
  } else {
    // No word at all (empty or punctuation only): a fixed unit vector keeps rows unit-norm.
    out[0] = 1;
  }
}

export function createHashEmbedder(dim = DEFAULT_HASH_DIM): Embedder {
  if (!Number.isInteger(dim) || dim < 2 || dim > 1 << 20) throw new Error(`hash embedder dimension must be an integer in [2, 1048576], got ${dim}`);
  return {
    id: hashEmbedderId(dim),
    dimension: dim,
    async embed(texts, onProgress) {
      const out = new Float32Array(texts.length * dim);
      for (let i = 0; i < texts.length; i++) {
        hashEmbedInto(texts[i], dim, out.subarray(i * dim, (i + 1) * dim));
        if (onProgress && (i % 256 === 255 || i === texts.length - 1)) onProgress(i + 1, texts.length);
      }
      return out;
    },
    async close() {},
  };
}

export function hashEmbedderId(dim: number): string {
  return `hash-v${HASH_EMBEDDER_VERSION}:${dim}`;
}

