/**
 * Splits that cannot leak (issue: splits keyed by prompt id):
 *  - the same rows imported in two file orders give the same split, test ids and results.json
 *    bytes (the RouterBench subset in ../shared when present; the bundled data re-ordered always);
 *  - a saved router knows the prompts it was fitted and tuned on, and `eval` refuses, in one
 *    line naming the router and the overlap count, to test it on them (--allow-overlap
 *    overrides, and the report then says so).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readOutcomeTable, writeOutcomeTable } from "../../src/data/arrow-io.js";
import { selectRows } from "../../src/data/table.js";
import { makeRng, shuffled } from "../../src/util/rng.js";
import { runCli } from "../helpers/cli.js";
import { SHARED_SUBSET_DIR } from "../helpers/shared.js";

let root = "";
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "routekit-leakage-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** `routekit eval` of the table at `table` into `out`; returns results.json's bytes. */
async function evalBytes(table: string, out: string, routers: string[], extra: string[] = []): Promise<string> {
  const r = await runCli(["eval", table, "--routers", ...routers, "--embedder", "hash", "--bootstrap", "100", "--cache-dir", join(root, "cache"), "--out", out, "--json", ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return readFile(join(out, "results.json"), "utf8");
}

describe("row order changes nothing", () => {
  it("the bundled data re-ordered gives byte-identical results.json", async () => {
    const t = await readOutcomeTable("data/default.arrow");
    const path = join(root, "t.arrow");
    const routers = ["linear:alpha=1", "knn:k=10", "task-prior"];
    await writeOutcomeTable(path, t);
    const a = await evalBytes(path, join(root, "a"), routers, ["--dataset", "mmlu"]);
    // Same path, rows shuffled: only the order differs, so every byte of results.json must match.
    await writeOutcomeTable(path, selectRows(t, shuffled([...t.ids.keys()], makeRng("another order"))));
    const b = await evalBytes(path, join(root, "b"), routers, ["--dataset", "mmlu"]);
    expect(b).toBe(a);
    expect(JSON.parse(a).splits[0].prompts).toBeGreaterThan(100);
  });

  const files = ["arc_challenge", "mbpp", "winograde"].flatMap((d) => [`${d}_train.csv`, `${d}_test.csv`]).map((f) => join(SHARED_SUBSET_DIR, f));
  describe.skipIf(!files.every((f) => existsSync(f)))("the RouterBench subset in ../shared", () => {
    it("imported in two file orders: same split, same test ids, same results.json bytes", async () => {
      const path = join(root, "rb.arrow");
      const importIn = async (order: string[]) => {
        const r = await runCli(["import", ...order, "--out", path]);
        expect(r.code, r.stderr).toBe(0);
      };
      const splitIds = async () => {
        const r = await runCli(["split", path, "--json"]);
        expect(r.code, r.stderr).toBe(0);
        return r.stdout;
      };
      const routers = ["task-prior", "linear:alpha=10"];
      await importIn(files); // train files first, as the config lists them
      const firstRows = (await readOutcomeTable(path)).ids.slice(0, 3);
      const split1 = await splitIds();
      const a = await evalBytes(path, join(root, "rb-a"), routers);
      await importIn(files.slice().sort()); // what `import dir/*.csv` gives: test files before train files
      expect((await readOutcomeTable(path)).ids.slice(0, 3)).not.toEqual(firstRows); // the rows really are in another order
      expect(await splitIds()).toBe(split1);
      const b = await evalBytes(path, join(root, "rb-b"), routers);
      expect(b).toBe(a);
    }, 240_000);
  });
});

describe("a router is never tested on what it was fitted or tuned on", () => {
  let table = "";
  let half = "";
  beforeAll(async () => {
    const t = await readOutcomeTable("data/default.arrow");
    table = join(root, "full.arrow");
    await writeOutcomeTable(table, t);
    // Half of every dataset's rows: the per-dataset test cut moves, so some of the full table's
    // training prompts land in this table's test part.
    half = join(root, "half.arrow");
    await writeOutcomeTable(half, selectRows(t, [...t.ids.keys()].filter((i) => i % 2 === 0)));
    const r = await runCli(["train", table, "--router", "linear:alpha=1", "--embedder", "hash", "--cache-dir", join(root, "cache"), "--out", join(root, "router"), "--json"]);
    expect(r.code, r.stderr).toBe(0);
  });

  it("records the count and digest of its training and validation prompt ids", async () => {
    const m = JSON.parse(await readFile(join(root, "router", "router.json"), "utf8"));
    expect(m.fittedOn.train.count).toBe(1260);
    expect(m.fittedOn.validation.count).toBe(140);
    expect(m.fittedOn.train.sha256).toMatch(/^[0-9a-f]{64}$/);
    const ids = JSON.parse(await readFile(join(root, "router", m.fittedOn.file), "utf8"));
    expect(ids.train).toHaveLength(1260);
    expect(m.files[m.fittedOn.file]).toMatch(/^[0-9a-f]{64}$/); // checksummed like a weight file
  });

  it("evaluates cleanly on the table it was trained on (its test part is unseen)", async () => {
    const bytes = await evalBytes(table, join(root, "clean"), [join(root, "router")]);
    expect(JSON.parse(bytes).splits.every((s: { overlap?: unknown }) => s.overlap === undefined)).toBe(true);
  });

  it("refuses, in one line naming the router and the overlap, to test it on prompts it has seen", async () => {
    const r = await runCli(["eval", half, "--routers", join(root, "router"), "--embedder", "hash", "--bootstrap", "0", "--cache-dir", join(root, "cache"), "--out", join(root, "leak")]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`${join(root, "router", "router.json")}: this router was fitted or tuned on `);
    expect(lines[0]).toMatch(/tuned on \d+ of the \d+ test prompts of split [a-z-]+ \(\d+ training, \d+ validation\); use prompts it has not seen, or pass --allow-overlap$/);
    const [, seen] = lines[0].match(/tuned on (\d+) of/)!;
    expect(Number(seen)).toBeGreaterThan(0);
    expect(existsSync(join(root, "leak", "results.json"))).toBe(false);
  });

  it("--allow-overlap evaluates and the report says so", async () => {
    const bytes = await evalBytes(half, join(root, "leak-ok"), [join(root, "router")], ["--allow-overlap"]);
    const split = JSON.parse(bytes).splits[0];
    expect(split.overlap).toEqual([{ router: "router", prompts: expect.any(Number) }]);
    expect(split.overlap[0].prompts).toBeGreaterThan(0);
    const md = await readFile(join(root, "leak-ok", "report.md"), "utf8");
    expect(md).toContain(`**Warning:** router was fitted or tuned on ${split.overlap[0].prompts} of these ${split.prompts} test prompts`);
  });
});
