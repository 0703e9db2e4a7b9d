/**
 * Collecting outcomes: every prompt sent to every model, each answer scored, the result an
 * outcome table (responses kept) that import, info, embed, train and run read like any other.
 *
 * The journal (journal.ts) is the run's memory: a cell with a successful call record for its
 * request is never called again, so a killed run resumes where it stopped and pays once. Calls
 * go out per endpoint (models sharing an API root share its limits), each endpoint with
 * `concurrency` workers. With a spend cap, a call starts only if its worst case fits beside the
 * worst cases of the calls in flight (limits.ts); when the next call cannot fit even with
 * nothing in flight, the run stops cleanly and the table marks the cells not called as missing.
 *
 * A failed cell (after its retries) has no score and no cost in the table (missing, never 0),
 * and its error is in the report and the journal; the next run calls it again.
 */
import { createHash } from "node:crypto";
import { InputError } from "../util/errors.js";
import type { OutcomeTable } from "../data/table.js";
import { callChat, ChatFailure, costOf, estimateInputTokens, worstCaseCost, type ChatAnswer, type ChatMessage } from "./client.js";
import { maxOutputTokens, type CollectConfig, type CollectModel, type JudgeSetup, type ScorerConfig } from "./config.js";
import { cellKey, Journal, JOURNAL_VERSION, stableHash, type CallRecord, type JournalRecord, type JudgeRecord } from "./journal.js";
import { EndpointLimiter, SpendCap } from "./limits.js";
import type { PromptRow } from "./prompts.js";
import { builtinScorer, judgePrompt, judgeScore, needsReference, type CustomScorer } from "./scorers.js";

/** The hash of what a cell sends (journal key): upstream model id, options, system message and the prompt's text. */
export function requestHash(model: CollectModel, prompt: PromptRow): string {
  return stableHash({ model: model.upstream.model, options: model.options, system: model.system, text: createHash("sha256").update(prompt.text).digest("hex") });
}

/** The hash of the judge's setup: a changed rubric, judge model or options judges again. */
export function judgeHash(j: JudgeSetup): string {
  return stableHash({ model: j.upstream.model, options: j.options, rubric: j.rubric, scale: j.scale, pattern: j.scorePattern });
}

export function messagesOf(model: CollectModel, prompt: PromptRow): ChatMessage[] {
  return [...(model.system !== null ? [{ role: "system" as const, content: model.system }] : []), { role: "user", content: prompt.text }];
}

function judgeMessages(j: JudgeSetup, prompt: PromptRow, model: string, response: string): ChatMessage[] {
  return [{ role: "user", content: judgePrompt(j.rubric, { prompt, model, response }) }];
}

/** The journal's state per cell, for the current requests. */
export interface JournalState {
  /** Latest successful call per cell key, else the latest failed one. */
  calls: Map<string, CallRecord>;
  /** Latest successful judge verdict per cell key + judge hash, else the latest failure. */
  judged: Map<string, JudgeRecord>;
  /** US$ the journal records as spent on the models (usage costs and unconfirmed attempts). */
  modelSpent: number;
  /** US$ spent on the judge. */
  judgeSpent: number;
}

export function journalState(records: readonly JournalRecord[]): JournalState {
  const calls = new Map<string, CallRecord>();
  const judged = new Map<string, JudgeRecord>();
  let modelSpent = 0;
  let judgeSpent = 0;
  for (const r of records) {
    const key = cellKey(r.prompt, r.model, r.request);
    if (r.kind === "call") {
      modelSpent += (r.ok ? r.cost : 0) + (r.unconfirmedCost ?? 0);
      const prev = calls.get(key);
      if (!prev || r.ok || !prev.ok) calls.set(key, r);
    } else {
      judgeSpent += r.cost + (r.unconfirmedCost ?? 0);
      const jk = `${key}\u0000${r.judge}`;
      const prev = judged.get(jk);
      if (!prev || r.ok || !prev.ok) judged.set(jk, r);
    }
  }
  return { calls, judged, modelSpent, judgeSpent };
}

interface Cell {
  pi: number;
  mj: number;
  prompt: PromptRow;
  model: CollectModel;
  request: string;
  key: string;
}

function cellsOf(prompts: readonly PromptRow[], models: readonly CollectModel[]): Cell[] {
  const out: Cell[] = [];
  for (const [pi, prompt] of prompts.entries()) {
    for (const [mj, model] of models.entries()) {
      const request = requestHash(model, prompt);
      out.push({ pi, mj, prompt, model, request, key: cellKey(prompt.id, model.name, request) });
    }
  }
  return out;
}

const isOkCall = (r: CallRecord | undefined): r is CallRecord & { ok: true } => !!r && r.ok;

/** What a dry run prints: calls to make and their estimated cost. */
export interface CollectEstimate {
  cells: number;
  /** Cells with a successful call in the journal (not called again). */
  done: number;
  calls: number;
  judgeCalls: number;
  perModel: { model: string; calls: number; inputTokens: number; maxOutputTokens: number | null; low: number; high: number }[];
  /** US$: every prompt's estimated input tokens (characters / 4) and no output. */
  low: number;
  /** US$: the input bound (UTF-8 bytes + template) and max_tokens of output; Infinity when a model has no max_tokens. */
  high: number;
  /** The judge's range (low: the rubric with an empty response; high: a max_tokens response of 4 bytes a token). */
  judgeLow: number;
  judgeHigh: number;
  /** US$ the journal already records as spent. */
  spent: number;
}

/** The calls a run would make and their cost range, from the journal's state; makes no call. */
export function estimateCollect(config: CollectConfig, prompts: readonly PromptRow[], records: readonly JournalRecord[]): CollectEstimate {
  const state = journalState(records);
  const cells = cellsOf(prompts, config.models);
  const jh = config.judge ? judgeHash(config.judge) : null;
  const perModel = new Map(config.models.map((m) => [m.name, { model: m.name, calls: 0, inputTokens: 0, maxOutputTokens: maxOutputTokens(m.options), low: 0, high: 0 }]));
  let done = 0;
  let judgeCalls = 0;
  let judgeLow = 0;
  let judgeHigh = 0;
  for (const c of cells) {
    const call = state.calls.get(c.key);
    const needCall = !isOkCall(call);
    if (!needCall) done++;
    const pm = perModel.get(c.model.name)!;
    if (needCall) {
      const msgs = messagesOf(c.model, c.prompt);
      const est = estimateInputTokens(msgs);
      pm.calls++;
      pm.inputTokens += est;
      pm.low += costOf(c.model.price, est, 0);
      pm.high += worstCaseCost(c.model.price, msgs, pm.maxOutputTokens);
    }
    if (config.judge && jh !== null && (needCall || state.judged.get(`${c.key}\u0000${jh}`)?.ok !== true)) {
      judgeCalls++;
      const j = config.judge;
      const jmax = maxOutputTokens(j.options);
      judgeLow += costOf(j.price, estimateInputTokens(judgeMessages(j, c.prompt, c.model.name, "")), 0);
      const respBytes = isOkCall(call) ? call.response : "x".repeat(4 * (pm.maxOutputTokens ?? 1024));
      judgeHigh += worstCaseCost(j.price, judgeMessages(j, c.prompt, c.model.name, respBytes), jmax);
    }
  }
  const list = [...perModel.values()];
  return {
    cells: cells.length,
    done,
    calls: list.reduce((a, m) => a + m.calls, 0),
    judgeCalls,
    perModel: list,
    low: list.reduce((a, m) => a + m.low, 0),
    high: list.reduce((a, m) => a + m.high, 0),
    judgeLow,
    judgeHigh,
    spent: state.modelSpent + state.judgeSpent,
  };
}

export interface CollectProgress {
  /** Cells finished this run (answered or failed). */
  done: number;
  /** Cells this run has to do. */
  total: number;
  /** US$ spent in all (the journal's earlier runs included), models and judge. */
  spent: number;
}

export interface CollectOptions {
  config: CollectConfig;
  prompts: readonly PromptRow[];
  /** A built-in scorer's spec (the judge included), or a custom scorer function. */
  scorer: ScorerConfig | CustomScorer;
  /** The journal file (created if missing). */
  journal: string;
  /** US$ cap on the journal's total spend (earlier runs included); null or undefined: none. */
  maxSpend?: number | null;
  onProgress?: (p: CollectProgress) => void;
  /** When it fires: no new call starts; calls in flight finish and are journaled; the table is built from what there is. */
  stop?: AbortSignal;
  /** false: no fdatasync per journal record (see Journal.open). */
  sync?: boolean;
}

export interface CellFailure {
  prompt: string;
  model: string;
  /** "call", "judge" or "score". */
  stage: "call" | "judge" | "score";
  error: string;
}

export interface CollectReport {
  prompts: number;
  models: string[];
  cells: number;
  /** Cells with a successful call from an earlier run. */
  resumed: number;
  /** Successful calls this run. */
  called: number;
  /** Cells without a score in the table (failed, not called, or not scored). */
  missing: number;
  failures: CellFailure[];
  /** Cells not called because the run stopped (spend cap or stop signal). */
  notCalled: number;
  stoppedBy: "max-spend" | "stop" | null;
  /** US$ on the models, the journal's earlier runs included (unconfirmed attempts included). */
  modelSpent: number;
  /** US$ on the judge, recorded apart (not in the table's costs). */
  judgeSpent: number;
  /** Cells whose token counts are estimates (the answer had no usage). */
  estimatedTokens: number;
  /** Bytes of a torn journal line dropped at the start. */
  tornJournalBytes: number;
}

function checkScorerReady(scorer: ScorerConfig | CustomScorer, prompts: readonly PromptRow[], config: CollectConfig): void {
  if (typeof scorer === "function") return;
  if (scorer.type === "judge" && !config.judge) throw new InputError("the judge scorer's endpoint must be given in the collect file (scorer: {type: judge, baseUrl, model, price, ...})", { file: config.file, field: "scorer" });
  if (needsReference(scorer)) {
    const without = prompts.find((p) => p.reference === null);
    if (without) throw new InputError(`the ${scorer.type} scorer needs a reference answer for every prompt, and prompt "${without.id}" has none (give a "reference" column, or use the judge)`, { field: "reference" });
  }
}

/** Stop-safe checks before any call (also run by dry runs). */
export function checkCollect(config: CollectConfig, prompts: readonly PromptRow[], scorer: ScorerConfig | CustomScorer, maxSpend: number | null): void {
  if (prompts.length === 0) throw new InputError("no prompts");
  checkScorerReady(scorer, prompts, config);
  if (maxSpend !== null) {
    if (!(Number.isFinite(maxSpend) && maxSpend >= 0)) throw new InputError(`--max-spend must be a non-negative number of US$, not ${maxSpend}`);
    for (const m of config.models) {
      if (maxOutputTokens(m.options) === null && m.price.output > 0) {
        throw new InputError("a spend cap needs every model's max_tokens (the bound on a call's cost): set it in the model's options or defaults.options", { file: config.file, field: `models.${m.name}.options.max_tokens` });
      }
    }
    if (config.judge && maxOutputTokens(config.judge.options) === null && config.judge.price.output > 0) {
      throw new InputError("a spend cap needs the judge's max_tokens (the bound on a call's cost)", { file: config.file, field: "scorer.options.max_tokens" });
    }
  }
}

/** Collect (or resume) and build the table. */
export async function collectOutcomes(opts: CollectOptions): Promise<{ table: OutcomeTable; report: CollectReport }> {
  const { config, prompts, scorer } = opts;
  const maxSpend = opts.maxSpend ?? null;
  checkCollect(config, prompts, scorer, maxSpend);
  const judge = typeof scorer !== "function" && scorer.type === "judge" ? config.judge : null;
  const jh = judge ? judgeHash(judge) : null;
  const journal = await Journal.open(opts.journal, { sync: opts.sync });
  try {
    const state = journalState(journal.contents.records);
    const spend = new SpendCap(maxSpend, state.modelSpent + state.judgeSpent);
    let judgeSpent = state.judgeSpent;
    let modelSpent = state.modelSpent;
    const cells = cellsOf(prompts, config.models);
    const tasks = cells.filter((c) => !isOkCall(state.calls.get(c.key)) || (jh !== null && state.judged.get(`${c.key}\u0000${jh}`)?.ok !== true));
    const resumed = cells.filter((c) => isOkCall(state.calls.get(c.key))).length;
    const limiters = new Map<string, EndpointLimiter>();
    const limiterOf = (baseUrl: string) => {
      let l = limiters.get(baseUrl);
      if (!l) limiters.set(baseUrl, (l = new EndpointLimiter(config.limitsOf(baseUrl))));
      return l;
    };
    const never = new AbortController().signal;
    let stoppedBy: CollectReport["stoppedBy"] = null;
    let done = 0;
    let called = 0;
    const progress = () => opts.onProgress?.({ done, total: tasks.length, spent: spend.spent });
    const worst = (price: CollectModel["price"], msgs: ChatMessage[], maxOut: number | null) => (maxSpend === null ? 0 : worstCaseCost(price, msgs, maxOut));

    /** Reserve `w` US$, waiting for calls in flight to settle; false when the run stops. */
    const reserve = async (w: number): Promise<boolean> => {
      for (;;) {
        if (stoppedBy) return false;
        if (opts.stop?.aborted) {
          stoppedBy = "stop";
          return false;
        }
        if (spend.tryReserve(w)) return true;
        if (spend.inFlight === 0) {
          stoppedBy = "max-spend";
          return false;
        }
        await spend.nextSettle();
      }
    };

    const record = (r: JournalRecord) => {
      journal.append(r);
      if (r.kind === "call") state.calls.set(cellKey(r.prompt, r.model, r.request), r);
      else state.judged.set(`${cellKey(r.prompt, r.model, r.request)}\u0000${r.judge}`, r);
    };
    const base = (c: Cell) => ({ v: JOURNAL_VERSION, prompt: c.prompt.id, model: c.model.name, request: c.request, at: new Date().toISOString() });

    const runJudge = async (c: Cell, response: string): Promise<void> => {
      const j = judge!;
      const msgs = judgeMessages(j, c.prompt, c.model.name, response);
      const jmax = maxOutputTokens(j.options);
      const w = worst(j.price, msgs, jmax);
      if (!(await reserve(w))) return;
      try {
        const ans = await callChat({ upstream: j.upstream, price: j.price, messages: msgs, options: j.options, maxOutput: jmax, limiter: limiterOf(j.upstream.baseUrl), retry: config.retry, spend, reserved: w, signal: never });
        let score: number | null = null;
        let error = "";
        try {
          score = judgeScore(ans.text, j.scale, j.scorePattern);
        } catch (e) {
          error = (e as Error).message;
        }
        judgeSpent += ans.cost + ans.unconfirmedCost;
        const usage = { inputTokens: ans.inputTokens, outputTokens: ans.outputTokens, estimated: ans.estimated, cost: ans.cost };
        record(score !== null
          ? { ...base(c), kind: "judge", judge: jh!, latencyMs: ans.latencyMs, unconfirmedCost: ans.unconfirmedCost, ok: true, score, reply: ans.text, ...usage }
          : { ...base(c), kind: "judge", judge: jh!, latencyMs: ans.latencyMs, unconfirmedCost: ans.unconfirmedCost, ok: false, error, cost: ans.cost });
      } catch (e) {
        if (!(e instanceof ChatFailure)) throw e;
        judgeSpent += e.unconfirmedCost;
        record({ ...base(c), kind: "judge", judge: jh!, latencyMs: 0, unconfirmedCost: e.unconfirmedCost, ok: false, error: e.message, cost: 0 });
      }
    };

    const runCell = async (c: Cell): Promise<boolean> => {
      let call = state.calls.get(c.key);
      if (!isOkCall(call)) {
        const msgs = messagesOf(c.model, c.prompt);
        const maxOut = maxOutputTokens(c.model.options);
        const w = worst(c.model.price, msgs, maxOut);
        if (!(await reserve(w))) return false;
        let ans: ChatAnswer | null = null;
        try {
          ans = await callChat({ upstream: c.model.upstream, price: c.model.price, messages: msgs, options: c.model.options, maxOutput: maxOut, limiter: limiterOf(c.model.upstream.baseUrl), retry: config.retry, spend, reserved: w, signal: never });
        } catch (e) {
          if (!(e instanceof ChatFailure)) throw e;
          modelSpent += e.unconfirmedCost;
          record({ ...base(c), kind: "call", attempts: e.attempts, elapsedMs: e.elapsedMs, unconfirmedCost: e.unconfirmedCost, ok: false, error: e.message });
          if (e.capped) stoppedBy = "max-spend";
        }
        if (ans) {
          called++;
          modelSpent += ans.cost + ans.unconfirmedCost;
          record({
            ...base(c),
            kind: "call",
            attempts: ans.attempts,
            elapsedMs: ans.elapsedMs,
            unconfirmedCost: ans.unconfirmedCost,
            ok: true,
            response: ans.text,
            latencyMs: ans.latencyMs,
            inputTokens: ans.inputTokens,
            outputTokens: ans.outputTokens,
            estimated: ans.estimated,
            cost: ans.cost,
          });
        }
        call = state.calls.get(c.key);
      }
      if (judge && isOkCall(call)) await runJudge(c, call.response);
      return true;
    };

    // One queue per endpoint (the model's, or the judge's for cells only left to judge), each
    // drained by as many workers as the endpoint allows calls in flight.
    const queues = new Map<string, Cell[]>();
    for (const c of tasks) {
      const url = isOkCall(state.calls.get(c.key)) && judge ? judge.upstream.baseUrl : c.model.upstream.baseUrl;
      const q = queues.get(url) ?? [];
      q.push(c);
      queues.set(url, q);
    }
    progress();
    const workers: Promise<void>[] = [];
    // An unexpected error (the journal cannot be written: a full disk) stops every worker before
    // the journal closes, so no answer arrives that could not be recorded.
    let crashed: { error: unknown } | null = null;
    for (const [url, q] of queues) {
      let next = 0;
      const n = Math.min(q.length, config.limitsOf(url).concurrency);
      for (let w = 0; w < n; w++) {
        workers.push(
          (async () => {
            try {
              while (next < q.length && !stoppedBy && !crashed) {
                const c = q[next++];
                if (!(await runCell(c))) return;
                done++;
                progress();
              }
            } catch (error) {
              crashed ??= { error };
            }
          })(),
        );
      }
    }
    await Promise.all(workers);
    if (crashed) throw (crashed as { error: unknown }).error;
    progress();
    const built = await buildTable(prompts, config.models, state, scorer, jh);
    const report: CollectReport = {
      prompts: prompts.length,
      models: config.models.map((m) => m.name),
      cells: cells.length,
      resumed,
      called,
      missing: built.missing,
      failures: built.failures,
      notCalled: cells.filter((c) => !state.calls.has(c.key)).length,
      stoppedBy,
      modelSpent,
      judgeSpent,
      estimatedTokens: built.estimatedTokens,
      tornJournalBytes: journal.contents.tornBytes,
    };
    return { table: built.table, report };
  } finally {
    journal.close();
  }
}

/** The outcome table of the journal's state: scores by the scorer (or the judge's verdicts), costs and tokens from usage, responses kept. */
export async function buildTable(
  prompts: readonly PromptRow[],
  models: readonly CollectModel[],
  state: JournalState,
  scorer: ScorerConfig | CustomScorer,
  jh: string | null,
): Promise<{ table: OutcomeTable; failures: CellFailure[]; missing: number; estimatedTokens: number }> {
  const n = prompts.length;
  const m = models.length;
  const scores = new Float64Array(n * m).fill(NaN);
  const costs = new Float64Array(n * m).fill(NaN);
  const inputTokens = new Float64Array(n * m).fill(NaN);
  const outputTokens = new Float64Array(n * m).fill(NaN);
  // The journaled ms of each successful call (the whole answer: collect does not stream, so no time to first token).
  const totalLatencyMs = new Float64Array(n * m).fill(NaN);
  const responses: (string | null)[] = new Array(n * m).fill(null);
  const failures: CellFailure[] = [];
  let estimatedTokens = 0;
  const score: CustomScorer | null = typeof scorer === "function" ? scorer : scorer.type === "judge" ? null : builtinScorer(scorer);
  for (const [pi, prompt] of prompts.entries()) {
    for (const [mj, model] of models.entries()) {
      const key = cellKey(prompt.id, model.name, requestHash(model, prompt));
      const call = state.calls.get(key);
      if (!call) continue;
      if (!call.ok) {
        failures.push({ prompt: prompt.id, model: model.name, stage: "call", error: call.error });
        continue;
      }
      const at = pi * m + mj;
      costs[at] = call.cost;
      inputTokens[at] = call.inputTokens;
      outputTokens[at] = call.outputTokens;
      if (typeof call.latencyMs === "number" && call.latencyMs >= 0) totalLatencyMs[at] = call.latencyMs;
      responses[at] = call.response;
      if (call.estimated) estimatedTokens++;
      if (score) {
        try {
          const s = await score({ prompt, model: model.name, response: call.response });
          if (typeof s !== "number" || !(s >= 0 && s <= 1)) throw new Error(`the scorer returned ${String(s)}, not a number in [0,1]`);
          scores[at] = s;
        } catch (e) {
          failures.push({ prompt: prompt.id, model: model.name, stage: "score", error: (e as Error).message });
        }
      } else {
        const v = state.judged.get(`${key}\u0000${jh}`);
        if (v?.ok) scores[at] = v.score;
        else if (v) failures.push({ prompt: prompt.id, model: model.name, stage: "judge", error: v.error });
      }
    }
  }
  let missing = 0;
  for (let i = 0; i < n * m; i++) if (Number.isNaN(scores[i])) missing++;
  const table: OutcomeTable = {
    ids: prompts.map((p) => p.id),
    texts: prompts.map((p) => p.text),
    datasets: prompts.map((p) => p.dataset),
    evals: prompts.map((p) => p.eval),
    models: models.map((x) => x.name),
    scores,
    costs,
    inputTokens,
    outputTokens,
    ...(totalLatencyMs.some((x) => !Number.isNaN(x)) ? { totalLatencyMs } : {}),
    responses,
  };
  return { table, failures, missing, estimatedTokens };
}

