/**
 * The prompts to collect outcomes for: JSON Lines, CSV or Parquet (detected from the content, read
 * by the importers' readers), one row per prompt with
 * - `text` (or `prompt`): the prompt, required;
 * - `id` (or `prompt_id` / `sample_id`): optional; without it the id is derived from the text as
 *   long-form imports derive it (`p-` + 16 hex digits of its SHA-256);
 * - `dataset`, `eval` (or `eval_name`): optional, as in long-form imports;
 * - `reference` (or `answer` / `reference_answer`): the reference answer the scorers compare with.
 * Every error names the file, row and field.
 */
import { InputError } from "../util/errors.js";
import { openCsv } from "../data/importers/csv.js";
import { sniffContainer } from "../data/importers/detect.js";
import { openJsonl } from "../data/importers/jsonl.js";
import { promptIdOf } from "../data/importers/long-form.js";
import { openParquet } from "../data/importers/parquet.js";
import { preview, requiredText, textCell, type RecordSource } from "../data/importers/source.js";
import { PICKLE_TO_PARQUET } from "../data/importers/pickle.js";
import { DEFAULT_GROUP_PREFIXES, datasetOfEval } from "../data/table.js";

export interface PromptRow {
  id: string;
  text: string;
  dataset: string;
  eval: string;
  /** The reference answer, or null. */
  reference: string | null;
}

const first = (columns: readonly string[], names: readonly string[]): string | null => names.find((n) => columns.includes(n)) ?? null;

/** Prompts from a file; ids must be unique. */
export async function readPrompts(file: string, groupPrefixes: readonly string[] = DEFAULT_GROUP_PREFIXES): Promise<PromptRow[]> {
  if (typeof file !== "string" || file === "") throw new InputError("readPrompts needs the path of a prompts file");
  const container = await sniffContainer(file);
  if (container === "pickle") throw new InputError(`pickled prompts are not supported; convert it to Parquet with: ${PICKLE_TO_PARQUET}`, { file });
  const src: RecordSource = container === "csv" ? await openCsv(file) : container === "jsonl" ? await openJsonl(file) : await openParquet(file);
  const { columns } = src;
  const textCol = first(columns, ["text", "prompt"]);
  if (!textCol) throw new InputError(`missing column: a prompts file needs "text" (or "prompt"); the file has: ${preview(columns)}`, { file, field: "text" });
  const idCol = first(columns, ["id", "prompt_id", "sample_id"]);
  const evalCol = first(columns, ["eval", "eval_name"]);
  const refCol = first(columns, ["reference", "answer", "reference_answer"]);
  const out: PromptRow[] = [];
  const seen = new Map<string, number>();
  for await (const { row, values } of src.rows) {
    const text = textCell(values[textCol]);
    if (text === null || text.trim() === "") throw new InputError("missing value", { file, row, field: textCol });
    const id = idCol ? requiredText(values[idCol], file, row, idCol) : promptIdOf(text);
    const prev = seen.get(id);
    if (prev !== undefined) throw new InputError(`duplicate prompt id "${id}" (also row ${prev})`, { file, row, field: idCol ?? textCol });
    seen.set(id, row);
    const dataset = columns.includes("dataset") ? textCell(values.dataset)?.trim() || null : null;
    const ev = evalCol ? textCell(values[evalCol])?.trim() || null : null;
    const evalName = ev ?? dataset ?? "default";
    out.push({ id, text, dataset: dataset ?? datasetOfEval(evalName, groupPrefixes), eval: evalName, reference: refCol ? textCell(values[refCol]) : null });
  }
  if (out.length === 0) throw new InputError("no prompts", { file });
  return out;
}
