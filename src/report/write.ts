/**
 * Write a whole report directory: results.json, report.md and plots/<dataset>--<split>.svg/png.
 * writeReport replaces the whole folder in one crash-consistent step (src/util/atomic.ts): a
 * reader never sees new plots beside an old report, nor plots of datasets an earlier report had
 * and this one has not. writeReportFiles fills a folder that is itself being staged (`run`).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { crashPoint, writeDirAtomic, type OutputDirOptions } from "../util/atomic.js";
import { renderForestSvg } from "./forest.js";
import { latencyPlotStem, latencyView, LATENCY_AXIS } from "./latency.js";
import { forestStem, plotStem, renderReport } from "./markdown.js";
import { renderPlotSvg, svgToPng } from "./plot.js";
import { serializeResults, type Results } from "./results.js";

export interface ReportOptions {
  logCost?: boolean;
  /** PNG zoom relative to the SVG's size; default 1.5. */
  pngScale?: number;
  title?: string;
}

export interface WrittenReport {
  results: string;
  report: string;
  /**
   * Per split: its cost-quality plot (kind "curves"), then its forest plot of AIQ minus Zero
   * (kind "forest"), then, when the data has latencies, its quality-latency plot (kind "latency").
   */
  plots: { svg: string; png: string; kind: "curves" | "forest" | "latency" }[];
}

/** The file whose presence marks a folder as a routekit report (see OutputDirOptions.marker). */
export const REPORT_MARKER = "results.json";

/**
 * Write the report's files into `dir`, a folder being staged by the caller (plain writes: the
 * caller's writeDirAtomic makes the whole folder durable and moves it into place).
 */
export async function writeReportFiles(dir: string, results: Results, opts: ReportOptions = {}): Promise<WrittenReport> {
  const plots: WrittenReport["plots"] = [];
  await mkdir(join(dir, "plots"), { recursive: true });
  const plot = async (stem: string, svg: string, kind: "curves" | "forest" | "latency") => {
    const svgPath = join(dir, "plots", `${stem}.svg`);
    const pngPath = join(dir, "plots", `${stem}.png`);
    await writeFile(svgPath, svg);
    await writeFile(pngPath, svgToPng(svg, opts.pngScale));
    plots.push({ svg: svgPath, png: pngPath, kind });
  };
  for (const split of results.splits) {
    await plot(plotStem(split), renderPlotSvg(split, { logCost: opts.logCost }), "curves");
    // report.md links a forest plot only for splits with routers (not just the reference rows).
    if (split.routers.some((r) => r.role === "router")) await plot(forestStem(split), renderForestSvg(split), "forest");
    const latency = latencyView(split);
    if (latency) {
      const title = `${split.dataset} (${split.split}): quality vs latency on ${split.prompts} test prompts`;
      await plot(latencyPlotStem(plotStem(split)), renderPlotSvg(latency, { xLabel: LATENCY_AXIS, title }), "latency");
    }
    crashPoint("report:plot");
  }
  const reportPath = join(dir, "report.md");
  await writeFile(reportPath, renderReport(results, { plotsDir: "plots", title: opts.title }));
  const resultsPath = join(dir, REPORT_MARKER);
  await writeFile(resultsPath, serializeResults(results));
  return { results: resultsPath, report: reportPath, plots };
}

export interface WriteReportOptions extends ReportOptions, Omit<OutputDirOptions, "marker"> {
  /** More files for the same folder, name -> content (e.g. run.json), written in the same step. */
  extraFiles?: Record<string, string>;
}

/**
 * Replace the folder `outDir` with this report, atomically: an existing folder is replaced only
 * if it is empty or an earlier report (holds results.json), and never if it is or holds one of
 * `opts.inputs`. Returned paths are under `outDir`.
 */
export async function writeReport(outDir: string, results: Results, opts: WriteReportOptions = {}): Promise<WrittenReport> {
  let rel: WrittenReport | undefined;
  await writeDirAtomic(
    outDir,
    async (staging) => {
      const w = await writeReportFiles(staging, results, opts);
      for (const [name, text] of Object.entries(opts.extraFiles ?? {})) await writeFile(join(staging, name), text);
      const under = (p: string) => join(outDir, p.slice(staging.length + 1));
      rel = { results: under(w.results), report: under(w.report), plots: w.plots.map((p) => ({ svg: under(p.svg), png: under(p.png), kind: p.kind })) };
    },
    { label: opts.label, inputs: opts.inputs, marker: REPORT_MARKER },
  );
  return rel!;
}
