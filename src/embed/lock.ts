/**
 * A lock file for one cache key directory, so that concurrent routekit processes embedding the
 * same texts do not each compute them and write their own shards (four concurrent embeds used
 * to leave four copies of every row). The holder computes; the others wait, then find the rows
 * in the cache.
 *
 * The lock is an economy, not a safety device: vectors are a function of the text and the
 * encoder, so two writers that both get in (a lost race on a stale lock, an older routekit)
 * write identical rows, and compaction removes duplicates. That is why the stale-lock takeover
 * below may be imperfect under a simultaneous takeover by two waiters without harm.
 *
 * - Created atomically: the content is written to a private file, then hard-linked to the lock
 *   name (link fails if the name exists), so a lock is never seen half-written.
 * - Holder alive: it touches the file's mtime every `heartbeatMs`.
 * - Stale: its process is gone (same host), or its mtime is older than `staleMs` (a frozen
 *   process or one on another host of a shared cache dir). A stale lock is taken over.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { link, mkdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { pidAlive } from "../util/process.js";

export interface LockInfo {
  pid: number;
  host: string;
  token: string;
  started: string;
}

export interface LockOptions {
  /** A lock untouched this long is stale (default 60 s). */
  staleMs?: number;
  /** How often the holder touches its lock (default 5 s). */
  heartbeatMs?: number;
  /** How often a waiter looks again (default 100 ms). */
  pollMs?: number;
  /** Called once when the lock is held by someone else and we start waiting. */
  onWait?: (holder: LockInfo | null) => void;
}

export interface HeldLock {
  readonly path: string;
  readonly info: LockInfo;
  release(): Promise<void>;
}

const DEFAULTS = { staleMs: 60_000, heartbeatMs: 5_000, pollMs: 100 };

function parseInfo(text: string): LockInfo | null {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid === "number" && typeof v.host === "string" && typeof v.token === "string") return v as LockInfo;
  } catch {
    // fall through
  }
  return null;
}

async function readLock(path: string): Promise<{ info: LockInfo | null; mtimeMs: number } | null> {
  try {
    const [text, st] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    return { info: parseInfo(text), mtimeMs: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

function isStale(l: { info: LockInfo | null; mtimeMs: number }, staleMs: number): boolean {
  if (l.info && l.info.host === hostname() && !pidAlive(l.info.pid)) return true;
  return Date.now() - l.mtimeMs > staleMs;
}

/** Try once: the lock, or null if someone else holds a live one. */
export async function tryLock(path: string, opts: LockOptions = {}): Promise<HeldLock | null> {
  const o = { ...DEFAULTS, ...opts };
  await mkdir(dirname(path), { recursive: true });
  const info: LockInfo = { pid: process.pid, host: hostname(), token: randomBytes(8).toString("hex"), started: new Date().toISOString() };
  const mine = `${path}.${info.token}`;
  await writeFile(mine, `${JSON.stringify(info)}\n`);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(mine, path);
        return held(path, info, o.heartbeatMs);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const cur = await readLock(path);
      if (!cur) continue; // released meanwhile: try again
      if (!isStale(cur, o.staleMs)) return null;
      await takeOver(path, cur.info);
    }
    return null;
  } finally {
    await rm(mine, { force: true });
  }
}

/**
 * Move a stale lock out of the way. Renaming (rather than deleting) lets us check that what we
 * moved is the lock we judged stale; if a concurrent waiter replaced it meanwhile, put theirs back.
 */
async function takeOver(path: string, stale: LockInfo | null): Promise<void> {
  const aside = `${path}.stale-${randomBytes(4).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const moved = parseInfo(await readFile(aside, "utf8").catch(() => ""));
  if (moved && stale && moved.token !== stale.token) {
    await link(aside, path).catch(() => {});
  }
  await rm(aside, { force: true });
}

function held(path: string, info: LockInfo, heartbeatMs: number): HeldLock {
  const beat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, heartbeatMs);
  beat.unref();
  let released = false;
  return {
    path,
    info,
    async release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      // Only remove the lock if it is still ours (a takeover after a long freeze may have replaced it).
      const cur = await readLock(path).catch(() => null);
      if (cur?.info?.token === info.token) await rm(path, { force: true });
    },
  };
}

/** Wait for the lock (polling), taking over a stale one. */
export async function acquireLock(path: string, opts: LockOptions = {}): Promise<HeldLock> {
  const o = { ...DEFAULTS, ...opts };
  let told = false;
  for (;;) {
    const l = await tryLock(path, o);
    if (l) return l;
    if (!told) {
      told = true;
      opts.onWait?.((await readLock(path).catch(() => null))?.info ?? null);
    }
    await new Promise((r) => setTimeout(r, o.pollMs));
  }
}
