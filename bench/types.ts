/** A benchmark reports a markdown section; the runner records it in BENCHMARKS.md. */
export interface Bench {
  /** Short name, used to select it: `npm run bench -- <name>`. */
  readonly name: string;
  readonly title: string;
  /** Runs the measurement; returns markdown (tables, notes). Progress goes to stderr. */
  run(): Promise<string>;
}
