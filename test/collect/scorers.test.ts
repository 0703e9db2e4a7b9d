/**
 * Each built-in scorer on the answers it must accept and refuse; the CLI's --scorer strings; a
 * custom scorer from the library (a throw or an out-of-range value leaves the cell missing, its
 * cost kept); changing the scorer rescores the journal without calling again; prompts from CSV.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeOpenAI } from "../../bench/fake-openai.js";
import type { ScorerConfig } from "../../src/collect/config.js";
import type { PromptRow } from "../../src/collect/prompts.js";
import { builtinScorer, choiceLetter, finalNumber, judgePrompt, judgeScore, normalizeAnswer, type CustomScorer } from "../../src/collect/scorers.js";
import { parseScorerOption } from "../../src/cli/collect.js";
import { runCollect } from "../../src/workflow/collect.js";
import { KEY_ENV, startArithmeticFake, writeCollectFile, writePrompts } from "./fixtures.js";

const prompt = (reference: string | null): PromptRow => ({ id: "p", text: "q?", dataset: "d", eval: "d", reference });
const score = (spec: Exclude<ScorerConfig, { type: "judge" }>, response: string, reference: string | null) => builtinScorer(spec)({ prompt: prompt(reference), model: "m", response });

describe("built-in scorers", () => {
  it("exact: the trimmed texts are equal", () => {
    expect(score({ type: "exact" }, " Paris\n", "Paris")).toBe(1);
    expect(score({ type: "exact" }, "paris", "Paris")).toBe(0);
  });

  it("normalized: case, punctuation, articles and spacing do not matter", () => {
    expect(normalizeAnswer("The  Eiffel-Tower!")).toBe("eiffel tower");
    expect(score({ type: "normalized" }, "the Eiffel Tower.", "Eiffel tower")).toBe(1);
    expect(score({ type: "normalized" }, "Big Ben", "Eiffel tower")).toBe(0);
  });

  it("regex: the capture group, normalised, against the reference (or the reference's own match)", () => {
    const spec = { type: "regex" as const, pattern: "Final answer:\\s*(.+)", applyToReference: false };
    expect(score(spec, "thinking...\nFinal answer: The Cat", "cat")).toBe(1);
    expect(score(spec, "no marker here: cat", "cat")).toBe(0);
    expect(score({ ...spec, applyToReference: true }, "Final answer: 12", "blah Final answer: 12")).toBe(1);
  });

  it("numeric: GSM8K's #### answer, else the last number; commas, $ and trailing dots ignored", () => {
    expect(finalNumber("so 3 + 4 = 7\n#### 7")).toBe(7);
    expect(finalNumber("The total is $1,234.50.")).toBe(1234.5);
    expect(finalNumber("-3 degrees")).toBe(-3);
    expect(finalNumber("no digits")).toBeNull();
    const spec = { type: "numeric" as const, tolerance: 1e-6 };
    expect(score(spec, "She pays 18 dollars in all, so the answer is 18.", "Janet ... #### 18")).toBe(1);
    expect(score(spec, "#### 19", "#### 18")).toBe(0);
    expect(score(spec, "I cannot say", "#### 18")).toBe(0);
    expect(() => score(spec, "#### 1", "no number")).toThrow(/reference has no number/);
  });

  it("choice: the letter a reply gives, in its usual forms", () => {
    expect(choiceLetter("The answer is (C).")).toBe("C");
    expect(choiceLetter("Answer: b")).toBe("B");
    expect(choiceLetter("D) because the others are wrong")).toBe("D");
    expect(choiceLetter("I think it is A, or maybe B")).toBe("B");
    expect(choiceLetter("none of them")).toBeNull();
    const spec = { type: "choice" as const, letters: "ABCD" };
    expect(score(spec, "answer is (C)", "C")).toBe(1);
    expect(score(spec, "answer is (C)", "(B)")).toBe(0);
    expect(score(spec, "E", "A")).toBe(0);
  });

  it("the judge's rubric is filled in and its score read and scaled", () => {
    const p = { ...prompt("4"), text: "2+2?" };
    expect(judgePrompt("Q: {{prompt}} A: {{ response }} R: {{reference}}", { prompt: p, model: "m", response: "four" })).toBe("Q: 2+2? A: four R: 4");
    expect(judgeScore("Good answer.\nSCORE: 8", 10, null)).toBe(0.8);
    expect(judgeScore("I give it 3 out of... hmm, 7", 10, null)).toBe(0.7);
    expect(judgeScore("verdict=yes(1)", 1, "\\((\\d)\\)")).toBe(1);
    expect(() => judgeScore("SCORE: 11", 10, null)).toThrow(/outside 0-10/);
    expect(() => judgeScore("no idea", 10, null)).toThrow(/no score/);
  });

  it("a reference-based scorer refuses a prompt without a reference", () => {
    expect(() => score({ type: "exact" }, "x", null)).toThrow(/needs a reference answer/);
  });
});

describe("the library entry point", () => {
  it("exports collect and the scorer type's helpers", async () => {
    const routekit = (await import("../../src/index.js")) as Record<string, unknown>;
    for (const name of ["runCollect", "dryRunCollect", "collectOutcomes", "builtinScorer", "readPrompts", "parseCollectConfig"]) expect(typeof routekit[name], name).toBe("function");
  });
});

describe("--scorer strings", () => {
  it("parse into scorer specs; mistakes name --scorer", () => {
    expect(parseScorerOption("numeric")).toEqual({ type: "numeric", tolerance: 1e-6 });
    expect(parseScorerOption("numeric:tolerance=0.01")).toEqual({ type: "numeric", tolerance: 0.01 });
    expect(parseScorerOption("choice:letters=ABCD")).toEqual({ type: "choice", letters: "ABCD" });
    expect(parseScorerOption("regex:answer: (\\w+)")).toEqual({ type: "regex", pattern: "answer: (\\w+)", applyToReference: false });
    expect(() => parseScorerOption("bleu")).toThrow(/field "--scorer": unknown scorer "bleu"/);
    expect(() => parseScorerOption("judge")).toThrow(/collect file/);
    expect(() => parseScorerOption("regex:(")).toThrow(/not a valid regular expression/);
    expect(() => parseScorerOption("exact:x=1")).toThrow(/takes no parameters/);
  });
});

describe("scorers in a run", () => {
  let dir = "";
  let fake: FakeOpenAI;
  let prompts = "";
  let config = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "rk-collect-score-"));
    fake = await startArithmeticFake();
    prompts = await writePrompts(dir, 6);
    config = await writeCollectFile(dir, fake.baseUrl);
  });
  afterAll(async () => {
    await fake?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a custom scorer scores each answer; a throw or a value outside [0,1] leaves the cell missing, its cost kept", async () => {
    const out = join(dir, "custom.arrow");
    const custom: CustomScorer = async ({ prompt, model, response }) => {
      if (model === "weak" && prompt.id === "q001") throw new Error("cannot grade this one");
      if (model === "weak" && prompt.id === "q002") return 2;
      return response.includes("####") ? 0.5 : 0;
    };
    const r = await runCollect({ config, prompts, out, env: KEY_ENV, scorer: custom });
    expect(r.report.missing).toBe(2);
    expect(r.report.failures).toEqual([
      { prompt: "q001", model: "weak", stage: "score", error: "cannot grade this one" },
      { prompt: "q002", model: "weak", stage: "score", error: "the scorer returned 2, not a number in [0,1]" },
    ]);
    expect(r.table.scores[0]).toBe(0.5);
    expect(Number.isNaN(r.table.scores[1 * 3 + 2])).toBe(true);
    expect(r.table.costs[1 * 3 + 2]).toBeGreaterThan(0);

    // another scorer over the same journal: no call, new scores
    const answered = fake.answered.length;
    const exact = await runCollect({ config, prompts, out, env: KEY_ENV, scorer: { type: "numeric", tolerance: 0 } });
    expect(fake.answered.length).toBe(answered);
    expect(exact.report).toMatchObject({ called: 0, missing: 0 });
    expect(exact.table.scores[0]).toBe(1);
  });

  it("reads prompts from Parquet (a missing dataset falls back to the eval, as in imports)", async () => {
    const r = await runCollect({ config, prompts: "test/collect/fixtures/prompts.parquet", out: join(dir, "pq.arrow"), env: KEY_ENV });
    expect(r.table.ids).toEqual(["pq1", "pq2", "pq3"]);
    expect(r.table.datasets).toEqual(["sums", "sums", "default"]);
    expect([...r.table.scores.filter((_, k) => k % 3 === 0)]).toEqual([1, 1, 1]);
  });

  it("reads prompts from CSV; a scorer that needs references refuses prompts without them", async () => {
    const csv = join(dir, "prompts.csv");
    await writeFile(csv, 'id,text,eval,answer\nc1,"Question 1: what is 37 plus 53?",mmlu-algebra,90\nc2,"Question 2: what is 74 plus 17?",mmlu-algebra,91\n');
    const r = await runCollect({ config, prompts: csv, out: join(dir, "csv.arrow"), env: KEY_ENV });
    expect(r.table.ids).toEqual(["c1", "c2"]);
    expect(r.table.evals).toEqual(["mmlu-algebra", "mmlu-algebra"]);
    expect(r.table.datasets).toEqual(["mmlu", "mmlu"]);
    expect(r.table.scores[0]).toBe(1);
    const noRef = join(dir, "noref.jsonl");
    await writeFile(noRef, '{"text": "hello"}\n');
    await expect(runCollect({ config, prompts: noRef, out: join(dir, "noref.arrow"), env: KEY_ENV })).rejects.toThrow(/numeric scorer needs a reference answer .* prompt "p-[0-9a-f]{16}" has none/);
  });
});
