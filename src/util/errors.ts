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
    super(formatLocated(message, location));
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
