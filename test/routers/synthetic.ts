/**
 * Two-topic tables whose right routing is known by hand: "specialist" is perfect on topic A and
 * useless on B and dear; "generalist" scores 0.5 everywhere and is cheap; "dud" scores 0 and is
 * cheapest. Prompts of a topic cluster around one direction of the embedding space.
 */
import type { OutcomeTable } from "../../src/data/table.js";
import type { EmbeddingMatrix } from "../../src/embed/embedder.js";
import { DEFAULT_PREPARATION } from "../../src/embed/embedder.js";
import type { TrainingSet } from "../../src/routers/router.js";
import { makeRng, normal } from "../../src/util/rng.js";
import { tableFrom } from "../helpers/tables.js";

export const MODELS = ["specialist", "generalist", "dud"];
export const COSTS = [1e-3, 1e-4, 1e-5];

export function embeddingsOf(rows: number[][]): EmbeddingMatrix {
  const dimension = rows[0]?.length ?? 0;
  const data = new Float32Array(rows.length * dimension);
  rows.forEach((r, i) => {
    const norm = Math.hypot(...r) || 1;
    r.forEach((v, j) => (data[i * dimension + j] = v / norm));
  });
  return { rows: rows.length, dimension, data, embedderId: "test", preparation: DEFAULT_PREPARATION };
}

/** n prompts per topic, dimension d >= 2; topic A along axis 0, topic B along axis 1. */
export function topicSet(n: number, d: number, seed: number, prefix = "p"): TrainingSet & { topics: ("A" | "B")[] } {
  const rng = makeRng(seed);
  const rows: number[][] = [];
  const specs = [];
  const topics: ("A" | "B")[] = [];
  for (let i = 0; i < 2 * n; i++) {
    const topic = i % 2 === 0 ? "A" : "B";
    const v = Array.from({ length: d }, () => 0.15 * normal(rng));
    v[topic === "A" ? 0 : 1] += 1;
    rows.push(v);
    topics.push(topic);
    specs.push({
      id: `${prefix}${i}`,
      dataset: topic,
      scores: [topic === "A" ? 1 : 0, 0.5, 0],
      costs: COSTS.map((c) => c * (0.9 + 0.2 * rng())),
    });
  }
  const table: OutcomeTable = tableFrom(MODELS, specs);
  return { table, embeddings: embeddingsOf(rows), topics };
}
