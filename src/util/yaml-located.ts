/**
 * YAML documents whose validation errors name the file, the line and the field: the line of the
 * deepest node of a path that exists, and the path written as `models.gpt-4.baseUrl`.
 */
import { isNode, LineCounter, parseDocument, type Document } from "yaml";
import { InputError } from "./errors.js";

export interface LocatedDocument {
  doc: Document;
  lines: LineCounter;
}

/** Parse YAML (JSON is YAML) keeping positions; a syntax error names its line. */
export function parseLocated(text: string, file: string): LocatedDocument {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) throw new InputError(`not valid YAML: ${err.message.split("\n")[0]}`, { file, row: err.linePos?.[0]?.line });
  return { doc, lines };
}

/** 1-based line of the deepest node of `path` that exists in the document. */
export function lineOf({ doc, lines }: LocatedDocument, path: readonly PropertyKey[]): number | undefined {
  for (let k = path.length; k >= 0; k--) {
    const node = k === 0 ? doc.contents : doc.getIn(path.slice(0, k) as (string | number)[], true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** A zod-style issue path as a field name: `routers[0].params.k`. */
export function fieldOf(path: readonly PropertyKey[]): string | undefined {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("") || undefined;
}
