/**
 * LLM-as-judge through another endpoint: the rubric filled in and sent to the judge model, its
 * verdict scaled into the table, its cost recorded apart (journal and report, never the table's
 * costs); verdicts are journaled, so a rerun calls nobody, a new rubric calls only the judge, and
 * cells the judge failed on are judged again without calling the models.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeOpenAI, type FakeOpenAI } from "../../bench/fake-openai.js";
import type { JournalRecord } from "../../src/collect/journal.js";
import { runCollect } from "../../src/workflow/collect.js";
import { KEY_ENV, MODELS, promptOf, startArithmeticFake, writeCollectFile, writePrompts } from "./fixtures.js";

let dir = "";
let models: FakeOpenAI;
let judge: FakeOpenAI;
let prompts = "";

/** The judge: 10 when the graded answer's #### number matches the reference's, else 2. */
function verdict(_model: string, body: Record<string, unknown>): string {
  const text = promptOf(body);
  const nums = [...text.matchAll(/#### (\d+)/g)].map((m) => m[1]);
  if (text.includes("BROKEN")) return "I would rather not say.";
  return nums.length === 2 && nums[0] === nums[1] ? "Correct.\nSCORE: 10" : "Off by one.\nSCORE: 2";
}

const judgeScorer = (rubric = "Question: {{prompt}}\\nReference: {{reference}}\\nAnswer: {{response}}\\nEnd with SCORE: <0-10>.") =>
  `scorer:\n  type: judge\n  baseUrl: ${judge.baseUrl}\n  model: grader\n  apiKeyEnv: FAKE_COLLECT_KEY\n  price: { input: 5, output: 15 }\n  options: { max_tokens: 32 }\n  rubric: "${rubric}"`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rk-collect-judge-"));
  models = await startArithmeticFake();
  judge = await startFakeOpenAI({ answer: verdict });
  prompts = await writePrompts(dir, 6);
});
afterAll(async () => {
  await models?.close();
  await judge?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => judge.set("grader", { kind: "ok" }));

const modelCalls = () => MODELS.reduce((a, m) => a + models.count(m), 0);

describe("collect: LLM judge", () => {
  it("scores by the judge's verdict, with the judge's cost apart from the models'", async () => {
    const config = await writeCollectFile(dir, models.baseUrl, judgeScorer(), "judged.yaml");
    const out = join(dir, "judged.arrow");
    const r = await runCollect({ config, prompts, out, env: KEY_ENV, maxSpend: 1 });
    expect(r.report).toMatchObject({ called: 18, missing: 0, failures: [] });
    expect(judge.count("grader")).toBe(18);
    // strong is always right (10/10), weak right on prompts 0 and 3 only
    expect([...r.table.scores.filter((_, k) => k % 3 === 0)]).toEqual(Array(6).fill(1));
    expect([...r.table.scores.filter((_, k) => k % 3 === 2)]).toEqual([1, 0.2, 0.2, 1, 0.2, 0.2]);
    // the judge saw the rubric filled in
    expect(promptOf(judge.received[0].body)).toMatch(/^Question: Question \d+: what is \d+ plus \d+\?\nReference: #### \d+\nAnswer: Let me add/);
    // usage 10 in, 4 out at 5/15 per 1M: 110e-6 a verdict, recorded apart
    expect(r.report.judgeSpent).toBeCloseTo(18 * 110e-6, 12);
    expect(r.report.modelSpent).toBeCloseTo(6 * (220 + 18 + 1.8) * 1e-6, 12);
    expect(r.table.costs[0]).toBeCloseTo(220e-6, 12);
    const journal = (await readFile(r.journal, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as JournalRecord);
    expect(journal.filter((j) => j.kind === "judge")).toHaveLength(18);

    const again = await runCollect({ config, prompts, out, env: KEY_ENV });
    expect(again.report).toMatchObject({ called: 0, missing: 0, judgeSpent: r.report.judgeSpent });
    expect(judge.count("grader")).toBe(18);

    // a new rubric: the judge again, the models not
    const calls = modelCalls();
    const newRubric = await writeCollectFile(dir, models.baseUrl, judgeScorer("Grade it. {{prompt}} / {{reference}} / {{response}}"), "judged.yaml");
    const rejudged = await runCollect({ config: newRubric, prompts, out, env: KEY_ENV });
    expect(rejudged.report).toMatchObject({ called: 0, missing: 0 });
    expect(judge.count("grader")).toBe(36);
    expect(modelCalls()).toBe(calls);
  });

  it("a verdict without a score, or a judge that keeps failing, leaves the cell missing; the next run judges it without calling the models", async () => {
    const config = await writeCollectFile(dir, models.baseUrl, judgeScorer("BROKEN {{response}} {{reference}}"), "broken.yaml");
    const out = join(dir, "broken.arrow");
    const r = await runCollect({ config, prompts, out, env: KEY_ENV });
    expect(r.report.missing).toBe(18);
    expect(r.report.failures[0]).toMatchObject({ stage: "judge", error: expect.stringMatching(/the judge's reply has no score/) });
    // the responses and the models' costs are in the table all the same
    expect(r.table.responses!.every((x) => x !== null)).toBe(true);

    const failing = await writeCollectFile(dir, models.baseUrl, judgeScorer(), "failing.yaml");
    const out2 = join(dir, "failing.arrow");
    judge.set("grader", { kind: "status", status: 500 });
    const f = await runCollect({ config: failing, prompts, out: out2, env: KEY_ENV });
    expect(f.report.missing).toBe(18);
    expect(f.report.failures[0]).toMatchObject({ stage: "judge", error: expect.stringMatching(/answered 500.*after 5 attempts/) });
    judge.set("grader", { kind: "ok" });
    const calls = modelCalls();
    const before = judge.count("grader");
    const fixed = await runCollect({ config: failing, prompts, out: out2, env: KEY_ENV });
    expect(fixed.report).toMatchObject({ called: 0, resumed: 18, missing: 0 });
    expect(modelCalls()).toBe(calls);
    expect(judge.count("grader") - before).toBe(18);
  });
});
