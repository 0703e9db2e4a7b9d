import { describe, expect, it } from "vitest";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readOutcomeTable } from "../../src/data/arrow-io.js";
import { runCli } from "../helpers/cli.js";

const fx = (name: string) => fileURLToPath(new URL(`../fixtures/data/${name}`, import.meta.url));

describe("routekit import / info / split", () => {
  it("imports, reports, and `info --json` describes the written table", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-cli-"));
    const out = join(dir, "data", "w.arrow");
    const imp = await runCli(["import", fx("wide.csv"), fx("wide-p5.pkl"), "--out", out, "--json"]);
    expect(imp.code, imp.stderr).toBe(0);
    const report = JSON.parse(imp.stdout);
    expect(report.out).toBe(out);
    expect(report.files.map((f: { format: string }) => f.format)).toEqual(["routerbench-csv", "routerbench-pkl"]);
    expect(report.prompts).toBe(10);
    expect(report.rowsWithMissingScores).toEqual([{ id: "mmlu-virology.test.100", models: ["model-c"] }]);
    const t = await readOutcomeTable(out);
    expect(t.ids).toHaveLength(10);

    const info = await runCli(["info", out, "--json"]);
    expect(info.code, info.stderr).toBe(0);
    const j = JSON.parse(info.stdout);
    expect(j.prompts).toBe(10);
    expect(j.datasets.map((d: { name: string }) => d.name)).toEqual(["arc-challenge", "grade-school-math", "mmlu"]);
    expect(j.datasets.find((d: { name: string }) => d.name === "mmlu").evals).toEqual(["mmlu-anatomy", "mmlu-virology"]);
    expect(j.models.map((m: { name: string }) => m.name)).toEqual(["org/model-a", "model-b|x", "model-c"]);
    for (const m of j.models) {
      expect(typeof m.meanScore).toBe("number");
      expect(typeof m.meanCost).toBe("number");
      expect(m.oracleShare).toBeGreaterThanOrEqual(0);
    }
    expect(j.models.find((m: { name: string }) => m.name === "model-c").missing).toBe(1);

    const text = await runCli(["import", fx("long.jsonl"), "--out", join(dir, "l.arrow"), "--prices", fx("prices.json"), "--quiet"]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/prompts: 5/);
    expect(text.stdout).toMatch(/rows with missing scores: 1/);
    expect(text.stdout).toMatch(/q4: missing big\/one/);

    const human = await runCli(["info", out]);
    expect(human.stdout).toMatch(/10 prompts x 3 models/);
    expect(human.stdout).toMatch(/oracle share/);
  });

  it("a failed import writes nothing and leaves an existing --out untouched; one-line error, exit 1", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-cli-fail-"));
    const out = join(dir, "keep.arrow");
    await writeFile(out, "OLD");
    const bad = join(dir, "bad.csv");
    await writeFile(bad, "prompt,model,score,cost\na,m,2,0.1\n");
    const res = await runCli(["import", fx("wide.csv"), bad, "--out", out]);
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split("\n").filter((l) => l.startsWith("routekit: error:"))).toHaveLength(1);
    expect(res.stderr.trim().split("\n").pop()).toMatch(/^routekit: error: .*bad\.csv, row 1, field "score": score 2 is outside \[0,1\]/);
    expect(await readFile(out, "utf8")).toBe("OLD");
    expect((await readdir(dir)).sort()).toEqual(["bad.csv", "keep.arrow"]);

    const noPrice = await runCli(["import", fx("long.csv"), "--out", join(dir, "x.arrow"), "--quiet"]);
    expect(noPrice.code).toBe(1);
    expect(noPrice.stderr).toMatch(/long\.csv, field "input_tokens".*--prices/);

    const notArrow = await runCli(["info", bad]);
    expect(notArrow.code).toBe(1);
    expect(notArrow.stderr).toMatch(/^routekit: error: .*bad\.csv: not an Arrow IPC file/);
  });

  it("split --json: sizes per dataset, the same for the same seed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-cli-split-"));
    const out = join(dir, "w.arrow");
    expect((await runCli(["import", fx("wide.jsonl"), "--out", out, "--quiet"])).code).toBe(0);
    const a = await runCli(["split", out, "--seed", "5", "--json", "--indices"]);
    const b = await runCli(["split", out, "--seed", "5", "--json", "--indices"]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const j = JSON.parse(a.stdout);
    expect(j.splits.map((s: { name: string }) => s.name)).toEqual(["arc-challenge", "grade-school-math", "mmlu"]);
    const mmlu = j.splits.find((s: { name: string }) => s.name === "mmlu");
    expect(mmlu.sizes.train + mmlu.sizes.validation + mmlu.sizes.test).toBe(5);
    const ood = JSON.parse((await runCli(["split", out, "--ood", "--json"])).stdout);
    expect(ood.splits.map((s: { name: string }) => s.name)).toEqual(["ood:arc-challenge", "ood:grade-school-math", "ood:mmlu"]);
    const bad = await runCli(["split", out, "--seed", "x"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/field "--seed": not a number/);
  });

  for (const cmd of ["import", "info", "split"]) {
    it(`${cmd} --help`, async () => {
      const res = await runCli([cmd, "--help"]);
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(`Usage: routekit ${cmd}`);
      expect(res.stdout).toContain("--json");
    });
  }
});
