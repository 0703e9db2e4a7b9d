// Parquet in, Zstandard-compressed (the codec polars writes by default): the importer reads it
// through hyparquet-compressors' decoder, capped at each page's declared size. (In this file
// because it came with the export work: Parquet out, zstd in.)
import { describe, expect, it } from "vitest";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DuckDBInstance } from "@duckdb/node-api";
import { asyncBufferFromFile, parquetMetadataAsync } from "hyparquet";
import { outcomeTableDigest } from "../../src/data/arrow-io.js";
import { importFiles } from "../../src/data/importers/index.js";
import { readPrompts } from "../../src/collect/prompts.js";
import { InputError } from "../../src/util/errors.js";

const fx = (name: string) => fileURLToPath(new URL(`../fixtures/data/${name}`, import.meta.url));
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

describe("Parquet import: Zstandard", () => {
  it("the fixture is ZSTD-compressed (made by test/fixtures/data/make_zstd_parquet.mjs)", async () => {
    const meta = await parquetMetadataAsync(await asyncBufferFromFile(fx("long-zstd.parquet")));
    const codecs = new Set(meta.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec)));
    expect([...codecs]).toEqual(["ZSTD"]);
  });

  it("imports to the same table as the Snappy file it was made from", async () => {
    const prices = JSON.parse(await readFile(fx("prices.json"), "utf8"));
    const zstd = await importFiles([fx("long-zstd.parquet")], { prices });
    const snappy = await importFiles([fx("long.parquet")], { prices });
    expect(zstd.report.files[0].format).toBe("long-parquet");
    expect(zstd.table.ids.length).toBeGreaterThan(0);
    expect(outcomeTableDigest(zstd.table)).toBe(outcomeTableDigest(snappy.table));
  });

  it("collect reads prompts from a zstd Parquet file too (the same as from Snappy)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rk-zstd-"));
    const db = await DuckDBInstance.create(":memory:");
    const c = await db.connect();
    const src = `(SELECT DISTINCT prompt_id, prompt FROM read_parquet('${fx("long.parquet")}') ORDER BY prompt_id)`;
    for (const codec of ["zstd", "snappy"]) await c.run(`COPY ${src} TO '${join(dir, `${codec}.parquet`)}' (FORMAT parquet, COMPRESSION ${codec})`);
    c.closeSync();
    const zstd = await readPrompts(join(dir, "zstd.parquet"));
    expect(zstd.length).toBeGreaterThan(0);
    expect(zstd).toEqual(await readPrompts(join(dir, "snappy.parquet")));
  });

  it("a page whose zstd frame declares another size than its header is refused in one line", async () => {
    const bytes = new Uint8Array(await readFile(fx("long-zstd.parquet")));
    let at = -1;
    for (let i = 4; i < bytes.length - 6 && at < 0; i++) {
      // A single-segment frame with a one-byte content size (what DuckDB writes for small pages).
      if (ZSTD_MAGIC.every((b, k) => bytes[i + k] === b) && bytes[i + 4] === 0x20) at = i;
    }
    expect(at).toBeGreaterThan(0);
    const declared = bytes[at + 5];
    bytes[at + 5] = declared + 1;
    const dir = await mkdtemp(join(tmpdir(), "rk-zstd-"));
    const file = join(dir, "bad.parquet");
    await writeFile(file, bytes);
    const prices = JSON.parse(await readFile(fx("prices.json"), "utf8"));
    const err = await importFiles([file], { prices }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/bad\.parquet: damaged Parquet file: a ZSTD page holds \d+ bytes, its header says \d+/);
    expect((err as Error).message.split("\n")).toHaveLength(1);
  });
});
