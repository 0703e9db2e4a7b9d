// The library API: everything the CLI does, importable from TypeScript.
export * from "./data/table.js";
export * from "./data/arrow-io.js";
export * from "./embed/embedder.js";
export * from "./routers/router.js";
export { InputError } from "./util/errors.js";
export { synthesize, synthesizeWithLatents, summarizeSynth, benchmarkWeights, DEFAULT_SYNTH_OPTIONS, type SynthOptions, type SynthLatents, type SynthSummary, type SynthModelSummary } from "./data/synth/index.js";
export * from "./embed/index.js";
export { importFiles, IMPORT_FORMATS, loadPrices, parsePythonStringList, PythonLiteralError, PICKLE_TO_PARQUET, type ImportFormat, type ImportOptions, type ImportReport, type PriceTable } from "./data/importers/index.js";
export { tableInfo, oracleChoice, type TableInfo, type ModelInfo } from "./data/info.js";
export { makeSplits, ROUTERBENCH_SPLIT, type Split, type SplitSpec } from "./data/splits.js";
export * from "./evaluate/index.js";
export * from "./report/index.js";
