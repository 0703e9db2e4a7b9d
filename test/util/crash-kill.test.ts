/**
 * `routekit eval` and `routekit run` killed (SIGKILL, through the ROUTEKIT_CRASH_AT hook of
 * src/util/atomic.ts) at each write point their output passes: the output folder then holds the
 * complete old result or the complete new one (byte-identical results.json, report.md and plots,
 * the same file list), a routekit reader (readResults, loadRouter) completes a swap killed between
 * its renames, and the next run removes the killed runs' staging leftovers.
 *
 * Each kill is one CLI process, so the runs chain: every killed run replaces the result a previous
 * run left (alternating between two outputs A and B that differ), and is itself the "next run" that
 * must clean up after the previous kill.
 */
import { describe, expect, it, beforeAll } from "vitest";
import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { synthesize } from "../../src/data/synth/index.js";
import { selectRows } from "../../src/data/table.js";
import { writeOutcomeTable } from "../../src/data/arrow-io.js";
import { readResults } from "../../src/report/results.js";
import { loadRouter } from "../../src/routers/artifact.js";
import { CLI } from "../helpers/cli.js";

interface Spawned {
  code: number | null;
  signal: NodeJS.Signals | null;
  pid: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, pid: child.pid!, stdout, stderr }));
  });
}

/** Every file under dir, relative path -> bytes (run.json and router files carry timings: listed, not compared). */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const rel = join(e.parentPath, e.name).slice(dir.length + 1);
    const compared = rel === "results.json" || rel === "report.md" || rel.startsWith("plots/");
    out.set(rel, compared ? (await readFile(join(dir, rel))).toString("base64") : "");
  }
  return out;
}

/** The write points a successful run passes, from ROUTEKIT_CRASH_TRACE. */
function tracePoints(stderr: string): string[] {
  return [...stderr.matchAll(/^routekit-crash-point (\S+)$/gm)].map((m) => m[1]);
}

/** Which of the expected results the folder holds in full, or a description of what is wrong. */
function which(snap: Map<string, string>, refs: Record<string, Map<string, string>>): string {
  for (const [name, ref] of Object.entries(refs)) {
    if (snap.size === ref.size && [...ref].every(([k, v]) => snap.get(k) === v)) return name;
  }
  return `neither: ${[...snap.keys()].sort().join(", ")}`;
}

/** Leftovers of writers of `out` in its parent folder, with the pid their name carries. */
async function leftovers(out: string): Promise<{ name: string; pid: number }[]> {
  const prefix = `.${basename(out)}.tmp-`;
  return (await readdir(dirname(out)))
    .filter((f) => f.startsWith(prefix))
    .map((name) => ({ name, pid: Number(/^(?:new|old|swap)-(\d+)-/.exec(name.slice(prefix.length))?.[1]) }));
}

/**
 * Kill a run writing `out` at each point in turn. `args(x)` is the command writing result x
 * ("A" or "B"); `read` is a routekit reader of the folder (it must complete an interrupted swap).
 */
async function killAtEachPoint(
  out: string,
  args: (x: "A" | "B") => string[],
  read: (out: string) => Promise<unknown>,
): Promise<{ points: string[]; outcomes: string[] }> {
  // References: A written fresh, then B replacing it (that run's trace lists the replace path's points).
  const a = await cli(args("A"));
  expect(a.stderr).toBe("");
  expect(a.code).toBe(0);
  const refs: Record<string, Map<string, string>> = { A: await snapshot(out) };
  const b = await cli(args("B"), { ROUTEKIT_CRASH_TRACE: "1" });
  expect(b.code, b.stderr.replace(/^routekit-crash-point .*\n/gm, "")).toBe(0);
  refs.B = await snapshot(out);
  expect(which(refs.B, { A: refs.A })).not.toBe("A");
  const traced = tracePoints(b.stderr);
  // Every point of the outer writer's swap is passed, plus points while filling the folder.
  for (const p of ["dir:staged", "dir:synced", "dir:journaled", "dir:old-moved", "dir:new-moved", "dir:journal-removed"]) {
    expect(traced.some((t) => t.startsWith(`${p}#`))).toBe(true);
  }
  expect(traced.indexOf("report:plot#1")).toBeGreaterThan(-1);
  // Each point name's first occurrence, and the last (outer) writer's staged/synced points.
  const points = [...new Set([...traced.filter((t) => t.endsWith("#1")), ...traced.filter((t) => t.startsWith("dir:sta") || t.startsWith("dir:syn")).slice(-2)])];

  let current: "A" | "B" = "B";
  let previousPid: number | null = null;
  const outcomes: string[] = [];
  for (const point of points) {
    const next = current === "A" ? "B" : "A";
    const killed = await cli(args(next), { ROUTEKIT_CRASH_AT: point });
    expect(killed.signal, `${point}: ${killed.stderr}`).toBe("SIGKILL");
    // Between the two renames the path is missing; a routekit reader puts the complete folder back.
    if (!existsSync(out)) {
      expect(point).toBe("dir:old-moved#1");
      await read(out);
    }
    const state = which(await snapshot(out), refs);
    expect([current, next], `killed at ${point}: ${state}`).toContain(state);
    outcomes.push(`${point}: ${current} -> ${state}`);
    current = state as "A" | "B";
    // This run started as the next run after the previous kill: that kill's leftovers are gone.
    const left = await leftovers(out);
    expect(left.filter((l) => l.pid !== killed.pid), point).toEqual([]);
    previousPid = killed.pid;
  }
  expect(previousPid).not.toBeNull();
  // A final run completes and leaves nothing behind.
  const last = current === "A" ? "B" : "A";
  const done = await cli(args(last));
  expect(done.code, done.stderr).toBe(0);
  expect(which(await snapshot(out), refs)).toBe(last);
  expect(await leftovers(out)).toEqual([]);
  return { points, outcomes };
}

let root: string;
let table: string;
let cache: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "rk-crash-"));
  cache = join(root, "cache");
  table = join(root, "t.arrow");
  const full = synthesize({ prompts: 300, seed: 5 });
  const keep = new Set(["mmlu", "hellaswag"]);
  await writeOutcomeTable(table, selectRows(full, full.datasets.flatMap((d, i) => (keep.has(d) ? [i] : []))));
});

describe("killed at each write point, the old or the new result is intact", () => {
  it.concurrent("eval (A: both datasets, B: one dataset, so a stale plot would show)", async () => {
    const out = join(root, "eval-out");
    const { points, outcomes } = await killAtEachPoint(
      out,
      (x) => ["eval", table, "--routers", "linear", "--embedder", "hash:32", "--bootstrap", "20", "--cache-dir", join(cache, "eval"), "--out", out, "--json", ...(x === "B" ? ["--dataset", "mmlu"] : [])],
      (o) => readResults(join(o, "results.json")),
    );
    expect(points).toContain("report:plot#1");
    // Some kills leave the old result and some the new one: both cases are exercised.
    expect(outcomes.some((o) => o.startsWith("dir:staged") && /: (A -> A|B -> B)$/.test(o))).toBe(true);
    expect(outcomes.some((o) => o.startsWith("dir:journal-removed") && /: (A -> B|B -> A)$/.test(o))).toBe(true);
  }, 300_000);

  // A and B differ in the seed only, so both pass the same points (one saved router each).
  it.concurrent("run (A: seed 1, B: seed 2; a router saved inside the folder)", async () => {
    const out = join(root, "run-out");
    const config = async (x: "A" | "B") => {
      const path = join(root, `run-${x}.yaml`);
      await writeFile(path, `name: crash\nseed: ${x === "A" ? 1 : 2}\ndata:\n  table: ${table}\n  datasets: [mmlu]\nsplits:\n  - kind: in-distribution\nembedder:\n  spec: hash:32\nrouters:\n  - type: linear\nevaluation:\n  bootstrap: 20\n`);
      return path;
    };
    const paths = { A: await config("A"), B: await config("B") };
    const { points } = await killAtEachPoint(
      out,
      (x) => ["run", paths[x], "--out", out, "--cache-dir", join(cache, "run"), "--quiet", "--json"],
      (o) => loadRouter(join(o, "routers", "mmlu", "linear")),
    );
    // The saved router's own writer inside the staging folder is killed too.
    expect(points.filter((p) => p.startsWith("dir:staged")).length).toBe(2);
  }, 300_000);

});
