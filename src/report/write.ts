/**
 * Write a whole report directory: results.json, report.md and plots/<dataset>--<split>.svg/png.
 * Each file is written atomically; results.json goes last so its presence means the rest is
 * there too.
 */
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic.js";
import { plotStem, renderReport } from "./markdown.js";
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
  plots: { svg: string; png: string }[];
}

export async function writeReport(outDir: string, results: Results, opts: ReportOptions = {}): Promise<WrittenReport> {
  const plots: { svg: string; png: string }[] = [];
  for (const split of results.splits) {
    const svg = renderPlotSvg(split, { logCost: opts.logCost });
    const stem = plotStem(split);
    const svgPath = join(outDir, "plots", `${stem}.svg`);
    const pngPath = join(outDir, "plots", `${stem}.png`);
    await writeFileAtomic(svgPath, svg);
    await writeFileAtomic(pngPath, svgToPng(svg, opts.pngScale));
    plots.push({ svg: svgPath, png: pngPath });
  }
  const reportPath = join(outDir, "report.md");
  await writeFileAtomic(reportPath, renderReport(results, { plotsDir: "plots", title: opts.title }));
  const resultsPath = join(outDir, "results.json");
  await writeFileAtomic(resultsPath, serializeResults(results));
  return { results: resultsPath, report: reportPath, plots };
}
