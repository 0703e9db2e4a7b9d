/**
 * Your own outcomes, long form: one row per (prompt, model) with `prompt` (or `prompt_id` +
 * `prompt`), `model`, `score`, and `cost` or `input_tokens` + `output_tokens` priced with a
 * price table (US$ per 1M tokens). Optional `dataset`, `eval` (or `eval_name`) and `response`.
 * Optional latencies in milliseconds: `latency_ms` (or `total_latency_ms`: request sent to
 * last token) and `ttft_ms` (time to the first token); an empty cell is unknown, never 0.
 *
 * Without `prompt_id` a prompt's id is derived from its text (`p-` + 16 hex digits of its
 * SHA-256), so the same text in two files is the same prompt.
 */
import { createHash } from "node:crypto";
import { InputError } from "../../util/errors.js";
import { readInputFile } from "../input-file.js";
import type { Accumulator, CellFields, PromptFields } from "./accumulate.js";
import { isIndexColumn, numberCell, preview, requireColumns, requiredText, textCell, type RecordSource } from "./source.js";

/** US$ per 1M tokens. */
export type PriceTable = Record<string, { input: number; output: number }>;

export function promptIdOf(text: string): string {
  return `p-${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
}

/** Reads and checks a price table: `{"model": {"input": 10, "output": 30}}`. */
export async function loadPrices(file: string): Promise<PriceTable> {
  const raw = (await readInputFile(file, "price table")).toString("utf8");
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw new InputError(`not valid JSON: ${(err as Error).message}`, { file });
  }
  return checkPrices(v, file);
}

export function checkPrices(v: unknown, file = "prices"): PriceTable {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new InputError('expected an object {"model": {"input": <US$ per 1M>, "output": <US$ per 1M>}}', { file });
  }
  const out: PriceTable = {};
  for (const [model, p] of Object.entries(v as Record<string, unknown>)) {
    for (const key of ["input", "output"] as const) {
      const x = (p as Record<string, unknown> | null)?.[key];
      if (typeof x !== "number" || !Number.isFinite(x) || x < 0) {
        throw new InputError(`price "${key}" must be a non-negative number (US$ per 1M tokens)`, { file, field: `${model}.${key}` });
      }
    }
    const q = p as { input: number; output: number };
    out[model] = { input: q.input, output: q.output };
  }
  return out;
}

/** The column of the total latency in ms: either name (not both). */
export const TOTAL_LATENCY_COLUMNS = ["latency_ms", "total_latency_ms"] as const;
/** The column of the time to the first token in ms. */
export const TTFT_COLUMN = "ttft_ms";

const KNOWN = new Set(["prompt_id", "sample_id", "prompt", "model", "score", "cost", "input_tokens", "output_tokens", "dataset", "eval", "eval_name", "response", TTFT_COLUMN, ...TOTAL_LATENCY_COLUMNS]);

export async function ingestLong(
  src: RecordSource,
  acc: Accumulator,
  opts: { prices?: PriceTable; pricesFile?: string },
): Promise<{ rows: number }> {
  const { file, columns } = src;
  requireColumns(columns, ["prompt", "model", "score"], file, "long form");
  const has = (c: string) => columns.includes(c);
  const hasTokens = has("input_tokens") && has("output_tokens");
  if (!has("cost") && !hasTokens) {
    throw new InputError(
      `missing column: long form needs "cost" (US$) or "input_tokens" and "output_tokens" with --prices; the file has: ${preview(columns)}`,
      { file, field: "cost" },
    );
  }
  if (!has("cost") && !opts.prices) {
    throw new InputError("the file gives token counts but no cost: pass a price table with --prices prices.json (US$ per 1M tokens)", {
      file,
      field: "input_tokens",
    });
  }
  const ignored = columns.filter((c) => !KNOWN.has(c) && !isIndexColumn(c));
  if (ignored.length) acc.warn(`${file}: ignored column(s) that are not long-form fields: ${preview(ignored)}`);
  const totalCols = TOTAL_LATENCY_COLUMNS.filter(has);
  if (totalCols.length > 1) {
    throw new InputError(`give the total latency in one column, "latency_ms" or "total_latency_ms", not both`, { file, field: "total_latency_ms" });
  }
  const totalCol: string | null = totalCols[0] ?? null;
  const ttftCol = has(TTFT_COLUMN) ? TTFT_COLUMN : null;
  const idCol = has("prompt_id") ? "prompt_id" : has("sample_id") ? "sample_id" : null;
  const evalCol = has("eval") ? "eval" : has("eval_name") ? "eval_name" : null;
  const promptFields: PromptFields = { id: idCol ?? "prompt", text: "prompt", evalName: evalCol ?? "eval", dataset: "dataset" };
  const fields: CellFields = { score: "score", cost: "cost", inputTokens: "input_tokens", outputTokens: "output_tokens", ttftMs: TTFT_COLUMN, totalLatencyMs: totalCol ?? "latency_ms", response: "response" };
  let rows = 0;
  for await (const { row, values } of src.rows) {
    rows++;
    const text = textCell(values.prompt);
    if (text === null || text === "") throw new InputError("missing value", { file, row, field: "prompt" });
    const id = idCol ? requiredText(values[idCol], file, row, idCol) : promptIdOf(text);
    const model = requiredText(values.model, file, row, "model");
    const score = numberCell(values.score, file, row, "score");
    if (!Number.isNaN(score) && !(score >= 0 && score <= 1)) throw new InputError(`score ${score} is outside [0,1]`, { file, row, field: "score" });
    const inTok = hasTokens ? numberCell(values.input_tokens, file, row, "input_tokens") : NaN;
    const outTok = hasTokens ? numberCell(values.output_tokens, file, row, "output_tokens") : NaN;
    for (const [f, x] of [["input_tokens", inTok], ["output_tokens", outTok]] as const) {
      if (x < 0) throw new InputError(`token count ${x} is negative`, { file, row, field: f });
    }
    const latency = (col: string | null): number => {
      if (col === null) return NaN;
      const x = numberCell(values[col], file, row, col);
      if (x < 0) throw new InputError(`latency ${x} ms is negative`, { file, row, field: col });
      return x;
    };
    const ttftMs = latency(ttftCol);
    const totalLatencyMs = latency(totalCol);
    let cost = has("cost") ? numberCell(values.cost, file, row, "cost") : NaN;
    if (!Number.isNaN(cost) && cost < 0) throw new InputError(`cost ${cost} is negative`, { file, row, field: "cost" });
    if (Number.isNaN(cost) && hasTokens && !(Number.isNaN(inTok) && Number.isNaN(outTok))) {
      if (Number.isNaN(inTok) || Number.isNaN(outTok)) {
        throw new InputError("one token count is given without the other: cannot price the call", {
          file,
          row,
          field: Number.isNaN(inTok) ? "input_tokens" : "output_tokens",
        });
      }
      if (!opts.prices) {
        throw new InputError("no cost and no price table: pass --prices prices.json", { file, row, field: "cost" });
      }
      const price = Object.prototype.hasOwnProperty.call(opts.prices, model) ? opts.prices[model] : undefined;
      if (!price) {
        throw new InputError(
          `no price for model "${model}" in ${opts.pricesFile ?? "the price table"} (has: ${preview(Object.keys(opts.prices))}); a model without a price is never costed at 0`,
          { file, row, field: "model" },
        );
      }
      cost = (inTok * price.input + outTok * price.output) / 1e6;
    }
    const dataset = has("dataset") ? textCell(values.dataset) : null;
    const evalName = evalCol ? textCell(values[evalCol]) : null;
    const response = has("response") ? textCell(values.response) : null;
    const rec = acc.prompt(id, [text], evalName || null, dataset || null, { file, row }, promptFields);
    const r = acc.cell(rec, acc.model(model), { score, cost, inputTokens: inTok, outputTokens: outTok, ttftMs, totalLatencyMs, response, src: { file, row } }, fields);
    if (r === "merged") acc.mergedDuplicates++;
  }
  return { rows };
}
