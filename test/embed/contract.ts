import { expect } from "vitest";
import type { Embedder } from "../../src/embed/embedder.js";

export const SAMPLE = [
  "What is the capital of France?",
  "Write a python function to add two numbers.",
  "The cat sat on the mat.",
  "",
  "Ünïcödé and emoji 🎉 are fine too.",
];

export function norms(v: Float32Array, dim: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < v.length / dim; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += v[i * dim + j] ** 2;
    out.push(Math.sqrt(s));
  }
  return out;
}

export function cosine(v: Float32Array, dim: number, a: number, b: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += v[a * dim + j] * v[b * dim + j];
  return s;
}

/** The Embedder contract: shape, unit rows, determinism, independence from batch order. */
export async function checkContract(e: Embedder, texts: string[] = SAMPLE, tol = 1e-5): Promise<void> {
  const a = await e.embed(texts);
  expect(a).toBeInstanceOf(Float32Array);
  expect(a.length).toBe(texts.length * e.dimension);
  for (const n of norms(a, e.dimension)) expect(n).toBeCloseTo(1, 4);
  expect(a.every(Number.isFinite)).toBe(true);
  const again = await e.embed(texts);
  for (let i = 0; i < a.length; i++) expect(Math.abs(again[i] - a[i])).toBeLessThanOrEqual(tol);
  const order = texts.map((_, i) => i).reverse();
  const rev = await e.embed(order.map((i) => texts[i]));
  order.forEach((orig, k) => {
    for (let j = 0; j < e.dimension; j++) expect(Math.abs(rev[k * e.dimension + j] - a[orig * e.dimension + j])).toBeLessThanOrEqual(tol);
  });
  // Single-text batches agree with the batched rows (padding must not leak into the result).
  const one = await e.embed([texts[1]]);
  for (let j = 0; j < e.dimension; j++) expect(Math.abs(one[j] - a[e.dimension + j])).toBeLessThanOrEqual(tol);
  expect(await e.embed([])).toHaveLength(0);
}
