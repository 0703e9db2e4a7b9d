/**
 * `npm run bench -- embed`: prompts/s of each embedder on short (~30 words) and long
 * (~400 words) generated prompts, with one thread and all cores; the cache's hit rate and
 * overhead; and, when ../shared holds the RouterBench subset, `routekit embed` on it with
 * use-lite and use-lite-static (first run, then the cached rerun). use-lite-static's token table
 * is built in a temporary directory, so its one-time build is measured too.
 */
import { existsSync } from "node:fs";
import { SHARED_SUBSET_DIR } from "./shared.js";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Bench } from "./types.js";
import type { Embedder } from "../src/embed/embedder.js";
import { createHashEmbedder } from "../src/embed/hash.js";
import { createUseLiteEmbedder } from "../src/embed/use-lite.js";
import { createHfEmbedder } from "../src/embed/hf.js";
import { createUseLiteStaticEmbedder, loadOrBuildStaticTable } from "../src/embed/use-lite-static.js";
import { embedTable, embedTexts } from "../src/embed/embed-table.js";
import { makeRng } from "../src/util/rng.js";

const VOCAB = (
  "the a of to and in is that for it as was with be by on not he this are or his from at which but have an they you were her " +
  "question answer model compute energy planet river market theory engine function python list number value result reason " +
  "because therefore however student teacher science history chemistry biology physics algebra equation example choose option"
).split(" ");

function generate(n: number, words: number, seed: string): string[] {
  const rng = makeRng(seed);
  return Array.from({ length: n }, (_, i) => {
    const w: string[] = [`Prompt ${i}:`];
    for (let k = 0; k < words; k++) w.push(VOCAB[Math.floor(rng() * VOCAB.length)] + (rng() < 0.08 ? "." : ""));
    return `${w.join(" ")}?`;
  });
}

/** Prompts per second of wall time, and the process's CPU seconds meanwhile (worker threads included: cpuUsage is process-wide). */
async function rate(e: Embedder, texts: string[]): Promise<{ perSecond: number; cpu: number }> {
  await e.embed(texts.slice(0, 2)); // warm-up: model load, kernel compilation
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await e.embed(texts);
  const c = process.cpuUsage(c0);
  return { perSecond: texts.length / ((performance.now() - t0) / 1000), cpu: (c.user + c.system) / 1e6 };
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
/** A table cell: prompts/s, with the CPU seconds that embedding took. */
const cell = (r: { perSecond: number; cpu: number }) => `${fmt(r.perSecond)} (${r.cpu.toFixed(2)} CPU-s)`;
const TINY = fileURLToPath(new URL("../../test/fixtures/embed/models/", import.meta.url));
const SUBSET = SHARED_SUBSET_DIR;

/** use-lite-static's table built from scratch (seconds, CPU seconds), and an embedder over it. */
async function staticEmbedder(dir: string): Promise<{ build: { seconds: number; cpu: number }; embedder: Embedder }> {
  const tablePath = join(dir, "static.rktable");
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await loadOrBuildStaticTable(tablePath);
  const c = process.cpuUsage(c0);
  const build = { seconds: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
  return { build, embedder: await createUseLiteStaticEmbedder({ tablePath }) };
}

async function backendRows(cores: number, staticE: Embedder): Promise<string[]> {
  const short = generate(256, 30, "short");
  const long = generate(64, 400, "long");
  const rows: string[] = [];
  const hash = createHashEmbedder();
  rows.push(`| hash (512) | 1 (in-process) | ${cell(await rate(hash, generate(4000, 30, "hs")))} | ${cell(await rate(hash, generate(1000, 400, "hl")))} |`);
  rows.push(`| use-lite-static (512, token table) | 1 (in-process) | ${cell(await rate(staticE, generate(4000, 30, "ss")))} | ${cell(await rate(staticE, generate(1000, 400, "sl")))} |`);
  for (const threads of [...new Set([1, cores])]) {
    const e = createUseLiteEmbedder({ threads });
    const backend = await e.backend;
    try {
      rows.push(`| use-lite (TF.js ${backend}) | ${threads} | ${cell(await rate(e, short.slice(0, threads * 96)))} | ${cell(await rate(e, long.slice(0, threads * 24)))} |`);
    } finally {
      await e.close();
    }
  }
  if (existsSync(TINY)) {
    for (const threads of [...new Set([1, cores])]) {
      const e = await createHfEmbedder("routekit-test/tiny-bert", { modelDir: TINY, threads });
      try {
        rows.push(`| hf: tiny 8-dim test model (smoke figure only) | ${threads} | ${cell(await rate(e, short))} | ${cell(await rate(e, long))} |`);
      } finally {
        await e.close();
      }
    }
  }
  return rows;
}

async function cacheRows(): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), "routekit-bench-cache-"));
  try {
    const texts = generate(5000, 30, "cache");
    const opts = { spec: "hash:512", cacheDir: dir };
    const cold = await embedTexts(texts, null, opts);
    const warm = await embedTexts(texts, null, opts);
    const half = await embedTexts([...texts.slice(0, 2500), ...generate(2500, 30, "cache-new")], null, opts);
    const perK = (s: { seconds: number; texts: number }) => ((s.seconds / s.texts) * 1000).toFixed(3);
    return [
      `| first run (5,000 new prompts, hash:512) | ${((cold.stats.cacheHits / cold.stats.texts) * 100).toFixed(0)}% | ${cold.stats.seconds.toFixed(2)} | ${perK(cold.stats)} |`,
      `| rerun (all cached) | ${((warm.stats.cacheHits / warm.stats.texts) * 100).toFixed(0)}% | ${warm.stats.seconds.toFixed(2)} | ${perK(warm.stats)} |`,
      `| half new prompts | ${((half.stats.cacheHits / half.stats.texts) * 100).toFixed(0)}% | ${half.stats.seconds.toFixed(2)} | ${perK(half.stats)} |`,
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function routerBenchRows(cores: number, staticE: Embedder): Promise<string[]> {
  if (!existsSync(SUBSET)) return [];
  const { importFiles } = await import("../src/data/importers/index.js");
  const files = (await readdir(SUBSET)).filter((f) => f.endsWith(".csv")).map((f) => join(SUBSET, f));
  const { table } = await importFiles(files);
  const out: string[] = [];
  for (const [label, how] of [
    [`use-lite (${cores} threads)`, { spec: "use-lite", threads: cores }],
    ["use-lite-static (1 thread)", { embedder: staticE }],
  ] as const) {
    const dir = await mkdtemp(join(tmpdir(), "routekit-bench-rb-"));
    try {
      const opts = { ...how, cacheDir: dir, onProgress: (d: number, t: number) => process.stderr.write(`\r  ${label} on RouterBench subset ${d}/${t}   `) };
      const c0 = process.cpuUsage();
      const first = await embedTable(table, opts);
      const c = process.cpuUsage(c0);
      process.stderr.write("\n");
      const again = await embedTable(table, opts);
      const perK = (s: { seconds: number; texts: number }) => ((s.seconds / s.texts) * 1000).toFixed(3);
      out.push(
        `| ${label} | first run | ${first.stats.texts} | ${first.stats.computed} | ${first.stats.seconds.toFixed(2)} | ${((c.user + c.system) / 1e6).toFixed(2)} | ${fmt(first.stats.computed / first.stats.seconds)} | ${perK(first.stats)} |`,
        `| ${label} | rerun (cache) | ${again.stats.texts} | ${again.stats.computed} | ${again.stats.seconds.toFixed(2)} | - | - | ${perK(again.stats)} |`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  return out;
}

export const embedBench: Bench = {
  name: "embed",
  title: "Embedding throughput and cache",
  async run() {
    const cores = availableParallelism();
    const load = loadavg()[0];
    const dir = await mkdtemp(join(tmpdir(), "routekit-bench-static-"));
    let backends: string[], rb: string[], build: { seconds: number; cpu: number };
    try {
      const s = await staticEmbedder(dir);
      build = s.build;
      backends = await backendRows(cores, s.embedder);
      rb = await routerBenchRows(cores, s.embedder);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const cache = await cacheRows();
    return [
      "Prompts per second after warm-up (model load excluded), generated English-like prompts: short = 30 words, long = 400 words. " +
        "use-lite with 1 thread runs in-process; with more it runs one model per worker thread. hash is single-threaded by design. " +
        "The hf row runs a tiny 8-dimensional test model (test/fixtures/embed), so it only shows that the path works and its fixed overhead, not a real model's speed. " +
        `use-lite-static reads a token table built once from use-lite; building it from scratch took ${build.seconds.toFixed(1)} s (${build.cpu.toFixed(1)} CPU-s, one thread) here, before these rows. ` +
        `Load average (1 min) when the bench started: ${load.toFixed(2)} on ${cores} cores (the machine is shared: a load above the core count slows every row).`,
      "",
      "| embedder | threads | short prompts/s (CPU s) | long prompts/s (CPU s) |",
      "|---|---|---|---|",
      ...backends,
      "",
      "Cache (Arrow shards under a temporary cache dir; seconds include preparing and hashing the prompts and assembling the matrix):",
      "",
      "| run | hit rate | seconds | s per 1,000 prompts |",
      "|---|---|---|---|",
      ...cache,
      ...(rb.length
        ? [
            "",
            `\`embedTable\` (empty temporary cache, default preparation: unwrap, strip per-eval shared prefix) on the ../shared RouterBench 5-shot subset (ARC, MBPP, Winogrande):`,
            "",
            "| embedder | run | prompts | computed | seconds | CPU s | computed/s | s per 1,000 prompts |",
            "|---|---|---|---|---|---|---|---|",
            ...rb,
          ]
        : ["", "(../shared RouterBench subset absent: the RouterBench rows were skipped.)"]),
    ].join("\n");
  },
};
