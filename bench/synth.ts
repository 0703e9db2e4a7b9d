import type { Bench } from "./types.js";
import { synthesize } from "../src/data/synth/index.js";
import { outcomeTableToArrow } from "../src/data/arrow-io.js";
import { tableToIPC } from "apache-arrow";

/** How fast `routekit synth` makes its tables (the default is 2,000 prompts). */
export const synthBench: Bench = {
  name: "synth",
  title: "Synthetic dataset generator (routekit synth)",
  async run() {
    const rows: string[] = [];
    for (const prompts of [2000, 20000]) {
      const times: number[] = [];
      let bytes = 0;
      for (let rep = 0; rep < 5; rep++) {
        const t0 = performance.now();
        const t = synthesize({ prompts, seed: 42 + rep });
        times.push(performance.now() - t0);
        if (rep === 0) bytes = tableToIPC(outcomeTableToArrow(t), "file").byteLength;
      }
      times.sort((a, b) => a - b);
      rows.push(`| ${prompts} | ${times[2].toFixed(0)} | ${times[0].toFixed(0)} | ${(bytes / 2 ** 20).toFixed(2)} |`);
    }
    return [
      "`synthesize({ prompts, seed })` for the 11 models, 5 runs each (seeds 42..46), Arrow size of the first.",
      "",
      "| prompts | median ms | min ms | Arrow MiB |",
      "|---:|---:|---:|---:|",
      ...rows,
    ].join("\n");
  },
};
