import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadRouter, saveRouter } from "../../src/routers/artifact.js";
import { batchOfTable } from "../../src/routers/common.js";
import { trainRouter } from "../../src/routers/train.js";
import { routePrompts } from "../../src/routers/routing.js";
import type { PredictiveRouter, Router } from "../../src/routers/router.js";
import { DEFAULT_PREPARATION } from "../../src/embed/embedder.js";
import { MODELS, topicSet } from "./synthetic.js";

const train = topicSet(30, 6, 11, "tr");
const val = topicSet(10, 6, 12, "va");
const test = topicSet(15, 6, 13, "te");
const meta = { embedder: { id: "test", spec: "hash", preparation: DEFAULT_PREPARATION }, split: { kind: "test" }, seed: 5, fittedOn: { train: ["t1", "t2"], validation: ["v1"] }, operatingPoints: null };
let root = "";
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "routekit-artifact-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function decisions(router: Router, lambdas = [0, 3, 30, 1e4, Infinity]): Promise<{ chosen: number[][]; quality: number[] }> {
  const batch = batchOfTable(test.table, test.embeddings, MODELS, router.needsOutcomes);
  const chosen: number[][] = [];
  let quality: number[] = [];
  for (const l of lambdas) {
    const r = await routePrompts(router as PredictiveRouter, batch, l);
    chosen.push(Array.from(r.chosen));
    quality = Array.from(r.quality);
  }
  return { chosen, quality };
}

describe("export -> load gives identical decisions", () => {
  for (const spec of ["knn:k=7,weighting=distance", "linear:alpha=0.5", "mlp:hidden=8,epochs=5,batchSize=16", "best-single", "oracle"]) {
    it(spec, async () => {
      const { router, report } = await trainRouter(train, val, { spec, seed: 2 });
      const dir = join(root, spec.replace(/[^a-z0-9]/g, "_"));
      await saveRouter(router, dir, { ...meta, fit: report, prefixes: { e: "shared\n" } });
      const { router: loaded, manifest } = await loadRouter(dir);
      expect(manifest.type).toBe(router.type);
      expect(manifest.params).toEqual(router.params);
      expect(manifest.pool.map((p) => p.model)).toEqual(MODELS);
      expect(manifest.pool.map((p) => p.expectedCost)).toEqual(Array.from((router as PredictiveRouter).expectedCosts));
      expect(manifest.seed).toBe(5);
      expect(manifest.fit?.chosen).toEqual(report.chosen);
      expect(manifest.embedder).toEqual(router.needsEmbeddings ? meta.embedder : null);
      const a = await decisions(router);
      const b = await decisions(loaded);
      expect(b.chosen).toEqual(a.chosen);
      // float32 storage for KNN scores / TF weights: equal to float32 precision.
      b.quality.forEach((q, i) => expect(q).toBeCloseTo(a.quality[i], 6));
    });
  }
});

describe("a changed router directory is refused", () => {
  let dir = "";
  beforeAll(async () => {
    const { router } = await trainRouter(train, null, { spec: "knn:k=3", seed: 1 });
    dir = join(root, "knn-good");
    await saveRouter(router, dir, meta);
  });

  async function copy(name: string, change: (d: string) => Promise<void>): Promise<string> {
    const d = join(root, name);
    await rm(d, { recursive: true, force: true });
    const { cp } = await import("node:fs/promises");
    await cp(dir, d, { recursive: true });
    await change(d);
    return d;
  }

  it("loads when untouched, and lists its weight files with checksums", async () => {
    const { manifest } = await loadRouter(dir);
    expect(Object.keys(manifest.files).sort()).toEqual(["embeddings.f32", "fitted-prompts.json", "knn.json", "scores.f32"]);
    expect(Object.values(manifest.files).every((h) => /^[0-9a-f]{64}$/.test(h))).toBe(true);
  });

  it("a tampered weight file", async () => {
    const d = await copy("tampered", async (x) => {
      const p = join(x, "scores.f32");
      const buf = await readFile(p);
      buf[0] ^= 0xff;
      await writeFile(p, buf);
    });
    await expect(loadRouter(d)).rejects.toThrow(/scores\.f32: checksum mismatch/);
  });

  it("a truncated weight file", async () => {
    const d = await copy("truncated", (x) => truncate(join(x, "embeddings.f32"), 100));
    await expect(loadRouter(d)).rejects.toThrow(/embeddings\.f32: checksum mismatch/);
  });

  it("a missing weight file", async () => {
    const d = await copy("missing", (x) => rm(join(x, "knn.json")));
    await expect(loadRouter(d)).rejects.toThrow(/knn\.json: weight file listed in router\.json is missing/);
  });

  it("an edited router.json", async () => {
    const d = await copy("edited", async (x) => {
      const p = join(x, "router.json");
      const m = JSON.parse(await readFile(p, "utf8"));
      m.params.k = 50;
      await writeFile(p, JSON.stringify(m, null, 2));
    });
    await expect(loadRouter(d)).rejects.toThrow(/router\.json: checksum mismatch/);
  });

  it("a truncated router.json", async () => {
    const d = await copy("truncated-manifest", async (x) => truncate(join(x, "router.json"), 50));
    await expect(loadRouter(d)).rejects.toThrow(/router\.json: not valid JSON/);
  });

  it("another format version", async () => {
    const d = await copy("version", async (x) => {
      const p = join(x, "router.json");
      const m = JSON.parse(await readFile(p, "utf8"));
      m.formatVersion = 99;
      await writeFile(p, JSON.stringify(m, null, 2));
    });
    await expect(loadRouter(d)).rejects.toThrow(/router\.json: router format version 99, this routekit reads version 2/);
  });

  it("a directory that is not a router", async () => {
    await expect(loadRouter(root)).rejects.toThrow(/router\.json missing/);
  });
});

describe("saving is atomic", () => {
  it("a failed save leaves neither a directory nor staging files", async () => {
    const { router } = await trainRouter(train, null, { spec: "knn:k=3", seed: 1 });
    (router as unknown as { index: null }).index = null; // make the knn writer throw mid-save
    const parent = join(root, "atomic");
    await expect(saveRouter(router, join(parent, "r"), meta)).rejects.toThrow(/save before fit/);
    expect(await readdir(parent)).toEqual([]);
  });
});
