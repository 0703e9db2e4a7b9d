// The library API: everything the CLI does, importable from TypeScript.
export * from "./data/table.js";
export * from "./data/arrow-io.js";
export * from "./embed/embedder.js";
export * from "./routers/router.js";
export { InputError } from "./util/errors.js";
export { synthesize, synthesizeWithLatents, summarizeSynth, benchmarkWeights, DEFAULT_SYNTH_OPTIONS, type SynthOptions, type SynthLatents, type SynthSummary, type SynthModelSummary, SYNTH_LATENCY, type SynthLatencyParams } from "./data/synth/index.js";
export * from "./embed/index.js";
export { createUseLiteStaticEmbedder, useLiteStaticEmbedderId, staticTablePath, STATIC_RECIPE, type UseLiteStaticOptions } from "./embed/use-lite-static.js";
export { createOpenAIEmbedder, openaiEmbedderId, openaiOptionsFromEnv, OPENAI_EMBEDDER_DEFAULTS, type OpenAIEmbedderOptions } from "./embed/openai.js";
export { PartialEmbedError } from "./embed/partial.js";
export { importFiles, IMPORT_FORMATS, loadPrices, parsePythonStringList, PythonLiteralError, PICKLE_TO_PARQUET, type ImportFormat, type ImportOptions, type ImportReport, type PriceTable } from "./data/importers/index.js";
export { tableInfo, oracleChoice, type TableInfo, type ModelInfo } from "./data/info.js";
export { exportTable, exportColumns, exportFormatOf, EXPORT_FORMATS, EXPORT_ROW_GROUP_ROWS, type ExportFormat, type ExportOptions, type ExportReport } from "./data/export.js";
export { makeSplits, pooledSplit, crossFitFolds, idsOf, splitKey, splitSpecOf, ROUTERBENCH_SPLIT, DEFAULT_FOLDS, type Split, type SplitSpec } from "./data/splits.js";
export * from "./evaluate/index.js";
export * from "./report/index.js";
export { routeAt, checkPool, routePrompts, realiseChecked, type LatencyTerm } from "./routers/routing.js";
export { registerRouter, getRouterFactory, routerTypes, parseRouterSpec, type RouterFactory, type RouterSpec } from "./routers/registry.js";
export { trainRouter, gridPoints, validationFigures, type TrainOptions, type TrainedRouter } from "./routers/train.js";
export { saveRouter, loadRouter, readManifest, readFittedPrompts, copyRouterWith, operatingPointsOf, FITTED_PROMPTS_FILE, ROUTER_FORMAT, ROUTER_FORMAT_VERSION, type SavedRouterManifest, type SaveMeta, type FittedOn } from "./routers/artifact.js";
export { readRepricingRecord, REPRICING_FILE, type RepricingRecord, type RepricingNote, type RepricedFrom, type SavedPoolEntry } from "./routers/artifact.js";
export { readPriceFile, repriceRouter, type Prices, type PriceFile, type RepriceOptions, type RepriceResult } from "./workflow/reprice.js";
export { tokenMeansOf, validationPointsWithRecord } from "./workflow/train.js";
export { chooseTarget, pointsForPrompts, promptDraw, type OperatingPoint, type OperatingPoints, type RoutingTarget, type TargetChoice } from "./routers/targets.js";
export {
  trainOnTable,
  trainAndSave,
  trainingRows,
  checkTrainable,
  checkParams,
  calibrateSavedRouter,
  crossFittedOperatingPoints,
  operatingPointsOn,
  fittedOverlap,
  evaluateRoutersOnTable,
  runExperiment,
  OPERATING_POINT_FOLDS,
  type TrainOnTableOptions,
  type TrainOnTableResult,
  type TrainedOnSplit,
  type TrainAndSaveResult,
  type CalibrateOptions,
  type EvalDatasetOptions,
  type EvalDatasetResult,
  type RouterSource,
  type RunHooks,
  type RunOptions,
  type RunResult,
  type SplitRun,
} from "./workflow/index.js";
export { RoutingSession, routeWithSavedRouter, embedForRouter, defaultRouteAt, type RoutedPrompt, type RouteAt, type RoutePlan, type PromptsToRoute, type RoutingRequest, type SessionOptions, type LatencyOptions } from "./workflow/session.js";
export { batchOfTable, expectedCostsOf, expectedLatenciesOf } from "./routers/common.js";
export { KnnRouter } from "./routers/knn.js";
export { MlpRouter } from "./routers/mlp.js";
export { LinearRouter } from "./routers/linear.js";
export { MfRouter, mfFactory, type MfWeights } from "./routers/mf.js";
export { StackRouter, stackFactory, STACK_DEFAULT_MEMBERS, STACK_DEFAULT_FOLDS } from "./routers/stack.js";
export { IrtRouter, irtFactory, fitItemResponse, expectedSigmoid, type IrtModel, type ItemResponseFit } from "./routers/irt.js";
export { OracleRouter } from "./routers/baselines/oracle.js";
export { BestSingleRouter } from "./routers/baselines/best-single.js";
export { TaskPriorRouter, taskPriorFactory, TASK_PRIOR_DEFAULT_SHRINK, type TaskLevel } from "./routers/baselines/task-prior.js";
export { ZeroRouter } from "./routers/baselines/zero.js";
export { CascadeRouter, CASCADE_EPSILONS, judgeDraw } from "./routers/baselines/cascade.js";
export { experimentSchema, parseExperiment, loadExperiment, validateExperiment, experimentToYaml, routerLabel, type ExperimentConfig, type ExperimentInput, type SplitConfig } from "./experiments/config.js";
export { runCollect, dryRunCollect, journalPathOf, type CollectRunOptions, type CollectRunResult } from "./workflow/collect.js";
export { collectOutcomes, estimateCollect, buildTable, journalState, requestHash, judgeHash, parseCollectConfig, loadCollectConfig, readPrompts, Journal, EndpointLimiter, SpendCap, callChat, worstCaseCost, maxInputTokens, estimateTokens, builtinScorer, normalizeAnswer, finalNumber, choiceLetter, judgePrompt, judgeScore, DEFAULT_RUBRIC, SCORER_TYPES, type CollectConfig, type CollectModel, type CollectOptions, type CollectReport, type CollectEstimate, type CollectProgress, type CellFailure, type ScorerConfig, type PromptRow, type CustomScorer, type ScoreInput, type JournalRecord, type CallRecord, type JudgeRecord } from "./collect/index.js";
