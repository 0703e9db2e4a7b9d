import type { Command } from "commander";
import { readFile } from "node:fs/promises";
import { routeWithSavedRouter } from "../routers/pipeline.js";
import { InputError } from "../util/errors.js";
import { progressReporter } from "../util/progress.js";
import { formatTable, printJson } from "./output.js";

interface RouteCliOptions {
  lambda: string;
  input?: string;
  eval?: string;
  cacheDir?: string;
  json?: boolean;
}

/** "inf" / "Infinity" for argmax quality; otherwise a non-negative number. */
export function parseLambda(value: string): number {
  const v = value.trim().toLowerCase();
  if (v === "inf" || v === "infinity") return Infinity;
  const n = Number(v);
  if (v === "" || !(n >= 0) || !Number.isFinite(n)) throw new InputError(`--lambda must be a non-negative number or inf, got "${value}"`, { field: "--lambda" });
  return n;
}

/**
 * One prompt per line: {"id": "...", "prompt": "...", "eval": "..."} ("text" also accepted; id
 * defaults to the line number; eval, the prompt's task, is optional: null where not given) or a
 * JSON string.
 */
export async function readPromptsJsonl(path: string): Promise<{ ids: string[]; texts: string[]; evals: (string | null)[] }> {
  const text = await readFile(path, "utf8").catch((err: Error) => {
    throw new InputError(`cannot read: ${err.message}`, { file: path });
  });
  const ids: string[] = [];
  const texts: string[] = [];
  const evals: (string | null)[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new InputError("not valid JSON", { file: path, row: i + 1 });
    }
    if (typeof v === "string") {
      ids.push(String(i + 1));
      texts.push(v);
      evals.push(null);
      return;
    }
    const o = v as { id?: unknown; prompt?: unknown; text?: unknown; eval?: unknown } | null;
    const prompt = o?.prompt ?? o?.text;
    if (typeof prompt !== "string") throw new InputError('expected a string "prompt" (or "text")', { file: path, row: i + 1, field: "prompt" });
    if (o!.id !== undefined && typeof o!.id !== "string" && typeof o!.id !== "number") throw new InputError("id must be a string or number", { file: path, row: i + 1, field: "id" });
    if (o!.eval !== undefined && o!.eval !== null && typeof o!.eval !== "string") throw new InputError("eval must be a string (or null)", { file: path, row: i + 1, field: "eval" });
    ids.push(o!.id === undefined ? String(i + 1) : String(o!.id));
    texts.push(prompt);
    evals.push((o!.eval as string | null | undefined) ?? null);
  });
  if (!ids.length) throw new InputError("no prompts", { file: path });
  return { ids, texts, evals };
}

export function register(program: Command): void {
  program
    .command("route")
    .description(
      "Route prompts with a saved router: each goes to argmax_m lambda * q_m - c_m (q_m predicted quality, c_m expected US$ per query).\n" +
        "Routers that need the prompts' outcomes (oracle, zero, cascade) cannot route new prompts.\n" +
        "A prompt's eval (task), from --eval or an input line's \"eval\" field, is read by task-aware routers (task-prior); others ignore it.",
    )
    .argument("<router-dir>", "a directory written by `routekit train`")
    .argument("[prompt]", "one prompt to route (or use --input)")
    .requiredOption("--lambda <x>", "willingness to pay: quality points per US$ (0 = cheapest model, inf = best predicted quality)")
    .option("--input <prompts.jsonl>", 'prompts, one per line: {"id": "...", "prompt": "...", "eval": "..."} (eval optional)')
    .option("--eval <name>", "the eval (task) of the one prompt given, e.g. mmlu-anatomy (with --input, give each line an \"eval\" field instead)")
    .option("--cache-dir <dir>", "embedding cache (default: $ROUTEKIT_CACHE_DIR or ~/.cache/routekit)")
    .option("--json", "print JSON: per prompt the chosen model and every model's predicted quality")
    .action(async (dir: string, prompt: string | undefined, o: RouteCliOptions) => {
      const lambda = parseLambda(o.lambda);
      if ((prompt === undefined) === (o.input === undefined)) throw new InputError("give either one prompt or --input <prompts.jsonl>");
      if (o.eval !== undefined && o.input !== undefined) throw new InputError('--eval is for one prompt; with --input give each line an "eval" field', { field: "--eval" });
      const prompts = o.input !== undefined ? await readPromptsJsonl(o.input) : { ids: ["1"], texts: [prompt!], evals: [o.eval ?? null] };
      // A handful of prompts embeds in a blink: progress lines would only be noise.
      const bar = progressReporter("embed", { quiet: !!o.json || prompts.ids.length < 256 });
      let result;
      try {
        result = await routeWithSavedRouter(dir, prompts, lambda, { cacheDir: o.cacheDir, onProgress: bar.update });
      } finally {
        bar.stop();
      }
      const { routed, manifest } = result;
      if (o.json) {
        printJson({ router: dir, type: manifest.type, lambda: Number.isFinite(lambda) ? lambda : "inf", pool: manifest.pool, prompts: routed });
        return;
      }
      process.stdout.write(`${formatTable(["id", "model"], routed.map((r) => [r.id, r.model]))}\n`);
    });
}
