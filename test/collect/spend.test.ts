/**
 * --max-spend holds with calls in flight (their worst case is reserved), stops the run cleanly
 * and leaves the rest missing; a resumed run counts the journal's spend; --dry-run calls nothing
 * and brackets the real cost; progress on stderr shows calls done, spend and the ETA.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeOpenAI } from "../../bench/fake-openai.js";
import type { CallRecord } from "../../src/collect/journal.js";
import { runCollect } from "../../src/workflow/collect.js";
import { runCli } from "../helpers/cli.js";
import { KEY_ENV, MODELS, startArithmeticFake, writeCollectFile, writePrompts } from "./fixtures.js";

let dir = "";
let fake: FakeOpenAI;
let prompts = "";
let config = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rk-collect-spend-"));
  fake = await startArithmeticFake();
  for (const m of MODELS) fake.set(m, { kind: "ok", delayMs: 10 });
  prompts = await writePrompts(dir, 50);
  config = await writeCollectFile(dir, fake.baseUrl, "limits: { concurrency: 8 }");
});
afterAll(async () => {
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

const journalSpend = async (p: string) =>
  (await readFile(p, "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as CallRecord)
    .reduce((a, r) => a + (r.ok ? r.cost : 0) + r.unconfirmedCost, 0);

describe("collect: --max-spend", () => {
  it("with every call costing its worst case and 8 in flight, stops at the cap and never over it", async () => {
    // usage at the bound itself (every byte a token, the template's allowance, max_tokens out):
    // only reserving the worst case of the calls in flight keeps such a run under its cap
    const worstFake = await startArithmeticFake({
      usage: (_m, body) => {
        const msgs = body.messages as { content: string }[];
        const input = msgs.reduce((a, x) => a + Buffer.byteLength(x.content) + 8, 16);
        return { prompt_tokens: input, completion_tokens: 64, total_tokens: input + 64 };
      },
    });
    try {
      for (const m of MODELS) worstFake.set(m, { kind: "ok", delayMs: 20 });
      const worstConfig = await writeCollectFile(dir, worstFake.baseUrl, "limits: { concurrency: 8 }", "worst.yaml");
      const cap = 0.03;
      const r = await runCollect({ config: worstConfig, prompts, out: join(dir, "worst.arrow"), env: KEY_ENV, maxSpend: cap });
      expect(r.report.stoppedBy).toBe("max-spend");
      expect(r.report.modelSpent).toBeLessThanOrEqual(cap);
      // cleanly at the cap: what is left is less than one strong call's worst case (~0.0025)
      expect(r.report.modelSpent).toBeGreaterThan(cap - 0.003);
      expect(await journalSpend(r.journal)).toBeCloseTo(r.report.modelSpent, 12);
    } finally {
      await worstFake.close();
    }
  });

  it("stops cleanly at the cap, never over it, and a resumed run counts what the journal spent", async () => {
    const out = join(dir, "capped.arrow");
    const cap = 0.005;
    const r = await runCollect({ config, prompts, out, env: KEY_ENV, maxSpend: cap });
    expect(r.report.stoppedBy).toBe("max-spend");
    expect(r.report.called).toBeGreaterThan(10);
    expect(r.report.notCalled).toBeGreaterThan(0);
    expect(r.report.missing).toBe(r.report.notCalled);
    expect(r.report.modelSpent).toBeLessThanOrEqual(cap);
    expect(await journalSpend(r.journal)).toBeLessThanOrEqual(cap);
    // the table is written, the cells not called marked missing
    expect(r.table.scores.filter(Number.isNaN)).toHaveLength(r.report.notCalled);

    const answered = fake.answered.length;
    const same = await runCollect({ config, prompts, out, env: KEY_ENV, maxSpend: cap });
    expect(await journalSpend(same.journal)).toBeLessThanOrEqual(cap);
    expect(same.report.stoppedBy).toBe("max-spend");
    const more = await runCollect({ config, prompts, out, env: KEY_ENV, maxSpend: 1 });
    expect(more.report).toMatchObject({ stoppedBy: null, missing: 0 });
    expect(more.report.resumed + more.report.called).toBe(150);
    expect(fake.answered.length - answered).toBe(more.report.called + same.report.called);
  });

  it("a free model among priced ones: the run still stops at the cap (a zero reservation is settled too)", async () => {
    const free = join(dir, "free.yaml");
    await writeFile(free, (await readFile(config, "utf8")).replace("price: { input: 0.1, output: 0.2 }", "price: { input: 0, output: 0 }"));
    fake.set("weak", { kind: "status", status: 400, times: 3 }); // failed free calls: their zero reservations must be settled
    const r = await runCollect({ config: free, prompts, out: join(dir, "free.arrow"), env: KEY_ENV, maxSpend: 0.004 });
    fake.set("weak", { kind: "ok", delayMs: 10 });
    expect(r.report.stoppedBy).toBe("max-spend");
    expect(r.report.failures.filter((f) => f.model === "weak")).toHaveLength(3);
    expect(r.report.modelSpent).toBeLessThanOrEqual(0.004);
  }, 20_000);

  it("a cap of 0 calls nothing", async () => {
    const before = fake.received.length;
    const r = await runCollect({ config, prompts, out: join(dir, "zero.arrow"), env: KEY_ENV, maxSpend: 0 });
    expect(r.report).toMatchObject({ called: 0, notCalled: 150, stoppedBy: "max-spend" });
    expect(fake.received.length).toBe(before);
  });

  it("a cap needs every model's max_tokens (the bound on a call's cost)", async () => {
    const noMax = join(dir, "nomax.yaml");
    await writeFile(noMax, (await readFile(config, "utf8")).replace("options: { max_tokens: 64, temperature: 0 }", "options: { temperature: 0 }"));
    await expect(runCollect({ config: noMax, prompts, out: join(dir, "nomax.arrow"), env: KEY_ENV, maxSpend: 1 })).rejects.toThrow(/nomax\.yaml, field "models\.strong\.options\.max_tokens": a spend cap needs/);
  });
});

describe("collect: --dry-run and progress", () => {
  it("--dry-run prints the calls and a cost range that brackets the real cost, and calls nothing", async () => {
    const out = join(dir, "dry.arrow");
    const before = fake.received.length;
    const d = await runCli(["collect", config, "--prompts", prompts, "--out", out, "--dry-run", "--json"]); // no key needed
    expect(d.code, d.stderr).toBe(0);
    const e = JSON.parse(d.stdout) as { calls: number; done: number; low: number; high: number };
    expect(e).toMatchObject({ calls: 150, done: 0 });
    expect(fake.received.length).toBe(before);
    await expect(stat(`${out}.journal.jsonl`)).rejects.toThrow();
    await expect(stat(out)).rejects.toThrow();
    const text = await runCli(["collect", config, "--prompts", prompts, "--out", out, "--dry-run"]);
    expect(text.stdout).toMatch(/150 calls to make; nothing was called/);
    expect(text.stdout).toMatch(/estimated cost: \$\S+ - \$\S+/);

    const r = await runCli(["collect", config, "--prompts", prompts, "--out", out], { env: KEY_ENV });
    expect(r.code, r.stderr).toBe(0);
    // progress on stderr (not a terminal: a line at the end at least): calls done, spend, ETA
    expect(r.stderr).toMatch(/collect: 150\/150 \(.*ETA \d+s\) \$\d+\.\d{4} spent/);
    const spent = await journalSpend(`${out}.journal.jsonl`);
    expect(spent).toBeGreaterThanOrEqual(e.low);
    expect(spent).toBeLessThanOrEqual(e.high);
    const after = await runCli(["collect", config, "--prompts", prompts, "--out", out, "--dry-run", "--json"]);
    expect(JSON.parse(after.stdout)).toMatchObject({ calls: 0, done: 150 });
  });
});
