/**
 * Router speed at RouterBench scale: 30,000 training prompts x 11 models x 384-dim embeddings
 * (random but structured: 24 topics, each model with its own success rate per topic).
 * KNN query time per 1,000 prompts (both engines), MLP training to convergence (early stopping
 * on 3,000 validation prompts), the linear fit, and the process's peak RSS.
 */
import type { Bench } from "./types.js";
import type { OutcomeTable } from "../src/data/table.js";
import { DEFAULT_PREPARATION, type EmbeddingMatrix } from "../src/embed/embedder.js";
import { KnnRouter } from "../src/routers/knn.js";
import { MlpRouter } from "../src/routers/mlp.js";
import { trainRouter } from "../src/routers/train.js";
import { getTf } from "../src/routers/tf-backend.js";
import type { PromptBatch, TrainingSet } from "../src/routers/router.js";
import { makeRng, normal } from "../src/util/rng.js";

const N_TRAIN = 30_000;
const N_VAL = 3_000;
const N_QUERY = 1_000;
const DIM = 384;
const MODELS = 11;
const TOPICS = 24;

function synthetic(seed: number): { train: TrainingSet; validation: TrainingSet; queries: PromptBatch } {
  const rng = makeRng(seed);
  const centres = Array.from({ length: TOPICS }, () => Float64Array.from({ length: DIM }, () => normal(rng)));
  const skill = Array.from({ length: TOPICS }, () => Float64Array.from({ length: MODELS }, () => rng()));
  const price = Float64Array.from({ length: MODELS }, (_, m) => 5e-5 * 1.5 ** m);
  const make = (n: number, prefix: string): TrainingSet => {
    const data = new Float32Array(n * DIM);
    const scores = new Float64Array(n * MODELS);
    const costs = new Float64Array(n * MODELS);
    for (let i = 0; i < n; i++) {
      const t = Math.floor(rng() * TOPICS);
      let norm = 0;
      for (let j = 0; j < DIM; j++) {
        const v = centres[t][j] + 1.5 * normal(rng);
        data[i * DIM + j] = v;
        norm += v * v;
      }
      norm = Math.sqrt(norm);
      for (let j = 0; j < DIM; j++) data[i * DIM + j] /= norm;
      for (let m = 0; m < MODELS; m++) {
        scores[i * MODELS + m] = rng() < skill[t][m] ? 1 : 0;
        costs[i * MODELS + m] = price[m] * (0.5 + rng());
      }
    }
    const ids = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    const table: OutcomeTable = {
      ids,
      texts: ids,
      datasets: ids.map(() => "bench"),
      evals: ids.map(() => "bench"),
      models: Array.from({ length: MODELS }, (_, m) => `model-${m}`),
      scores,
      costs,
    };
    const embeddings: EmbeddingMatrix = { rows: n, dimension: DIM, data, embedderId: "bench", preparation: DEFAULT_PREPARATION };
    return { table, embeddings };
  };
  const train = make(N_TRAIN, "t");
  const validation = make(N_VAL, "v");
  const q = make(N_QUERY, "q");
  return { train, validation, queries: { ids: q.table.ids, texts: q.table.texts, embeddings: q.embeddings } };
}

/** Wall and CPU seconds: on a shared machine CPU time is the steadier figure (TF wasm runs on one thread). */
async function seconds<T>(f: () => Promise<T>): Promise<{ s: number; cpu: number; value: T }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const value = await f();
  const c = process.cpuUsage(c0);
  return { s: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, value };
}

const fmt = (t: { s: number; cpu: number }, digits = 2) => `${t.s.toFixed(digits)} s (CPU ${t.cpu.toFixed(digits)} s)`;

export const routersBench: Bench = {
  name: "routers",
  title: "Routers: KNN queries, MLP and linear training at 30,000 x 11 x 384",
  async run(): Promise<string> {
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    try {
      const log = (s: string) => process.stderr.write(`routers: ${s}\n`);
      const { tf, backend } = await getTf();
      log(`TF backend ${backend}`);
      const { train, validation, queries } = synthetic(1);
      const rows: string[][] = [];

      // KNN: the first query on the tf engine also builds the transposed index; time it apart.
      // The js engine is timed on 100 queries and scaled (it is far slower).
      for (const engine of ["tf", "js"] as const) {
        const r = new KnnRouter(train.table.models, { k: 10, engine });
        await r.fit(train);
        const batch = engine === "tf" ? queries : { ...queries, ids: queries.ids.slice(0, 100), texts: queries.texts.slice(0, 100), embeddings: { ...queries.embeddings!, rows: 100, data: queries.embeddings!.data.subarray(0, 100 * DIM) } };
        const scale = N_QUERY / batch.ids.length;
        const first = await seconds(() => r.predictQuality(batch));
        // A copy of the queries: the router remembers its last search by array identity.
        const copy = { ...batch, embeddings: { ...batch.embeddings!, data: Float32Array.from(batch.embeddings!.data) } };
        const again = await seconds(() => r.predictQuality(copy));
        const per1000 = { s: again.s * scale, cpu: again.cpu * scale };
        rows.push([`KNN query, engine=${engine} (k=10)`, `${fmt(per1000, 3)} per 1,000 queries${engine === "tf" ? ` (first call, building the index: ${fmt(first, 3)})` : " (timed on 100)"}`, "< 1 s"]);
        log(`knn ${engine}: ${fmt(per1000, 3)}`);
        r.dispose();
      }

      // MLP to convergence on the default backend.
      const mlpSpec = { hidden: "100", epochs: 200, patience: 10, batchSize: 128, seed: 0 };
      const mlp = new MlpRouter(train.table.models, mlpSpec);
      mlp.onProgress = (e, _t, l) => log(`mlp epoch ${e}: ${l ?? ""}`);
      const fit = await seconds(() => mlp.fit(train, validation));
      rows.push([
        `MLP training (hidden=100, batch 128, Adam 1e-3, patience 10), backend ${backend}`,
        `${fmt(fit, 1)}, ${mlp.trainedEpochs} epochs (best ${mlp.bestEpoch}), validation MSE ${fit.value.validation.mse.toFixed(4)}`,
        "< 60 s",
      ]);
      mlp.dispose();

      // wasm vs cpu: one epoch (with its validation pass) on each backend; cpu is far too slow to converge here.
      const perEpoch: string[] = [];
      for (const b of ["wasm", "cpu"]) {
        if (!(await tf.setBackend(b).catch(() => false))) continue;
        const m = new MlpRouter(train.table.models, { ...mlpSpec, epochs: 1 });
        const t = await seconds(() => m.fit(train, validation));
        perEpoch.push(`${b} ${fmt(t)} per epoch`);
        m.dispose();
      }
      await tf.setBackend(backend);
      rows.push(["MLP epoch time by TF backend", perEpoch.join(", "), ""]);

      // Each linear measurement gets its own copy of the embeddings: the router caches X'X per
      // embedding array (so an alpha grid pays for it once), which must not leak between timings.
      const fresh = (): TrainingSet => ({ table: train.table, embeddings: { ...train.embeddings!, data: Float32Array.from(train.embeddings!.data) } });
      const lin = await seconds(() => trainRouter(fresh(), null, { spec: "linear:alpha=1", seed: 0 }));
      rows.push(["Linear (ridge) fit, one alpha", fmt(lin), ""]);
      const linTrain = fresh();
      const grid = await seconds(() => trainRouter(linTrain, validation, { spec: "linear:alpha=0.1|1|10|100", seed: 0 }));
      rows.push(["Linear fit + validation, 4-alpha grid", `${fmt(grid)}, chose alpha=${String(grid.value.report.chosen.alpha)}`, ""]);
      const knnGrid = await seconds(() => trainRouter(train, validation, { spec: "knn:k=5|10|40", seed: 0 }));
      rows.push(["KNN fit + validation (3,000 prompts), k grid 5/10/40", `${fmt(knnGrid)}, chose k=${String(knnGrid.value.report.chosen.k)}`, ""]);

      peak = Math.max(peak, process.memoryUsage().rss);
      rows.push(["Peak RSS (whole benchmark)", `${(peak / 2 ** 20).toFixed(0)} MiB`, ""]);
      return [
        `Synthetic data: ${N_TRAIN.toLocaleString("en")} training, ${N_VAL.toLocaleString("en")} validation and ${N_QUERY.toLocaleString("en")} query prompts, ${MODELS} models, ${DIM}-dim L2-normalised embeddings in ${TOPICS} topics. TensorFlow.js backend: **${backend}** (tfjs-node not installed).`,
        "",
        "| measurement | result | target |",
        "|---|---|---|",
        ...rows.map((r) => `| ${r.join(" | ")} |`),
        "",
        "KNN keeps the faster engine as its default (engine=tf: one matMul against the pre-transposed training matrix + topk per 512 queries); engine=js is plain typed-array loops with a partial top-k.",
      ].join("\n");
    } finally {
      clearInterval(sampler);
    }
  },
};
