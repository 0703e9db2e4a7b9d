/**
 * Crash-consistent output: files and whole folders that readers see either complete and old or
 * complete and new, never half written, whatever moment the process is killed at.
 *
 * ## Folders (writeDirAtomic): a journaled swap, not a symlink flip
 * A folder is built in a hidden staging sibling, every file and folder in it is fsynced, and then
 * it is renamed into place. rename() cannot replace a non-empty directory, and Node has no
 * renameat2(RENAME_EXCHANGE), so replacing an existing folder takes two renames (old -> backup,
 * staging -> out) with an instant between them where the path is missing. Two ways close it:
 * - a symlink flip (out is a symlink to a versioned folder; renaming a new symlink over it is
 *   atomic). We do not use it: `--out` would stop being a plain folder (cp -r, zip, tar and scp
 *   copy a dangling link, `rm -r out` leaves the hidden versions behind, committed router folders
 *   such as models/example-* would turn into links in git, Windows needs privileges), and an
 *   existing plain folder still cannot be turned into a link without the same gap.
 * - a journal (what we do): before the first rename, an empty marker `.<name>.tmp-swap-<token>`
 *   is created and fsynced next to the folder. It says "the new folder `.<name>.tmp-new-<token>`
 *   is complete and durable; the old one is at `.<name>.tmp-old-<token>` or still in place".
 *   So at every instant either `out` is a complete folder (old or new) or a journal names where
 *   the complete old and new folders are. Every routekit reader of an output folder
 *   (recoverDir: readManifest/loadRouter, readResults) and every next writer first completes an
 *   interrupted swap of a dead writer (rolling forward to the new folder, or back to the old one
 *   if the new is gone) before reading, and waits out the few milliseconds of a live writer's swap.
 * Outcome tables and other single files (writeFileAtomic) are one rename of a file over a file,
 * which POSIX makes atomic, so they never have a missing moment (readOutcomeTable needs nothing).
 *
 * ## Leftovers
 * Staging, backup and journal names carry the writer's pid, a tag of its host and a random token:
 * `.<name>.tmp-<new|old|swap>-<pid>-<host8>-<hex8>`. A writer touches its staging folder every
 * minute. The next writer of the same path removes leftovers whose writer is dead (same host, pid
 * gone) or silent for an hour (another host, a frozen process, a reused pid); a concurrent live
 * writer's staging is left alone. The `.tmp-` infix keeps them under .gitignore's `*.tmp-*`.
 *
 * ## Test hook: ROUTEKIT_CRASH_AT
 * For tests only: `ROUTEKIT_CRASH_AT=<point>` (or `<point>#<n>`, the n-th time it is reached,
 * 1-based) makes the process SIGKILL itself at that write point, as a crash or `kill -9` would;
 * `ROUTEKIT_CRASH_TRACE=1` prints each point reached to stderr (`routekit-crash-point <point>#<n>`)
 * so a test can list them. Points: file:staged (a file written beside its target, not yet
 * renamed), report:plot (a plot written into a folder being filled), dir:staged (a folder's
 * contents written), dir:synced (fsynced), dir:journaled, dir:old-moved (the path is missing
 * here), dir:new-moved, dir:journal-removed (the old copy not yet deleted).
 */
import { lstat, mkdir, open, readdir, rename, rm, stat, utimes, writeFile, realpath, type FileHandle } from "node:fs/promises";
import { dirname, basename, join, resolve, sep } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { InputError } from "./errors.js";
import { pidAlive } from "./process.js";

// ---------------------------------------------------------------------------------------------
// Test hook

const crashCounts = new Map<string, number>();

/** A named write point: the test hook can kill the process here (see the module comment). */
export function crashPoint(name: string): void {
  const at = process.env.ROUTEKIT_CRASH_AT;
  const trace = process.env.ROUTEKIT_CRASH_TRACE;
  if (!at && !trace) return;
  const n = (crashCounts.get(name) ?? 0) + 1;
  crashCounts.set(name, n);
  if (trace) process.stderr.write(`routekit-crash-point ${name}#${n}\n`);
  if (at && (at === name ? n === 1 : at === `${name}#${n}`)) {
    process.kill(process.pid, "SIGKILL");
    process.exit(137); // not reached: SIGKILL cannot be caught
  }
}

// ---------------------------------------------------------------------------------------------
// Names of staging, backup and journal entries

type Kind = "new" | "old" | "swap";
const HOST_TAG = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);
/** A writer refreshes its staging folder's mtime this often; one untouched for STALE_MS is stale. */
const HEARTBEAT_MS = 60_000;
const STALE_MS = 60 * 60_000;
const TOKEN_RE = /^(new|old|swap)-(\d+)-([0-9a-f]{8})-([0-9a-f]{8})$/;
/** Staging names of routekit before the journal (`.<name>.tmp-<pid>-<hex8>`), cleaned up too. */
const LEGACY_RE = /^(\d+)-([0-9a-f]{8})$/;

function newToken(): string {
  return `${process.pid}-${HOST_TAG}-${randomBytes(4).toString("hex")}`;
}

function sibling(path: string, kind: Kind, token: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${kind}-${token}`);
}

/** A sibling path for staging, so the final rename stays on one filesystem (and so is atomic). */
export function stagingPath(finalPath: string): string {
  return sibling(finalPath, "new", newToken());
}

interface Leftover {
  name: string;
  kind: Kind;
  pid: number;
  host: string | null;
  token: string;
}

async function leftoversOf(path: string): Promise<Leftover[]> {
  const prefix = `.${basename(path)}.tmp-`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  const out: Leftover[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const rest = name.slice(prefix.length);
    const m = TOKEN_RE.exec(rest);
    if (m) out.push({ name, kind: m[1] as Kind, pid: Number(m[2]), host: m[3], token: `${m[2]}-${m[3]}-${m[4]}` });
    else if (LEGACY_RE.test(rest)) out.push({ name, kind: "new", pid: Number(LEGACY_RE.exec(rest)![1]), host: null, token: rest });
  }
  return out;
}

/** Is the writer that owns this entry gone? Dead pid on this host, or no heartbeat for STALE_MS. */
async function ownerGone(parent: string, l: Leftover): Promise<boolean> {
  if (l.pid === process.pid && (l.host === HOST_TAG || l.host === null)) return false;
  if ((l.host === HOST_TAG || l.host === null) && !pidAlive(l.pid)) return true;
  const st = await lstat(join(parent, l.name)).catch(() => null);
  return !st || Date.now() - st.mtimeMs > STALE_MS;
}

async function exists(p: string): Promise<boolean> {
  return (await lstat(p).catch(() => null)) !== null;
}

// ---------------------------------------------------------------------------------------------
// Durability

async function fsyncPath(p: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(p, "r");
    await fh.sync();
  } catch (err) {
    // Directories cannot be opened or fsynced on some platforms (Windows): nothing more to do there.
    const code = (err as NodeJS.ErrnoException).code;
    if (!(code === "EISDIR" || code === "EPERM" || code === "EINVAL" || code === "EBADF")) throw err;
  } finally {
    await fh?.close();
  }
}

/** fsync every file and folder under `dir`, then `dir` itself. */
async function fsyncTree(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await fsyncTree(p);
    else if (e.isFile()) await fsyncPath(p);
  }
  await fsyncPath(dir);
}

// ---------------------------------------------------------------------------------------------
// Output path checks

export interface OutputOptions {
  /** How messages name the path: the option it came from. Default "--out". */
  label?: string;
  /** Paths this command reads. The output may not be one of them, nor (for a folder) contain one. */
  inputs?: readonly (string | undefined | null)[];
}

export interface OutputDirOptions extends OutputOptions {
  /**
   * The file every output of this kind holds at its top (results.json, router.json). An existing
   * non-empty folder without it is refused: replacing it would delete files routekit did not write.
   */
  marker?: string;
}

/** The real path of p, following links of its nearest existing ancestor when p does not exist. */
async function realish(p: string): Promise<string> {
  const abs = resolve(p);
  const tail: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return join(await realpath(cur), ...tail.reverse());
    } catch {
      const up = dirname(cur);
      if (up === cur) return abs;
      tail.push(basename(cur));
      cur = up;
    }
  }
}

function within(child: string, parent: string): boolean {
  const p = parent.endsWith(sep) ? parent : parent + sep;
  return child.startsWith(p);
}

/** The first existing ancestor of p (not p itself) that is not a directory, if any. */
async function fileAncestor(p: string): Promise<string | null> {
  let cur = dirname(resolve(p));
  for (;;) {
    const st = await stat(cur).catch(() => null);
    if (st) return st.isDirectory() ? null : cur;
    const up = dirname(cur);
    if (up === cur) return null;
    cur = up;
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a).catch(() => null), stat(b).catch(() => null)]);
  return !!sa && !!sb && sa.dev === sb.dev && sa.ino === sb.ino;
}

function refuse(label: string, message: string): InputError {
  return new InputError(`${label}: ${message}`);
}

async function checkInputs(out: string, label: string, inputs: OutputOptions["inputs"], folder: boolean): Promise<void> {
  const realOut = await realish(out);
  for (const input of inputs ?? []) {
    if (input === undefined || input === null || input === "") continue;
    const realIn = await realish(input);
    if (realIn === realOut || (await sameFile(out, input))) {
      throw refuse(label, `${out} is also an input of this command (${input}); write the output somewhere else`);
    }
    if (folder && within(realIn, realOut)) throw refuse(label, `${out} contains the input ${input}; replacing that folder would delete it`);
  }
  if (folder) {
    const cwd = await realish(process.cwd());
    if (cwd === realOut || within(cwd, realOut)) throw refuse(label, `${out} is or contains the current directory; give a folder below it`);
  }
}

/**
 * Check a folder output before any work: not a file, not under a file, not an input nor holding
 * one, and if it exists, empty or an earlier output of the same kind (which is then replaced whole).
 */
export async function checkOutputDir(out: string, opts: OutputDirOptions = {}): Promise<void> {
  const label = opts.label ?? "--out";
  if (out.trim() === "") throw refuse(label, "empty path");
  const blocker = await fileAncestor(out);
  if (blocker) throw refuse(label, `${blocker} is a file, so ${out} cannot be a folder`);
  await recoverDir(out);
  const st = await stat(out).catch(() => null);
  if (st && !st.isDirectory()) throw refuse(label, `${out} is a file, not a directory`);
  await checkInputs(out, label, opts.inputs, true);
  if (st && opts.marker) {
    const entries = await readdir(out).catch((err: NodeJS.ErrnoException) => {
      throw refuse(label, `cannot read ${out}: ${errnoText(err)}`);
    });
    if (entries.length > 0 && !entries.includes(opts.marker)) {
      throw refuse(label, `${out} is a folder with other content (no ${opts.marker}); routekit replaces the whole output folder, so give a new or empty one`);
    }
  }
}

/** Check a file output before any work: not a folder, not under a file, not one of the inputs. */
export async function checkOutputFile(out: string, opts: OutputOptions = {}): Promise<void> {
  const label = opts.label ?? "--out";
  if (out.trim() === "") throw refuse(label, "empty path");
  const blocker = await fileAncestor(out);
  if (blocker) throw refuse(label, `${blocker} is a file, so ${out} cannot be created`);
  const st = await stat(out).catch(() => null);
  if (st?.isDirectory()) throw refuse(label, `${out} is a directory, not a file`);
  await checkInputs(out, label, opts.inputs, false);
}

function errnoText(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOSPC":
      return "no space left on the device";
    case "EROFS":
      return "read-only file system";
    case "EDQUOT":
      return "disk quota exceeded";
    case "ENAMETOOLONG":
      return "name too long";
    case "EISDIR":
      return "is a directory";
    // mkdir -p through a file says EEXIST: the same mistake as ENOTDIR.
    case "ENOTDIR":
    case "EEXIST":
      return "a part of the path is a file, not a directory";
    default:
      return err.code ?? err.message;
  }
}

/**
 * An errno failure while writing `out`, as one line naming `out` (and the option it came from),
 * never the staging path the raw message would name.
 */
function outputError(err: unknown, out: string, label: string | undefined): unknown {
  if (err instanceof InputError) return err;
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code !== "string") return err;
  return label ? refuse(label, `cannot write ${out}: ${errnoText(e)}`) : new InputError(`cannot write: ${errnoText(e)}`, { file: out });
}

// ---------------------------------------------------------------------------------------------
// Files

/** Write a file so that readers see either the old content or the whole new one, never a part. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: { label?: string } = {}): Promise<void> {
  await writeFileAtomicWith(path, (fh) => fh.writeFile(data), opts);
}

/**
 * writeFileAtomic for output written piece by piece (an export of a large table): `fill` writes
 * the staging file through its handle; it is then fsynced and renamed over `path`.
 */
export async function writeFileAtomicWith(path: string, fill: (fh: FileHandle) => Promise<void>, opts: { label?: string } = {}): Promise<void> {
  const label = opts.label;
  const tmp = stagingPath(path);
  try {
    await mkdir(dirname(path), { recursive: true });
    await removeLeftovers(path);
    const fh = await open(tmp, "w");
    try {
      await fill(fh);
      await fh.sync();
    } finally {
      await fh.close();
    }
    crashPoint("file:staged");
    await rename(tmp, path);
    await fsyncPath(dirname(path));
  } catch (err) {
    // The cleanup's own failure (a path through a file: ENOTDIR) must not hide the cause.
    await rm(tmp, { force: true }).catch(() => {});
    throw outputError(err, path, label);
  }
}

// ---------------------------------------------------------------------------------------------
// Folders

/** Remove staging, backup and journal leftovers of `path` whose writer is gone; never a live writer's. */
async function removeLeftovers(path: string): Promise<void> {
  const parent = dirname(path);
  const all = await leftoversOf(path);
  const journaled = new Set(all.filter((l) => l.kind === "swap").map((l) => l.token));
  for (const l of all) {
    // Entries of an interrupted swap are recoverDir's: it resolves the journal first.
    if (journaled.has(l.token)) continue;
    if (await ownerGone(parent, l)) await rm(join(parent, l.name), { recursive: true, force: true });
  }
}

/**
 * Complete a swap interrupted by a crash, so that `path` holds a complete folder again: roll
 * forward to the new folder if it is still there, else back to the old one; then drop the
 * journal and the other copy. A live writer's swap is waited for (it takes milliseconds), never
 * touched. A missing path's ancestors are recovered first. Called by readers of output folders
 * and by every writer before it writes.
 */
export async function recoverDir(path: string): Promise<void> {
  const parent = dirname(path);
  // A missing path may sit in a folder whose own swap was interrupted (a router inside runs/<name>).
  if (parent !== path && !(await exists(path))) await recoverDir(parent);
  for (let attempt = 0; ; attempt++) {
    const journals = (await leftoversOf(path)).filter((l) => l.kind === "swap");
    if (journals.length === 0) return;
    let waiting = false;
    for (const j of journals) {
      if (!(await ownerGone(parent, j))) {
        waiting ||= !(await exists(path));
        continue;
      }
      const fresh = sibling(path, "new", j.token);
      const old = sibling(path, "old", j.token);
      if (!(await exists(path))) {
        // Either may fail if another process recovers at the same moment; the check below decides.
        if (await exists(fresh)) await rename(fresh, path).catch(() => {});
        else if (await exists(old)) await rename(old, path).catch(() => {});
        if (!(await exists(path))) continue; // nothing left to restore from: leave the journal for inspection
        await fsyncPath(parent);
      }
      await rm(sibling(path, "swap", j.token), { force: true });
      await fsyncPath(parent);
      await rm(fresh, { recursive: true, force: true });
      await rm(old, { recursive: true, force: true });
    }
    // A live writer is between its two renames: give it a moment (bounded), then read what is there.
    if (!waiting || attempt >= 200) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Build a folder in a staging place and put it at `path` only when `fill` succeeded, replacing
 * the whole previous folder (nothing of an earlier output survives beside the new one). A failure
 * leaves the previous folder untouched and removes the staging copy; a crash at any moment leaves
 * the previous or the new folder complete (see the module comment). Errors name `opts.label`.
 */
export async function writeDirAtomic(outPath: string, fill: (stagingDir: string) => Promise<void>, opts: OutputDirOptions = {}): Promise<void> {
  const label = opts.label ?? "--out";
  await checkOutputDir(outPath, opts);
  // An output that is a link to a folder: replace the folder it points to and keep the link.
  let path = outPath;
  if ((await lstat(outPath).catch(() => null))?.isSymbolicLink()) {
    path = await realpath(outPath).catch(() => {
      throw refuse(label, `${outPath} is a symbolic link to nothing`);
    });
  }
  await removeLeftovers(path);
  const token = newToken();
  const tmp = sibling(path, "new", token);
  try {
    await mkdir(dirname(path), { recursive: true });
    await mkdir(tmp);
  } catch (err) {
    throw outputError(err, outPath, label);
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(tmp, now, now).catch(() => {});
  }, HEARTBEAT_MS);
  heartbeat.unref();
  try {
    try {
      await fill(tmp);
      crashPoint("dir:staged");
      await fsyncTree(tmp);
      crashPoint("dir:synced");
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    await publish(path, tmp, token).catch(async (err: unknown) => {
      await rm(tmp, { recursive: true, force: true });
      throw outputError(err, outPath, label);
    });
  } finally {
    clearInterval(heartbeat);
  }
}

async function publish(path: string, tmp: string, token: string): Promise<void> {
  const parent = dirname(path);
  const existing = await lstat(path).catch(() => null);
  if (!existing) {
    await rename(tmp, path);
    await fsyncPath(parent);
    return;
  }
  if (!existing.isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
  const journal = sibling(path, "swap", token);
  const backup = sibling(path, "old", token);
  await writeFile(journal, "");
  await fsyncPath(journal);
  await fsyncPath(parent);
  crashPoint("dir:journaled");
  try {
    await rename(path, backup);
  } catch (err) {
    await rm(journal, { force: true });
    throw err;
  }
  crashPoint("dir:old-moved");
  try {
    await rename(tmp, path);
  } catch (err) {
    await rename(backup, path);
    await rm(journal, { force: true });
    throw err;
  }
  await fsyncPath(parent);
  crashPoint("dir:new-moved");
  // The new folder is in place: what follows is tidying, and a failure there is not the
  // command's (a journal or backup left behind is removed by the next reader or writer).
  try {
    await rm(journal, { force: true });
    await fsyncPath(parent);
    crashPoint("dir:journal-removed");
    await rm(backup, { recursive: true, force: true });
  } catch {
    // see above
  }
}
