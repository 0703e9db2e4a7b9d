/**
 * RouterBench's wide layout, whatever the container (CSV, JSON Lines, Parquet, pickle): one row
 * per prompt with `sample_id`, `prompt`, `eval_name`, and per model `<model>` (score),
 * `<model>|total_cost` and `<model>|model_response`. The models are the union of the
 * `|model_response` and `|total_cost` suffixes; each needs its score and cost columns.
 */
import { InputError } from "../../util/errors.js";
import type { Accumulator, CellFields, PromptFields } from "./accumulate.js";
import { PythonLiteralError, looksLikePythonList, parsePythonStringList } from "./python-literal.js";
import { isIndexColumn, numberCell, preview, requireColumns, requiredText, type RecordSource } from "./source.js";

const RESPONSE = "|model_response";
const COST = "|total_cost";
/** Columns we read or knowingly ignore (the oracle column is recomputed from the scores). */
const KNOWN = new Set(["sample_id", "prompt", "eval_name", "oracle_model_to_route_to"]);

export function wideModels(columns: readonly string[]): string[] {
  const models: string[] = [];
  const seen = new Set<string>();
  const add = (m: string) => {
    if (!seen.has(m)) {
      seen.add(m);
      models.push(m);
    }
  };
  // Order: as the score columns appear (RouterBench lists them first), then any others.
  const suffixed = new Set<string>();
  for (const c of columns) {
    if (c.endsWith(RESPONSE)) suffixed.add(c.slice(0, -RESPONSE.length));
    else if (c.endsWith(COST)) suffixed.add(c.slice(0, -COST.length));
  }
  for (const c of columns) if (suffixed.has(c)) add(c);
  for (const m of suffixed) add(m);
  return models;
}

/**
 * A prompt or response cell: a stringified Python list is unwrapped (elements joined by a blank
 * line; None elements dropped); plain text is taken as is; a malformed list is an error.
 */
export function unwrapListCell(v: unknown, file: string, row: number, field: string): string[] | null {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string");
  if (typeof v === "number" && Number.isNaN(v)) return null;
  if (typeof v !== "string") return [String(v)];
  if (v === "") return null;
  if (!looksLikePythonList(v)) return [v];
  try {
    return parsePythonStringList(v).filter((x): x is string => x !== null);
  } catch (err) {
    if (err instanceof PythonLiteralError) throw new InputError(`malformed Python list literal: ${err.message}`, { file, row, field });
    throw err;
  }
}

/** A whole cell that is a Python list of numbers or None, e.g. `[1, 2]` or `[None, 3.5]`. */
const NON_STRING_LIST = /^\s*\[\s*(?:(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|None|True|False)\s*,\s*)*(?:[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|None|True|False)?\s*,?\s*\]\s*$/;

/**
 * A prompt cell unwrapped: like unwrapListCell, but a list that holds no text (`[]`, `[None]`,
 * `['']`) or is a list of numbers (`[1, 2]`) is an error, not an empty or literal prompt.
 */
export function promptCell(v: unknown, file: string, row: number, field: string): string[] | null {
  if (typeof v === "string" && NON_STRING_LIST.test(v) && !/^\s*\[\s*\]\s*$/.test(v) && !/^\s*\[\s*None\s*\]\s*$/.test(v)) {
    throw new InputError(`the prompt is a Python list of non-strings (${v.trim().slice(0, 40)}), not a list of prompt texts`, { file, row, field });
  }
  const parts = unwrapListCell(v, file, row, field);
  if (parts !== null && parts.every((p) => p.trim() === "")) {
    const shown = typeof v === "string" ? v.trim().slice(0, 40) : JSON.stringify(v);
    throw new InputError(`the prompt list ${shown} holds no text (an empty prompt)`, { file, row, field });
  }
  return parts;
}

export interface IngestResult {
  rows: number;
}

export async function ingestWide(src: RecordSource, acc: Accumulator): Promise<IngestResult> {
  const { file, columns } = src;
  const models = wideModels(columns);
  if (models.length === 0) throw new InputError("no model columns (<model>|total_cost or <model>|model_response)", { file });
  requireColumns(columns, ["sample_id", "prompt", "eval_name"], file, "RouterBench wide format");
  for (const m of models) {
    requireColumns(columns, [m, `${m}${COST}`], file, `model "${m}"`);
  }
  const used = new Set<string>(KNOWN);
  for (const m of models) {
    used.add(m);
    used.add(`${m}${COST}`);
    used.add(`${m}${RESPONSE}`);
  }
  const ignored = columns.filter((c) => !used.has(c) && !isIndexColumn(c));
  if (ignored.length) acc.warn(`${file}: ignored column(s) that are not RouterBench fields: ${preview(ignored)}`);
  const before = acc.models.slice();
  const idx = models.map((m) => acc.model(m));
  if (before.length && (before.length !== models.length || models.some((m) => !before.includes(m)))) {
    acc.warn(`${file}: its models differ from the earlier files' (outcomes it lacks are missing): ${preview(models)}`);
  }
  const hasResponse = models.map((m) => columns.includes(`${m}${RESPONSE}`));
  const cellFields: CellFields[] = models.map((m) => ({
    score: m,
    cost: `${m}${COST}`,
    inputTokens: `${m}|input_tokens`,
    outputTokens: `${m}|output_tokens`,
    response: `${m}${RESPONSE}`,
  }));
  const promptFields: PromptFields = { id: "sample_id", text: "prompt", evalName: "eval_name", dataset: "eval_name" };
  let rows = 0;
  for await (const { row, values } of src.rows) {
    rows++;
    const id = requiredText(values.sample_id, file, row, "sample_id");
    const evalName = requiredText(values.eval_name, file, row, "eval_name");
    const parts = promptCell(values.prompt, file, row, "prompt");
    if (parts === null) throw new InputError("missing value", { file, row, field: "prompt" });
    const duplicate = acc.has(id);
    const src = { file, row };
    const rec = acc.prompt(id, parts, evalName, null, src, promptFields);
    if (duplicate) acc.mergedDuplicates++;
    for (let k = 0; k < models.length; k++) {
      const m = models[k];
      const score = numberCell(values[m], file, row, m);
      if (!Number.isNaN(score) && !(score >= 0 && score <= 1)) {
        throw new InputError(`score ${score} is outside [0,1]`, { file, row, field: m });
      }
      const cost = numberCell(values[`${m}${COST}`], file, row, `${m}${COST}`);
      if (!Number.isNaN(cost) && cost < 0) throw new InputError(`cost ${cost} is negative`, { file, row, field: `${m}${COST}` });
      let response: string | null = null;
      if (hasResponse[k]) {
        const p = unwrapListCell(values[`${m}${RESPONSE}`], file, row, `${m}${RESPONSE}`);
        response = p === null ? null : p.join("\n\n");
      }
      acc.cell(rec, idx[k], { score, cost, inputTokens: NaN, outputTokens: NaN, response, src }, cellFields[k]);
    }
  }
  return { rows };
}
