/**
 * The seeded fuzz harness's cases: valid files of every input format routekit reads (outcome
 * tables, RouterBench/long-form CSV, JSON Lines, Parquet and pickles, YAML and JSON experiment
 * configs, router.json manifests), mutated by bit flips, byte edits, truncations, splices and
 * edits of 32/64-bit length fields, and each parsed by the function routekit reads it with.
 *
 * A case passes when the parse succeeds or throws one InputError whose message is one line.
 * Anything else fails it: another error type (a TypeError or RangeError is a crash), a
 * multi-line message, or a damaged outcome table that loads with content unlike the original
 * (silent damage). Hangs are caught by the caller (runner.ts), which watches each case.
 *
 * Shared by the test (test/fuzz/, a few thousand cases) and the benchmark (`npm run bench --
 * fuzz`, 20,000+), so both exercise the same cases for a seed.
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tableToIPC } from "apache-arrow";
import { decodeOutcomeTable, outcomeTableDigest, outcomeTableToArrow } from "../../src/data/arrow-io.js";
import { importFiles } from "../../src/data/importers/index.js";
import { synthesize } from "../../src/data/synth/index.js";
import type { OutcomeTable } from "../../src/data/table.js";
import { loadExperiment } from "../../src/experiments/config.js";
import { loadRouter } from "../../src/routers/artifact.js";
import { InputError } from "../../src/util/errors.js";
import { makeRng, type Rng } from "../../src/util/rng.js";

/** The checkout's root: the nearest folder above this module with package.json (works from src and from dist). */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, "package.json")) || !existsSync(join(d, "test", "fixtures"))) {
    const up = dirname(d);
    if (up === d) throw new Error("routekit checkout not found above the fuzz module");
    d = up;
  }
  return d;
}

interface Seed {
  name: string;
  bytes: Uint8Array;
}

export interface FuzzFormat {
  readonly name: string;
  /** Valid files to mutate. */
  seeds(root: string): Promise<Seed[]>;
  /** Parses one input; returns a failure message, or undefined when the outcome is acceptable. */
  check(bytes: Uint8Array, seed: Seed, work: string): Promise<string | undefined>;
}

/** The outcome of one case as the rules above judge it. */
export type Verdict = { kind: "ok" } | { kind: "error"; message: string } | { kind: "failure"; message: string };

async function verdictOf(run: () => Promise<string | undefined>): Promise<Verdict> {
  try {
    const silent = await run();
    return silent ? { kind: "failure", message: silent } : { kind: "ok" };
  } catch (err) {
    if (err instanceof InputError) {
      if (err.message.includes("\n") || err.message.includes("\r")) return { kind: "failure", message: `multi-line InputError: ${JSON.stringify(err.message.slice(0, 300))}` };
      return { kind: "error", message: err.message };
    }
    const e = err as Error;
    return { kind: "failure", message: `crash: ${e?.name ?? typeof err}: ${String(e?.stack ?? err).split("\n").slice(0, 4).join(" | ")}` };
  }
}

/** A small outcome table with every optional column (tokens, responses, NaN cells), as bytes. */
function tableSeed(name: string, t: OutcomeTable): Seed {
  return { name, bytes: tableToIPC(outcomeTableToArrow(t), "file") };
}

function withExtras(t: OutcomeTable): OutcomeTable {
  const scores = t.scores.slice();
  scores[1] = NaN;
  return { ...t, scores, responses: Array.from(t.scores, (_, k) => (k % 5 === 0 ? null : `answer ${k} ‘ü’`)) };
}

const digests = new Map<string, string>();

const outcomeTable: FuzzFormat = {
  name: "outcome-table",
  async seeds() {
    return [tableSeed("synth-12.arrow", synthesize({ prompts: 12, seed: 3 })), tableSeed("synth-6-responses.arrow", withExtras(synthesize({ prompts: 6, seed: 4, models: ["gpt-4-1106-preview", "mistralai/mistral-7b-chat", "meta/llama-2-70b-chat"] })))];
  },
  async check(bytes, seed) {
    let want = digests.get(seed.name);
    if (!want) digests.set(seed.name, (want = outcomeTableDigest(decodeOutcomeTable(seed.bytes, seed.name))));
    const t = decodeOutcomeTable(bytes, seed.name);
    // The checksum is over the decoded content, so equal digests mean an equal table.
    return outcomeTableDigest(t) === want ? undefined : "silent damage: a mutated table loaded with content unlike the original";
  },
};

const PRICES = { small: { input: 0.2, output: 0.4 }, "big/one": { input: 10, output: 30 } };

function importFormat(name: string, files: string[], ext: string): FuzzFormat {
  return {
    name,
    async seeds(root) {
      return Promise.all(files.map(async (f) => ({ name: f, bytes: new Uint8Array(await readFile(join(root, "test/fixtures/data", f))) })));
    },
    async check(bytes, _seed, work) {
      const file = join(work, `case.${ext}`);
      await writeFile(file, bytes);
      // The long-form fixtures give token counts, priced with the fixtures' price table.
      await importFiles([file], { prices: PRICES });
      return undefined;
    },
  };
}

const configs: FuzzFormat = {
  name: "config",
  async seeds(root) {
    const out: Seed[] = [];
    for (const f of ["default.yaml", "routerbench-subset.yaml"]) {
      const text = await readFile(join(root, "experiments", f), "utf8");
      out.push({ name: f, bytes: new TextEncoder().encode(text) });
    }
    const json = JSON.stringify((await loadExperiment(join(root, "experiments", "default.yaml"))), null, 2);
    out.push({ name: "default.json", bytes: new TextEncoder().encode(json) });
    return out;
  },
  async check(bytes, seed, work) {
    const file = join(work, seed.name.endsWith(".json") ? "case.json" : "case.yaml");
    await writeFile(file, bytes);
    await loadExperiment(file);
    return undefined;
  },
};

const manifest: FuzzFormat = {
  name: "router-manifest",
  async seeds(root) {
    return [{ name: "example-linear", bytes: new Uint8Array(await readFile(join(root, "models/example-linear/router.json"))) }];
  },
  async check(bytes, _seed, work) {
    const dir = join(work, "router");
    await writeFile(join(dir, "router.json"), bytes);
    await loadRouter(dir);
    return undefined;
  },
};

export const FUZZ_FORMATS: readonly FuzzFormat[] = [
  outcomeTable,
  importFormat("csv", ["wide.csv", "long.csv"], "csv"),
  importFormat("jsonl", ["wide.jsonl", "long.jsonl"], "jsonl"),
  importFormat("parquet", ["wide.parquet", "long.parquet", "wide-gzip.parquet"], "parquet"),
  importFormat("pickle", ["wide-p2.pkl", "wide-p4.pkl", "wide-p5.pkl", "wide-ext.pkl"], "pkl"),
  configs,
  manifest,
];

// ---- Mutations --------------------------------------------------------------------------

const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x0a, 0x0d, 0x2c, 0x22, 0x27, 0x5b, 0x5d, 0x7b, 0x7d, 0x3a, 0x5c, 0x3b, 0x09, 0x23, 0x2d];
const INTERESTING_INTS = [0, 1, -1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -0x80000000, 0x10000000];

function int(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** One seeded mutation of `b`; returns the new bytes and a description that reproduces it. */
export function mutate(b: Uint8Array, rng: Rng): { bytes: Uint8Array; how: string } {
  const n = b.length;
  const kind = int(rng, 8);
  switch (kind) {
    case 0: {
      const out = b.slice();
      const i = int(rng, n);
      const bit = int(rng, 8);
      out[i] ^= 1 << bit;
      return { bytes: out, how: `flip bit ${bit} of byte ${i}` };
    }
    case 1: {
      const out = b.slice();
      const k = 1 + int(rng, 8);
      const at: number[] = [];
      for (let j = 0; j < k; j++) {
        const i = int(rng, n);
        out[i] ^= 1 + int(rng, 255);
        at.push(i);
      }
      return { bytes: out, how: `xor ${k} random bytes at ${at.join(",")}` };
    }
    case 2: {
      const out = b.slice();
      const i = int(rng, n);
      const v = INTERESTING_BYTES[int(rng, INTERESTING_BYTES.length)];
      out[i] = v;
      return { bytes: out, how: `set byte ${i} to 0x${v.toString(16)}` };
    }
    case 3: {
      const len = int(rng, n);
      return { bytes: b.slice(0, len), how: `truncate to ${len} bytes` };
    }
    case 4: {
      // Splice: a chunk of the file copied over another place (duplicated structure).
      const len = 1 + int(rng, Math.min(64, n));
      const from = int(rng, n - len + 1);
      const to = int(rng, n - len + 1);
      const out = b.slice();
      out.set(b.subarray(from, from + len), to);
      return { bytes: out, how: `copy ${len} bytes from ${from} over ${to}` };
    }
    case 5: {
      // Splice: a chunk inserted or deleted, shifting everything after it.
      const len = 1 + int(rng, Math.min(64, n));
      const at = int(rng, n);
      if (rng() < 0.5) {
        const from = int(rng, n - len + 1);
        const out = new Uint8Array(n + len);
        out.set(b.subarray(0, at), 0);
        out.set(b.subarray(from, from + len), at);
        out.set(b.subarray(at), at + len);
        return { bytes: out, how: `insert ${len} bytes from ${from} at ${at}` };
      }
      const end = Math.min(n, at + len);
      const out = new Uint8Array(n - (end - at));
      out.set(b.subarray(0, at), 0);
      out.set(b.subarray(end), at);
      return { bytes: out, how: `delete bytes ${at}..${end - 1}` };
    }
    case 6: {
      // A length or offset field: a 32-bit word set to an interesting value, or nudged.
      const out = b.slice();
      const i = Math.max(0, Math.min(n - 4, int(rng, n) & ~(rng() < 0.7 ? 3 : 0)));
      const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
      if (n < 4) return { bytes: out, how: "too short for a word edit" };
      if (rng() < 0.5) {
        const v = rng() < 0.2 ? n + int(rng, 3) - 1 : INTERESTING_INTS[int(rng, INTERESTING_INTS.length)];
        view.setInt32(i, v, true);
        return { bytes: out, how: `int32 at ${i} := ${v}` };
      }
      const d = (1 + int(rng, 16)) * (rng() < 0.5 ? -1 : 1);
      view.setInt32(i, view.getInt32(i, true) + d, true);
      return { bytes: out, how: `int32 at ${i} += ${d}` };
    }
    default: {
      // A 64-bit length (Arrow's row counts, body and buffer lengths; pickle's 8-byte frames).
      const out = b.slice();
      if (n < 8) return { bytes: out, how: "too short for a word edit" };
      const i = Math.max(0, Math.min(n - 8, int(rng, n) & ~7));
      const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
      const values = [0n, 1n, -1n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 62n, BigInt(n), BigInt(n) * 8n];
      const v = values[int(rng, values.length)];
      view.setBigInt64(i, v, true);
      return { bytes: out, how: `int64 at ${i} := ${v}` };
    }
  }
}

/** Case `k` of a run: which format, seed file and mutation. Pure in (seed, k). */
export function caseOf(seedFiles: Map<string, Seed[]>, formats: readonly FuzzFormat[], seed: number, k: number): { format: FuzzFormat; seed: Seed; bytes: Uint8Array; label: string } {
  const rng = makeRng(`${seed}:${k}`);
  const format = formats[k % formats.length];
  const seeds = seedFiles.get(format.name)!;
  const s = seeds[int(rng, seeds.length)];
  let bytes = s.bytes;
  const hows: string[] = [];
  // Mostly one mutation; sometimes two or three stacked.
  const count = rng() < 0.75 ? 1 : 2 + int(rng, 2);
  for (let j = 0; j < count && bytes.length > 0; j++) {
    const m = mutate(bytes, rng);
    bytes = m.bytes;
    hows.push(m.how);
  }
  return { format, seed: s, bytes, label: `seed ${seed} case ${k}: ${format.name} ${s.name}: ${hows.join("; ")}` };
}

/** A tiny outcome table (2 prompts x 2 models, every optional column) for exhaustive flips. */
export function tinyTableBytes(): Uint8Array {
  const t = withExtras(synthesize({ prompts: 2, seed: 7, models: ["gpt-4-1106-preview", "mistralai/mistral-7b-chat"] }));
  return tableSeed("tiny.arrow", t).bytes;
}

/**
 * Exhaustive mode, case `k`: byte k of the tiny table XORed with a seeded non-zero value. Every
 * byte of the file is damaged once, so no field of the format escapes.
 */
export function flipCase(seed: number, k: number, tiny: Uint8Array): { format: FuzzFormat; seed: Seed; bytes: Uint8Array; label: string } {
  const x = 1 + int(makeRng(`${seed}:flip:${k}`), 255);
  const bytes = tiny.slice();
  bytes[k] ^= x;
  return { format: outcomeTable, seed: { name: "tiny.arrow", bytes: tiny }, bytes, label: `seed ${seed} flip ${k}: outcome-table tiny.arrow: byte ${k} ^ 0x${x.toString(16)}` };
}

export interface FuzzWorkspace {
  work: string;
  seedFiles: Map<string, Seed[]>;
}

/** Loads the seed files and prepares a scratch folder (with a copy of the example router). */
export async function prepare(work: string, formats: readonly FuzzFormat[]): Promise<FuzzWorkspace> {
  const root = repoRoot();
  await rm(work, { recursive: true, force: true });
  await mkdir(join(work, "router"), { recursive: true });
  const example = join(root, "models/example-linear");
  for (const f of await readdir(example)) await copyFile(join(example, f), join(work, "router", f));
  const seedFiles = new Map<string, Seed[]>();
  for (const f of formats) seedFiles.set(f.name, await f.seeds(root));
  // Every seed must itself be accepted, or the harness tests nothing.
  for (const f of formats) {
    for (const s of seedFiles.get(f.name)!) {
      const v = await verdictOf(() => f.check(s.bytes, s, work));
      if (v.kind !== "ok") throw new Error(`fuzz seed ${f.name} ${s.name} is not accepted: ${v.message}`);
    }
  }
  return { work, seedFiles };
}

export async function runCase(ws: FuzzWorkspace, formats: readonly FuzzFormat[], seed: number, k: number, tiny?: Uint8Array): Promise<{ label: string; format: string; verdict: Verdict }> {
  const c = tiny ? flipCase(seed, k, tiny) : caseOf(ws.seedFiles, formats, seed, k);
  const verdict = await verdictOf(() => c.format.check(c.bytes, c.seed, ws.work));
  return { label: c.label, format: c.format.name, verdict };
}

export function formatsNamed(names?: readonly string[]): FuzzFormat[] {
  if (!names || names.length === 0) return FUZZ_FORMATS.slice();
  return names.map((n) => {
    const f = FUZZ_FORMATS.find((x) => x.name === n);
    if (!f) throw new Error(`unknown fuzz format ${n}`);
    return f;
  });
}
