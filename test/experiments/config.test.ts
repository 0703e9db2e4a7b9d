import { describe, expect, it } from "vitest";
import { experimentToYaml, loadExperiment, parseExperiment } from "../../src/experiments/config.js";

const minimal = `
name: demo
data:
  table: data/default.arrow
routers:
  - type: knn
    grid:
      k: [5, 10]
`;

describe("experiment configs", () => {
  it("fills every default, so the resolved config alone describes the run", () => {
    const cfg = parseExperiment(minimal, "demo.yaml");
    expect(cfg.seed).toBe(0);
    expect(cfg.splits).toEqual([{ kind: "in-distribution", testFraction: 0.3, validationFraction: 0.1, pooled: false }]);
    expect(cfg.embedder.spec).toBe("use-lite");
    expect(cfg.embedder.preparation).toEqual({ unwrapList: true, stripSharedPrefix: true, maxChars: 0, keep: "head" });
    expect(cfg.routers[0]).toEqual({ type: "knn", params: {}, grid: { k: [5, 10] } });
    expect(cfg.evaluation).toEqual({ lambdas: "exact", aiq: "shared-range", operatingPoints: "validation", bootstrap: 1000, logCost: true, protocol: "holdout", folds: 5, maxPoints: 2000 });
  });

  it("round-trips through its saved YAML unchanged", () => {
    const cfg = parseExperiment(minimal, "demo.yaml");
    expect(parseExperiment(experimentToYaml(cfg), "resolved.yaml")).toEqual(cfg);
  });

  it("reads JSON too", () => {
    const cfg = parseExperiment(JSON.stringify({ name: "j", data: { table: "t.arrow" }, routers: [{ type: "linear" }] }), "x.json");
    expect(cfg.routers[0].type).toBe("linear");
  });

  it("names file, line and field of a wrong value", () => {
    const bad = minimal.replace("k: [5, 10]", "k: []");
    expect(() => parseExperiment(bad, "demo.yaml")).toThrow(/^demo\.yaml, row 8, field "routers\[0\]\.grid\.k": /);
  });

  it("rejects unknown keys (a typo must not be silently ignored)", () => {
    const bad = `${minimal}evaluation:\n  bootsrap: 10\n`;
    // At the key's own line and with its name in the field.
    expect(() => parseExperiment(bad, "demo.yaml")).toThrow(/demo\.yaml, row 10, field "evaluation\.bootsrap".*bootsrap/);
    expect(() => parseExperiment(`${minimal}seeed: 3\n`, "demo.yaml")).toThrow(/demo\.yaml, row 9, field "seeed"/);
  });

  it("rejects a split kind it does not know, and bad fractions", () => {
    expect(() => parseExperiment(`${minimal}splits:\n  - kind: random\n`, "s.yaml")).toThrow(/s\.yaml, row 10, field "splits\[0\]\.kind"/);
    expect(() => parseExperiment(`${minimal}splits:\n  - kind: in-distribution\n    testFraction: 1.5\n`, "s.yaml")).toThrow(/field "splits\[0\]\.testFraction"/);
  });

  it("needs exactly one data source", () => {
    expect(() => parseExperiment("name: x\ndata: {}\nrouters: [{type: knn}]\n", "d.yaml")).toThrow(/d\.yaml.*field "data": give exactly one of data\.table or data\.import/);
  });

  it("refuses two routers with one label", () => {
    const bad = "name: x\ndata: {table: t.arrow}\nrouters:\n  - type: knn\n  - type: knn\n";
    expect(() => parseExperiment(bad, "d.yaml")).toThrow(/d\.yaml, row 5, field "routers\[1\]\.name": two routers are labelled "knn"/);
  });

  it("reports malformed YAML and empty files with the file name", () => {
    expect(() => parseExperiment("name: [unclosed\n", "m.yaml")).toThrow(/^m\.yaml.*not valid YAML/);
    expect(() => parseExperiment("  \n", "e.yaml")).toThrow(/^e\.yaml: the config is empty/);
  });
});

describe("paths in a config file", () => {
  it("data paths are relative to the config's folder; output to the working directory", async () => {
    const { mkdtemp, writeFile, mkdir } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { join, relative, resolve } = await import("node:path");
    const dir = await mkdtemp(join(tmpdir(), "rk-cfgpath-"));
    await mkdir(join(dir, "sub"));
    const file = join(dir, "sub", "c.yaml");
    await writeFile(file, "name: p\ndata:\n  import:\n    files: [../a.csv, /abs/b.csv]\n    prices: prices.json\nrouters: [{ type: linear }]\noutput: runs/p\n");
    const cfg = await loadExperiment(file);
    expect(cfg.data.import!.files).toEqual([relative(process.cwd(), resolve(dir, "a.csv")), "/abs/b.csv"]);
    expect(cfg.data.import!.prices).toBe(relative(process.cwd(), resolve(dir, "sub", "prices.json")));
    expect(cfg.output).toBe("runs/p");
    // The shipped main job names ../data/default.arrow from experiments/: the bundled table, from any working directory.
    expect((await loadExperiment("experiments/default.yaml")).data.table).toBe("data/default.arrow");
  });

  it("every shipped config validates (the ../shared ones only name files there)", async () => {
    const { readdir } = await import("node:fs/promises");
    const names = (await readdir("experiments")).filter((f) => f.endsWith(".yaml"));
    expect(names).toEqual(expect.arrayContaining(["default.yaml", "routerbench-subset.yaml", "routerbench-subset-crossfit.yaml"]));
    for (const name of names) await loadExperiment(`experiments/${name}`);
    const cf = await loadExperiment("experiments/routerbench-subset-crossfit.yaml");
    expect(cf.evaluation).toMatchObject({ protocol: "crossfit", folds: 5, compareTo: "task-prior" });
  });
});
