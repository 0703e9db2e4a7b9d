/**
 * Calls that fail: 429 (with Retry-After, honoured), 500, dropped connections and timeouts are
 * retried until answered; a 400 is not retried and its cell is recorded as failed (missing in
 * the table, never 0) and called again by the next run; a cell that keeps failing gives up after
 * maxAttempts; an answer without usage gets estimated token counts, marked so.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeOpenAI } from "../../bench/fake-openai.js";
import type { CallRecord } from "../../src/collect/journal.js";
import { runCollect } from "../../src/workflow/collect.js";
import { retryAfterMs } from "../../src/upstream/call.js";
import { KEY_ENV, MODELS, startArithmeticFake, writeCollectFile, writePrompts } from "./fixtures.js";

let dir = "";
let fake: FakeOpenAI;
let prompts = "";
let config = "";
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rk-collect-retry-"));
  fake = await startArithmeticFake({ usage: (model, _body, answer) => (model === "weak" ? null : { prompt_tokens: 12, completion_tokens: answer.length, total_tokens: 12 + answer.length }) });
  prompts = await writePrompts(dir, 4);
  config = await writeCollectFile(dir, fake.baseUrl, "limits: { concurrency: 2 }");
});
afterAll(async () => {
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  for (const m of MODELS) fake.set(m, { kind: "ok" });
});

const out = () => join(dir, `t${++n}.arrow`);
const journalOf = async (p: string) => (await readFile(p, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as CallRecord);

describe("collect: retries", () => {
  it("429 with Retry-After: retried after the wait it asks for, and the endpoint pauses", async () => {
    fake.set("medium", { kind: "status", status: 429, retryAfter: "1", times: 2 });
    const before = fake.count("medium");
    const t0 = Date.now();
    const r = await runCollect({ config, prompts, out: out(), env: KEY_ENV });
    expect(r.report).toMatchObject({ missing: 0, called: 12 });
    expect(fake.statusCount("medium", 429)).toBe(2);
    expect(fake.count("medium") - before).toBe(4);
    // baseDelayMs is 5 ms: only Retry-After explains a second's wait
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    const retried = (await journalOf(r.journal)).filter((j) => j.model === "medium" && j.attempts > 1);
    expect(retried.length).toBeGreaterThan(0);
  });

  it("500s, dropped connections and timeouts are retried until answered", async () => {
    fake.set("strong", { kind: "status", status: 500, times: 3 });
    fake.set("medium", { kind: "drop", times: 2 });
    fake.set("weak", { kind: "hang", times: 1 });
    const slowConfig = await writeCollectFile(dir, fake.baseUrl, "limits: { concurrency: 2 }", "slow.yaml", "timeoutSeconds: 0.5");
    const r = await runCollect({ config: slowConfig, prompts, out: out(), env: KEY_ENV });
    expect(r.report).toMatchObject({ missing: 0, called: 12, failures: [] });
    expect(fake.statusCount("strong", 500)).toBe(3);
    const j = await journalOf(r.journal);
    expect(j.reduce((a, x) => a + x.attempts, 0)).toBe(12 + 3 + 2 + 1);
  });

  it("a 400 is not retried: the cell is missing with its error, and the next run calls it again", async () => {
    fake.set("strong", { kind: "status", status: 400, message: "bad request here", times: 1 });
    const o = out();
    const r = await runCollect({ config, prompts, out: o, env: KEY_ENV });
    expect(r.report.missing).toBe(1);
    expect(r.report.failures).toEqual([expect.objectContaining({ model: "strong", stage: "call", error: expect.stringMatching(/answered 400: bad request here/) })]);
    expect(fake.statusCount("strong", 400)).toBe(1);
    const failed = (await journalOf(r.journal)).find((x) => !x.ok)!;
    expect(failed.attempts).toBe(1);
    expect(Number.isNaN(r.table.scores[r.table.ids.indexOf(failed.prompt) * 3])).toBe(true);
    expect(Number.isNaN(r.table.costs[r.table.ids.indexOf(failed.prompt) * 3])).toBe(true);
    const again = await runCollect({ config, prompts, out: o, env: KEY_ENV });
    expect(again.report).toMatchObject({ called: 1, resumed: 11, missing: 0 });
  });

  it("a cell that keeps failing gives up after maxAttempts", async () => {
    fake.set("weak", { kind: "status", status: 503 });
    const r = await runCollect({ config, prompts, out: out(), env: KEY_ENV });
    expect(r.report.missing).toBe(4);
    expect(r.report.failures.map((f) => f.error)).toEqual(Array(4).fill(expect.stringMatching(/answered 503.*\(after 5 attempts\)/)));
  });

  it("with a spend cap, attempts that time out or drop count at their worst case (they may have been billed)", async () => {
    fake.set("medium", { kind: "drop", times: 2 });
    const r = await runCollect({ config, prompts, out: out(), env: KEY_ENV, maxSpend: 1 });
    expect(r.report.missing).toBe(0);
    const j = (await journalOf(r.journal)) as (CallRecord & { ok: true })[];
    const unconfirmed = j.reduce((a, x) => a + x.unconfirmedCost, 0);
    expect(unconfirmed).toBeGreaterThan(0);
    expect(j.filter((x) => x.unconfirmedCost > 0).every((x) => x.model === "medium" && x.attempts > 1)).toBe(true);
    expect(r.report.modelSpent).toBeCloseTo(j.reduce((a, x) => a + x.cost, 0) + unconfirmed, 12);
  });

  it("Retry-After in seconds or as an HTTP date", () => {
    expect(retryAfterMs("3")).toBe(3000);
    expect(retryAfterMs("0.5")).toBe(500);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs("soon")).toBeNull();
    expect(retryAfterMs(null)).toBeNull();
  });

  it("token counts come from usage, and are estimated (and marked) when the answer has none", async () => {
    const r = await runCollect({ config, prompts, out: out(), env: KEY_ENV });
    expect(r.report.estimatedTokens).toBe(4);
    const j = (await journalOf(r.journal)) as (CallRecord & { ok: true })[];
    const weak = j.filter((x) => x.model === "weak");
    const strong = j.filter((x) => x.model === "strong");
    expect(weak.every((x) => x.estimated && x.outputTokens === Math.ceil(x.response.length / 4))).toBe(true);
    expect(strong.every((x) => !x.estimated && x.inputTokens === 12 && x.outputTokens === x.response.length)).toBe(true);
    expect(r.table.inputTokens![2]).toBeGreaterThan(0);
  });
});
