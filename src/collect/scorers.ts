/**
 * Scorers: an answer and its prompt's reference in, a score in [0,1] out. The built-in ones are
 * pure functions of the response and the reference, so they run when the table is built from
 * the journal (change the scorer and rerun: no call is repeated). The LLM judge calls another
 * endpoint; its verdicts and its cost are journaled apart (see collect.ts), never added to the
 * model's cost.
 *
 * - exact: the trimmed response equals the trimmed reference.
 * - normalized: equal after lower-casing, removing punctuation and the articles a/an/the, and
 *   collapsing white space (SQuAD's normalisation).
 * - regex: the pattern's first capture group (or whole match) in the response, normalised,
 *   equals the normalised reference (or the reference's own match, with applyToReference).
 * - numeric: GSM8K-style final answer: the number after `####` if there is one, else the last
 *   number in the text (commas, `$` and a trailing `.` ignored), compared within a tolerance.
 * - choice: the multiple-choice letter: "answer is (B)", "Answer: B", a lone "B" or "(B)" at
 *   the start, else the last standalone letter; compared with the reference's letter.
 *
 * A custom scorer (library only) is a `CustomScorer`: it may be async, and returns a number in
 * [0,1]; a throw or a value outside [0,1] leaves that cell's score missing with the error.
 */
import { InputError } from "../util/errors.js";
import type { ScorerConfig } from "./config.js";
import type { PromptRow } from "./prompts.js";

/** What a scorer sees of one answered cell. */
export interface ScoreInput {
  prompt: PromptRow;
  /** The model's name (the table's column). */
  model: string;
  /** The model's answer text. */
  response: string;
}

/** A scorer from the library: returns a score in [0,1] (or a promise of one). */
export type CustomScorer = (input: ScoreInput) => number | Promise<number>;

/** SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces. */
export function normalizeAnswer(s: string): string {
  return s
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, " ")
    .replace(/\b(a|an|the)\b/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

const NUMBER = /-?\$?\d[\d,]*(?:\.\d+)?|-?\.\d+/g;

function toNumber(s: string): number | null {
  const n = Number(s.replace(/[$,]/g, ""));
  return Number.isFinite(n) ? n : null;
}

/** The final numeric answer of a text: after `####` if present, else its last number; null when none. */
export function finalNumber(text: string): number | null {
  const hash = text.lastIndexOf("####");
  const tail = hash >= 0 ? text.slice(hash + 4) : text;
  const nums = tail.match(NUMBER);
  if (!nums || nums.length === 0) return null;
  return toNumber(hash >= 0 ? nums[0] : nums[nums.length - 1]);
}

/** The multiple-choice letter a text gives, among `letters`; null when none. */
export function choiceLetter(text: string, letters = "ABCDE"): string | null {
  const set = `[${letters}]`;
  const patterns = [
    new RegExp(`answer(?:\\s+is)?\\s*[:\\-]?\\s*\\(?(${set})\\)?(?![A-Za-z])`, "i"),
    new RegExp(`^\\s*\\(?(${set})\\)?(?:[.):\\s]|$)`),
  ];
  for (const re of patterns) {
    const m = re.exec(text);
    if (m) return m[1].toUpperCase();
  }
  const all = [...text.matchAll(new RegExp(`(?<![A-Za-z])\\(?(${set})\\)?(?![A-Za-z])`, "g"))];
  return all.length ? all[all.length - 1][1] : null;
}

function needReference(p: PromptRow, what: string): string {
  if (p.reference === null) throw new InputError(`the ${what} scorer needs a reference answer, and this prompt has none`, { field: `reference (prompt "${p.id}")` });
  return p.reference;
}

/** A built-in scorer as a function (the judge is not one: collect.ts runs it). */
export function builtinScorer(spec: Exclude<ScorerConfig, { type: "judge" }>): CustomScorer {
  switch (spec.type) {
    case "exact":
      return ({ prompt, response }) => (response.trim() === needReference(prompt, "exact").trim() ? 1 : 0);
    case "normalized":
      return ({ prompt, response }) => (normalizeAnswer(response) === normalizeAnswer(needReference(prompt, "normalized")) ? 1 : 0);
    case "regex": {
      const re = new RegExp(spec.pattern, spec.flags);
      const extract = (s: string): string | null => {
        const m = re.exec(s);
        return m ? (m[1] ?? m[0]) : null;
      };
      return ({ prompt, response }) => {
        const ref = needReference(prompt, "regex");
        const want = spec.applyToReference ? extract(ref) : ref;
        const got = extract(response);
        return got !== null && want !== null && normalizeAnswer(got) === normalizeAnswer(want) ? 1 : 0;
      };
    }
    case "numeric":
      return ({ prompt, response }) => {
        const want = finalNumber(needReference(prompt, "numeric"));
        if (want === null) throw new InputError("the reference has no number", { field: `reference (prompt "${prompt.id}")` });
        const got = finalNumber(response);
        return got !== null && Math.abs(got - want) <= spec.tolerance * Math.max(1, Math.abs(want)) ? 1 : 0;
      };
    case "choice":
      return ({ prompt, response }) => {
        const ref = needReference(prompt, "choice").trim();
        const want = choiceLetter(ref, spec.letters);
        if (want === null) throw new InputError(`the reference "${ref.slice(0, 40)}" is not one of the letters ${spec.letters}`, { field: `reference (prompt "${prompt.id}")` });
        return choiceLetter(response, spec.letters) === want ? 1 : 0;
      };
  }
}

/** Scorers whose every prompt needs a reference. */
export function needsReference(spec: ScorerConfig): boolean {
  return spec.type !== "judge";
}

/** The judge's prompt: the rubric with {{prompt}}, {{response}} and {{reference}} filled in. */
export function judgePrompt(rubric: string, input: ScoreInput): string {
  return rubric.replace(/\{\{\s*(prompt|response|reference)\s*\}\}/g, (_, k: string) => (k === "prompt" ? input.prompt.text : k === "response" ? input.response : (input.prompt.reference ?? "")));
}

/** The judge's score in [0,1] from its reply: the pattern's first group (default `SCORE: n`, else the last number) / scale. */
export function judgeScore(reply: string, scale: number, pattern: string | null): number {
  let raw: string | undefined;
  if (pattern !== null) {
    const m = new RegExp(pattern, "i").exec(reply);
    raw = m ? (m[1] ?? m[0]) : undefined;
  } else {
    const m = /score\s*[:=]\s*(-?\d+(?:\.\d+)?)/i.exec(reply);
    raw = m?.[1] ?? reply.match(/-?\d+(?:\.\d+)?/g)?.at(-1);
  }
  if (raw === undefined) throw new Error(`the judge's reply has no score: "${reply.slice(0, 80)}"`);
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > scale) throw new Error(`the judge's score ${raw} is outside 0-${scale}`);
  return n / scale;
}
