import { createServer, type Server } from "node:http";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHfEmbedder } from "../../src/embed/hf.js";
import { createEmbedder } from "../../src/embed/registry.js";
import { SPECIALS, TINY_DIM, TINY_MODEL_DIR, TINY_MODEL_ID, TINY_WORDS, embeddingTable, writeTinyModel } from "../fixtures/embed/make-tiny-model.js";
import { SHARED_MODELS_DIR } from "../helpers/shared.js";
import { checkContract } from "./contract.js";

const TEXTS = ["the cat is a pet", "write python code", "what is the capital of france", "zzz qqq", "the dog and the fish are animals too"];
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "routekit-hf-"));
  await writeTinyModel(join(root, "models", TINY_MODEL_ID));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** What sentence-transformers computes: mean of the token vectors under the mask, then L2. */
function expected(words: string[]): number[] {
  const vocab = [...SPECIALS, ...TINY_WORDS];
  const table = embeddingTable(vocab.length, TINY_DIM);
  const ids = [vocab.indexOf("[CLS]"), ...words.map((w) => (vocab.includes(w) ? vocab.indexOf(w) : vocab.indexOf("[UNK]"))), vocab.indexOf("[SEP]")];
  const mean = Array.from({ length: TINY_DIM }, (_, j) => ids.reduce((s, id) => s + table[id * TINY_DIM + j], 0) / ids.length);
  const norm = Math.hypot(...mean);
  return mean.map((x) => x / norm);
}

describe("hf embedder on a tiny local model", () => {
  it("the committed fixture is what the generator script writes", async () => {
    for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "onnx/model.onnx"]) {
      expect(await readFile(join(TINY_MODEL_DIR, TINY_MODEL_ID, f)), f).toEqual(await readFile(join(root, "models", TINY_MODEL_ID, f)));
    }
  });

  it("loads from --model-dir, tokenises, mean-pools under the mask and normalises", async () => {
    const e = await createEmbedder(`hf:${TINY_MODEL_ID}`, { modelDir: join(root, "models") });
    try {
      expect(e.dimension).toBe(TINY_DIM);
      expect(e.id).toContain(TINY_MODEL_ID);
      await checkContract(e, TEXTS, 1e-5);
      const v = await e.embed(["The cat is a pet", "zzz"]);
      const want = [...expected(["the", "cat", "is", "a", "pet"]), ...expected(["zzz"])];
      want.forEach((x, j) => expect(v[j]).toBeCloseTo(x, 5));
    } finally {
      await e.close();
    }
  });

  it("fails with a message naming the folder when the model is not there (no download)", async () => {
    await expect(createHfEmbedder("nobody/missing", { modelDir: join(root, "models") })).rejects.toThrow(/nobody\/missing.*downloads disabled/);
  });
});

describe("hf embedder download path (a local HTTP server as the hub)", () => {
  let server: Server;
  let host: string;
  const requests: string[] = [];
  beforeAll(async () => {
    server = createServer(async (req, res) => {
      requests.push(req.url ?? "");
      // Hub layout: /<model>/resolve/<revision>/<file>
      const m = /^\/(.+)\/resolve\/[^/]+\/(.+)$/.exec(decodeURIComponent(req.url ?? ""));
      const file = m ? join(root, "models", m[1], m[2]) : "";
      if (!m || !existsSync(file)) {
        res.statusCode = 404;
        res.end("not found");
        return;
      }
      const body = await readFile(file);
      res.setHeader("content-length", body.length);
      res.end(req.method === "HEAD" ? undefined : body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    host = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("downloads once into the cache, then loads from it offline", async () => {
    const cache = join(root, "downloads");
    const e = await createHfEmbedder(TINY_MODEL_ID, { remoteHost: host, downloadCacheDir: cache });
    const online = await e.embed(TEXTS);
    await e.close();
    expect(requests.some((u) => u.includes("onnx/model.onnx"))).toBe(true);
    expect(readdirSync(cache, { recursive: true }).map(String).some((f) => f.endsWith("model.onnx"))).toBe(true);
    const before = requests.length;
    const off = await createHfEmbedder(TINY_MODEL_ID, { remoteHost: host, downloadCacheDir: cache, offline: true });
    expect(await off.embed(TEXTS)).toEqual(online);
    await off.close();
    expect(requests.length).toBe(before);
    const local = await createHfEmbedder(TINY_MODEL_ID, { modelDir: join(root, "models") });
    const v = await local.embed(TEXTS);
    await local.close();
    v.forEach((x, i) => expect(x).toBeCloseTo(online[i], 6));
  });
});

// Real models a user placed in ../shared/models (e.g. Xenova/all-MiniLM-L6-v2); absent here.
const SHARED = SHARED_MODELS_DIR;
const realModels = existsSync(SHARED)
  ? readdirSync(SHARED, { withFileTypes: true }).flatMap((org) =>
      org.isDirectory() ? readdirSync(join(SHARED, org.name)).map((m) => `${org.name}/${m}`).filter((id) => existsSync(join(SHARED, id, "onnx"))) : [],
    )
  : [];
describe.skipIf(!realModels.length)("hf embedder on real models in ../shared/models", () => {
  it.each(realModels)("%s keeps the contract", async (id) => {
    const e = await createHfEmbedder(id, { modelDir: SHARED });
    try {
      await checkContract(e, TEXTS, 1e-4);
    } finally {
      await e.close();
    }
  });
});
