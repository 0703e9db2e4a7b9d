import type { Bench } from "./types.js";

/** Every benchmark, in the order `npm run bench` runs them. */
export const benches: Bench[] = [];
import { synthBench } from "./synth.js";
benches.push(synthBench);
import { importBench } from "./import.js";
benches.push(importBench);
import { routersBench } from "./routers.js";
benches.push(routersBench);
import { embedBench } from "./embed.js";
benches.push(embedBench);
import { evaluateBench } from "./evaluate.js";
benches.push(evaluateBench);
import { mainJobBench } from "./main-job.js";
benches.push(mainJobBench);
import { budgetBench } from "./budget.js";
benches.push(budgetBench);
import { fuzzBench } from "./fuzz.js";
benches.push(fuzzBench);
import { serveBench } from "./serve.js";
benches.push(serveBench);
import { judgedBench } from "./judged.js";
benches.push(judgedBench);
import { knnBench } from "./knn.js";
benches.push(knnBench);
import { encoderBench } from "./encoder.js";
benches.push(encoderBench);
