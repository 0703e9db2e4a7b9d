import { describe, expect, it } from "vitest";
import { DEFAULT_PREPARATION } from "../../src/embed/embedder.js";
import { MIN_SHARED_PREFIX_CHARS, learnSharedPrefixes, prepareTexts, stripKnownPrefix, truncate, unwrapPythonList } from "../../src/embed/prepare.js";

const FEWSHOT = "Answer the question with one letter.\nQ: What is 1+1?\nA) 2\nB) 3\nAnswer: A\n\n";

describe("unwrapPythonList", () => {
  it("unwraps RouterBench's stringified lists, with Python escapes and either quote", () => {
    expect(unwrapPythonList("['Please answer.\\nA) x']")).toBe("Please answer.\nA) x");
    expect(unwrapPythonList(`["It's fine"]`)).toBe("It's fine");
    expect(unwrapPythonList("['Dennis\\'s menudo', 'second']")).toBe("Dennis's menudo\nsecond");
    expect(unwrapPythonList("['caf\\xe9 \\u00e9']")).toBe("café é");
    expect(unwrapPythonList("[]")).toBe("");
  });
  it("leaves anything that is not a list of string literals unchanged", () => {
    for (const t of ["plain text", "[1, 2]", "['unterminated]", "['a'] trailing", "[x]"]) expect(unwrapPythonList(t)).toBe(t);
  });
});

describe("shared prefix", () => {
  const texts = [`${FEWSHOT}Q: Which planet is red?`, `${FEWSHOT}Q: Which gas do plants take in?`, `${FEWSHOT}Q: What melts ice?`, "Write a python function to add.", "Write a python function to sort."];
  const evals = ["arc", "arc", "arc", "mbpp", "mbpp"];

  it("learns the per-eval prefix cut at a line end, and none for short openings", () => {
    const p = learnSharedPrefixes(texts, evals);
    // The common part runs into "Q: Wh"; the cut keeps the question whole.
    expect(p.arc).toBe(FEWSHOT);
    expect(p.mbpp).toBeUndefined();
  });

  it("strips per eval in prepareTexts (default options) and keeps other evals whole", () => {
    const out = prepareTexts(texts, evals, DEFAULT_PREPARATION);
    expect(out.slice(0, 3)).toEqual(["Q: Which planet is red?", "Q: Which gas do plants take in?", "Q: What melts ice?"]);
    expect(out.slice(3)).toEqual(texts.slice(3));
    expect(prepareTexts(texts, evals, { ...DEFAULT_PREPARATION, stripSharedPrefix: false })).toEqual(texts);
  });

  it("strips the same prefix from wrapped lists after unwrapping", () => {
    const wrapped = texts.map((t) => `[${JSON.stringify(t).replace(/^"|"$/g, "'")}]`);
    expect(prepareTexts(wrapped, evals, DEFAULT_PREPARATION)[0]).toBe("Q: Which planet is red?");
    expect(learnSharedPrefixes(wrapped, evals, { unwrapList: true }).arc).toBe(FEWSHOT);
  });

  it("route time: known prefixes strip new prompts by eval, or the longest match without one", () => {
    const known = learnSharedPrefixes(texts, evals);
    const fresh = [`${FEWSHOT}Q: Why is the sky blue?`, `${FEWSHOT}Q: Why is the sea salty?`, "Unrelated prompt"];
    expect(prepareTexts(fresh, ["arc", "other-eval", "arc"], DEFAULT_PREPARATION, known)).toEqual(["Q: Why is the sky blue?", "Q: Why is the sea salty?", "Unrelated prompt"]);
    expect(prepareTexts(fresh, null, DEFAULT_PREPARATION, known)).toEqual(["Q: Why is the sky blue?", "Q: Why is the sea salty?", "Unrelated prompt"]);
    // A single new prompt is never stripped by learning on itself: the prefix comes from training.
    expect(prepareTexts([fresh[0]], ["arc"], DEFAULT_PREPARATION)).toEqual([fresh[0]]);
  });

  it("never strips a prompt to nothing, and ignores identical prompts", () => {
    expect(stripKnownPrefix(FEWSHOT, "arc", { arc: FEWSHOT })).toBe(FEWSHOT);
    expect(learnSharedPrefixes([texts[0], texts[0]], ["arc", "arc"])).toEqual({});
    const long = "x".repeat(MIN_SHARED_PREFIX_CHARS - 2) + "\n";
    expect(learnSharedPrefixes([`${long}a`, `${long}b`], ["e", "e"])).toEqual({});
  });
});

describe("max length", () => {
  it("keeps the head or the tail", () => {
    expect(truncate("abcdef", 4, "head")).toBe("abcd");
    expect(truncate("abcdef", 4, "tail")).toBe("cdef");
    expect(truncate("abc", 0, "head")).toBe("abc");
    const prep = { ...DEFAULT_PREPARATION, stripSharedPrefix: false, maxChars: 3 };
    expect(prepareTexts(["['hello']"], null, { ...prep, keep: "tail" })).toEqual(["llo"]);
    expect(prepareTexts(["['hello']"], null, prep)).toEqual(["hel"]);
  });
});
