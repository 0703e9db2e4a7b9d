/**
 * Prompt preparation: what text the encoder actually sees. The options are recorded with
 * every cached vector and exported router, so that training and routing prepare alike.
 */
import type { PreparationOptions } from "./embedder.js";
import { DEFAULT_PREPARATION } from "./embedder.js";
import { PythonLiteralError, parsePythonStringList } from "../data/importers/python-literal.js";

/** Known shared prefixes, by eval name (learned on training data, reused at route time). */
export type PrefixMap = Record<string, string>;

/**
 * A shared prefix shorter than this is not worth stripping: short common openings
 * ("Write a python function") carry the task's wording, not a repeated few-shot block.
 */
export const MIN_SHARED_PREFIX_CHARS = 32;

/**
 * `"['a', 'b']"` -> `"a\nb"` when the whole text is a Python list of string literals
 * (RouterBench stores prompts that way); any other text comes back unchanged.
 */
export function unwrapPythonList(text: string): string {
  const s = text.trim();
  if (s.length < 2 || s[0] !== "[" || s[s.length - 1] !== "]") return text;
  // The importer's parser (tested against Python's own ast.literal_eval); here a text that is
  // not a clean list of strings is simply left as it is.
  let items: (string | null)[];
  try {
    items = parsePythonStringList(s);
  } catch (err) {
    if (err instanceof PythonLiteralError) return text;
    throw err;
  }
  return items.some((x) => x === null) ? text : items.join("\n");
}

function commonPrefixLength(a: string, b: string, limit: number): number {
  const n = Math.min(a.length, b.length, limit);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * The prefix shared by all prompts of each eval, cut back to the end of a line (so that a
 * question which happens to start with the same words as every other keeps them). Evals with
 * fewer than two distinct prompts, or whose shared part is shorter than
 * MIN_SHARED_PREFIX_CHARS, get no entry. Pass texts as the encoder would see them before
 * stripping (that is, already unwrapped).
 */
export function learnSharedPrefixes(texts: readonly string[], evals: readonly string[], prep?: Pick<PreparationOptions, "unwrapList">): PrefixMap {
  if (prep?.unwrapList) texts = texts.map(unwrapPythonList);
  if (texts.length !== evals.length) throw new Error(`learnSharedPrefixes: ${texts.length} texts but ${evals.length} evals`);
  const first = new Map<string, string>();
  const lcp = new Map<string, number>();
  const distinct = new Map<string, boolean>();
  for (let i = 0; i < texts.length; i++) {
    const e = evals[i];
    const t = texts[i];
    const f = first.get(e);
    if (f === undefined) {
      first.set(e, t);
      lcp.set(e, t.length);
      distinct.set(e, false);
      continue;
    }
    if (t !== f) distinct.set(e, true);
    lcp.set(e, commonPrefixLength(f, t, lcp.get(e)!));
  }
  const out: PrefixMap = {};
  for (const [e, f] of first) {
    if (!distinct.get(e)) continue;
    const shared = f.slice(0, lcp.get(e)!);
    const cut = shared.lastIndexOf("\n");
    if (cut < 0) continue;
    const prefix = shared.slice(0, cut + 1);
    if (prefix.trim().length >= MIN_SHARED_PREFIX_CHARS) out[e] = prefix;
  }
  return out;
}

/**
 * Strip a known prefix from one prompt: its eval's prefix when the prompt starts with it;
 * otherwise (no eval given, an eval unseen in training, or a prompt that does not start with
 * its eval's prefix) the longest known prefix the prompt starts with. A prompt that would
 * become empty is kept whole.
 */
export function stripKnownPrefix(text: string, evalName: string | null, prefixes: PrefixMap): string {
  let p: string | undefined = evalName !== null && Object.hasOwn(prefixes, evalName) ? prefixes[evalName] : undefined;
  if (p !== undefined && !text.startsWith(p)) p = undefined;
  if (p === undefined) {
    for (const cand of Object.values(prefixes)) if (text.startsWith(cand) && (p === undefined || cand.length > p.length)) p = cand;
  }
  if (p === undefined) return text;
  const rest = text.slice(p.length);
  return rest.trim().length ? rest : text;
}

export function truncate(text: string, maxChars: number, keep: "head" | "tail"): string {
  if (!(maxChars > 0) || text.length <= maxChars) return text;
  return keep === "head" ? text.slice(0, maxChars) : text.slice(text.length - maxChars);
}

/** Fill in defaults and check the values (used for options that come from users). */
export function normalizePreparation(p: Partial<PreparationOptions> = {}): PreparationOptions {
  const out = { ...DEFAULT_PREPARATION, ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) } as PreparationOptions;
  if (!Number.isInteger(out.maxChars) || out.maxChars < 0) throw new Error(`maxChars must be a non-negative integer, got ${out.maxChars}`);
  if (out.keep !== "head" && out.keep !== "tail") throw new Error(`keep must be "head" or "tail", got ${String(out.keep)}`);
  return { unwrapList: !!out.unwrapList, stripSharedPrefix: !!out.stripSharedPrefix, maxChars: out.maxChars, keep: out.keep };
}

/**
 * The texts the encoder sees, in order: unwrap, strip the eval's shared prefix, cut to
 * maxChars. `prefixes` are the prefixes learned at training time (route time passes them);
 * without them they are learned from `texts`/`evals` themselves.
 */
export function prepareTexts(texts: readonly string[], evals: readonly string[] | null, prep: PreparationOptions, prefixes?: PrefixMap): string[] {
  if (evals && evals.length !== texts.length) throw new Error(`prepareTexts: ${texts.length} texts but ${evals.length} evals`);
  let out = prep.unwrapList ? texts.map(unwrapPythonList) : texts.slice();
  if (prep.stripSharedPrefix) {
    const known = prefixes ?? (evals ? learnSharedPrefixes(out, evals) : {});
    if (Object.keys(known).length) out = out.map((t, i) => stripKnownPrefix(t, evals ? evals[i] : null, known));
  }
  if (prep.maxChars > 0) out = out.map((t) => truncate(t, prep.maxChars, prep.keep));
  return out;
}
