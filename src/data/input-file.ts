/**
 * Opening a file the user named as input, with one clear line for the usual mistakes (no such
 * file, a directory, no permission) instead of bare errno text such as `EISDIR: illegal
 * operation on a directory, read`.
 */
import { readFile, stat } from "node:fs/promises";
import { InputError } from "../util/errors.js";

/** The reason a path cannot be read as an input file, in words. */
export function readErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case "ENOENT":
      return "no such file";
    case "EISDIR":
      return "is a directory, not a file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    default:
      return String(e?.message ?? err).split("\n")[0];
  }
}

/** Throws an InputError naming `file` unless it is a regular file that can be read. */
export async function checkInputFile(file: string, what = ""): Promise<number> {
  let size: number;
  try {
    const s = await stat(file);
    if (s.isDirectory()) throw Object.assign(new Error("directory"), { code: "EISDIR" });
    size = s.size;
  } catch (err) {
    throw new InputError(`cannot read${what ? ` the ${what}` : ""}: ${readErrorText(err)}`, { file });
  }
  return size;
}

/** The bytes of an input file; errors as in checkInputFile. */
export async function readInputFile(file: string, what = ""): Promise<Buffer> {
  await checkInputFile(file, what);
  try {
    return await readFile(file);
  } catch (err) {
    throw new InputError(`cannot read${what ? ` the ${what}` : ""}: ${readErrorText(err)}`, { file });
  }
}
