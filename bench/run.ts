/**
 * `npm run bench [-- name...]`: runs benchmarks and records each one's section in
 * BENCHMARKS.md (replacing that section's previous result) with machine, command and date.
 */
import { readFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { benches } from "./registry.js";
import { writeFileAtomic } from "../src/util/atomic.js";

const FILE = "BENCHMARKS.md";

function machine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? "unknown CPU"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`;
}

export function replaceSection(doc: string, name: string, body: string): string {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) return doc.slice(0, i) + block + doc.slice(j + end.length);
  return `${doc.trimEnd()}\n\n${block}\n`;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !benches.some((b) => b.name === w));
  if (unknown.length) {
    process.stderr.write(`routekit bench: unknown benchmark(s) ${unknown.join(", ")}; have: ${benches.map((b) => b.name).join(", ")}\n`);
    process.exitCode = 1;
    return;
  }
  const selected = wanted.length ? benches.filter((b) => wanted.includes(b.name)) : benches;
  let doc = await readFile(FILE, "utf8").catch(() => "# Benchmarks\n\nRecorded by `npm run bench`; each section says when, where and how it was made.\n");
  for (const b of selected) {
    process.stderr.write(`bench ${b.name}: ${b.title}\n`);
    const body = await b.run();
    const header = `## ${b.title}\n\n- Date: ${new Date().toISOString().slice(0, 10)}\n- Machine: ${machine()}\n- Command: \`npm run bench -- ${b.name}\`\n`;
    const section = `${header}\n${body.trim()}\n`;
    process.stdout.write(`${section}\n`);
    doc = replaceSection(doc, b.name, section);
    // Record after each benchmark so a later failure loses nothing already measured.
    await writeFileAtomic(FILE, doc);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
