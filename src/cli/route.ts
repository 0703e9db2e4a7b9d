import type { Command } from "commander";
import { readFile } from "node:fs/promises";
import { latencyOf, routeAtOf } from "../workflow/route-at.js";
import { routeWithSavedRouter, type RoutePlan, type RoutedPrompt } from "../workflow/session.js";
import { InputError } from "../util/errors.js";
import { progressReporter } from "../util/progress.js";
import { formatTable, printJson } from "./output.js";

interface RouteCliOptions {
  lambda?: string;
  budget?: string;
  maxShare?: string[];
  latencyWeight?: string;
  maxLatency?: string;
  seed: string;
  input?: string;
  eval?: string;
  cacheDir?: string;
  json?: boolean;
}

const money = (x: number) => `$${x.toPrecision(3)}`;
const lambdaText = (l: number) => (Number.isFinite(l) ? String(Number(l.toPrecision(4))) : "inf");

/** One or two lines saying what was decided: the lambda, or the point(s) a target chose, with what they promise. */
export function describePlan(plan: RoutePlan): string[] {
  const latency = latencyLines(plan);
  if (plan.mode === "lambda") {
    return [`lambda ${lambdaText(plan.lambda!)} (US$ per unit of quality); per prompt: the chosen model's expected $/query and its predicted quality`, ...latency];
  }
  const c = plan.choice!;
  const where = plan.pointsOn ? ` (operating points measured on ${plan.pointsOn.prompts} ${plan.pointsOn.on} prompts)` : "";
  const qi = c.qualityInterval ? ` [${c.qualityInterval[0].toFixed(3)}, ${c.qualityInterval[1].toFixed(3)}]` : "";
  const mix =
    c.t > 0
      ? `mixing lambda ${lambdaText(c.low.lambda ?? Infinity)} (${((1 - c.t) * 100).toFixed(1)}% of prompts) and lambda ${lambdaText(c.high.lambda ?? Infinity)} (${(c.t * 100).toFixed(1)}%) by a seeded draw per prompt text`
      : `at lambda ${lambdaText(c.low.lambda ?? Infinity)}`;
  const ci = c.costInterval ? ` [${money(c.costInterval[0])}, ${money(c.costInterval[1])}]` : "";
  const lines = [`expected ${money(c.cost)}/query${ci}, quality ${c.quality.toFixed(3)}${qi}: ${mix}${where}`];
  if (c.note) lines.unshift(`note: ${c.note}`);
  if (plan.defaulted === "recorded target") lines.unshift("no --budget, --max-share or --lambda: routing at the router's default target (set by calibrate)");
  if (plan.defaulted === "best-quality point") lines.unshift("no --budget, --max-share or --lambda, and the router records no default target: routing at its best-quality point");
  return [...lines, ...latency];
}

function latencyLines(plan: RoutePlan): string[] {
  const l = plan.latency;
  if (!l) return [];
  const limit = l.maxSeconds !== undefined ? `, only models expected within ${l.maxSeconds} s` : "";
  return [`latency: ${l.weight} US$ per second of expected latency subtracted from each model's value${limit}`, ...(l.note ? [`note: ${l.note}`] : [])];
}

function jsonOfPrompt(r: RoutedPrompt) {
  return { ...r, lambda: Number.isFinite(r.lambda) ? r.lambda : "inf" };
}

function jsonOfPlan(plan: RoutePlan) {
  const latency = plan.latency ? { latency: plan.latency } : {};
  if (plan.mode === "lambda") return { mode: "lambda", lambda: Number.isFinite(plan.lambda!) ? plan.lambda : "inf", ...latency };
  const c = plan.choice!;
  const point = (p: typeof c.low) => ({ ...p, lambda: p.lambda === Infinity ? "inf" : p.lambda });
  return { mode: "target", ...(plan.defaulted ? { defaulted: plan.defaulted } : {}), pointsOn: plan.pointsOn, expectedCost: c.cost, costInterval: c.costInterval, expectedQuality: c.quality, qualityInterval: c.qualityInterval, shares: c.shares, low: point(c.low), high: point(c.high), highShare: c.t, note: c.note, ...latency };
}

/**
 * One prompt per line: {"id": "...", "prompt": "...", "eval": "..."} ("text" also accepted; id
 * defaults to the line number; eval, the prompt's task, is optional: null where not given) or a
 * JSON string.
 */
export async function readPromptsJsonl(path: string): Promise<{ ids: string[]; texts: string[]; evals: (string | null)[] }> {
  const raw = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new InputError(err.code === "EISDIR" ? "is a directory, not a JSONL file of prompts" : `cannot read: ${err.message}`, { file: path });
  });
  // A byte-order mark is not part of the first line (import accepts one too).
  const text = raw.startsWith("\uFEFF") ? raw.slice(1) : raw;
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
      if (v.trim() === "") throw new InputError("empty prompt", { file: path, row: i + 1, field: "prompt" });
      ids.push(String(i + 1));
      texts.push(v);
      evals.push(null);
      return;
    }
    const o = v as { id?: unknown; prompt?: unknown; text?: unknown; eval?: unknown } | null;
    const prompt = o?.prompt ?? o?.text;
    if (typeof prompt !== "string") throw new InputError('expected a string "prompt" (or "text")', { file: path, row: i + 1, field: "prompt" });
    if (prompt.trim() === "") throw new InputError("empty prompt", { file: path, row: i + 1, field: "prompt" });
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
      "Route prompts with a saved router. Say what you want in dollars or shares: --budget picks the router's best operating point (measured on prompts\n" +
        "it was not fitted on) whose expected spend fits, mixing two points by a seeded draw per prompt text where the hull lies between them;\n" +
        "--max-share caps a model's share of traffic. --lambda (for experts) routes each prompt to argmax_m lambda * q_m - c_m (lambda: US$ per unit of quality).\n" +
        "--latency-weight mu (US$ per second) routes to argmax lambda * q_m - c_m - mu * latency_m instead, and --max-latency only among models whose expected\n" +
        "latency (mean on the router's training rows) fits; both need a router trained on a table with latency.\n" +
        "With none of them, the router's default target (set by `routekit calibrate`), else its best-quality point.\n" +
        "Routers that need the prompts' outcomes (oracle, zero, cascade) cannot route new prompts.\n" +
        "A prompt's eval (task), from --eval or an input line's \"eval\" field, is read by task-aware routers (task-prior); others ignore it.",
    )
    .argument("<router-dir>", "a directory written by `routekit train` (or `routekit calibrate`)")
    .argument("[prompt]", "one prompt to route (or use --input)")
    .option("--budget <usd>", "mean US$ per query not to exceed, e.g. 0.002")
    .option("--max-share <model=fraction>", "largest share of prompts a model may get, e.g. gpt-4-1106-preview=0.2 (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option("--lambda <x>", "route at this lambda instead: US$ per unit of quality (0 = cheapest model, inf = best predicted quality)")
    .option("--latency-weight <usd-per-s>", "US$ per second of expected latency, subtracted from each model's value (default 0: latency ignored)")
    .option("--max-latency <seconds>", "route only among models whose expected latency is at most this many seconds")
    .option("--seed <n>", "seed of the per-prompt draw that mixes two operating points", "0")
    .option("--input <prompts.jsonl>", 'prompts, one per line: {"id": "...", "prompt": "...", "eval": "..."} (eval optional)')
    .option("--eval <name>", "the eval (task) of the one prompt given, e.g. mmlu-anatomy (with --input, give each line an \"eval\" field instead)")
    .option("--cache-dir <dir>", "embedding cache (default: $ROUTEKIT_CACHE_DIR or ~/.cache/routekit)")
    .option("--json", "print JSON: the plan, and per prompt the chosen model, the point used and every model's predicted quality")
    .action(async (dir: string, prompt: string | undefined, o: RouteCliOptions) => {
      const at = routeAtOf(o);
      const latency = latencyOf(o);
      if ((prompt === undefined) === (o.input === undefined)) throw new InputError("give either one prompt or --input <prompts.jsonl>");
      if (prompt !== undefined && prompt.trim() === "") throw new InputError("the prompt is empty", { field: "prompt" });
      if (o.eval !== undefined && o.input !== undefined) throw new InputError('--eval is for one prompt; with --input give each line an "eval" field', { field: "--eval" });
      const prompts = o.input !== undefined ? await readPromptsJsonl(o.input) : { ids: ["1"], texts: [prompt!], evals: [o.eval ?? null] };
      // A handful of prompts embeds in a blink: progress lines would only be noise.
      const bar = progressReporter("embed", { quiet: !!o.json || prompts.ids.length < 256 });
      let result;
      try {
        result = await routeWithSavedRouter(dir, prompts, at, { cacheDir: o.cacheDir, onProgress: bar.update, ...(latency ? { latency } : {}) });
      } finally {
        bar.stop();
      }
      const { routed, manifest, plan } = result;
      if (o.json) {
        printJson({ router: dir, type: manifest.type, plan: jsonOfPlan(plan), pool: manifest.pool, prompts: routed.map(jsonOfPrompt) });
        return;
      }
      const lat = plan.latency !== undefined;
      const rows = routed.map((r) => [r.id, r.model, lambdaText(r.lambda), money(r.expectedCost), r.expectedQuality.toFixed(3), ...(lat ? [r.expectedLatency !== undefined ? r.expectedLatency.toFixed(2) : "n/a"] : [])]);
      const head = [...(plan.mode === "lambda" ? ["id", "model", "lambda", "model $/query", "predicted quality"] : ["id", "model", "lambda", "point $/query", "point quality"]), ...(lat ? ["model latency s"] : [])];
      process.stdout.write(`${[...describePlan(plan), "", formatTable(head, rows)].join("\n")}\n`);
    });
}
