import type { OutcomeTable } from "../../src/data/table.js";

export interface RowSpec {
  id: string;
  text?: string;
  dataset?: string;
  eval?: string;
  scores: number[];
  costs: number[];
}

/** A small outcome table from literal rows, for tests whose right answer is known by hand. */
export function tableFrom(models: string[], rows: RowSpec[]): OutcomeTable {
  const m = models.length;
  for (const r of rows) {
    if (r.scores.length !== m || r.costs.length !== m) throw new Error(`row ${r.id}: need ${m} scores and costs`);
  }
  return {
    ids: rows.map((r) => r.id),
    texts: rows.map((r) => r.text ?? r.id),
    datasets: rows.map((r) => r.dataset ?? "d"),
    evals: rows.map((r) => r.eval ?? r.dataset ?? "d"),
    models: models.slice(),
    scores: Float64Array.from(rows.flatMap((r) => r.scores)),
    costs: Float64Array.from(rows.flatMap((r) => r.costs)),
  };
}
