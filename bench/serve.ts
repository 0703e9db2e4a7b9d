/**
 * The routing server under load: `routekit serve` in its own process (as deployed), a fake
 * upstream and the load generator in this one. Per encoder (use-lite: the shipped example
 * router; hash: a linear router trained here on the bundled data), POST /v1/route with distinct
 * short prompts (no repeats, so the server's embedding memo never answers) from 1, 8 and 64
 * concurrent clients, each sending its next request when the last is answered. Reported:
 * decisions per second, client-side p50/p99 latency (HTTP included), the server's CPU-seconds
 * (from its own /metrics) beside wall time, and for use-lite the server's RSS every 2,500 requests
 * over 10,000. One row forwards chat completions to the fake upstream, to show the proxy's cost.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Bench } from "./types.js";
import { startFakeOpenAI, type FakeOpenAI } from "./fake-openai.js";
import { readOutcomeTable } from "../src/data/arrow-io.js";
import { trainAndSave } from "../src/index.js";
import { UseLiteModel } from "../src/embed/use-lite-model.js";

const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const CLIENTS = [1, 8, 64];
/** Requests per concurrency level: enough for a stable p99, bounded in time. */
const REQUESTS: Record<number, number> = { 1: 300, 8: 1000, 64: 3000 };
const MEMORY_REQUESTS = 10_000;

interface Server {
  child: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

function startServe(router: string, name: string, upstreams: string): Promise<Server> {
  const child = spawn(process.execPath, [CLI, "serve", "--router", `${name}=${router}`, "--upstreams", upstreams, "--port", "0", "--log-level", "silent"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  const exited = new Promise<number>((r) => child.on("close", (c) => r(c ?? -1)));
  return new Promise((resolve, reject) => {
    child.stderr!.on("data", (d) => {
      err += d;
      const m = /serving .* on (http:\/\/\S+) /.exec(err);
      if (m)
        resolve({
          child,
          url: m[1],
          stop: async () => {
            child.kill("SIGTERM");
            await exited;
          },
        });
    });
    void exited.then((c) => reject(new Error(`serve exited ${c}: ${err}`)));
  });
}

/** A metric's value from Prometheus text (the first sample of that name). */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "m").exec(text);
  if (!m) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
}

/**
 * The ceiling on what batching can give use-lite: its cost per text alone and in batches of 64
 * (run as the server runs them, one model call per token count), in this thread, on the same
 * prompts as the load. The server cannot scale past (cores x this gain) over one client.
 */
async function useLiteBatchGain(prompts: string[]): Promise<{ single: number; batched: number }> {
  const model = await UseLiteModel.load();
  try {
    const tokens = prompts.slice(0, 448).map((p, k) => model.encode(`${p} (#${k})`));
    await model.embedTokens(tokens.slice(0, 64));
    let t = performance.now();
    for (const x of tokens.slice(64, 192)) await model.embedTokens([x]);
    const single = (performance.now() - t) / 128;
    t = performance.now();
    for (let o = 192; o < 448; o += 64) await model.embedTokens(tokens.slice(o, o + 64));
    return { single, batched: (performance.now() - t) / 256 };
  } finally {
    model.dispose();
  }
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/** `total` requests from `clients` concurrent clients; each prompt distinct. */
async function load(url: string, model: string, prompts: string[], offset: number, total: number, clients: number, path = "/v1/route"): Promise<{ wall: number; latencies: number[]; serverCpu: number }> {
  const cpu0 = await metric(url, "routekit_process_cpu_seconds_total");
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const client = async () => {
    while (next < total) {
      const k = next++;
      const prompt = `${prompts[(offset + k) % prompts.length]} (#${offset + k})`;
      const body = path === "/v1/route" ? { model, prompt } : { model, messages: [{ role: "user", content: prompt }] };
      const s = performance.now();
      const res = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  const wall = (performance.now() - t0) / 1000;
  return { wall, latencies: latencies.sort((a, b) => a - b), serverCpu: (await metric(url, "routekit_process_cpu_seconds_total")) - cpu0 };
}

async function upstreamsFor(dir: string, routerDir: string, fake: FakeOpenAI): Promise<string> {
  const pool = (JSON.parse(await readFile(join(routerDir, "router.json"), "utf8")) as { pool: { model: string }[] }).pool.map((p) => p.model);
  const file = join(dir, `upstreams-${pool.length}.yaml`);
  await writeFile(file, ["models:", ...pool.flatMap((m) => [`  ${JSON.stringify(m)}:`, `    baseUrl: ${fake.baseUrl}`])].join("\n"));
  return file;
}

export const serveBench: Bench = {
  name: "serve",
  title: "Routing server: decisions per second, latency, memory",
  async run() {
    const dir = await mkdtemp(join(tmpdir(), "routekit-bench-serve-"));
    const fake = await startFakeOpenAI();
    try {
      const table = await readOutcomeTable("data/default.arrow");
      // Short prompts (the first sentence-ish of the bundled ones): what a chat turn looks like.
      const prompts = table.texts.map((t) => t.replace(/\s+/g, " ").slice(0, 120));
      const hashDir = join(dir, "hash-linear");
      await trainAndSave(table, hashDir, { spec: { type: "linear", params: { alpha: 1 }, grid: {} }, seed: 42, embedder: "hash", cacheDir: false, validationFraction: 0.3 });
      const setups = [
        { encoder: "use-lite", router: "models/example-linear", name: "example" },
        { encoder: "hash", router: hashDir, name: "hash" },
      ];
      process.stderr.write("  use-lite alone: batch gain\n");
      const gain = await useLiteBatchGain(prompts);
      const rows: string[] = [];
      const memory: string[] = [];
      let offset = 0;
      for (const s of setups) {
        const upstreams = await upstreamsFor(dir, s.router, fake);
        const started = performance.now();
        const server = await startServe(s.router, s.name, upstreams);
        const startup = (performance.now() - started) / 1000;
        const model = `router-${s.name}`;
        try {
          let single = 0;
          for (const clients of CLIENTS) {
            process.stderr.write(`  ${s.encoder}: ${clients} client(s)\n`);
            const r = await load(server.url, model, prompts, offset, REQUESTS[clients], clients);
            offset += REQUESTS[clients];
            const rate = r.latencies.length / r.wall;
            if (clients === 1) single = rate;
            rows.push(
              `| ${s.encoder} | /v1/route | ${clients} | ${r.latencies.length} | ${rate.toFixed(0)} | ${clients === 1 ? "1.0" : (rate / single).toFixed(1)}x | ${quantile(r.latencies, 0.5).toFixed(1)} | ${quantile(r.latencies, 0.99).toFixed(1)} | ${r.wall.toFixed(1)} | ${r.serverCpu.toFixed(1)} | ${startup.toFixed(1)} |`,
            );
          }
          const chat = await load(server.url, model, prompts, offset, 1000, 8, "/v1/chat/completions");
          offset += 1000;
          rows.push(
            `| ${s.encoder} | /v1/chat/completions (fake upstream) | 8 | 1000 | ${(1000 / chat.wall).toFixed(0)} | | ${quantile(chat.latencies, 0.5).toFixed(1)} | ${quantile(chat.latencies, 0.99).toFixed(1)} | ${chat.wall.toFixed(1)} | ${chat.serverCpu.toFixed(1)} | |`,
          );
          if (s.encoder === "use-lite") {
            const rss = [await metric(server.url, "routekit_process_resident_memory_bytes")];
            for (let done = 0; done < MEMORY_REQUESTS; done += 2500) {
              process.stderr.write(`  ${s.encoder}: memory, ${done} of ${MEMORY_REQUESTS} requests\n`);
              await load(server.url, model, prompts, offset, 2500, 64);
              offset += 2500;
              rss.push(await metric(server.url, "routekit_process_resident_memory_bytes"));
            }
            memory.push(`| ${s.encoder} | ${rss.map((b) => (b / 2 ** 20).toFixed(0)).join(" | ")} |`);
          }
        } finally {
          await server.stop();
        }
      }
      return [
        "`routekit serve` in its own process; this process sends POST /v1/route with distinct short prompts (at most 120 characters, each once: the embedding memo never answers), each client sending its next request when the last is answered. Latency is the client's (HTTP included). Server CPU-s is the server process's own (its /metrics), beside the wall time of the phase. Start-up: from spawning the process to serving (router loaded, encoder warm). Micro-batching window 2 ms.",
        "",
        "| encoder | endpoint | clients | requests | decisions/s | vs 1 client | p50 ms | p99 ms | wall s | server CPU-s | start-up s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ...rows,
        "",
        `Server RSS (MiB) at start and after every 2,500 of ${MEMORY_REQUESTS.toLocaleString("en-US")} requests (64 clients; the memo keeps at most 10,000 prompt embeddings, about 20 MB for use-lite):`,
        "",
        "| encoder | start | 2,500 | 5,000 | 7,500 | 10,000 |",
        "|---|---:|---:|---:|---:|---:|",
        ...memory,
        "",
        `use-lite alone (one thread, in-process, the same prompts): ${gain.single.toFixed(1)} ms per prompt one at a time, ${gain.batched.toFixed(1)} ms per prompt in batches of 64 (run as the server runs them: one model call per token count), a gain of ${(gain.single / gain.batched).toFixed(1)}x. Its cost grows with tokens (a transformer), so a batch saves only the per-call overhead; with one encoder worker per core, 64 clients can reach at most about ${((2 * gain.single) / gain.batched).toFixed(1)}x one client's decisions per second on 2 cores, less the HTTP and load-generator work that shares them.`,
      ].join("\n");
    } finally {
      await fake.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
