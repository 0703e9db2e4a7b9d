/** Small text-building helpers for the prompt templates (all draws come from the given Rng). */
import type { Rng } from "../../util/rng.js";

export function pick<T>(r: Rng, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)];
}

/** k distinct items (k <= items.length), in random order. */
export function pickDistinct<T>(r: Rng, items: readonly T[], k: number): T[] {
  const pool = items.slice();
  const out: T[] = [];
  for (let i = 0; i < k && pool.length; i++) out.push(pool.splice(Math.floor(r() * pool.length), 1)[0]);
  return out;
}

/** Integer in [lo, hi]. */
export function int(r: Rng, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

export function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Replace `{key}` slots; a slot whose value is an array takes a random element. */
export function fill(r: Rng, template: string, slots: Record<string, string | number | readonly string[]>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const v = slots[key];
    if (v === undefined) return whole;
    return Array.isArray(v) ? pick(r, v as readonly string[]) : String(v);
  });
}

export const LETTERS = ["A", "B", "C", "D", "E"];

/** Options as `A. ...` lines. */
export function lettered(options: readonly string[]): string {
  return options.map((o, i) => `${LETTERS[i]}. ${o}`).join("\n");
}

export const NAMES = [
  "Maria", "James", "Aisha", "Tom", "Priya", "Carlos", "Mei", "Daniel", "Fatima", "Liam", "Sofia", "Noah",
  "Olivia", "Ethan", "Yuki", "Omar", "Grace", "Lucas", "Hannah", "Mateo", "Chloe", "Ben", "Zara", "Felix",
  "Nina", "Samuel", "Ava", "Ravi", "Emma", "Jack", "Leila", "Oscar",
];
