import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeOutcomeTable } from "../../src/data/arrow-io.js";
import { SHARD_PREFIX, SHARD_SUFFIX } from "../../src/embed/cache.js";
import { CLI, runCli } from "../helpers/cli.js";
import { tableFrom } from "../helpers/tables.js";

const WORDS = "apple river mountain code python answer question history science music planet ocean forest engine market theory".split(" ");
function prompts(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `Question ${i}: ${WORDS[i % WORDS.length]} and ${WORDS[(i * 7) % WORDS.length]} ${WORDS[(i * 3) % WORDS.length]}?`);
}

let dir: string;
async function table(name: string, texts: string[], evalName = "e"): Promise<string> {
  const path = join(dir, name);
  await writeOutcomeTable(path, tableFrom(["m1", "m2"], texts.map((text, i) => ({ id: `p${i}`, text, eval: evalName, scores: [1, 0], costs: [0.1, 0.01] }))));
  return path;
}
async function shards(cacheDir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.name.startsWith(SHARD_PREFIX) && e.name.endsWith(SHARD_SUFFIX)) out.push(join(d, e.name));
    }
  };
  await walk(cacheDir);
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "routekit-embed-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("routekit embed", () => {
  it("embeds with --json stats, then serves a rerun from the cache", async () => {
    const file = await table("small.arrow", prompts(30));
    const cache = join(dir, "cache-a");
    const first = await runCli(["embed", file, "--embedder", "hash:64", "--cache-dir", cache, "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const s1 = JSON.parse(first.stdout);
    expect(s1).toMatchObject({ texts: 30, cacheHits: 0, computed: 30, dimension: 64 });
    expect(typeof s1.seconds).toBe("number");
    const second = await runCli(["embed", file, "--embedder", "hash:64", "--json"], { env: { ROUTEKIT_CACHE_DIR: cache } });
    expect(JSON.parse(second.stdout)).toMatchObject({ texts: 30, cacheHits: 30, computed: 0 });
    const cut = await runCli(["embed", file, "--embedder", "hash:64", "--cache-dir", cache, "--max-chars", "20", "--keep", "tail", "--no-strip-prefix", "--json"]);
    const sc = JSON.parse(cut.stdout);
    // New options, new key: nothing is served from the earlier entries (cut texts may repeat, computed once).
    expect(sc).toMatchObject({ texts: 30, cacheHits: 0, preparation: { maxChars: 20, keep: "tail", stripSharedPrefix: false } });
    expect(sc.computed).toBeGreaterThan(0);
    const human = await runCli(["embed", file, "--embedder", "hash:64", "--cache-dir", cache]);
    expect(human.stdout).toMatch(/30 prompts embedded .* 30 from the cache, 0 computed/);
  });

  it("reports bad input in one line and exits 1", async () => {
    const missing = await runCli(["embed", join(dir, "nope.arrow"), "--embedder", "hash"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    expect(missing.stderr).toContain("nope.arrow");
    const file = await table("one.arrow", prompts(2));
    const badSpec = await runCli(["embed", file, "--embedder", "word2vec"]);
    expect(badSpec.code).toBe(1);
    expect(badSpec.stderr).toMatch(/unknown embedder "word2vec"/);
    const badN = await runCli(["embed", file, "--embedder", "hash", "--max-chars", "-3"]);
    expect(badN.code).toBe(1);
    expect(badN.stderr).toMatch(/--max-chars/);
  });

  it("rebuilds a shard with a flipped byte instead of hanging (the issue's offsets, in the header and in the Arrow data)", async () => {
    const file = await table("flip.arrow", prompts(20));
    const cache = join(dir, "cache-flip");
    expect((await runCli(["embed", file, "--embedder", "hash:16", "--cache-dir", cache])).code).toBe(0);
    // Bytes 8, 16, 36 and 84 of the Arrow data hung v1 shards; it now starts at byte 40, after the checksum.
    for (const offset of [8, 48, 56, 76, 124]) {
      const [shard] = await shards(cache);
      const bytes = await readFile(shard);
      bytes[offset] ^= 0x10;
      await writeFile(shard, bytes);
      const r = await runCli(["embed", file, "--embedder", "hash:16", "--cache-dir", cache, "--json"]);
      expect(r.code, `offset ${offset}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout), `offset ${offset}`).toMatchObject({ texts: 20, cacheHits: 0, computed: 20 });
    }
  }, 120_000);

  it("resumes after a killed use-lite run, reusing the shards it finished", async () => {
    const file = await table("kill.arrow", prompts(120));
    const cache = join(dir, "cache-kill");
    const child = spawn(process.execPath, [CLI, "embed", file, "--cache-dir", cache, "--threads", "1"], {
      env: { ...process.env, ROUTEKIT_EMBED_SHARD_SIZE: "16" },
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    // Kill as soon as the first shards are on disk (well before 120 texts are done).
    for (let i = 0; i < 600 && (await shards(cache)).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGKILL");
    await exited;
    const kept = (await shards(cache)).length;
    expect(kept).toBeGreaterThanOrEqual(2);
    // The rerun runs the compiled worker pool (two threads) from dist/.
    const rerun = await runCli(["embed", file, "--cache-dir", cache, "--threads", "2", "--json"]);
    expect(rerun.code, rerun.stderr).toBe(0);
    const s = JSON.parse(rerun.stdout);
    expect(s.texts).toBe(120);
    expect(s.cacheHits).toBeGreaterThanOrEqual(kept * 16);
    expect(s.cacheHits + s.computed).toBe(120);
    expect(s.embedder).toMatch(/^use-lite@/);
    const third = await runCli(["embed", file, "--cache-dir", cache, "--json"]);
    expect(JSON.parse(third.stdout)).toMatchObject({ cacheHits: 120, computed: 0 });
  }, 240_000);
});
