/**
 * Kill and resume: the CLI killed (SIGKILL) in the middle of a run, then rerun, makes exactly one
 * successful call per cell (the fake server counts answered calls per prompt and model); a torn
 * last journal line is dropped and its cell called again; a damaged line elsewhere is an error
 * naming the journal and the line.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeOpenAI } from "../../bench/fake-openai.js";
import { readOutcomeTable } from "../../src/data/arrow-io.js";
import { Journal } from "../../src/collect/journal.js";
import { runCollect } from "../../src/workflow/collect.js";
import { CLI, runCli } from "../helpers/cli.js";
import { KEY_ENV, MODELS, promptOf, startArithmeticFake, writeCollectFile, writePrompts } from "./fixtures.js";

let dir = "";
let fake: FakeOpenAI;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rk-collect-resume-"));
  fake = await startArithmeticFake();
});
afterAll(async () => {
  await fake?.close();
  await rm(dir, { recursive: true, force: true });
});

const lines = async (p: string) => (await readFile(p, "utf8").catch(() => "")).split("\n").filter(Boolean).length;

async function until(cond: () => Promise<boolean> | boolean, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("collect: kill and resume", () => {
  it("a run killed half-way and resumed makes exactly one successful call per cell", async () => {
    const prompts = await writePrompts(dir, 200);
    const config = await writeCollectFile(dir, fake.baseUrl, "limits: { concurrency: 6 }");
    const out = join(dir, "killed.arrow");
    const journal = `${out}.journal.jsonl`;
    for (const m of MODELS) fake.set(m, { kind: "ok", delayMs: 5 });
    // After 300 answers the fake holds every further request (in flight, never answered), so the
    // kill lands with calls in flight and every answered call journaled.
    fake.stopAnsweringAfter(300);
    const child = spawn(process.execPath, [CLI, "collect", config, "--prompts", prompts, "--out", out, "--quiet"], { env: { ...process.env, ...KEY_ENV }, stdio: "ignore" });
    const exited = new Promise<number | null>((r) => child.on("close", (code, signal) => r(signal ? -1 : code)));
    await until(async () => fake.answered.length >= 300 && (await lines(journal)) >= 300);
    await new Promise((r) => setTimeout(r, 100)); // the held calls are in flight
    const heldInFlight = fake.received.length - fake.answered.length;
    expect(heldInFlight).toBeGreaterThan(0);
    child.kill("SIGKILL");
    expect(await exited).toBe(-1);
    expect(await lines(journal)).toBe(300);
    await expect(readFile(out)).rejects.toThrow(); // no table: the run never finished
    expect(await readFile(`${journal}.lock`, "utf8")).toMatch(/"pid"/); // the killed run's lock, taken over below

    fake.stopAnsweringAfter(null);
    const r = await runCli(["collect", config, "--prompts", prompts, "--out", out, "--json"], { env: KEY_ENV });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ called: 300, resumed: 300, missing: 0 });
    // exactly one answered call per (prompt, model)
    const perCell = new Map<string, number>();
    for (const q of fake.answered) {
      const k = `${String(q.body.model)}|${promptOf(q.body)}`;
      perCell.set(k, (perCell.get(k) ?? 0) + 1);
    }
    expect(perCell.size).toBe(600);
    expect([...perCell.values()].every((n) => n === 1)).toBe(true);
    const t = await readOutcomeTable(out);
    expect(t.scores.every((s) => s === 0 || s === 1)).toBe(true);
    await expect(readFile(`${journal}.lock`)).rejects.toThrow(); // released
    for (const m of MODELS) fake.set(m, { kind: "ok" });
  }, 180_000);

  it("Ctrl-C (SIGINT) stops starting calls, lets those in flight finish and writes the table", async () => {
    const prompts = await writePrompts(dir, 100, "hundred.jsonl");
    const config = await writeCollectFile(dir, fake.baseUrl, "limits: { concurrency: 4 }", "hundred.yaml");
    const out = join(dir, "interrupted.arrow");
    for (const m of MODELS) fake.set(m, { kind: "ok", delayMs: 30 });
    const answered = fake.answered.length;
    const child = spawn(process.execPath, [CLI, "collect", config, "--prompts", prompts, "--out", out, "--json"], { env: { ...process.env, ...KEY_ENV }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout!.on("data", (d) => (stdout += d));
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    await until(() => fake.answered.length - answered >= 40);
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    const report = JSON.parse(stdout) as { called: number; notCalled: number; missing: number; stoppedBy: string };
    expect(report.stoppedBy).toBe("stop");
    expect(report.notCalled).toBeGreaterThan(0);
    expect(report.missing).toBe(report.notCalled);
    // every call the server answered was journaled: none lost in flight
    expect(fake.answered.length - answered).toBe(report.called);
    expect(await lines(`${out}.journal.jsonl`)).toBe(report.called);
    const t = await readOutcomeTable(out);
    expect(t.scores.filter(Number.isNaN)).toHaveLength(report.notCalled);
    for (const m of MODELS) fake.set(m, { kind: "ok" });
  }, 120_000);

  it("a second run on a journal in use is refused", async () => {
    const journal = join(dir, "busy.jsonl");
    const held = await Journal.open(journal);
    try {
      await expect(Journal.open(journal)).rejects.toThrow(new RegExp(`busy\\.jsonl: another routekit collect \\(pid ${process.pid}\\) is writing this journal`));
    } finally {
      held.close();
    }
    (await Journal.open(journal)).close();
  });

  it("a torn last journal line is dropped and its cell called again", async () => {
    const sub = join(dir, "torn");
    const prompts = await writePrompts(dir, 10, "ten.jsonl");
    const config = await writeCollectFile(dir, fake.baseUrl, "", "ten.yaml");
    const out = join(sub, "t.arrow");
    const first = await runCollect({ config, prompts, out, env: KEY_ENV });
    expect(first.report.called).toBe(30);
    const journal = first.journal;
    const text = await readFile(journal, "utf8");
    const all = text.trim().split("\n");
    // a kill in the middle of writing the last record: the line cut short, no newline
    const last = all.pop()!;
    await writeFile(journal, `${all.join("\n")}\n${last.slice(0, 40)}`);
    const answered = fake.answered.length;
    const r = await runCollect({ config, prompts, out, env: KEY_ENV });
    expect(r.report.tornJournalBytes).toBe(40);
    expect(r.report).toMatchObject({ called: 1, resumed: 29, missing: 0 });
    expect(fake.answered.length - answered).toBe(1);
    // the journal holds whole lines again
    const after = await readFile(journal, "utf8");
    expect(after.endsWith("\n")).toBe(true);
    expect(after.trim().split("\n").every((l) => JSON.parse(l))).toBeTruthy();

    // damage that is not a torn tail names the file and the line
    const lines = after.split("\n");
    lines[4] = "{not json";
    await writeFile(journal, lines.join("\n"));
    await expect(runCollect({ config, prompts, out, env: KEY_ENV })).rejects.toThrow(/t\.arrow\.journal\.jsonl, row 5: damaged journal line/);
  });

  it("a changed request option calls the cells again; the old records stay in the journal", async () => {
    const prompts = await writePrompts(dir, 5, "five.jsonl");
    const config = await writeCollectFile(dir, fake.baseUrl, "", "five.yaml");
    const out = join(dir, "five.arrow");
    expect((await runCollect({ config, prompts, out, env: KEY_ENV })).report.called).toBe(15);
    const changed = await writeCollectFile(dir, fake.baseUrl, "", "five.yaml", "options: { temperature: 0.7 }");
    const r = await runCollect({ config: changed, prompts, out, env: KEY_ENV });
    expect(r.report).toMatchObject({ called: 15, resumed: 0 });
    expect(await lines(r.journal)).toBe(30);
  });
});
