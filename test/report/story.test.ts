/**
 * What the report tells a reader first: the best single model has no AIQ (no rank, no
 * comparison), splits too small to trust say so, a router x split summary of AIQ minus Zero,
 * a forest plot per split, and curve plots that name a curve hidden under another.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { evaluateSplit } from "../../src/evaluate/evaluate.js";
import { HOW_TO_READ, renderReport, renderSplitSection } from "../../src/report/markdown.js";
import { renderForestSvg } from "../../src/report/forest.js";
import { hiddenUnder, renderPlotSvg } from "../../src/report/plot.js";
import { RESULTS_FORMAT_VERSION, makeResults, readResults, resultsSchema, serializeResults, splitEntry, type Results, type SplitEntry } from "../../src/report/results.js";
import { MIN_TEST_PROMPTS, MIN_VALIDATION_PROMPTS, renderSummaryMarkdown, splitWarnings, summaryTable } from "../../src/report/summary.js";
import { writeReport } from "../../src/report/write.js";
import { formatSplitTable, formatSplitWarnings, formatSummaryTable, splitSummary } from "../../src/cli/output.js";
import { writeFileAtomic } from "../../src/util/atomic.js";
import { fixedPredictor, meanCosts, noisyPredictions, randomTable } from "../evaluate/fixtures.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), "rk-story-"));
  dirs.push(d);
  return d;
};

/**
 * One split: "good" sees the outcomes almost exactly (beats Zero), "noise" predicts noise, "twin"
 * is an exact copy of "noise" (the same hull); every row compared with "noise".
 */
async function demoSplit(n = 300, seed = 5, name = "demo"): Promise<SplitEntry> {
  const t = randomTable(n, 4, 17 + n, { binary: true });
  const cost = Array.from(meanCosts(t));
  const byId = (q: Float64Array) => new Map(t.ids.map((id, i) => [id, Array.from(q.subarray(i * 4, i * 4 + 4))]));
  const noise = byId(noisyPredictions({ ...t, scores: new Float64Array(t.scores.length).fill(0.5) }, 2, 1));
  const r = await evaluateSplit(
    { table: t, embeddings: null },
    [
      { name: "good", router: fixedPredictor(t.models, cost, byId(noisyPredictions(t, 1, 0.2))) },
      { name: "noise", router: fixedPredictor(t.models, cost, noise) },
      { name: "twin", router: fixedPredictor(t.models, cost, noise) },
    ],
    { seed, bootstrap: 200, compareTo: "noise" },
  );
  return splitEntry(name, "test", r);
}

describe("the best single model has no AIQ", () => {
  it("results.json: its aiq, aiqInterval, diffToZero and vsReference are null (and the other AIQ-derived figures); every other row keeps them", async () => {
    const results = makeResults([await demoSplit()], {});
    const json = JSON.parse(serializeResults(results)) as Results;
    expect(json.formatVersion).toBe(2);
    expect(RESULTS_FORMAT_VERSION).toBe(2);
    const best = json.splits[0].routers.find((r) => r.role === "best-single")!;
    expect(best).toMatchObject({ aiq: null, aiqInterval: null, diffToZero: null, diffInterval: null, pBeatsZero: null, beatsZero: null, vsReference: null });
    // It still shows where it stands.
    expect(best.maxQuality.quality).toBeGreaterThan(0);
    expect(best.points).toHaveLength(1);
    for (const r of json.splits[0].routers.filter((x) => x.role !== "best-single")) expect(typeof r.aiq).toBe("number");
    expect(json.splits[0].routers.find((r) => r.name === "good")!.vsReference).not.toBeNull();
    // Key order unchanged: aiq still sits between pool and aiqInterval.
    const keys = Object.keys(best);
    expect(keys.slice(keys.indexOf("pool"), keys.indexOf("pool") + 3)).toEqual(["pool", "aiq", "aiqInterval"]);
    expect(resultsSchema.safeParse(json).success).toBe(true);
  });

  it("the schema allows a null aiq only on the best single model's row", async () => {
    const json = JSON.parse(serializeResults(makeResults([await demoSplit()], {}))) as Results;
    json.splits[0].routers[0].aiq = null;
    const parsed = resultsSchema.safeParse(json);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0].path.join(".")).toBe("splits.0.routers.0.aiq");
  });

  it("readResults reads a version 1 file and upgrades it: the best single model's AIQ figures become null", async () => {
    const d = await tempDir();
    const v2 = JSON.parse(serializeResults(makeResults([await demoSplit()], {}))) as Results;
    const v1 = structuredClone(v2) as Omit<Results, "formatVersion"> & { formatVersion: number };
    v1.formatVersion = 1;
    const best = v1.splits[0].routers.find((r) => r.role === "best-single")!;
    Object.assign(best, { aiq: 0.0123, aiqInterval: [0, 0.05], diffToZero: -0.8, diffInterval: [-0.9, -0.7], pBeatsZero: 0, beatsZero: false, vsReference: { name: "noise", diff: -0.87, interval: [-0.9, -0.8], better: false } });
    await writeFileAtomic(join(d, "results.json"), JSON.stringify(v1));
    const back = await readResults(join(d, "results.json"));
    expect(back.formatVersion).toBe(2);
    expect(back).toEqual(v2);
    // Versions it does not know are refused, naming the field.
    await writeFileAtomic(join(d, "results.json"), JSON.stringify({ ...v2, formatVersion: 3 }));
    await expect(readResults(join(d, "results.json"))).rejects.toThrow(/formatVersion/);
  });

  it("report.md gives it no rank and no comparison; the terminal table neither", async () => {
    const split = await demoSplit();
    const md = renderSplitSection(split);
    const line = md.split("\n").find((l) => l.includes("*Best single"))!;
    const cells = line.split(" | ");
    expect(cells[0]).toBe("| —");
    expect(cells[2]).toBe("— (one point)");
    expect(cells[3]).toBe("—");
    expect(line.endsWith("| — |")).toBe(true);
    expect(line).not.toMatch(/-0\.\d{4}/);
    // Ranks run 1.. over the rows with an AIQ.
    const ranks = md.split("\n").filter((l) => /^\| \d+ \|/.test(l)).map((l) => Number(l.split(" | ")[0].slice(2)));
    expect(ranks).toEqual(Array.from({ length: split.routers.length - 1 }, (_, k) => k + 1));
    const term = formatSplitTable(split).split("\n").find((l) => l.startsWith("Best single"))!;
    expect(term).not.toMatch(/[+-]0\.\d{4} \[/);
    expect(splitSummary(split).routers.find((r) => r.role === "best-single")!.aiq).toBeNull();
  });
});

describe("warnings for small splits", () => {
  it("thresholds are named constants: fewer than 100 test or 50 validation prompts", () => {
    expect(MIN_TEST_PROMPTS).toBe(100);
    expect(MIN_VALIDATION_PROMPTS).toBe(50);
  });

  it("warn in report.md (blockquote) and the terminal, saying why, only below the thresholds", async () => {
    const small = await demoSplit(60, 5, "small");
    expect(small.operatingPoints).toBe("test");
    const w = splitWarnings(small);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^only 60 test prompts \(fewer than 100\): intervals this wide cannot separate routers/);
    expect(w[0]).toMatch(/intervals are 0\.\d{4} wide, median/);
    // a holdout split is pointed to cross-fitting; a cross-fitted one is not
    expect(w[0]).toMatch(/cross-fitting \(evaluation\.protocol: crossfit, eval --protocol crossfit\) tests every prompt/);
    expect(splitWarnings({ ...small, folds: 5 })[0]).not.toMatch(/cross-fitting/);
    const md = renderSplitSection(small);
    expect(md).toContain("> **Warning:** Only 60 test prompts (fewer than 100): intervals this wide cannot separate routers");
    expect(formatSplitWarnings(small)).toMatch(/^warning: small \(test\): only 60 test prompts/);

    // Operating points on 30 validation prompts: a second warning.
    const fewValidation: SplitEntry = { ...small, operatingPoints: "validation", validationPrompts: 30 };
    expect(splitWarnings(fewValidation)[1]).toMatch(/^operating points chosen on only 30 validation prompts \(fewer than 50\): .* figures may land below Zero\.$/);
    expect(renderSplitSection(fewValidation).match(/> \*\*Warning:\*\*/g)).toHaveLength(2);

    // At the thresholds: no warning.
    const big = await demoSplit();
    expect(splitWarnings(big)).toEqual([]);
    expect(splitWarnings({ ...big, prompts: 100, operatingPoints: "validation", validationPrompts: 50 })).toEqual([]);
    expect(splitWarnings({ ...big, prompts: 99 })).toHaveLength(1);
    expect(splitWarnings({ ...big, operatingPoints: "validation", validationPrompts: 49 })).toHaveLength(1);
    expect(renderSplitSection(big)).not.toContain("**Warning:**");
    expect(formatSplitWarnings(big)).toBe("");
    expect(splitSummary(small).warnings).toEqual(w);
  });
});

describe("summary table across splits", () => {
  it("router x split of AIQ minus Zero with intervals, bold where the interval is above 0; Oracle for reference; after the how-to-read paragraph", async () => {
    const a = await demoSplit(300, 5, "alpha");
    const b = await demoSplit(60, 6, "beta");
    // A router evaluated on one split only.
    const extra = { ...a.routers[0], name: "solo" };
    const a2: SplitEntry = { ...a, routers: [...a.routers.slice(0, 3), extra, ...a.routers.slice(3)] };
    const results = makeResults([a2, b], {});
    const t = summaryTable(results.splits);
    expect(t.splits).toEqual(["alpha/test", "beta/test"]);
    expect(t.rows.map((r) => r.name)).toEqual(["good", "noise", "twin", "solo", "Oracle"]);
    expect(t.rows[3].cells[1]).toBeNull();
    expect(t.warned.map((w) => w.split)).toEqual(["beta/test"]);
    const good = a.routers.find((r) => r.name === "good")!;
    expect(t.rows[0].cells[0]).toEqual({ diff: good.diffToZero, interval: good.diffInterval, beats: true });
    expect(t.rows[1].cells[0]!.beats).toBe(false);

    const md = renderReport(results, { plotsDir: "plots" });
    const summary = renderSummaryMarkdown(results.splits);
    expect(md.indexOf(HOW_TO_READ)).toBeLessThan(md.indexOf(summary));
    expect(md.indexOf(summary)).toBeLessThan(md.indexOf("## alpha — test"));
    const lines = summary.split("\n");
    expect(lines).toContain("| Router | alpha/test | beta/test |");
    const row = (name: string) => lines.find((l) => l.startsWith(`| ${name} |`))!;
    const fmt = (v: number) => `${v >= 0 ? "+" : "-"}${Math.abs(v).toFixed(4)}`;
    expect(row("good")).toContain(`| **${fmt(good.diffToZero!)} [${fmt(good.diffInterval![0])}, ${fmt(good.diffInterval![1])}]** |`);
    const noise = a.routers.find((r) => r.name === "noise")!;
    expect(row("noise")).toContain(`| ${fmt(noise.diffToZero!)} [${fmt(noise.diffInterval![0])}, ${fmt(noise.diffInterval![1])}] |`);
    expect(row("solo")).toMatch(/\| — \|$/);
    expect(row("*Oracle*")).toMatch(/^\| \*Oracle\* \| \*\*\+/);
    expect(summary).toContain("Too few prompts to trust these columns (see the warnings in their sections): beta/test (60 test prompts).");

    // The terminal: the same cells in plain text, * where significant.
    const plain = formatSummaryTable(results.splits);
    expect(plain).not.toContain("**");
    const goodLine = plain.split("\n").find((l) => l.startsWith("good "))!;
    expect(goodLine).toContain(`${fmt(good.diffToZero!)} [${fmt(good.diffInterval![0])}, ${fmt(good.diffInterval![1])}] *`);
    const noiseLine = plain.split("\n").find((l) => l.startsWith("noise "))!;
    expect(noiseLine.split(/\s{2,}/)[1]).not.toContain("*");
    expect(plain.split("\n").find((l) => l.startsWith("solo "))!.trimEnd()).toMatch(/ -$/);
    expect(plain).toMatch(/^Summary: AIQ - Zero router per split \[95% interval\]; \* = whole interval above 0/);
    expect(plain).toContain("Too few prompts to trust: beta/test");
    expect(plain.split("\n").every((l) => l.length <= 120 && l === l.trimEnd())).toBe(true);
    // Narrower than two split columns: one block per split, each with the router column.
    const narrow = formatSummaryTable(results.splits, { width: 50 }).split("\n");
    expect(narrow.filter((l) => l.startsWith("router "))).toEqual([expect.stringMatching(/^router\s+alpha\/test$/), expect.stringMatching(/^router\s+beta\/test$/)]);
    expect(narrow.filter((l) => l.startsWith("good "))).toHaveLength(2);
  });
});

/** Decode a PNG's image data enough to check it is whole: IHDR, every IDAT inflated, one filter byte + a row of pixels per line. */
function decodePng(png: Uint8Array): { width: number; height: number } {
  const buf = Buffer.from(png);
  expect(Array.from(buf.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  for (;;) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString("latin1", off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8]).toBe(8);
      channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[data[9]] ?? 0;
    }
    if (type === "IDAT") idat.push(data);
    off += 12 + len;
    if (type === "IEND") break;
  }
  expect(inflateSync(Buffer.concat(idat)).length).toBe(height * (1 + width * channels));
  return { width, height };
}

describe("forest plot per split", () => {
  it("is written next to the curve plots as SVG and PNG, linked from report.md, with each router, its interval and the zero line", async () => {
    const split = await demoSplit();
    const d = await tempDir();
    const w = await writeReport(join(d, "out"), makeResults([split], {}));
    expect(w.plots.map((p) => [p.kind, p.svg.slice(d.length)])).toEqual([
      ["curves", "/out/plots/demo--test.svg"],
      ["forest", "/out/plots/demo--test-forest.svg"],
    ]);
    const svg = await readFile(join(d, "out", "plots", "demo--test-forest.svg"), "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    for (const name of ["good", "noise", "twin"]) {
      expect(svg).toContain(`class="forest-row" data-router="${name}"`);
      expect(svg).toContain(`>${name}</text>`);
    }
    expect(svg.match(/class="interval"/g)).toHaveLength(3);
    expect(svg).toMatch(/class="zero-line"/);
    expect(svg).toContain("Zero router (0)");
    expect(svg).toContain("Oracle (hindsight bound): +");
    // The zero line sits at x of 0 on the axis: between the intervals of good (above 0) and noise (around it).
    const zx = Number(/class="zero-line" x1="([\d.]+)"/.exec(svg)![1]);
    const goodRow = /data-router="good">.*?class="interval" x1="([\d.]+)"/.exec(svg)!;
    expect(Number(goodRow[1])).toBeGreaterThan(zx);
    // Best first, as in the table; filled dot only where it beats Zero.
    expect(svg.indexOf('data-router="good"')).toBeLessThan(svg.indexOf('data-router="noise"'));
    expect(svg.match(/class="estimate beats"/g)).toHaveLength(1);
    const png = await readFile(join(d, "out", "plots", "demo--test-forest.png"));
    const { width, height } = decodePng(png);
    expect(width).toBe(1440);
    expect(height).toBeGreaterThan(300);
    const md = await readFile(join(d, "out", "report.md"), "utf8");
    expect(md).toContain("![demo test: AIQ minus Zero per router](plots/demo--test-forest.png)");
    expect(md).toContain("([SVG](plots/demo--test-forest.svg))");
  });

  it("without a bootstrap: dots, no intervals; without routers: a note", async () => {
    const split = await demoSplit();
    const bare: SplitEntry = { ...split, bootstrap: null, routers: split.routers.map((r) => ({ ...r, diffInterval: null, beatsZero: null })) };
    const svg = renderForestSvg(bare);
    expect(svg).not.toContain('class="interval"');
    expect(svg.match(/class="estimate"/g)).toHaveLength(3);
    expect(svg).toContain("no intervals (no bootstrap)");
    expect(renderForestSvg({ ...split, routers: split.routers.filter((r) => r.role !== "router") })).toContain("no routers evaluated");
  });
});

describe("curve plots: a hidden coinciding curve is named in the legend", () => {
  it("hiddenUnder maps each line to the last later line with the same hull", () => {
    const h1 = [{ cost: 1, quality: 0.5 }, { cost: 2, quality: 0.7 }];
    const h2 = [{ cost: 1, quality: 0.5 }, { cost: 2, quality: 0.8 }];
    expect([...hiddenUnder([{ hull: h1 }, { hull: h2 }, { hull: [...h1] }, { hull: h1.map((p) => ({ ...p })) }])]).toEqual([
      [0, 3],
      [2, 3],
    ]);
    expect(hiddenUnder([{ hull: h1 }, { hull: h2 }]).size).toBe(0);
  });

  it("the legend entry of a router drawn under an identical one says which hides it; others say nothing", async () => {
    const split = await demoSplit();
    const noise = split.routers.find((r) => r.name === "noise")!;
    const twin = split.routers.find((r) => r.name === "twin")!;
    expect(twin.hull).toEqual(noise.hull);
    for (const log of [false, true]) {
      const svg = renderPlotSvg(split, { logCost: log });
      const notes = [...svg.matchAll(/class="hidden-note"[^>]*>([^<]*)</g)].map((m) => m[1]);
      expect(notes).toEqual(["hidden under twin"]);
      // The note follows noise's entry.
      const legend = svg.slice(svg.indexOf('class="legend"'));
      expect(legend.indexOf(">noise (")).toBeLessThan(legend.indexOf("hidden under twin"));
      expect(legend.indexOf("hidden under twin")).toBeLessThan(legend.indexOf(">twin ("));
    }
    // A router on the Zero router's hull hides it.
    const zero = split.routers.find((r) => r.role === "zero")!;
    const onZero: SplitEntry = { ...split, routers: split.routers.map((r) => (r.name === "good" ? { ...r, hull: zero.hull.map((p) => ({ ...p })) } : r)) };
    expect(renderPlotSvg(onZero)).toContain(">hidden under good</text>");
  });
});
