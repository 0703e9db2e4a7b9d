/**
 * Task prior: q_m(x) = model m's mean training score on x's task (its eval, or its dataset with
 * `level: "dataset"`), shrunk toward m's overall mean by empirical Bayes:
 *   q_m(e) = (n_e * mean_e + s * mean_all) / (n_e + s)
 * where n_e counts m's present training scores on task e and s is the `shrink` parameter. A
 * prompt whose task is unknown (no evals given, null, or a task unseen in training) gets mean_all,
 * so it is routed exactly as best-single routes it.
 *
 * Why it exists: its curve is the best *task-aware* mixing of single models, i.e. routing that
 * knows only which task a prompt belongs to and nothing else about it. On traffic pooled over
 * several tasks, a prompt-reading router (KNN, MLP, ...) that beats the task-blind Zero router
 * may do so merely by recognising the task from the prompt's wording; comparing it with
 * task-prior tells whether it learned more than that.
 *
 * Needs neither embeddings nor outcomes; it reads `PromptBatch.evals` (evaluation always fills
 * it; `routekit route` takes it from --eval or the input lines' "eval" field).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { datasetOfEval } from "../../data/table.js";
import { InputError } from "../../util/errors.js";
import { readFloat64, readJson, writeFloats } from "../binary.js";
import { checkKnownParams, expectedCostsOf, meanScoresOf, nonNegative, poolColumns } from "../common.js";
import type { RouterFactory } from "../registry.js";
import type { FitReport, PredictiveRouter, PromptBatch, Router, RouterManifest, TrainingSet } from "../router.js";

export type TaskLevel = "eval" | "dataset";

export const TASK_PRIOR_DEFAULT_SHRINK = 5;
const KNOWN = ["shrink", "level"];
const JSON_FILE = "task-prior.json";

/** task-prior.json: the task names (row order of the float files) and, at dataset level, eval -> dataset. */
interface TaskPriorJson {
  readonly level: TaskLevel;
  readonly tasks: string[];
  readonly evalToDataset?: Record<string, string>;
}

export class TaskPriorRouter implements PredictiveRouter {
  readonly type = "task-prior";
  readonly kind = "predictive" as const;
  readonly needsEmbeddings = false;
  readonly needsOutcomes = false;
  readonly params: Record<string, unknown>;
  readonly shrink: number;
  readonly level: TaskLevel;
  expectedCosts: Float64Array;
  /** mean_all per pool model: best-single's q_m (complete training rows). */
  overallMeans: Float64Array;
  /** Task names; row t of taskMeans/taskCounts belongs to tasks[t]. */
  tasks: string[] = [];
  /** tasks x pool: raw (unshrunk) mean training score; 0 where the count is 0. */
  taskMeans: Float64Array = new Float64Array(0);
  /** tasks x pool: number of present training scores behind each mean. */
  taskCounts: Float64Array = new Float64Array(0);
  /** Dataset level only: each training eval's dataset as the table gave it (tried before datasetOfEval). */
  evalToDataset = new Map<string, string>();

  constructor(
    readonly pool: readonly string[],
    params: Record<string, unknown>,
  ) {
    checkKnownParams("task-prior", params, KNOWN);
    this.shrink = nonNegative(params, "shrink", TASK_PRIOR_DEFAULT_SHRINK);
    const level = params.level ?? "eval";
    if (level !== "eval" && level !== "dataset") throw new InputError(`level must be "eval" or "dataset", got ${JSON.stringify(level)}`, { field: "level" });
    this.level = level;
    this.params = { shrink: this.shrink, level: this.level };
    this.expectedCosts = new Float64Array(pool.length);
    this.overallMeans = new Float64Array(pool.length);
  }

  async fit(train: TrainingSet): Promise<FitReport> {
    const start = performance.now();
    const t = train.table;
    this.expectedCosts = expectedCostsOf(t, this.pool);
    this.overallMeans = meanScoresOf(t, this.pool);
    const keys = this.level === "dataset" ? t.datasets : t.evals;
    const index = new Map<string, number>();
    for (const k of keys) if (!index.has(k)) index.set(k, index.size);
    this.tasks = [...index.keys()];
    this.evalToDataset = new Map();
    if (this.level === "dataset") for (let i = 0; i < t.evals.length; i++) if (!this.evalToDataset.has(t.evals[i])) this.evalToDataset.set(t.evals[i], t.datasets[i]);
    const m = this.pool.length;
    const m0 = t.models.length;
    const cols = poolColumns(t, this.pool);
    const sums = new Float64Array(this.tasks.length * m);
    const counts = new Float64Array(this.tasks.length * m);
    for (let i = 0; i < t.ids.length; i++) {
      const row = index.get(keys[i])! * m;
      for (let j = 0; j < m; j++) {
        const s = t.scores[i * m0 + cols[j]];
        if (Number.isNaN(s)) continue; // missing scores are skipped, cell by cell
        sums[row + j] += s;
        counts[row + j]++;
      }
    }
    for (let c = 0; c < sums.length; c++) if (counts[c] > 0) sums[c] /= counts[c];
    this.taskMeans = sums;
    this.taskCounts = counts;
    return { chosen: { ...this.params }, validation: {}, seconds: (performance.now() - start) / 1000 };
  }

  /** Row of `tasks` for a prompt's eval, or -1 when the task is unknown. */
  taskIndexOf(evalName: string | null | undefined): number {
    if (evalName === null || evalName === undefined) return -1;
    let i = this.tasks.indexOf(evalName); // an eval, or at dataset level a dataset name given as the eval
    if (i < 0 && this.level === "dataset") {
      const ds = this.evalToDataset.get(evalName) ?? datasetOfEval(evalName);
      i = this.tasks.indexOf(ds);
    }
    return i;
  }

  /** q_m for task row t (-1: unknown task), shrunk toward the overall means. */
  qualityOfTask(t: number): Float64Array {
    if (t < 0) return this.overallMeans;
    const m = this.pool.length;
    const out = new Float64Array(m);
    for (let j = 0; j < m; j++) {
      const n = this.taskCounts[t * m + j];
      const s = this.shrink;
      out[j] = n + s > 0 ? (n * this.taskMeans[t * m + j] + s * this.overallMeans[j]) / (n + s) : this.overallMeans[j];
    }
    return out;
  }

  async predictQuality(batch: PromptBatch): Promise<Float64Array> {
    const n = batch.ids.length;
    const evals = batch.evals;
    if (evals && evals.length !== n) throw new Error(`router task-prior: ${evals.length} evals for ${n} prompts`);
    const m = this.pool.length;
    const out = new Float64Array(n * m);
    const cache = new Map<number, Float64Array>();
    for (let i = 0; i < n; i++) {
      const t = this.taskIndexOf(evals?.[i]);
      let q = cache.get(t);
      if (!q) cache.set(t, (q = this.qualityOfTask(t)));
      out.set(q, i * m);
    }
    return out;
  }
}

export const taskPriorFactory: RouterFactory = {
  type: "task-prior",
  needsEmbeddings: false,
  needsOutcomes: false,
  kind: "predictive",
  describe: 'q_m = mean training score on the prompt\'s eval (level=dataset: its dataset), shrunk toward the overall mean by shrink=s (default 5); unknown eval: best-single',
  defaultGrid: { shrink: [0, 5, 20] },
  create: (pool, params) => new TaskPriorRouter(pool, params),
  async save(router: Router, dir: string): Promise<string[]> {
    const r = router as TaskPriorRouter;
    const json: TaskPriorJson = { level: r.level, tasks: r.tasks, ...(r.level === "dataset" ? { evalToDataset: Object.fromEntries(r.evalToDataset) } : {}) };
    await writeFile(join(dir, JSON_FILE), `${JSON.stringify(json)}\n`);
    return [
      JSON_FILE,
      await writeFloats(dir, "overall-means.f64", r.overallMeans),
      await writeFloats(dir, "task-means.f64", r.taskMeans),
      await writeFloats(dir, "task-counts.f64", r.taskCounts),
    ];
  },
  async load(dir: string, manifest: RouterManifest): Promise<Router> {
    const r = new TaskPriorRouter(manifest.pool.map((p) => p.model), manifest.params);
    const json = await readJson<TaskPriorJson>(dir, JSON_FILE);
    if (!json || !Array.isArray(json.tasks) || json.tasks.some((x) => typeof x !== "string") || json.level !== r.level) {
      throw new InputError(`not a task-prior file of a level=${r.level} router`, { file: join(dir, JSON_FILE) });
    }
    const m = r.pool.length;
    r.expectedCosts = Float64Array.from(manifest.pool, (p) => p.expectedCost);
    r.tasks = json.tasks;
    r.evalToDataset = new Map(Object.entries(json.evalToDataset ?? {}));
    r.overallMeans = await readFloat64(dir, "overall-means.f64", m);
    r.taskMeans = await readFloat64(dir, "task-means.f64", json.tasks.length * m);
    r.taskCounts = await readFloat64(dir, "task-counts.f64", json.tasks.length * m);
    return r;
  },
};
