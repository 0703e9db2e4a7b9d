/**
 * A small, strict parser for the Python list-of-strings literals RouterBench stores in its
 * `prompt` and `<model>|model_response` columns (`str(['...'])`, i.e. `repr` of a list).
 *
 * It accepts exactly what Python's own literal syntax accepts for such a list: `[`, string
 * literals separated by commas (an optional trailing comma), `]`, with whitespace between
 * tokens; string literals may be single-, double- or triple-quoted, with the `r`/`u` prefixes,
 * adjacent literals concatenate, and `None` stands for a missing element. Escapes follow Python
 * 3: `\\ \' \" \a \b \f \n \r \t \v`, `\ooo`, `\xhh`, `\uXXXX`, `\UXXXXXXXX`, backslash-newline
 * (a line continuation) and, as in Python, an unknown escape such as `\d` keeps its backslash.
 * `\N{name}` (which `repr` never writes) is refused with a clear message rather than guessed.
 */

export class PythonLiteralError extends Error {
  /** 0-based offset into the literal where the problem is. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} (at character ${offset + 1})`);
    this.name = "PythonLiteralError";
    this.offset = offset;
  }
}

const BACKSLASH = 0x5c;
const SINGLE = 0x27;
const DOUBLE = 0x22;

function isSpace(c: number): boolean {
  // Python's tokenizer skips spaces, tabs, form feeds and newlines inside brackets.
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function isOctal(c: number): boolean {
  return c >= 0x30 && c <= 0x37;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
};

class Cursor {
  pos = 0;
  constructor(readonly s: string) {}

  skipSpace(): void {
    const s = this.s;
    while (this.pos < s.length && isSpace(s.charCodeAt(this.pos))) this.pos++;
  }

  fail(message: string, at = this.pos): never {
    throw new PythonLiteralError(message, at);
  }

  /** A string literal's prefix letters, if the next token is a string literal. */
  stringStart(): { raw: boolean; prefixLen: number } | null {
    const s = this.s;
    let i = this.pos;
    let raw = false;
    let bytes = false;
    while (i < s.length && i - this.pos < 2) {
      const ch = s[i];
      if (ch === "r" || ch === "R") raw = true;
      else if (ch === "u" || ch === "U") {
        /* u-strings are ordinary str */
      } else if (ch === "b" || ch === "B") bytes = true;
      else if (ch === "f" || ch === "F") this.fail("f-strings are not literals");
      else break;
      i++;
    }
    const q = s.charCodeAt(i);
    if (q !== SINGLE && q !== DOUBLE) return null;
    if (bytes) this.fail("bytes literals are not supported (expected a str)");
    return { raw, prefixLen: i - this.pos };
  }

  /** Parses one string literal starting at the quote; `raw` disables escapes. */
  string(raw: boolean): string {
    const s = this.s;
    const start = this.pos;
    const quote = s.charCodeAt(this.pos);
    const triple = s.charCodeAt(this.pos + 1) === quote && s.charCodeAt(this.pos + 2) === quote;
    this.pos += triple ? 3 : 1;
    const parts: string[] = [];
    let chunkStart = this.pos;
    for (;;) {
      if (this.pos >= s.length) this.fail("unterminated string literal", start);
      const c = s.charCodeAt(this.pos);
      if (c === quote) {
        if (!triple) {
          parts.push(s.slice(chunkStart, this.pos));
          this.pos++;
          break;
        }
        if (s.charCodeAt(this.pos + 1) === quote && s.charCodeAt(this.pos + 2) === quote) {
          parts.push(s.slice(chunkStart, this.pos));
          this.pos += 3;
          break;
        }
        this.pos++;
        continue;
      }
      if ((c === 0x0a || c === 0x0d) && !triple) this.fail("unescaped line break inside a string literal");
      if (c !== BACKSLASH) {
        this.pos++;
        continue;
      }
      // A backslash.
      parts.push(s.slice(chunkStart, this.pos));
      const escAt = this.pos;
      this.pos++;
      if (this.pos >= s.length) this.fail("unterminated string literal", start);
      const e = s[this.pos];
      if (raw) {
        // In a raw string a backslash only stops the next character from ending the string.
        parts.push("\\", e);
        this.pos++;
        chunkStart = this.pos;
        continue;
      }
      if (e === "\n") {
        this.pos++;
      } else if (e === "\r") {
        this.pos++;
        if (s[this.pos] === "\n") this.pos++;
      } else if (e in SIMPLE_ESCAPES) {
        parts.push(SIMPLE_ESCAPES[e]);
        this.pos++;
      } else if (isOctal(s.charCodeAt(this.pos))) {
        let j = this.pos;
        while (j < this.pos + 3 && isOctal(s.charCodeAt(j))) j++;
        parts.push(String.fromCharCode(parseInt(s.slice(this.pos, j), 8)));
        this.pos = j;
      } else if (e === "x" || e === "u" || e === "U") {
        const n = e === "x" ? 2 : e === "u" ? 4 : 8;
        const hex = s.slice(this.pos + 1, this.pos + 1 + n);
        if (hex.length !== n || ![...hex].every((h) => isHex(h.charCodeAt(0)))) {
          this.fail(`truncated \\${e} escape (needs ${n} hex digits)`, escAt);
        }
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff) this.fail(`\\${e}${hex} is not a Unicode code point`, escAt);
        parts.push(cp <= 0xffff ? String.fromCharCode(cp) : String.fromCodePoint(cp));
        this.pos += 1 + n;
      } else if (e === "N") {
        this.fail("named escapes (\\N{...}) are not supported", escAt);
      } else {
        // Python keeps unknown escapes verbatim (with a DeprecationWarning): `\d` is backslash + d.
        parts.push("\\");
      }
      chunkStart = this.pos;
    }
    return parts.length === 1 ? parts[0] : parts.join("");
  }

  /** One element: adjacent string literals (concatenated) or `None`. */
  element(): string | null {
    const s = this.s;
    if (s.startsWith("None", this.pos) && !/[A-Za-z0-9_]/.test(s[this.pos + 4] ?? "")) {
      this.pos += 4;
      return null;
    }
    let out: string | null = null;
    for (;;) {
      const st = this.stringStart();
      if (!st) break;
      this.pos += st.prefixLen;
      const piece = this.string(st.raw);
      out = out === null ? piece : out + piece;
      this.skipSpace();
    }
    if (out === null) this.fail("expected a string literal or None");
    return out;
  }
}

/**
 * Parses a Python list of strings, e.g. `['a', "b\n"]` -> `["a", "b\n"]`. `None` elements come
 * back as null. Throws PythonLiteralError (with the offset) on anything else.
 */
export function parsePythonStringList(literal: string): (string | null)[] {
  const c = new Cursor(literal);
  c.skipSpace();
  if (literal[c.pos] !== "[") c.fail("expected a Python list literal starting with '['");
  c.pos++;
  const out: (string | null)[] = [];
  c.skipSpace();
  if (literal[c.pos] === "]") {
    c.pos++;
  } else {
    for (;;) {
      c.skipSpace();
      if (literal[c.pos] === "]" && out.length > 0) {
        // trailing comma
        c.pos++;
        break;
      }
      out.push(c.element());
      c.skipSpace();
      const ch = literal[c.pos];
      if (ch === ",") {
        c.pos++;
        continue;
      }
      if (ch === "]") {
        c.pos++;
        break;
      }
      if (c.pos >= literal.length) c.fail("unterminated list (missing ']')");
      c.fail(`expected ',' or ']' but found ${JSON.stringify(ch)}`);
    }
  }
  c.skipSpace();
  if (c.pos !== literal.length) c.fail("unexpected text after the list's closing ']'");
  return out;
}

/**
 * True when a cell looks like a stringified Python list (so it must parse as one), false for a
 * plain string that is taken as is. Plain text that happens to start with `[` but not with a
 * quote after it (e.g. `[INST] ...`) is plain text.
 */
export function looksLikePythonList(value: string): boolean {
  let i = 0;
  while (i < value.length && isSpace(value.charCodeAt(i))) i++;
  if (value[i] !== "[") return false;
  i++;
  while (i < value.length && isSpace(value.charCodeAt(i))) i++;
  const rest = value.slice(i, i + 5);
  return rest.startsWith("]") || rest.startsWith("'") || rest.startsWith('"') || /^[rRuU]{1,2}['"]/.test(rest) || /^None\b/.test(rest);
}
