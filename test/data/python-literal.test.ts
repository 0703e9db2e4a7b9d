import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PythonLiteralError, looksLikePythonList, parsePythonStringList } from "../../src/data/importers/python-literal.js";

// repr() of many tricky lists and the values Python's ast.literal_eval gives (make_fixtures.py).
const CASES: { literal: string; value: string[] }[] = JSON.parse(
  readFileSync(fileURLToPath(new URL("../fixtures/data/python-literals.json", import.meta.url)), "ascii"),
);

describe("parsePythonStringList", () => {
  it(`agrees with Python's ast.literal_eval on ${CASES.length} generated literals`, () => {
    expect(CASES.length).toBeGreaterThan(300);
    for (const c of CASES) expect(parsePythonStringList(c.literal), c.literal).toEqual(c.value);
  });

  it("handles each escape Python defines", () => {
    expect(parsePythonStringList(String.raw`['a\nb\tc\rd\\e\'f\"g\a\b\f\v']`)).toEqual(["a\nb\tc\rd\\e'f\"g\x07\b\f\v"]);
    expect(parsePythonStringList(String.raw`['\x41\u00e9\U0001F600\101\0\7']`)).toEqual(["Aé😀A\0\x07"]);
    expect(parsePythonStringList(String.raw`['\ud800']`)).toEqual(["\ud800"]);
    // unknown escapes keep the backslash, as in Python
    expect(parsePythonStringList(String.raw`['\d+\.\w \q']`)).toEqual(["\\d+\\.\\w \\q"]);
    // line continuation inside a string
    expect(parsePythonStringList("['a\\\nb']")).toEqual(["ab"]);
  });

  it("handles quotes, prefixes, concatenation, None, empty lists and trailing commas", () => {
    expect(parsePythonStringList(`["it's", 'say "hi"']`)).toEqual(["it's", 'say "hi"']);
    expect(parsePythonStringList(String.raw`[r'\d\n', R"\x", u'é', Ur'\t']`)).toEqual(["\\d\\n", "\\x", "é", "\\t"]);
    expect(parsePythonStringList(`['a' "b"  'c', 'd',]`)).toEqual(["abc", "d"]);
    expect(parsePythonStringList(`['''x'y"z''', """a\nb"""]`)).toEqual([`x'y"z`, "a\nb"]);
    expect(parsePythonStringList(`[None, 'x']`)).toEqual([null, "x"]);
    expect(parsePythonStringList(` [ ] `)).toEqual([]);
    expect(parsePythonStringList(`[\n  'a' ,\n  'b'\n]`)).toEqual(["a", "b"]);
  });

  const BAD: [string, RegExp][] = [
    ["'a'", /expected a Python list/],
    ["['a'", /unterminated list|expected ','/],
    ["['a]", /unterminated string/],
    ["['a' 'b' x]", /expected ',' or ']'/],
    ["['a'] extra", /unexpected text after/],
    ["[1, 2]", /expected a string literal or None/],
    ["['a\nb']", /unescaped line break/],
    [String.raw`['\x4']`, /truncated \\x escape/],
    [String.raw`['\u12']`, /truncated \\u escape/],
    [String.raw`['\U00110000']`, /not a Unicode code point/],
    [String.raw`['\N{BULLET}']`, /named escapes/],
    ["[b'bytes']", /bytes literals/],
    ["[f'x']", /f-strings/],
    ["[,]", /expected a string literal/],
    ["['a',,]", /expected a string literal/],
    ["", /expected a Python list/],
  ];
  for (const [lit, msg] of BAD) {
    it(`rejects ${JSON.stringify(lit)}`, () => {
      expect(() => parsePythonStringList(lit)).toThrow(PythonLiteralError);
      expect(() => parsePythonStringList(lit)).toThrow(msg);
    });
  }

  it("reports where the problem is", () => {
    try {
      parsePythonStringList("['ok', 'bad\\x4']");
      expect.unreachable();
    } catch (err) {
      expect((err as PythonLiteralError).offset).toBe(11);
      expect((err as Error).message).toMatch(/at character 12/);
    }
  });
});

describe("looksLikePythonList", () => {
  it("tells list literals from plain text that happens to start with '['", () => {
    expect(looksLikePythonList("['x']")).toBe(true);
    expect(looksLikePythonList(' ["x"]')).toBe(true);
    expect(looksLikePythonList("[]")).toBe(true);
    expect(looksLikePythonList("[r'x']")).toBe(true);
    expect(looksLikePythonList("[None]")).toBe(true);
    expect(looksLikePythonList("[INST] hello [/INST]")).toBe(false);
    expect(looksLikePythonList("plain text")).toBe(false);
    expect(looksLikePythonList("['unterminated")).toBe(true);
  });
});
