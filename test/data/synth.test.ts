import { describe, expect, it } from "vitest";
import { mkdtemp, readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tableToIPC } from "apache-arrow";
import { outcomeTableToArrow, readOutcomeTable } from "../../src/data/arrow-io.js";
import { datasetOfEval, selectRows, validateTable, type OutcomeTable } from "../../src/data/table.js";
import {
  DEFAULT_SYNTH_OPTIONS, FACTS, PRICES, ROUTERBENCH_MODELS, benchmarkWeights, summarizeSynth, synthesize, synthesizeWithLatents,
} from "../../src/data/synth/index.js";
import { familyCounts } from "../../src/data/synth/index.js";
import { FAMILY_SHARES, type ModelName } from "../../src/data/synth/calibration.js";
import { runCli } from "../helpers/cli.js";

const DEFAULT_FILE = fileURLToPath(new URL("../../data/default.arrow", import.meta.url));
const bytesOf = (t: OutcomeTable) => tableToIPC(outcomeTableToArrow(t), "file");

/** Stated tolerances (also in data/README.md). */
const SCORE_TOL = 0.03;
const COST_REL_TOL = 0.02;

const deflt = synthesizeWithLatents(DEFAULT_SYNTH_OPTIONS);
const T = deflt.table;

describe("synth: determinism", () => {
  it("the same seed gives a byte-identical Arrow file; another seed gives other data", () => {
    const a = bytesOf(synthesize({ prompts: 300, seed: 5 }));
    const b = bytesOf(synthesize({ prompts: 300, seed: 5 }));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const c = synthesize({ prompts: 300, seed: 6 });
    const d = synthesize({ prompts: 300, seed: 5 });
    expect(Buffer.from(bytesOf(c)).equals(Buffer.from(a))).toBe(false);
    expect(c.texts).not.toEqual(d.texts);
    expect(Array.from(c.scores)).not.toEqual(Array.from(d.scores));
  });

  it("a model subset gives exactly those models' columns of the full table", () => {
    const full = synthesize({ prompts: 200, seed: 9 });
    const picked = ["mistralai/mistral-7b-chat", "gpt-4-1106-preview"];
    const sub = synthesize({ prompts: 200, seed: 9, models: picked });
    expect(sub.models).toEqual(picked);
    expect(sub.texts).toEqual(full.texts);
    for (let i = 0; i < 200; i++) {
      picked.forEach((name, j) => {
        const k = full.models.indexOf(name);
        expect(sub.scores[i * 2 + j]).toBe(full.scores[i * 11 + k]);
        expect(sub.costs[i * 2 + j]).toBe(full.costs[i * 11 + k]);
      });
    }
  });

  it("rejects bad options with a clear error", () => {
    expect(() => synthesize({ prompts: 0, seed: 1 })).toThrow(/prompts/);
    expect(() => synthesize({ prompts: 10, seed: 1, models: ["gpt-5"] })).toThrow(/unknown model "gpt-5"/);
  });
});

describe("synth: shape", () => {
  it("has the requested prompts, the 11 RouterBench models by their column names, and valid invariants", () => {
    expect(T.ids.length).toBe(2000);
    expect(T.models).toEqual([...ROUTERBENCH_MODELS]);
    expect(T.models).toContain("zero-one-ai/Yi-34B-Chat");
    validateTable(T);
    expect(new Set(T.ids).size).toBe(T.ids.length);
    T.ids.forEach((id, i) => expect(id.startsWith(`${T.evals[i]}.synth.`)).toBe(true));
    T.evals.forEach((e, i) => expect(T.datasets[i]).toBe(datasetOfEval(e)));
    expect(synthesize({ prompts: 37, seed: 2 }).ids.length).toBe(37);
    // Larger tables too (seed 1 at 4,000 prompts once hit a numeric item whose answer is 0).
    const big = synthesize({ prompts: 6000, seed: 1 });
    expect(big.ids.length).toBe(6000);
    expect(new Set(big.ids).size).toBe(6000);
  });

  it("has the 8 families in the stated proportions, and MMLU split into subject evals", () => {
    const counts = summarizeSynth(T).datasets;
    const expected = familyCounts(2000);
    expect(counts).toEqual(expected);
    for (const [d, share] of Object.entries(FAMILY_SHARES)) expect(Math.abs(counts[d] / 2000 - share)).toBeLessThan(0.001);
    expect(Object.keys(counts).sort()).toEqual(["arc-challenge", "grade-school-math", "hellaswag", "mbpp", "mmlu", "mt-bench", "rag-qa", "winogrande"]);
    const subjects = new Set(T.evals.filter((e) => e.startsWith("mmlu-")));
    expect(subjects.size).toBeGreaterThanOrEqual(15);
    expect(subjects).toContain("mmlu-high-school-physics");
  });

  it("scores lie in each family's valid set, and costs are tokens x the facts-page prices", () => {
    const m = T.models.length;
    let partial = 0;
    for (let i = 0; i < T.ids.length; i++) {
      for (let j = 0; j < m; j++) {
        const s = T.scores[i * m + j];
        const d = T.datasets[i];
        if (d === "grade-school-math") {
          expect(Number.isInteger(s * 4)).toBe(true);
          if (s > 0 && s < 1) partial++;
        } else if (d === "mt-bench") {
          expect(Math.abs(s * 10 - Math.round(s * 10))).toBeLessThan(1e-9);
          expect(s).toBeGreaterThanOrEqual(0.1);
        } else {
          expect(s === 0 || s === 1).toBe(true);
        }
        const inTok = T.inputTokens![i * m + j];
        const outTok = T.outputTokens![i * m + j];
        expect(Number.isInteger(inTok) && inTok > 0 && Number.isInteger(outTok) && outTok > 0).toBe(true);
        const p = PRICES[T.models[j] as ModelName];
        expect(T.costs[i * m + j]).toBeCloseTo((inTok * p.input + outTok * p.output) / 1e6, 15);
      }
    }
    expect(partial).toBeGreaterThan(0);
  });

  it("shapes the text by topic and difficulty: harder prompts are longer within a family", () => {
    const { table, latents } = deflt;
    for (const d of ["mmlu", "grade-school-math", "hellaswag"]) {
      const len = (lvl: number) => {
        const xs = table.texts.filter((_, i) => table.datasets[i] === d && latents.levels[i] === lvl).map((t) => t.length);
        return xs.reduce((a, b) => a + b, 0) / xs.length;
      };
      expect(len(3)).toBeGreaterThan(len(0) * 1.15);
    }
    const physics = table.texts.filter((_, i) => table.evals[i] === "mmlu-high-school-physics");
    expect(physics.every((t) => t.includes("high school physics"))).toBe(true);
  });
});

describe("synth: calibration to the facts page", () => {
  for (const seed of [DEFAULT_SYNTH_OPTIONS.seed, 1, 2]) {
    it(`seed ${seed}: RouterBench-weighted per-model means are within ${SCORE_TOL} (score) and ${COST_REL_TOL * 100}% (cost)`, () => {
      const t = seed === DEFAULT_SYNTH_OPTIONS.seed ? T : synthesize({ prompts: 2000, seed });
      for (const m of summarizeSynth(t).models) {
        const f = FACTS[m.name as ModelName];
        expect(Math.abs(m.weightedMeanScore - f.score), m.name).toBeLessThan(SCORE_TOL);
        expect(Math.abs(m.weightedMeanCost / f.cost - 1), m.name).toBeLessThan(COST_REL_TOL);
      }
    });
  }

  it("keeps the published ranking's ends and per-dataset pattern", () => {
    const s = summarizeSynth(T);
    const byScore = s.models.slice().sort((a, b) => b.weightedMeanScore - a.weightedMeanScore).map((m) => m.name);
    expect(byScore[0]).toBe("gpt-4-1106-preview");
    expect(byScore[byScore.length - 1]).toBe("meta/code-llama-instruct-34b-chat");
    const mean = (d: string, model: string) => {
      const j = T.models.indexOf(model);
      const rows = T.datasets.flatMap((x, i) => (x === d ? [i] : []));
      return rows.reduce((a, i) => a + T.scores[i * T.models.length + j], 0) / rows.length;
    };
    // GPT-4 leads GSM8K; code-llama does far better on code than on MCQ; Yi is strong on HellaSwag.
    for (const m of T.models) if (m !== "gpt-4-1106-preview") expect(mean("grade-school-math", "gpt-4-1106-preview")).toBeGreaterThan(mean("grade-school-math", m));
    expect(mean("mbpp", "meta/code-llama-instruct-34b-chat")).toBeGreaterThan(mean("mmlu", "meta/code-llama-instruct-34b-chat") + 0.15);
    expect(mean("hellaswag", "zero-one-ai/Yi-34B-Chat")).toBeGreaterThan(mean("hellaswag", "gpt-3.5-turbo-1106") + 0.1);
    // The oracle rarely needs GPT-4 and mostly picks the cheapest models (facts page).
    const share = Object.fromEntries(s.models.map((m) => [m.name, m.oracleShare]));
    expect(share["gpt-4-1106-preview"]).toBeLessThan(0.05);
    expect(share["mistralai/mistral-7b-chat"] + share["WizardLM/WizardLM-13B-V1.2"]).toBeGreaterThan(0.35);
  });

  it("benchmark weights give each dataset its RouterBench row share", () => {
    const w = benchmarkWeights(T);
    const mmlu = T.datasets.reduce((a, d, i) => a + (d === "mmlu" ? w[i] : 0), 0);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(mmlu).toBeCloseTo(14042 / 36497, 12);
  });
});

describe("synth: the committed default dataset", () => {
  it("data/default.arrow equals what synthesize gives for the default options", async () => {
    expect(existsSync(DEFAULT_FILE)).toBe(true);
    const file = await readFile(DEFAULT_FILE);
    expect(file.length).toBeLessThan(5 * 1024 * 1024);
    const back = await readOutcomeTable(DEFAULT_FILE);
    expect(back.ids).toEqual(T.ids);
    expect(back.texts).toEqual(T.texts);
    expect(back.evals).toEqual(T.evals);
    expect(back.models).toEqual(T.models);
    expect(Array.from(back.scores)).toEqual(Array.from(T.scores));
    expect(Array.from(back.costs)).toEqual(Array.from(T.costs));
    expect(Array.from(back.outputTokens!)).toEqual(Array.from(T.outputTokens!));
    // And byte for byte (regenerate with `routekit synth --out data/default.arrow` if this fails).
    expect(Buffer.from(bytesOf(T)).equals(file)).toBe(true);
  });
});

// ------------------------------------------------------------------ learnable signal

/** Zero router: the non-decreasing upper convex hull of the single models' (cost, quality). */
function zeroRouterQuality(points: [number, number][], cost: number): number {
  const pts = points.slice().sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const hull: [number, number][] = [];
  for (const p of pts) {
    if (hull.length && p[1] <= hull[hull.length - 1][1]) continue; // dearer and no better
    while (hull.length >= 2) {
      const [a, b] = [hull[hull.length - 2], hull[hull.length - 1]];
      if ((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) >= 0) hull.pop();
      else break;
    }
    hull.push(p);
  }
  if (cost < hull[0][0]) return -Infinity;
  for (let k = 1; k < hull.length; k++) {
    const [a, b] = [hull[k - 1], hull[k]];
    if (cost <= b[0]) return a[1] + ((b[1] - a[1]) * (cost - a[0])) / (b[0] - a[0]);
  }
  return hull[hull.length - 1][1];
}

interface Point { cost: number; quality: number }

/** Route by lambda * q - c with q, c = the train half's per-key means; evaluate on the test half. */
function perKeyRouter(t: OutcomeTable, keys: readonly string[], train: number[], test: number[], lambda: number): Point {
  const m = t.models.length;
  const acc = new Map<string, { s: Float64Array; c: Float64Array; k: number }>();
  const all = { s: new Float64Array(m), c: new Float64Array(m), k: 0 };
  for (const i of train) {
    let e = acc.get(keys[i]);
    if (!e) acc.set(keys[i], (e = { s: new Float64Array(m), c: new Float64Array(m), k: 0 }));
    for (const x of [e, all]) {
      for (let j = 0; j < m; j++) {
        x.s[j] += t.scores[i * m + j];
        x.c[j] += t.costs[i * m + j];
      }
      x.k++;
    }
  }
  let q = 0;
  let c = 0;
  for (const i of test) {
    const e = acc.get(keys[i]) ?? all;
    let best = 0;
    let bv = -Infinity;
    for (let j = 0; j < m; j++) {
      const v = (lambda * e.s[j] - e.c[j]) / e.k;
      if (v > bv) [bv, best] = [v, j];
    }
    q += t.scores[i * m + best];
    c += t.costs[i * m + best];
  }
  return { cost: c / test.length, quality: q / test.length };
}

function singles(t: OutcomeTable, rows: number[]): Point[] {
  const m = t.models.length;
  return t.models.map((_, j) => ({
    cost: rows.reduce((a, i) => a + t.costs[i * m + j], 0) / rows.length,
    quality: rows.reduce((a, i) => a + t.scores[i * m + j], 0) / rows.length,
  }));
}

const LAMBDAS = [1e9, 0.1, 0.03, 0.01, 0.003, 0.001];

/** Best vertical distance of a router's points above the Zero router's curve. */
function marginOverZero(router: Point[], single: Point[]): number {
  const pts = single.map((p) => [p.cost, p.quality] as [number, number]);
  return Math.max(...router.map((p) => p.quality - zeroRouterQuality(pts, p.cost)));
}

function halves(n: number): [number[], number[]] {
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < n; i++) (i % 2 ? test : train).push(i);
  return [train, test];
}

describe("synth: prompt-level signal a router can learn", () => {
  it("per-topic oracle-of-means (fit on one half) matches the best single model's quality at a fraction of its cost", () => {
    // GPT-4 is best or tied on most topics (as in RouterBench), so the router matches rather than
    // beats its quality; it does so by sending the topics where cheaper models are as good elsewhere.
    const [train, test] = halves(T.ids.length);
    const single = singles(T, test);
    const best = single.reduce((a, b) => (b.quality > a.quality ? b : a));
    const r = perKeyRouter(T, deflt.latents.topics, train, test, 1e9);
    expect(r.quality).toBeGreaterThanOrEqual(best.quality - 0.01);
    expect(r.cost).toBeLessThan(0.7 * best.cost);
    // Without the signal (topic labels shuffled), the same procedure loses quality or saves nothing.
    const shuffled = deflt.latents.topics.map((_, i, a) => a[(i * 7919 + 13) % a.length]);
    const blind = perKeyRouter(T, shuffled, train, test, 1e9);
    expect(blind.quality < best.quality - 0.02 || blind.cost > 0.85 * best.cost).toBe(true);
  });

  for (const seed of [DEFAULT_SYNTH_OPTIONS.seed, 1, 7]) {
    it(`seed ${seed}: routing by task family and topic lies well above the Zero router; with shuffled topics it does not`, () => {
      const { table, latents } = seed === DEFAULT_SYNTH_OPTIONS.seed ? deflt : synthesizeWithLatents({ prompts: 2000, seed });
      const [train, test] = halves(table.ids.length);
      const single = singles(table, test);
      const routed = LAMBDAS.map((l) => perKeyRouter(table, latents.topics, train, test, l));
      expect(marginOverZero(routed, single)).toBeGreaterThan(0.03);
      // Control: the same router on topic labels that no longer match the prompts (signal removed).
      const shuffled = latents.topics.map((_, i, a) => a[(i * 7919 + 13) % a.length]);
      const blind = LAMBDAS.map((l) => perKeyRouter(table, shuffled, train, test, l));
      expect(marginOverZero(blind, single)).toBeLessThan(0.015);
    });
  }

  it("within one dataset (RouterBench trains per dataset), topics alone lift a router above the Zero router", () => {
    for (const d of ["mmlu", "grade-school-math"]) {
      const rows = T.datasets.flatMap((x, i) => (x === d ? [i] : []));
      const t = selectRows(T, rows);
      const topics = rows.map((i) => deflt.latents.topics[i]);
      const [train, test] = halves(rows.length);
      const single = singles(t, test);
      const margin = marginOverZero(LAMBDAS.map((l) => perKeyRouter(t, topics, train, test, l)), single);
      expect(margin, d).toBeGreaterThan(0.02);
      const shuffled = topics.map((_, i, a) => a[(i * 7919 + 13) % a.length]);
      expect(marginOverZero(LAMBDAS.map((l) => perKeyRouter(t, shuffled, train, test, l)), single), d).toBeLessThan(0.015);
    }
  });

  it("the text alone carries it: a kNN router on hashed word n-grams beats the Zero router", () => {
    const fnv = (s: string) => {
      let h = 2166136261;
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
      return h >>> 0;
    };
    const D = 512;
    const K = 25;
    const embed = (text: string) => {
      const v = new Float64Array(D);
      const w = text.toLowerCase().match(/[a-z0-9_]+/g) ?? [];
      for (let i = 0; i < w.length; i++) {
        v[fnv(w[i]) % D] += 1;
        if (i) v[fnv(`${w[i - 1]} ${w[i]}`) % D] += 1;
      }
      const norm = Math.hypot(...v) || 1;
      return v.map((x) => x / norm);
    };
    const t = T;
    const m = t.models.length;
    const E = t.texts.map(embed);
    const [train, test] = halves(t.ids.length);
    const meanCost = new Float64Array(m);
    for (const i of train) for (let j = 0; j < m; j++) meanCost[j] += t.costs[i * m + j] / train.length;
    const q = test.map((i) => {
      const near = train
        .map((k) => {
          let s = 0;
          for (let d = 0; d < D; d++) s += E[i][d] * E[k][d];
          return [s, k] as const;
        })
        .sort((a, b) => b[0] - a[0])
        .slice(0, K);
      const out = new Float64Array(m);
      for (const [, k] of near) for (let j = 0; j < m; j++) out[j] += t.scores[k * m + j] / K;
      return out;
    });
    const routed = LAMBDAS.map((lambda): Point => {
      let qq = 0;
      let cc = 0;
      test.forEach((i, r) => {
        let best = 0;
        for (let j = 1; j < m; j++) if (lambda * q[r][j] - meanCost[j] > lambda * q[r][best] - meanCost[best]) best = j;
        qq += t.scores[i * m + best];
        cc += t.costs[i * m + best];
      });
      return { cost: cc / test.length, quality: qq / test.length };
    });
    expect(marginOverZero(routed, singles(t, test))).toBeGreaterThan(0.03);
  });
});

describe("routekit synth (CLI)", () => {
  it("writes the table and prints a per-model summary as JSON", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-synth-"));
    const out = join(dir, "s.arrow");
    const r = await runCli(["synth", "--out", out, "--prompts", "120", "--seed", "3", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as { prompts: number; models: { name: string; weightedMeanScore: number }[] };
    expect(json.prompts).toBe(120);
    expect(json.models.map((x) => x.name)).toEqual([...ROUTERBENCH_MODELS]);
    const back = await readOutcomeTable(out);
    expect(Buffer.from(bytesOf(back)).equals(Buffer.from(bytesOf(synthesize({ prompts: 120, seed: 3, latency: true }))))).toBe(true);
    expect(json.models[0].weightedMeanScore).toBeCloseTo(summarizeSynth(back).models[0].weightedMeanScore, 12);
  });

  it("draws the latency columns by default (--no-latency leaves them out) and leaves scores and costs as they were", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-synth-"));
    const out = join(dir, "l.arrow");
    const r = await runCli(["synth", "--out", out, "--prompts", "60", "--seed", "3"]);
    expect(r.code, r.stderr).toBe(0);
    const back = await readOutcomeTable(out);
    const plain = synthesize({ prompts: 60, seed: 3 });
    expect(back.totalLatencyMs?.length).toBe(60 * plain.models.length);
    expect(back.ttftMs?.every((x) => x > 0)).toBe(true);
    expect(Buffer.from(back.scores.buffer).equals(Buffer.from(plain.scores.buffer))).toBe(true);
    expect(Buffer.from(back.costs.buffer).equals(Buffer.from(plain.costs.buffer))).toBe(true);
    const none = join(dir, "none.arrow");
    expect((await runCli(["synth", "--out", none, "--prompts", "60", "--seed", "3", "--no-latency"])).code).toBe(0);
    const bare = await readOutcomeTable(none);
    expect(bare.totalLatencyMs).toBeUndefined();
    expect(Buffer.from(bare.scores.buffer).equals(Buffer.from(plain.scores.buffer))).toBe(true);
  });

  it("regenerates data/default.arrow byte for byte with the default options", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-synth-"));
    const out = join(dir, "default.arrow");
    const r = await runCli(["synth", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/gpt-4-1106-preview/);
    expect((await readFile(out)).equals(await readFile(DEFAULT_FILE))).toBe(true);
  });

  it("fails with one line on bad input", async () => {
    for (const args of [["--prompts", "0"], ["--seed", "x"], ["--models", "gpt-5"]]) {
      const r = await runCli(["synth", "--out", join(tmpdir(), "never.arrow"), ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split("\n")[0]).toMatch(/^routekit: error: .*(prompts|seed|gpt-5)/);
    }
    const help = await runCli(["synth", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--prompts/);
  });
});
