// The evaluator's public API.
export { exactCurve, gridCurve, gridCurveWithDecisions, directCurve, pointsOfDecisions, ROUTERBENCH_LAMBDAS, type Curve, type CurvePoint, type CurveDecisions } from "./curve.js";
export { nonDecreasingHull, hullInto, type CostQuality } from "./hull.js";
export { aiq, aiqRouterbenchCode, hullIntegral, hullQualityAt, maxQuality, qualityAtCost, costToReach, apgr, cpt, type SharePoint } from "./metrics.js";
export { bootstrapAiq, drawWeights, AIQ_TIE_TOLERANCE, type AiqMode, type BootstrapInput, type BootstrapOptions, type BootstrapResult, type RouterInterval } from "./bootstrap.js";
export { evaluateSplit, evaluateFolds, type FoldUnderTest, type EvalOptions, type RouterUnderTest, type RouterResult, type RowRole, type SplitResult, type SingleModelPoint, type TwoModelMetrics } from "./evaluate.js";
export { measureOperatingPoints, predictedOperatingPoints, validatedLambdas, hullVertexIndices, poolOutcomes, type MeasureOptions } from "./operating-points.js";
export { shuffledOutcomes, permutationP, routerNull, type RouterNull } from "./null.js";
