/**
 * use-lite-static: the spec, the token table's build (deterministic, checked on load), and the
 * embedder over it (the Embedder contract, bitwise batch independence, similar texts closer).
 * Most cases build a table on a few hundred vocabulary rows (well under a second); one builds the
 * full table (about 5 s on a quiet core) in a temporary cache dir through the registry.
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Embedder } from "../../src/embed/embedder.js";
import { embedTexts } from "../../src/embed/embed-table.js";
import { createEmbedder, embedderIdOf, parseEmbedderSpec } from "../../src/embed/registry.js";
import { UseLiteModel } from "../../src/embed/use-lite-model.js";
import {
  buildStaticTable,
  decodeStaticTable,
  encodeStaticTable,
  loadOrBuildStaticTable,
  staticEmbedderFrom,
  staticTablePath,
  STATIC_BUILD_BACKEND,
  useLiteVocabulary,
  type StaticTable,
} from "../../src/embed/use-lite-static.js";
import { UseTokenizer, type Vocabulary } from "../../src/embed/use-tokenizer.js";
import { InputError } from "../../src/util/errors.js";
import { checkContract, cosine, SAMPLE } from "./contract.js";

const SIMILAR = ["How old are you?", "What is your age?", "The stock market fell sharply today.", "Shares dropped steeply on Wall Street."];
const SHORT = ["Hi.", "Why?", "Add two and three.", "Name a colour."];
const LONG = "A much longer prompt about rivers, planets and the prices of things, ".repeat(30);

describe("use-lite-static spec", () => {
  it("parses use-lite-static and lists it among the known specs", () => {
    expect(parseEmbedderSpec("use-lite-static")).toEqual({ kind: "use-lite-static" });
    expect(parseEmbedderSpec(" use-lite-static ")).toEqual({ kind: "use-lite-static" });
    expect(() => parseEmbedderSpec("use-lite-static:3")).toThrow(InputError);
    expect(() => parseEmbedderSpec("use-lite-statik")).toThrow(/expected use-lite, use-lite-static, hash/);
  });
});

describe("use-lite-static table and embedder", { timeout: 120_000 }, () => {
  let model: UseLiteModel;
  let vocab: Vocabulary;
  let tokenizer: UseTokenizer;
  let ids: number[];
  let table: StaticTable;
  let dir: string;

  beforeAll(async () => {
    [model, vocab] = await Promise.all([UseLiteModel.load(STATIC_BUILD_BACKEND), useLiteVocabulary()]);
    tokenizer = new UseTokenizer(vocab);
    // The 600 most frequent pieces (and the reserved ones), plus every piece the texts below use.
    const used = [...SAMPLE, ...SIMILAR, ...SHORT, LONG].flatMap((t) => tokenizer.encode(t));
    ids = [...new Set([...Array.from({ length: 600 }, (_, i) => i), ...used])];
    table = await buildStaticTable(model, vocab, { ids });
    dir = await mkdtemp(join(tmpdir(), "routekit-static-"));
  });
  afterAll(async () => {
    model?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it("builds the same bytes twice, whatever the model batches", async () => {
    const again = await buildStaticTable(model, vocab, { ids: [...ids].reverse(), chunk: 7 });
    expect(Buffer.from(encodeStaticTable(again)).equals(Buffer.from(encodeStaticTable(table)))).toBe(true);
    expect(table.header.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(table.header.ids).toHaveLength(ids.length);
    // Rows outside the subset stay zero; rows inside are weighted, centred token vectors.
    const d = table.header.dimension;
    const notBuilt = vocab.length - 1;
    expect(ids.includes(notBuilt)).toBe(false);
    expect(table.rows.subarray(notBuilt * d, (notBuilt + 1) * d).every((x) => x === 0)).toBe(true);
  });

  it("round-trips through its file format, and its id follows the table's bytes", async () => {
    const back = decodeStaticTable(encodeStaticTable(table), "t.rktable");
    expect(back.header).toEqual(table.header);
    expect(Buffer.from(back.rows.buffer).equals(Buffer.from(table.rows.buffer))).toBe(true);
    const e = staticEmbedderFrom(table, tokenizer);
    expect(e.id).toMatch(/^use-lite-static@\d+\.\d+\.\d+-r\d+:[0-9a-f]{16}$/);
    const other = staticEmbedderFrom(await buildStaticTable(model, vocab, { ids: ids.slice(1) }), tokenizer);
    expect(other.id).not.toBe(e.id);
  });

  it("rejects a damaged table file with one line naming the file", async () => {
    const good = Buffer.from(encodeStaticTable(table));
    const flipped = Buffer.from(good);
    flipped[flipped.length - 5] ^= 0x10;
    const cases: [string, Uint8Array, RegExp][] = [
      ["a flipped payload byte", flipped, /payload checksum mismatch/],
      ["a truncated file", good.subarray(0, good.length - 100), /payload bytes for/],
      ["another file", Buffer.from("not a table at all, just text\n"), /wrong magic bytes/],
      ["a garbled header", Buffer.concat([good.subarray(0, 14), Buffer.from("{{{{"), good.subarray(18)]), /header is not JSON/],
      ["an empty file", Buffer.alloc(0), /wrong magic bytes/],
    ];
    for (const [label, bytes, why] of cases) {
      const path = join(dir, `damaged-${label.replace(/\W+/g, "-")}.rktable`);
      await writeFile(path, bytes);
      const err = await loadOrBuildStaticTable(path).then(
        () => null,
        (e: Error) => e,
      );
      expect(err, label).toBeInstanceOf(InputError);
      expect(err!.message, label).toMatch(why);
      expect(err!.message, label).toContain(path);
      expect(err!.message, label).toContain("delete the file");
      expect(err!.message.includes("\n"), label).toBe(false);
    }
  });

  it("refuses a subset table where the full one is expected", async () => {
    const path = join(dir, "subset.rktable");
    await writeFile(path, encodeStaticTable(table));
    await expect(loadOrBuildStaticTable(path)).rejects.toThrow(/on a subset of the vocabulary.*delete the file to rebuild it/);
  });

  it("keeps the Embedder contract, bitwise", async () => {
    await checkContract(staticEmbedderFrom(table, tokenizer), SAMPLE, 0);
  });

  it("gives a text the same bits alone or in any batch", async () => {
    const e: Embedder = staticEmbedderFrom(table, tokenizer);
    const d = e.dimension;
    const row = (v: Float32Array, i: number) => Array.from(v.subarray(i * d, (i + 1) * d));
    const targets = [SAMPLE[0], SAMPLE[1], SIMILAR[2]];
    for (const t of targets) {
      const alone = row(await e.embed([t]), 0);
      expect(row(await e.embed([...SHORT, t]), SHORT.length)).toEqual(alone);
      expect(row(await e.embed([t, LONG]), 0)).toEqual(alone);
      expect(row(await e.embed([LONG, ...SHORT, t]), SHORT.length + 1)).toEqual(alone);
      expect(row(await e.embed([...targets, LONG, ...SHORT]), targets.indexOf(t))).toEqual(alone);
    }
  });

  it("puts similar sentences closer than unrelated ones", async () => {
    const v = await staticEmbedderFrom(table, tokenizer).embed(SIMILAR);
    expect(cosine(v, 512, 0, 1)).toBeGreaterThan(cosine(v, 512, 0, 2));
    expect(cosine(v, 512, 2, 3)).toBeGreaterThan(cosine(v, 512, 1, 3));
  });

  it("through the registry: builds the full table once in the cache dir, offline, then reads it", async () => {
    const cacheDir = join(dir, "cache");
    vi.stubEnv("ROUTEKIT_CACHE_DIR", cacheDir);
    const fetched: string[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (async (url: string | URL | Request) => {
      fetched.push(String(url));
      throw new Error("network disabled in this test");
    }) as typeof fetch;
    try {
      const id = await embedderIdOf("use-lite-static");
      expect(fetched).toEqual([]);
      const path = staticTablePath(cacheDir);
      expect(existsSync(path)).toBe(true);
      const full = decodeStaticTable(await readFile(path), path);
      expect(full.header.ids).toBeNull();
      expect(full.header.vocabulary).toBe(vocab.length);
      expect(full.header.backend).toBe(STATIC_BUILD_BACKEND);
      const e = await createEmbedder("use-lite-static");
      expect(e.id).toBe(id);
      const v = await e.embed(SIMILAR);
      expect(cosine(v, 512, 0, 1)).toBeGreaterThan(cosine(v, 512, 0, 2));
      expect(cosine(v, 512, 2, 3)).toBeGreaterThan(cosine(v, 512, 1, 3));
      await checkContract(e, SAMPLE, 0);
    } finally {
      globalThis.fetch = realFetch;
      vi.unstubAllEnvs();
    }
  });

  it("embedTexts with a cache dir builds and reads the table there, not under $ROUTEKIT_CACHE_DIR", async () => {
    const cacheDir = join(dir, "cache-given");
    const envDir = join(dir, "cache-env");
    vi.stubEnv("ROUTEKIT_CACHE_DIR", envDir);
    try {
      // The full table the test above built, copied when it is there (building it again costs seconds).
      await mkdir(dirname(staticTablePath(cacheDir)), { recursive: true });
      if (existsSync(staticTablePath(join(dir, "cache")))) await copyFile(staticTablePath(join(dir, "cache")), staticTablePath(cacheDir));
      const r = await embedTexts(SIMILAR, null, { spec: "use-lite-static", cacheDir });
      expect(r.matrix.embedderId).toBe(await embedderIdOf("use-lite-static", { cacheDir }));
      expect(existsSync(staticTablePath(envDir))).toBe(false);
      // A damaged table under another given dir is reported, naming that file: it is the one read.
      const damaged = join(dir, "cache-given-damaged");
      await mkdir(dirname(staticTablePath(damaged)), { recursive: true });
      await writeFile(staticTablePath(damaged), "garbage");
      await expect(embedTexts(["another text"], null, { spec: "use-lite-static", cacheDir: damaged })).rejects.toThrow(staticTablePath(damaged));
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("through the registry: a damaged table in the cache dir is one error line, not a rebuild", async () => {
    const cacheDir = join(dir, "cache-damaged");
    vi.stubEnv("ROUTEKIT_CACHE_DIR", cacheDir);
    try {
      const path = staticTablePath(cacheDir);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, "garbage");
      await expect(createEmbedder("use-lite-static")).rejects.toThrow(/use-lite-static token table is damaged \(not a routekit static table/);
      await expect(embedderIdOf("use-lite-static")).rejects.toThrow(InputError);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
