// Reports: results.json, report.md, plots.
export { makeResults, splitEntry, serializeResults, writeResults, readResults, upgradeResults, hasAiq, thinPoints, resultsSchema, splitEntrySchema, routerEntrySchema, RESULTS_FORMAT, RESULTS_FORMAT_VERSION, RESULTS_FORMAT_VERSIONS_READ, DEFAULT_MAX_POINTS, type Results, type SplitEntry, type RouterEntry, type ResultPoint } from "./results.js";
export { renderReport, renderSplitSection, reportOrder, plotStem, forestStem, HOW_TO_READ } from "./markdown.js";
export { renderPlotSvg, svgToPng, plotFontFile, hiddenUnder, type PlotOptions } from "./plot.js";
export { renderForestSvg, type ForestOptions } from "./forest.js";
export { summaryTable, splitWarnings, renderSummaryMarkdown, formatSummaryCell, splitLabel, MIN_TEST_PROMPTS, MIN_VALIDATION_PROMPTS, type SummaryTable, type SummaryRow, type SummaryCell } from "./summary.js";
export { writeReport, type ReportOptions, type WrittenReport } from "./write.js";
