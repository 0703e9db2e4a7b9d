import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Schema, Table, tableToIPC, type Field } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkArrowIpcFile, readArrowIpcGuarded } from "../../src/data/arrow-guard.js";
import { decodeOutcomeTable, OUTCOME_FORMAT, outcomeTableDigest, outcomeTableToArrow, readOutcomeTable, writeOutcomeTable } from "../../src/data/arrow-io.js";
import { importFiles } from "../../src/data/importers/index.js";
import { synthesize } from "../../src/data/synth/index.js";
import { encodeShard, SHARD_MAGIC } from "../../src/embed/cache.js";
import { DEFAULT_PREPARATION } from "../../src/embed/embedder.js";
import { InputError } from "../../src/util/errors.js";
import { CLI } from "../helpers/cli.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DEFAULT = join(ROOT, "data/default.arrow");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rk-arrow-guard-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The CLI in a child process, killed if it runs over `ms`: a hang fails the test instead of hanging it. */
function cliWithin(args: string[], ms: number): Promise<{ code: number | null; stderr: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    let killed = false;
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, ms);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, killed });
    });
  });
}

function flipped(bytes: Uint8Array, at: number, x = 0x10): Uint8Array {
  const b = bytes.slice();
  b[at] ^= x;
  return b;
}

describe("a damaged Arrow file never hangs the reader", () => {
  it("byte 36 of data/default.arrow flipped: `routekit info` ends with one line naming the file (it used to loop for ever)", async () => {
    const path = join(dir, "h.arrow");
    await writeFile(path, flipped(await readFile(DEFAULT), 36));
    // 60 s is a hang detector, not a speed target: the check takes milliseconds.
    const r = await cliWithin(["info", path], 60_000);
    expect(r.killed).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/h\.arrow: damaged or unsupported Arrow file: record batch 1/);
  }, 90_000);

  it("the structural check refuses the offsets that hung apache-arrow in tables and embedding shards (8, 16, 36, 84)", async () => {
    const table = new Uint8Array(await readFile(DEFAULT));
    const shard = encodeShard("hash-8", DEFAULT_PREPARATION, 8, ["a".repeat(64), "b".repeat(64)], new Float32Array(16).fill(0.5)).subarray(SHARD_MAGIC.length + 32);
    for (const bytes of [table, shard]) {
      expect(checkArrowIpcFile(bytes).batches).toBe(1);
      for (const at of [8, 16, 36, 84]) {
        for (const x of [0x01, 0x10, 0x80, 0xff]) {
          // Either refused, or (a flip the reader never looks at) still bounded: never passed unchecked to a loop.
          let err: unknown;
          try {
            checkArrowIpcFile(flipped(bytes, at, x), "x.arrow");
          } catch (e) {
            err = e;
          }
          if (at === 36) expect(err, `byte ${at} ^ ${x}`).toBeInstanceOf(InputError);
          if (err) expect((err as Error).message).toMatch(/^x\.arrow: /);
        }
      }
    }
  });

  it("refuses truncations, a footer length past the file, a row count beyond the body, and non-Arrow bytes, each naming the file", async () => {
    const bytes = new Uint8Array(await readFile(DEFAULT));
    expect(() => checkArrowIpcFile(bytes.subarray(0, 1000), "t.arrow")).toThrow(/^t\.arrow: damaged or unsupported Arrow file: does not end with the Arrow file magic/);
    const longFooter = bytes.slice();
    new DataView(longFooter.buffer).setInt32(longFooter.length - 10, 0x7fffffff, true);
    expect(() => checkArrowIpcFile(longFooter, "f.arrow")).toThrow(/footer length 2147483647 does not fit the file/);
    expect(() => checkArrowIpcFile(new TextEncoder().encode("id,text\n1,a\n"), "n.arrow")).toThrow(/^n\.arrow: not an Arrow IPC file/);
    // A table whose record batch claims 2^40 rows: the field nodes and the batch length are edited.
    const t = synthesize({ prompts: 3, seed: 1, models: ["gpt-4-1106-preview"] });
    const ipc = tableToIPC(outcomeTableToArrow(t), "file");
    let edits = 0;
    const view = new DataView(ipc.buffer, ipc.byteOffset, ipc.byteLength);
    for (let i = 0; i + 8 <= 2000; i += 8) {
      if (view.getUint32(i, true) === 3 && view.getUint32(i + 4, true) === 0) {
        view.setUint32(i + 4, 256, true); // 3 -> 3 + 2^40
        edits++;
      }
    }
    expect(edits).toBeGreaterThan(0);
    expect(() => readArrowIpcGuarded(ipc, "r.arrow")).toThrow(/^r\.arrow: damaged or unsupported Arrow file: record batch 1: .*(rows|too large)/);
  });

  it("accepts what routekit writes: outcome tables with every optional column, and embedding shards", async () => {
    const t = synthesize({ prompts: 5, seed: 2 });
    const withAll = { ...t, responses: Array.from(t.scores, (_, k) => (k % 3 ? `r${k}` : null)) };
    const path = join(dir, "all.arrow");
    await writeOutcomeTable(path, withAll);
    expect(outcomeTableDigest(await readOutcomeTable(path))).toBe(outcomeTableDigest(withAll));
    expect(readArrowIpcGuarded(tableToIPC(outcomeTableToArrow(t), "file")).numRows).toBe(5);
  });
});

describe("outcome tables carry a content checksum", () => {
  it("a flipped bit in a score is an error naming the file (it used to load, 1 becoming 8.6e-78)", async () => {
    const { table } = await importFiles([join(ROOT, "test/fixtures/data/wide.csv")]);
    const path = join(dir, "imported.arrow");
    await writeOutcomeTable(path, table);
    const bytes = new Uint8Array(await readFile(path));
    // Find a score of exactly 1.0 (0x3ff0000000000000) in the body and flip one exponent bit.
    const one = Buffer.from(new Float64Array([1]).buffer);
    const at = Buffer.from(bytes).indexOf(one);
    expect(at).toBeGreaterThan(0);
    const damaged = flipped(bytes, at + 7, 0x08);
    expect(new DataView(damaged.buffer).getFloat64(at, true)).not.toBe(1);
    expect(() => decodeOutcomeTable(damaged, path)).toThrow(/imported\.arrow: the table's content does not match its checksum/);
  });

  it("300 seeded one-byte damages of an imported table: none loads with changed content", async () => {
    const { table } = await importFiles([join(ROOT, "test/fixtures/data/wide.csv")]);
    const bytes = tableToIPC(outcomeTableToArrow(table), "file");
    const want = outcomeTableDigest(table);
    let loaded = 0;
    for (let k = 0; k < 300; k++) {
      const at = (k * 7919) % bytes.length;
      const b = flipped(bytes, at, 1 + ((k * 31) % 255));
      try {
        // The structural check runs first, so this cannot hang however the bytes are damaged.
        const back = decodeOutcomeTable(b, "x.arrow");
        expect(outcomeTableDigest(back), `byte ${at}`).toBe(want);
        loaded++;
      } catch (err) {
        expect(err, `byte ${at}`).toBeInstanceOf(InputError);
        expect((err as Error).message).toMatch(/^x\.arrow[:,] /);
      }
    }
    expect(loaded).toBeLessThan(60);
  });

  it("a table of format 1 (no checksum) is refused with the way to re-create it", () => {
    const t = synthesize({ prompts: 3, seed: 1 });
    const arrow = outcomeTableToArrow(t);
    const md = new Map(arrow.schema.metadata);
    expect(md.get("format")).toBe(OUTCOME_FORMAT);
    md.set("format", "routekit.outcomes/1");
    md.delete("sha256");
    const old = tableToIPC(new Table(new Schema(arrow.schema.fields as Field[], md), arrow.batches), "file");
    expect(() => decodeOutcomeTable(old, "old.arrow")).toThrow(/^old\.arrow: written by an older routekit \(routekit\.outcomes\/1, without a content checksum\); re-create it with routekit import/);
  });

  it("a missing checksum or a models list longer than the columns is an error, not a huge allocation", () => {
    const t = synthesize({ prompts: 3, seed: 1 });
    const arrow = outcomeTableToArrow(t);
    const noSum = new Map(arrow.schema.metadata);
    noSum.delete("sha256");
    expect(() => decodeOutcomeTable(tableToIPC(new Table(new Schema(arrow.schema.fields as Field[], noSum), arrow.batches), "file"), "s.arrow")).toThrow(/s\.arrow, field "sha256"/);
    const many = new Map(arrow.schema.metadata);
    many.set("models", JSON.stringify(Array.from({ length: 100000 }, (_, i) => `m${i}`)));
    expect(() => decodeOutcomeTable(tableToIPC(new Table(new Schema(arrow.schema.fields as Field[], many), arrow.batches), "file"), "m.arrow")).toThrow(/m\.arrow, field "models": .*100000 models/);
  });
});
