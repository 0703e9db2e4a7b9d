/** Raw little-endian float arrays on disk: the simplest weight format, read back without copies. */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError } from "../util/errors.js";

export async function writeFloats(dir: string, name: string, data: Float32Array | Float64Array): Promise<string> {
  await writeFile(join(dir, name), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return name;
}

async function readBytes(dir: string, name: string, bytes: number): Promise<Buffer> {
  const buf = await readFile(join(dir, name));
  if (buf.length !== bytes) throw new InputError(`${join(dir, name)}: ${buf.length} bytes, expected ${bytes} (truncated or from another router)`);
  return buf;
}

export async function readFloat32(dir: string, name: string, length: number): Promise<Float32Array> {
  const buf = await readBytes(dir, name, length * 4);
  // Copy into an aligned buffer: a Buffer from readFile may start at any byte offset.
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

export async function readFloat64(dir: string, name: string, length: number): Promise<Float64Array> {
  const buf = await readBytes(dir, name, length * 8);
  return new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

export async function readJson<T>(dir: string, name: string): Promise<T> {
  const path = join(dir, name);
  const text = await readFile(path, "utf8");
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new InputError(`${path}: not valid JSON`);
  }
}
