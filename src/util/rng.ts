import seedrandom from "seedrandom";

/** A seeded uniform [0,1) generator; the same seed gives the same stream on every machine. */
export type Rng = () => number;

export function makeRng(seed: number | string): Rng {
  // alea is seedrandom's fast generator with a well-defined cross-platform stream.
  return seedrandom.alea(String(seed));
}

/** Fisher-Yates shuffle of a copy. */
export function shuffled<T>(items: readonly T[], rng: Rng): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/** Standard normal draw (Box-Muller). */
export function normal(rng: Rng): number {
  let u = 0;
  while (u === 0) u = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}
