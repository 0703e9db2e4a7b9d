/**
 * Text files must be UTF-8. Node's decoders replace invalid bytes with U+FFFD without a word,
 * so a Latin-1 (Windows-1252) file would import with its accented letters silently replaced;
 * and a UTF-16 file looks like binary. Both are errors that say what the file is and how to
 * convert it. JSON's `\ud800` escapes can also make lone surrogates, which UTF-8 cannot store
 * (Arrow would write U+FFFD): `loneSurrogateField` finds them in a row.
 */
import { createReadStream } from "node:fs";
import { InputError } from "../../util/errors.js";

/** "UTF-16LE" / "UTF-16BE" when the first bytes look like UTF-16 text, else undefined. */
export function utf16Kind(head: Uint8Array): string | undefined {
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return "UTF-16LE";
  if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return "UTF-16BE";
  // No BOM: ASCII text in UTF-16 has a zero in every other byte.
  const n = Math.min(head.length & ~1, 512);
  if (n < 8) return undefined;
  let evenZero = 0;
  let oddZero = 0;
  for (let i = 0; i < n; i += 2) {
    if (head[i] === 0) evenZero++;
    if (head[i + 1] === 0) oddZero++;
  }
  if (oddZero > 0.8 * (n / 2) && evenZero === 0) return "UTF-16LE";
  if (evenZero > 0.8 * (n / 2) && oddZero === 0) return "UTF-16BE";
  return undefined;
}

export function utf16Message(kind: string): string {
  return `the file is ${kind} text; convert it to UTF-8 first, e.g. iconv -f ${kind} -t UTF-8 IN > OUT`;
}

/** Line (1-based) and byte offset of the first invalid UTF-8 sequence in `b`, or null. */
function firstInvalid(b: Uint8Array): { line: number; offset: number } | null {
  let line = 1;
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c === 0x0a) line++;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) [need, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [need, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [need, min] = [3, 0x10000];
    else return { line, offset: i };
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return { line, offset: i };
      cp = (cp << 6) | (d & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates (CESU-8 / "surrogatepass") and code points past U+10FFFF.
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return { line, offset: i };
    i += need + 1;
  }
  return null;
}

function notUtf8(file: string, bytes: Uint8Array, at: { line: number; offset: number }): InputError {
  const b = bytes[at.offset];
  const surrogate = b === 0xed && (bytes[at.offset + 1] ?? 0) >= 0xa0;
  const what = surrogate
    ? "an encoded lone UTF-16 surrogate, which is not valid Unicode text"
    : `byte 0x${b.toString(16).padStart(2, "0")} is not UTF-8 (is the file Latin-1 / Windows-1252? convert it with: iconv -f WINDOWS-1252 -t UTF-8 IN > OUT)`;
  return new InputError(`not valid UTF-8 at line ${at.line} (byte ${at.offset}): ${what}`, { file });
}

/** Throws an InputError naming the file and line unless `bytes` are valid UTF-8. */
export function checkUtf8(bytes: Uint8Array, file: string): void {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return;
  } catch {
    // Find where, for the message (only on failure: the native check above is the fast path).
  }
  const at = firstInvalid(bytes) ?? { line: 1, offset: 0 };
  throw notUtf8(file, bytes, at);
}

/** The streaming form of checkUtf8, for files read in chunks (CSV, JSON Lines): one extra pass. */
export async function checkUtf8File(file: string): Promise<void> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let lines = 0;
  let offset = 0;
  // The last chunk's final character (maybe incomplete), which a sequence may continue.
  let carry = new Uint8Array(0);
  const newlines = (b: Uint8Array) => b.reduce((n, c) => n + (c === 0x0a ? 1 : 0), 0);
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    try {
      decoder.decode(chunk, { stream: true });
    } catch {
      // Find where, for the message (only on failure: the native check is the fast path).
      const b = new Uint8Array(carry.length + chunk.length);
      b.set(carry, 0);
      b.set(chunk, carry.length);
      const at = firstInvalid(b) ?? { line: 1, offset: 0 };
      throw notUtf8(file, b, { line: lines - newlines(carry) + at.line, offset: offset - carry.length + at.offset });
    }
    lines += newlines(chunk);
    offset += chunk.length;
    let k = chunk.length - 1;
    while (k > 0 && k > chunk.length - 4 && (chunk[k] & 0xc0) === 0x80) k--;
    carry = Uint8Array.from(chunk.subarray(Math.max(0, k)));
  }
  try {
    decoder.decode();
  } catch {
    throw new InputError("not valid UTF-8: the file ends inside a multi-byte character (truncated?)", { file });
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The first field of a row whose text holds a lone UTF-16 surrogate, or undefined. */
export function loneSurrogateField(values: Record<string, unknown>): string | undefined {
  for (const [k, v] of Object.entries(values)) {
    if (typeof v === "string" && LONE_SURROGATE.test(v)) return k;
    if (Array.isArray(v) && v.some((x) => typeof x === "string" && LONE_SURROGATE.test(x))) return k;
  }
  return undefined;
}
