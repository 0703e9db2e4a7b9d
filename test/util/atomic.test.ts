/**
 * The output writer (src/util/atomic.ts) in-process: a folder is replaced whole; a swap killed at
 * any state is completed by the next reader or writer; leftovers of dead writers are removed and a
 * live writer's are not; outputs that are inputs, files or folders of other content are refused
 * with one line naming --out. The kill-the-process version is test/util/crash-kill.test.ts.
 */
import { describe, expect, it, beforeEach } from "vitest";
import { lstat, mkdir, mkdtemp, readFile, readdir, writeFile, symlink, utimes } from "node:fs/promises";
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { checkOutputDir, checkOutputFile, recoverDir, writeDirAtomic, writeFileAtomic } from "../../src/util/atomic.js";
import { InputError } from "../../src/util/errors.js";

const HOST = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);
/** The pid of a process that has exited. */
const DEAD = spawnSync(process.execPath, ["-e", ""]).pid!;

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "rk-atomic-"));
});

async function folder(path: string, files: Record<string, string>): Promise<void> {
  await mkdir(path, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(path, name, ".."), { recursive: true });
    await writeFile(join(path, name), text);
  }
}

async function contents(path: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(path, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out[join(e.parentPath, e.name).slice(path.length + 1)] = await readFile(join(e.parentPath, e.name), "utf8");
  }
  return out;
}

const hidden = async () => (await readdir(root)).filter((f) => f.startsWith("."));

/** The one-line InputError a refusal must be. */
async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  const msg = (err as Error).message;
  expect(msg).not.toContain("\n");
  expect(msg).not.toContain(".tmp-");
  return msg;
}

describe("writeDirAtomic", () => {
  it("replaces the whole folder: nothing of the earlier output survives beside the new one", async () => {
    const out = join(root, "report");
    await folder(out, { "results.json": "old", "plots/a.svg": "a", "plots/b.svg": "b", "plots/c.svg": "c" });
    await writeDirAtomic(out, (d) => folder(d, { "results.json": "new", "plots/a.svg": "A" }), { marker: "results.json" });
    expect(await contents(out)).toEqual({ "results.json": "new", "plots/a.svg": "A" });
    expect(await hidden()).toEqual([]);
  });

  it("an output that is a link to a folder replaces the folder and keeps the link", async () => {
    await folder(join(root, "real"), { "results.json": "old", "stale.svg": "x" });
    await symlink(join(root, "real"), join(root, "latest"));
    await writeDirAtomic(join(root, "latest"), (d) => folder(d, { "results.json": "new" }), { marker: "results.json" });
    expect((await lstat(join(root, "latest"))).isSymbolicLink()).toBe(true);
    expect(await contents(join(root, "real"))).toEqual({ "results.json": "new" });
    expect(await hidden()).toEqual([]);
  });

  it("a failing fill leaves the old folder and no staging behind", async () => {
    const out = join(root, "report");
    await folder(out, { "results.json": "old" });
    await expect(writeDirAtomic(out, async (d) => {
      await writeFile(join(d, "results.json"), "half");
      throw new Error("boom");
    })).rejects.toThrow("boom");
    expect(await contents(out)).toEqual({ "results.json": "old" });
    expect(await hidden()).toEqual([]);
  });

  it("removes staging, backup and journal-less leftovers of dead writers, legacy names too, and spares a live writer's", async () => {
    const out = join(root, "runs");
    const dead = [`.runs.tmp-new-${DEAD}-${HOST}-0badf00d`, `.runs.tmp-old-${DEAD}-${HOST}-0badf00e`, `.runs.tmp-${DEAD}-0badf00f`];
    // pid 1 is alive; a silent one (mtime two hours ago) on another host is stale anyway
    const live = `.runs.tmp-new-1-${HOST}-00000001`;
    const silent = `.runs.tmp-new-1-ffffffff-00000002`;
    for (const n of [...dead, live, silent]) await folder(join(root, n), { "results.json": "partial" });
    const past = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(root, silent), past, past);
    // a sibling whose name merely starts the same way is not ours
    await folder(join(root, ".runs.old.tmp-new-1-x"), { f: "x" });
    await writeDirAtomic(out, (d) => folder(d, { "results.json": "new" }));
    expect((await hidden()).sort()).toEqual([".runs.old.tmp-new-1-x", live].sort());
  });
});

describe("recovery of a swap killed between its steps", () => {
  const out = () => join(root, "r");
  const name = (kind: string) => join(root, `.r.tmp-${kind}-${DEAD}-${HOST}-12345678`);

  it("killed after the old folder moved aside: a reader rolls forward to the complete new folder", async () => {
    await folder(name("old"), { "results.json": "old" });
    await folder(name("new"), { "results.json": "new" });
    await writeFile(name("swap"), "");
    expect(existsSync(out())).toBe(false);
    await recoverDir(out());
    expect(await contents(out())).toEqual({ "results.json": "new" });
    expect(await hidden()).toEqual([]);
  });

  it("without the new folder, rolls back to the old one", async () => {
    await folder(name("old"), { "results.json": "old" });
    await writeFile(name("swap"), "");
    await recoverDir(out());
    expect(await contents(out())).toEqual({ "results.json": "old" });
    expect(await hidden()).toEqual([]);
  });

  it("killed before the first rename or after the second: keeps what is in place and drops the rest", async () => {
    await folder(out(), { "results.json": "in place" });
    await folder(name("new"), { "results.json": "new" });
    await folder(name("old"), { "results.json": "old" });
    await writeFile(name("swap"), "");
    await writeDirAtomic(out(), (d) => folder(d, { "results.json": "next" }), { marker: "results.json" });
    expect(await contents(out())).toEqual({ "results.json": "next" });
    expect(await hidden()).toEqual([]);
  });

  it("never touches a live writer's swap", async () => {
    const j = join(root, `.r.tmp-swap-1-${HOST}-12345678`);
    const n = join(root, `.r.tmp-new-1-${HOST}-12345678`);
    await folder(out(), { "results.json": "in place" });
    await folder(n, { "results.json": "new" });
    await writeFile(j, "");
    await recoverDir(out());
    expect(existsSync(j) && existsSync(n)).toBe(true);
    expect(await contents(out())).toEqual({ "results.json": "in place" });
  });
});

describe("output paths", () => {
  it("refuses, in one line naming --out: a file, a path under a file, an input, a folder holding an input, the current directory, a folder of other content", async () => {
    const table = join(root, "t.arrow");
    await writeFile(table, "arrow");
    await folder(join(root, "mine"), { "notes.txt": "keep me" });
    expect(await refusal(checkOutputDir(table, { inputs: [table] }))).toBe(`--out: ${table} is a file, not a directory`);
    expect(await refusal(checkOutputDir(join(table, "x")))).toBe(`--out: ${table} is a file, so ${join(table, "x")} cannot be a folder`);
    expect(await refusal(checkOutputDir(root, { inputs: [table] }))).toMatch(/^--out: .* contains the input .*t\.arrow; replacing that folder would delete it$/);
    expect(await refusal(checkOutputDir(process.cwd()))).toMatch(/^--out: .* is or contains the current directory/);
    expect(await refusal(checkOutputDir(join(root, "mine"), { marker: "results.json" }))).toMatch(/^--out: .*mine is a folder with other content \(no results\.json\)/);
    // the same refusals from the writer itself, with the folder untouched
    await expect(writeDirAtomic(join(root, "mine"), () => Promise.resolve(), { marker: "results.json" })).rejects.toThrow(InputError);
    expect(await contents(join(root, "mine"))).toEqual({ "notes.txt": "keep me" });
    // an empty folder or an earlier output of the same kind is fine
    await mkdir(join(root, "empty"));
    await checkOutputDir(join(root, "empty"), { marker: "results.json" });
  });

  it("a file output: refuses an input (also through a symlink or a hard link's path) and a directory", async () => {
    const csv = join(root, "in.csv");
    await writeFile(csv, "a,b\n");
    await symlink(csv, join(root, "link.csv"));
    expect(await refusal(checkOutputFile(csv, { inputs: [csv] }))).toBe(`--out: ${csv} is also an input of this command (${csv}); write the output somewhere else`);
    expect(await refusal(checkOutputFile(join(root, "link.csv"), { inputs: [csv] }))).toContain("is also an input");
    expect(await refusal(checkOutputFile(root))).toBe(`--out: ${root} is a directory, not a file`);
    expect(await refusal(checkOutputFile(join(csv, "t.arrow")))).toBe(`--out: ${csv} is a file, so ${join(csv, "t.arrow")} cannot be created`);
    await checkOutputFile(join(root, "t.arrow"), { inputs: [csv] });
  });

  it("an errno failure names the output, never the staging path", async () => {
    await mkdir(join(root, "d"));
    await writeFile(join(root, "d", "f"), "x");
    const msg = await refusal(writeFileAtomic(join(root, "d"), "data"));
    expect(msg).toBe(`${join(root, "d")}: cannot write: is a directory`);
    expect(await hidden()).toEqual([]);
  });
});
