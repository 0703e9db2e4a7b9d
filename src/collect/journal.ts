/**
 * The collect journal: an append-only JSON Lines file, one record per finished call, written and
 * flushed (write + fdatasync) before the next record, so a killed run loses at most the calls in
 * flight. A rerun reads it back and calls only the cells without a successful record.
 *
 * A cell is keyed by (prompt id, model name, request hash); the request hash covers everything
 * sent but the key: the upstream model id, the request options, the system message and the
 * prompt's text. Change any of them and the cell is called again; its old record stays in the
 * file (append-only) and is ignored.
 *
 * Kill-safety: each record is one write of one line. A kill mid-write can leave a partial last
 * line; opening the journal drops such a torn tail (it belonged to a call whose result was never
 * confirmed) and truncates the file to its last whole line before appending. A damaged line
 * anywhere else is an error naming the file and line: it was not made by a kill.
 *
 * One writer at a time: `<journal>.lock` holds the writer's pid and host. A second run on the same
 * journal is refused (it would call the same cells); a lock whose process is gone (same host) is
 * taken over, so a killed run does not block its resume.
 */
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { mkdir } from "node:fs/promises";
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import { InputError } from "../util/errors.js";
import { pidAlive } from "../util/process.js";

export const JOURNAL_VERSION = 1;

/** What a call cost and used. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  /** true when the answer had no `usage` and the counts are estimates (characters / 4). */
  estimated: boolean;
  /** US$ from the prices. */
  cost: number;
}

interface CellKey {
  /** Prompt id. */
  prompt: string;
  /** Model name (the table's column). */
  model: string;
  /** Hash of the request (see the module comment). */
  request: string;
}

export type CallRecord = CellKey & {
  kind: "call";
  v: number;
  at: string;
  attempts: number;
  /** ms from the first attempt's start to the end of the last (retries and waits included). */
  elapsedMs: number;
  /**
   * US$ of attempts that ended in a timeout or a dropped connection, counted at their worst case:
   * the upstream may have billed them without our seeing a usage. Counted against --max-spend.
   */
  unconfirmedCost: number;
} & (
    | ({ ok: true; response: string; /** ms of the successful attempt. */ latencyMs: number } & Usage)
    | { ok: false; error: string }
  );

export type JudgeRecord = CellKey & {
  kind: "judge";
  v: number;
  at: string;
  /** Hash of the judge's setup (endpoint model, options, rubric, scale, pattern). */
  judge: string;
  latencyMs: number;
  unconfirmedCost: number;
} & ({ ok: true; score: number; reply: string } & Usage | { ok: false; error: string; cost: number });

export type JournalRecord = CallRecord | JudgeRecord;

export function cellKey(prompt: string, model: string, request: string): string {
  return `${prompt}\u0000${model}\u0000${request}`;
}

/** A stable hash of a JSON value (object keys sorted). */
export function stableHash(value: unknown): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === "object") return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]));
    return v;
  };
  return createHash("sha256").update(JSON.stringify(canon(value))).digest("hex").slice(0, 16);
}

export interface JournalContents {
  records: JournalRecord[];
  /** Bytes of a torn last line that were dropped (0 when the file ended cleanly). */
  tornBytes: number;
}

function checkRecord(v: unknown): v is JournalRecord {
  if (!v || typeof v !== "object") return false;
  const r = v as Record<string, unknown>;
  return (r.kind === "call" || r.kind === "judge") && typeof r.prompt === "string" && typeof r.model === "string" && typeof r.request === "string" && typeof r.ok === "boolean";
}

function parseJournal(text: string, file: string): JournalContents {
  const records: JournalRecord[] = [];
  const end = text.lastIndexOf("\n") + 1;
  const lines = text.slice(0, end).split("\n");
  lines.pop();
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new InputError("damaged journal line (not JSON, and not a torn last line); move the journal away to start over", { file, row: i + 1 });
    }
    if (!checkRecord(v)) throw new InputError("not a collect journal record", { file, row: i + 1 });
    records.push(v);
  }
  return { records, tornBytes: Buffer.byteLength(text.slice(end)) };
}

/** An open journal: its records so far, and `append` for new ones (each flushed before it returns). */
export class Journal {
  private constructor(
    readonly path: string,
    private fd: number | null,
    readonly contents: JournalContents,
    private readonly sync: boolean,
    private readonly lock: string,
  ) {}

  /**
   * Open (or create) the journal at `path`, read what it holds, and drop a torn last line.
   * `sync: false` skips the fdatasync per record (a process kill still loses nothing written;
   * a power cut may lose the last records).
   */
  static async open(path: string, opts: { sync?: boolean } = {}): Promise<Journal> {
    await mkdir(dirname(path), { recursive: true });
    const lock = takeLock(path);
    let fd: number;
    try {
      fd = openSync(path, "a+");
    } catch (err) {
      releaseLock(lock);
      throw new InputError(`cannot open the journal: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: path });
    }
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    let contents: JournalContents;
    try {
      contents = parseJournal(buf.subarray(0, off).toString("utf8"), path);
    } catch (err) {
      closeSync(fd);
      releaseLock(lock);
      throw err;
    }
    if (contents.tornBytes > 0) {
      ftruncateSync(fd, off - contents.tornBytes);
      fdatasyncSync(fd);
    }
    return new Journal(path, fd, contents, opts.sync ?? true, lock);
  }

  /** Read a journal without changing it (dry runs); a missing file is an empty journal. */
  static async read(path: string): Promise<JournalContents> {
    const { readFile } = await import("node:fs/promises");
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { records: [], tornBytes: 0 };
      throw new InputError(`cannot read the journal: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: path });
    }
    return parseJournal(text, path);
  }

  /** Append one record as one line, flushed to the file (and to disk unless sync is off) before returning. */
  append(record: JournalRecord): void {
    if (this.fd === null) throw new Error("the journal is closed");
    const line = Buffer.from(`${JSON.stringify(record)}\n`, "utf8");
    let off = 0;
    while (off < line.length) off += writeSync(this.fd, line, off, line.length - off);
    if (this.sync) fdatasyncSync(this.fd);
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    releaseLock(this.lock);
  }
}

/** Take `<journal>.lock` (see the module comment); returns its path. */
function takeLock(journal: string): string {
  const lock = `${journal}.lock`;
  const me = JSON.stringify({ pid: process.pid, host: hostname() });
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = openSync(lock, "wx");
      writeSync(fd, me);
      closeSync(fd);
      return lock;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new InputError(`cannot lock the journal: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: lock });
    }
    let holder: { pid?: unknown; host?: unknown } = {};
    try {
      holder = JSON.parse(readFileSync(lock, "utf8")) as typeof holder;
    } catch {
      // empty or half-written: its writer died between create and write
    }
    const pid = typeof holder.pid === "number" ? holder.pid : null;
    if (holder.host !== undefined && holder.host !== hostname()) {
      throw new InputError(`another routekit collect (pid ${String(pid)} on ${String(holder.host)}) holds this journal; if it is gone, remove ${lock}`, { file: journal });
    }
    if (pid !== null && pidAlive(pid)) throw new InputError(`another routekit collect (pid ${pid}) is writing this journal; wait for it to end, or give another --journal`, { file: journal });
    try {
      unlinkSync(lock); // its process is gone: a killed run's lock
    } catch {
      // taken over by another waiter meanwhile: try again
    }
  }
  throw new InputError(`cannot lock the journal: ${lock} keeps coming back`, { file: journal });
}

function releaseLock(lock: string): void {
  try {
    unlinkSync(lock);
  } catch {
    // already gone
  }
}
