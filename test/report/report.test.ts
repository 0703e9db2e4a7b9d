import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { evaluateSplit } from "../../src/evaluate/evaluate.js";
import { renderReport, reportOrder } from "../../src/report/markdown.js";
import * as plot from "../../src/report/plot.js";
import { renderPlotSvg, svgToPng } from "../../src/report/plot.js";
import { makeResults, readResults, resultsSchema, serializeResults, splitEntry, thinPoints, type Results } from "../../src/report/results.js";
import { writeReport } from "../../src/report/write.js";
import { fixedPredictor, meanCosts, noisyPredictions, randomTable } from "../evaluate/fixtures.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Two routers: one that sees the outcomes almost exactly (beats Zero), one that predicts noise (does not). */
async function evaluateDemo(seed = 5): Promise<Results> {
  const t = randomTable(300, 4, 17, { binary: true });
  const cost = Array.from(meanCosts(t));
  const good = noisyPredictions(t, 1, 0.2);
  const rngNoise = noisyPredictions({ ...t, scores: new Float64Array(t.scores.length).fill(0.5) }, 2, 1);
  const byId = (q: Float64Array) => new Map(t.ids.map((id, i) => [id, Array.from(q.subarray(i * 4, i * 4 + 4))]));
  const r = await evaluateSplit(
    { table: t, embeddings: null },
    [
      { name: "noise", router: fixedPredictor(t.models, cost, byId(rngNoise)) },
      { name: "good", router: { ...fixedPredictor(t.models, cost, byId(good)), params: { k: 40 } } },
    ],
    { seed, bootstrap: 200 },
  );
  return makeResults([splitEntry("demo", "test", r)], { seed, routers: ["noise", "good"] });
}

describe("results.json", () => {
  it("is byte-identical across two runs with the same inputs and seed, and valid against its schema", async () => {
    const a = serializeResults(await evaluateDemo());
    const b = serializeResults(await evaluateDemo());
    expect(a).toBe(b);
    expect(a).not.toMatch(/\d{4}-\d\d-\d\dT/); // no timestamps
    expect(resultsSchema.safeParse(JSON.parse(a)).success).toBe(true);
    expect(serializeResults(await evaluateDemo(6))).not.toBe(a);
  });

  it("round-trips through writeReport and readResults; files are byte-identical across runs", async () => {
    const results = await evaluateDemo();
    const d1 = await mkdtemp(join(tmpdir(), "rk-report-"));
    const d2 = await mkdtemp(join(tmpdir(), "rk-report-"));
    dirs.push(d1, d2);
    const w1 = await writeReport(d1, results);
    await writeReport(d2, await evaluateDemo());
    for (const f of ["results.json", "report.md", "plots/demo--test.svg"]) {
      expect(await readFile(join(d1, f), "utf8"), f).toBe(await readFile(join(d2, f), "utf8"));
    }
    const back = await readResults(w1.results);
    expect(back.splits[0].routers.map((r) => r.name)).toEqual(results.splits[0].routers.map((r) => r.name));
    expect(back.splits[0].routers[0].aiq).toBe(results.splits[0].routers[0].aiq);
  });

  it("readResults names the file and field of a bad results file", async () => {
    const d = await mkdtemp(join(tmpdir(), "rk-report-"));
    dirs.push(d);
    const results = JSON.parse(serializeResults(await evaluateDemo())) as { splits: { prompts: unknown }[] };
    results.splits[0].prompts = "many";
    const { writeFileAtomic } = await import("../../src/util/atomic.js");
    await writeFileAtomic(join(d, "results.json"), JSON.stringify(results));
    await expect(readResults(join(d, "results.json"))).rejects.toThrow(/results\.json.*splits\.0\.prompts/);
  });

  it("thinning keeps every hull vertex, the ends, and at most about max points", () => {
    const pts = Array.from({ length: 5000 }, (_, i) => ({ cost: i, quality: Math.sqrt(i) + (i % 7 === 0 ? 0 : -0.01) }));
    const hull = [pts[0], pts[49], pts[4999]];
    const kept = thinPoints(pts, hull, 200);
    expect(kept.length).toBeLessThanOrEqual(200 + hull.length);
    expect(kept[0]).toBe(pts[0]);
    expect(kept[kept.length - 1]).toBe(pts[4999]);
    for (const h of hull) expect(kept).toContain(h);
  });
});

describe("report.md", () => {
  it("has one table row per router and reference, best AIQ first, and says yes only where the difference's interval is above 0", async () => {
    const results = await evaluateDemo();
    const md = renderReport(results, { plotsDir: "plots" });
    const split = results.splits[0];
    const rows = md.split("\n").filter((l) => /^\| (\d+|—) \|/.test(l));
    expect(rows).toHaveLength(split.routers.length);
    const order = reportOrder(split);
    order.forEach((r, k) => expect(rows[k]).toContain(r.name));
    // Ranked best AIQ first; the best single model (no AIQ) last, unranked.
    const ranked = order.filter((r) => r.aiq !== null);
    expect(ranked).toHaveLength(split.routers.length - 1);
    for (let k = 1; k < ranked.length; k++) expect(ranked[k - 1].aiq!).toBeGreaterThanOrEqual(ranked[k].aiq!);
    expect(order[order.length - 1].role).toBe("best-single");
    expect(rows[rows.length - 1]).toMatch(/^\| — \| \*Best single/);
    expect(rows.slice(0, -1).map((l) => l.split(" | ")[0])).toEqual(ranked.map((_, k) => `| ${k + 1}`));
    expect(md).toContain("*Zero router*");
    expect(md).toContain("*Oracle*");
    expect(md).toMatch(/\*Best single \(model-\d\)\*/);
    const good = split.routers.find((r) => r.name === "good")!;
    const noise = split.routers.find((r) => r.name === "noise")!;
    expect(good.diffInterval![0]).toBeGreaterThan(0);
    expect(noise.diffInterval![0]).toBeLessThanOrEqual(0);
    // The hyperparameters used are shown with the name (and kept in results.json).
    expect(rows.find((l) => l.includes("| good (k=40) |"))).toContain("**yes**");
    expect(good.params).toEqual({ k: 40 });
    expect(rows.find((l) => l.includes("| noise |"))).toMatch(/\| no \|/);
    expect(md).toContain("![demo test: quality vs cost](plots/demo--test.png)");
  });
});

describe("plots", () => {
  it("the SVG has every router's hull and raw points, the dashed Zero line, labelled single models, the Oracle, axes and legend", async () => {
    const results = await evaluateDemo();
    const split = results.splits[0];
    const svg = renderPlotSvg(split);
    expect(svg.startsWith("<svg")).toBe(true);
    for (const name of ["noise", "good"]) {
      expect(svg).toContain(`class="hull" data-router="${name}"`);
      expect(svg).toContain(`class="raw-points" data-router="${name}"`);
      expect(svg).toContain(`>${name} (`);
    }
    expect(svg).toMatch(/class="zero"[^>]*stroke-dasharray/);
    expect(svg.match(/class="single"/g)).toHaveLength(split.singles.length);
    for (const s of split.singles) expect(svg).toContain(`>${s.model}`);
    expect(svg).toContain('class="oracle"');
    expect(svg).toContain("mean cost per query (US$)<");
    expect(svg).toContain("mean quality (score)");
    expect(svg).toContain('class="legend"');
    expect(renderPlotSvg(split, { logCost: true })).toContain("log scale");
  });

  it("the PNG is a valid PNG at the requested scale", async () => {
    const results = await evaluateDemo();
    const svg = renderPlotSvg(results.splits[0], { width: 800, height: 500 });
    const png = svgToPng(svg, 1.5);
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const view = new DataView(png.buffer, png.byteOffset);
    expect(String.fromCharCode(...png.subarray(12, 16))).toBe("IHDR");
    expect(view.getUint32(16)).toBe(1200);
    expect(view.getUint32(20)).toBe(750);
    expect(png.length).toBeGreaterThan(10_000);
  });

  it("text renders in the PNG with the shipped font alone (no system fonts needed)", async () => {
    const { Resvg } = await import("@resvg/resvg-js");
    const page = (text: string) => `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><rect width="200" height="40" fill="#fff"/><text x="10" y="28" font-size="20" font-family="DejaVu Sans">${text}</text></svg>`;
    const pixels = (svg: string) => {
      const { plotFontFile } = plot;
      const r = new Resvg(svg, { font: { loadSystemFonts: false, fontFiles: [plotFontFile()], defaultFontFamily: "DejaVu Sans" } }).render();
      const px = r.pixels;
      let inked = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i] < 128) inked++;
      return inked;
    };
    expect(pixels(page(""))).toBe(0);
    expect(pixels(page("AIQ 0.678"))).toBeGreaterThan(100);
  });
});
