/**
 * Markdown tables from experiment.ts's JSON lines:
 *   npx tsx bench/research/summarize.ts results.jsonl [more.jsonl ...]
 * Table 1: split seed 0, standard figure with its interval and permutation null, committed figure.
 * Table 2: the committed figure on every split seed (+ = interval above 0, - = below 0).
 */
import { existsSync, readFileSync } from "node:fs";

interface Rec {
  seed: number;
  ds: string;
  emb: string;
  method: string;
  h: Record<string, number>;
  aiq: number;
  zero: number;
  diff: number;
  ci: [number, number] | null;
  nullMean: number;
  nullRank: number;
  nulls: number;
  committed: { aiq: number; zero: number; diff: number; ci: [number, number] };
}

const files = process.argv.slice(2).filter((f) => existsSync(f));
if (!files.length) {
  process.stderr.write("usage: summarize.ts <results.jsonl>... (no file found)\n");
  process.exit(0);
}
// The last record wins for a (seed, dataset, embedder, method).
const byKey = new Map<string, Rec>();
for (const f of files) {
  for (const line of readFileSync(f, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as Rec;
    r.seed ??= 0;
    byKey.set(`${r.seed}|${r.ds}|${r.emb}|${r.method}`, r);
  }
}
const recs = [...byKey.values()];
const f4 = (x: number) => (x >= 0 ? "+" : "") + x.toFixed(4);
const iv = (c: [number, number] | null) => (c ? `[${f4(c[0])}, ${f4(c[1])}]` : "");
const mark = (c: [number, number]) => (c[0] > 0 ? " **(>0)**" : c[1] < 0 ? " (<0)" : "");
const datasets = [...new Set(recs.map((r) => r.ds))].sort();
const methods = [...new Set(recs.map((r) => r.method))];

for (const emb of [...new Set(recs.map((r) => r.emb))]) {
  console.log(`\n### Split seed 0, embedder ${emb}\n`);
  console.log("| dataset | method | AIQ | Zero | standard AIQ - Zero [95% CI] | permutation null mean (nulls >= real) | committed AIQ - Zero [95% CI] | chosen |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const ds of datasets) {
    for (const m of methods) {
      const r = byKey.get(`0|${ds}|${emb}|${m}`);
      if (!r) continue;
      const nul = r.nulls ? `${f4(r.nullMean)} (${r.nullRank}/${r.nulls})` : "-";
      console.log(`| ${ds} | ${m} | ${r.aiq.toFixed(4)} | ${r.zero.toFixed(4)} | ${f4(r.diff)} ${iv(r.ci)}${r.ci ? mark(r.ci) : ""} | ${nul} | ${f4(r.committed.diff)} ${iv(r.committed.ci)}${mark(r.committed.ci)} | ${JSON.stringify(r.h)} |`);
    }
  }
  const seeds = [...new Set(recs.filter((r) => r.emb === emb).map((r) => r.seed))].sort((a, b) => a - b);
  if (seeds.length < 2) continue;
  console.log(`\n### Committed AIQ - Zero on split seeds ${seeds.join(", ")}, embedder ${emb} (+ / -: 95% interval above / below 0)\n`);
  console.log(`| dataset | method | ${seeds.map((s) => `seed ${s}`).join(" | ")} | mean |`);
  console.log(`|---|---|${seeds.map(() => "---").join("|")}|---|`);
  for (const ds of datasets) {
    for (const m of methods) {
      const cellsOf = seeds.map((s) => byKey.get(`${s}|${ds}|${emb}|${m}`));
      if (cellsOf.some((c) => !c)) continue;
      const vals = cellsOf.map((c) => c!.committed);
      const mean = vals.reduce((a, v) => a + v.diff, 0) / vals.length;
      console.log(`| ${ds} | ${m} | ${vals.map((v) => `${f4(v.diff)}${v.ci[0] > 0 ? " +" : v.ci[1] < 0 ? " -" : ""}`).join(" | ")} | ${f4(mean)} |`);
    }
  }
}
