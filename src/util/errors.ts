/**
 * Errors a user can act on. The CLI prints `error.message` as one line and exits non-zero,
 * so the message itself must say where the problem is: file, row and field when they exist.
 */
export interface InputLocation {
  file?: string;
  /** 1-based data row (header not counted), or a line number for line-oriented formats. */
  row?: number;
  field?: string;
}

export class InputError extends Error {
  readonly location: InputLocation;
  constructor(message: string, location: InputLocation = {}) {
    // One line whatever the message quotes (a damaged file's bytes, a parser's multi-line text):
    // control characters are shown escaped, so the CLI's error stays one line.
    super(oneLine(formatLocated(message, location)));
    this.name = "InputError";
    this.location = location;
  }
}

export function formatLocated(message: string, loc: InputLocation): string {
  const where: string[] = [];
  if (loc.file !== undefined) where.push(loc.file);
  if (loc.row !== undefined) where.push(`row ${loc.row}`);
  if (loc.field !== undefined) where.push(`field "${loc.field}"`);
  return where.length ? `${where.join(", ")}: ${message}` : message;
}

/** `s` with line breaks and other control characters escaped (`\n`, `\u0000`), and at most `max` characters. */
export function oneLine(s: string, max = 2000): string {
  const named: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return t.length > max ? `${t.slice(0, max)}...` : t;
}
