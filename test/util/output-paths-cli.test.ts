/**
 * Outputs that are inputs are refused before any work, in one line naming --out, and the input is
 * left as it was: `import in.csv --out in.csv` (it used to exit 0 and replace the CSV with Arrow
 * bytes), `eval --out` holding the table, `train --out` the table file, `run` over its data.
 */
import { describe, expect, it, beforeAll } from "vitest";
import { copyFile, mkdir, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { synthesize } from "../../src/data/synth/index.js";
import { writeOutcomeTable } from "../../src/data/arrow-io.js";
import { parseExperiment } from "../../src/experiments/config.js";
import { runExperiment } from "../../src/workflow/experiment.js";
import { InputError } from "../../src/util/errors.js";
import { runCli } from "../helpers/cli.js";

let root: string;
let table: string;
let csv: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "rk-outpaths-"));
  await mkdir(join(root, "data"));
  table = join(root, "data", "t.arrow");
  await writeOutcomeTable(table, synthesize({ prompts: 60, seed: 1 }));
  csv = join(root, "in.csv");
  await copyFile(new URL("../fixtures/data/wide.csv", import.meta.url), csv);
});

/** exit 1, one line on stderr, and nothing else. */
function oneLine(r: { code: number; stdout: string; stderr: string }): string {
  expect(r.code).toBe(1);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\.tmp-| {4}at /);
  return lines[0];
}

describe("an output that is an input is refused", () => {
  it("import in.csv --out in.csv, and an --out that is a directory", async () => {
    const before = await readFile(csv);
    expect(oneLine(await runCli(["import", csv, "--out", csv]))).toContain(`--out: ${csv} is also an input of this command (${csv})`);
    expect(await readFile(csv)).toEqual(before);
    expect(oneLine(await runCli(["import", csv, "--out", root]))).toContain(`--out: ${root} is a directory, not a file`);
  });

  it("eval --out holding the table; train --out the table file", async () => {
    const before = await readFile(table);
    const ev = oneLine(await runCli(["eval", table, "--routers", "linear", "--embedder", "hash:16", "--out", join(root, "data")]));
    expect(ev).toMatch(/--out: .*data contains the input .*t\.arrow; replacing that folder would delete it/);
    const tr = oneLine(await runCli(["train", table, "--router", "linear", "--embedder", "hash:16", "--out", table]));
    expect(tr).toContain(`--out: ${table} is a file, not a directory`);
    expect(await readFile(table)).toEqual(before);
  });

  it("run over its data (library), refused before embedding anything", async () => {
    const cfg = parseExperiment(`name: x\ndata:\n  table: ${table}\nembedder:\n  spec: hash:16\nrouters:\n  - type: linear\n`, "x.yaml");
    const err = await runExperiment(cfg, { outDir: join(root, "data"), cacheDir: join(root, "cache") }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^--out: .*data contains the input/);
    const viaConfig = await runExperiment({ ...cfg, output: table }, { cacheDir: join(root, "cache") }).catch((e: unknown) => e);
    expect((viaConfig as Error).message).toBe(`output (config): ${table} is a file, not a directory`);
  });
});
