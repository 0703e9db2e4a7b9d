import { mkdir, rename, rm, writeFile, stat } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import { randomBytes } from "node:crypto";

/** A sibling path for staging, so the final rename stays on one filesystem (and so is atomic). */
export function stagingPath(finalPath: string): string {
  return join(dirname(finalPath), `.${basename(finalPath)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** Write a file so that readers see either the old content or the whole new one, never a part. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = stagingPath(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Build a directory in a staging place and move it into position only when `fill` succeeded.
 * A failure leaves the previous directory (if any) untouched and removes the staging copy.
 */
export async function writeDirAtomic(path: string, fill: (stagingDir: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = stagingPath(path);
  await mkdir(tmp, { recursive: true });
  try {
    await fill(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  const existing = await stat(path).catch(() => null);
  if (existing) {
    // rename() cannot replace a non-empty directory: swap through a backup name.
    const backup = stagingPath(path);
    await rename(path, backup);
    try {
      await rename(tmp, path);
    } catch (err) {
      await rename(backup, path);
      throw err;
    }
    await rm(backup, { recursive: true, force: true });
  } else {
    await rename(tmp, path);
  }
}
