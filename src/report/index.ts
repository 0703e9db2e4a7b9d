// Reports: results.json, report.md, plots.
export { makeResults, splitEntry, serializeResults, writeResults, readResults, thinPoints, resultsSchema, splitEntrySchema, routerEntrySchema, RESULTS_FORMAT, RESULTS_FORMAT_VERSION, DEFAULT_MAX_POINTS, type Results, type SplitEntry, type RouterEntry, type ResultPoint } from "./results.js";
export { renderReport, renderSplitSection, reportOrder, plotStem, HOW_TO_READ } from "./markdown.js";
export { renderPlotSvg, svgToPng, plotFontFile, type PlotOptions } from "./plot.js";
export { writeReport, type ReportOptions, type WrittenReport } from "./write.js";
