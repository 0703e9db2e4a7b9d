/**
 * Collects prompts and (prompt, model) outcomes from any number of files and formats, merging
 * duplicates field by field, and builds the OutcomeTable at the end.
 *
 * Merge rules (the same for every format):
 * - A prompt id seen again is the same prompt. Its text, eval and dataset must agree where both
 *   rows have them (a missing value is filled from the other row); a difference is an error that
 *   names both rows. One exception, seen in RouterBench's 5-shot ARC rows: a prompt list that
 *   holds the same prompt twice (`['X', 'X']`) and its single form (`['X']`) are one prompt;
 *   the single form is kept and the merge is reported in the warnings.
 * - A (prompt, model) outcome is present when its score is. When only one of two rows has the
 *   score, that row's outcome (score, cost, tokens, response) is taken as a whole: a cost
 *   without a score describes a call whose result is missing. When both have it, score, cost,
 *   tokens and response must agree where both are given, else it is an error naming both rows.
 * - Rows still missing some models' scores are kept (NaN) and listed in the report.
 */
import { InputError } from "../../util/errors.js";
import type { OutcomeTable } from "../table.js";

export interface Src {
  file: string;
  row: number;
}

/** One (prompt, model) outcome as read from a row; the accumulator keeps the object itself. */
export interface CellIn {
  score: number;
  cost: number;
  inputTokens: number;
  outputTokens: number;
  /** Latencies in ms (long form only; NaN or absent where not given). */
  ttftMs?: number;
  totalLatencyMs?: number;
  response: string | null;
  src: Src;
}

type CellRec = CellIn;

interface PromptRec {
  id: string;
  parts: string[];
  evalName: string | null;
  dataset: string | null;
  src: Src;
  cells: (CellRec | undefined)[];
}

/** Field names to use in messages, so errors speak the file's own column names. */
export interface CellFields {
  score: string;
  cost: string;
  inputTokens: string;
  outputTokens: string;
  ttftMs?: string;
  totalLatencyMs?: string;
  response: string;
}

export interface PromptFields {
  id: string;
  text: string;
  evalName: string;
  dataset: string;
}

function where(s: Src): string {
  return `${s.file} row ${s.row}`;
}

function sameNumber(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}

function show(v: number | string | null): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return String(v);
}

export class Accumulator {
  readonly models: string[] = [];
  private readonly modelIndex = new Map<string, number>();
  private readonly prompts: PromptRec[] = [];
  private readonly byId = new Map<string, PromptRec>();
  mergedDuplicates = 0;
  private readonly repeatedLists: string[] = [];
  private replacedCells = 0;
  private readonly warningsList: string[] = [];

  model(name: string): number {
    let j = this.modelIndex.get(name);
    if (j === undefined) {
      j = this.models.length;
      this.models.push(name);
      this.modelIndex.set(name, j);
    }
    return j;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  warn(message: string): void {
    this.warningsList.push(message);
  }

  /**
   * Adds a prompt or merges it into the one already seen with this id. `duplicateRow` says the
   * row is a second full row for the prompt (wide formats), which counts as a merged duplicate.
   */
  prompt(
    id: string,
    parts: string[] | null,
    evalName: string | null,
    dataset: string | null,
    src: Src,
    fields: PromptFields,
  ): PromptRec {
    const old = this.byId.get(id);
    if (!old) {
      const rec: PromptRec = { id, parts: parts ?? [], evalName, dataset, src, cells: [] };
      this.byId.set(id, rec);
      this.prompts.push(rec);
      return rec;
    }
    const conflict = (field: string, a: string | null, b: string | null): never => {
      throw new InputError(
        `conflicting duplicate of ${fields.id} "${id}": ${show(b)} here but ${show(a)} in ${where(old.src)}`,
        { file: src.file, row: src.row, field },
      );
    };
    if (parts !== null) {
      if (old.parts.length === 0) old.parts = parts;
      else if (!sameList(old.parts, parts)) {
        if (sameSet(old.parts, parts)) {
          if (parts.length < old.parts.length) old.parts = parts;
          this.repeatedLists.push(id);
        } else {
          const i = old.parts.findIndex((p, k) => p !== parts[k]);
          const a = (old.parts[i] ?? "").slice(0, 60);
          const b = (parts[i] ?? "").slice(0, 60);
          conflict(fields.text, a, b);
        }
      }
    }
    if (evalName !== null) {
      if (old.evalName === null) old.evalName = evalName;
      else if (old.evalName !== evalName) conflict(fields.evalName, old.evalName, evalName);
    }
    if (dataset !== null) {
      if (old.dataset === null) old.dataset = dataset;
      else if (old.dataset !== dataset) conflict(fields.dataset, old.dataset, dataset);
    }
    return old;
  }

  /** Records the outcome of model `m` on `rec`, merging with an outcome already recorded. */
  cell(rec: PromptRec, m: number, c: CellIn, fields: CellFields): "new" | "merged" {
    const old = rec.cells[m];
    const src = c.src;
    if (!old) {
      rec.cells[m] = c;
      return "new";
    }
    const oldHas = !Number.isNaN(old.score);
    const newHas = !Number.isNaN(c.score);
    if (!oldHas && newHas) {
      if (!Number.isNaN(old.cost) || old.response !== null) this.replacedCells++;
      rec.cells[m] = c;
      return "merged";
    }
    if (oldHas && !newHas) {
      if (!Number.isNaN(c.cost) || c.response !== null) this.replacedCells++;
      return "merged";
    }
    // Both present (or both absent): field by field, a conflict where both have a value.
    const model = this.models[m];
    const num = (key: "score" | "cost" | "inputTokens" | "outputTokens" | "ttftMs" | "totalLatencyMs") => {
      const a = old[key] ?? NaN;
      const b = c[key] ?? NaN;
      if (Number.isNaN(a)) old[key] = b;
      else if (!Number.isNaN(b) && !sameNumber(a, b)) {
        if (oldHas) {
          throw new InputError(
            `conflicting duplicate outcome for prompt "${rec.id}", model "${model}": ${b} here but ${a} in ${where(old.src)}`,
            { file: src.file, row: src.row, field: fields[key] ?? key },
          );
        }
        // Neither row has a score: a cost without an outcome; keep the first.
      }
    };
    num("score");
    num("cost");
    num("inputTokens");
    num("outputTokens");
    num("ttftMs");
    num("totalLatencyMs");
    if (old.response === null) old.response = c.response;
    else if (c.response !== null && c.response !== old.response && oldHas) {
      throw new InputError(
        `conflicting duplicate outcome for prompt "${rec.id}", model "${model}": the responses differ (${show(c.response)} here, ${show(old.response)} in ${where(old.src)})`,
        { file: src.file, row: src.row, field: fields.response },
      );
    }
    return "merged";
  }

  promptCount(): number {
    return this.prompts.length;
  }

  build(groupDataset: (evalName: string) => string): {
    table: OutcomeTable;
    rowsWithMissingScores: { id: string; models: string[] }[];
    warnings: string[];
  } {
    const n = this.prompts.length;
    const m = this.models.length;
    const scores = new Float64Array(n * m).fill(NaN);
    const costs = new Float64Array(n * m).fill(NaN);
    const inputTokens = new Float64Array(n * m).fill(NaN);
    const outputTokens = new Float64Array(n * m).fill(NaN);
    const ttftMs = new Float64Array(n * m).fill(NaN);
    const totalLatencyMs = new Float64Array(n * m).fill(NaN);
    const responses: (string | null)[] = new Array(n * m).fill(null);
    let anyTtft = false;
    let anyTotal = false;
    let anyTokens = false;
    let anyResponse = false;
    const missing: { id: string; models: string[] }[] = [];
    const costless: string[] = [];
    const ids: string[] = new Array(n);
    const texts: string[] = new Array(n);
    const evals: string[] = new Array(n);
    const datasets: string[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const p = this.prompts[i];
      ids[i] = p.id;
      texts[i] = p.parts.join("\n\n");
      const ev = p.evalName ?? p.dataset ?? "default";
      evals[i] = ev;
      datasets[i] = p.dataset ?? groupDataset(ev);
      const miss: string[] = [];
      for (let j = 0; j < m; j++) {
        const c = p.cells[j];
        const k = i * m + j;
        if (!c || Number.isNaN(c.score)) {
          miss.push(this.models[j]);
          continue;
        }
        scores[k] = c.score;
        costs[k] = c.cost;
        if (Number.isNaN(c.cost)) costless.push(`${p.id} / ${this.models[j]}`);
        inputTokens[k] = c.inputTokens;
        outputTokens[k] = c.outputTokens;
        responses[k] = c.response;
        ttftMs[k] = c.ttftMs ?? NaN;
        totalLatencyMs[k] = c.totalLatencyMs ?? NaN;
        if (!Number.isNaN(ttftMs[k])) anyTtft = true;
        if (!Number.isNaN(totalLatencyMs[k])) anyTotal = true;
        if (!Number.isNaN(c.inputTokens) || !Number.isNaN(c.outputTokens)) anyTokens = true;
        if (c.response !== null) anyResponse = true;
      }
      if (miss.length) missing.push({ id: p.id, models: miss });
    }
    const warnings = this.warningsList.slice();
    if (this.repeatedLists.length) {
      warnings.push(
        `${this.repeatedLists.length} duplicate prompt id(s) had the prompt list repeated in one row (e.g. ['X', 'X'] vs ['X']); ` +
          `merged as one prompt with the single text: ${this.repeatedLists.slice(0, 5).join(", ")}${this.repeatedLists.length > 5 ? ", ..." : ""}`,
      );
    }
    if (this.replacedCells) {
      warnings.push(
        `${this.replacedCells} outcome(s) in duplicate rows had a cost or response but no score; the duplicate row that has the score was used for them`,
      );
    }
    if (costless.length) {
      warnings.push(`${costless.length} outcome(s) have a score but no cost (kept with the cost missing): ${costless.slice(0, 5).join(", ")}${costless.length > 5 ? ", ..." : ""}`);
    }
    const table: OutcomeTable = {
      ids,
      texts,
      datasets,
      evals,
      models: this.models.slice(),
      scores,
      costs,
      ...(anyTokens ? { inputTokens, outputTokens } : {}),
      ...(anyTtft ? { ttftMs } : {}),
      ...(anyTotal ? { totalLatencyMs } : {}),
      ...(anyResponse ? { responses } : {}),
    };
    return { table, rowsWithMissingScores: missing, warnings };
  }
}
