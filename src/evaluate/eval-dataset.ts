/**
 * What `routekit eval` does, as a library function: for each split of a table, get every
 * router (load a saved router directory, or train a spec on the split's train rows with its
 * validation rows for grids), embed the split's test prompts the way each router's training
 * prompts were embedded, evaluate, and collect results.json-ready entries.
 *
 * Saved routers are evaluated on the test split recorded in their router.json: the split
 * settings (kind, seed, fractions) come from the manifests, and a router trained on one
 * dataset is evaluated only on that dataset's split (one trained on all datasets pooled, on
 * every dataset's test part). Splits are keyed by prompt id, so the same table in any row order
 * gives the same test part; still, a different table (fewer rows, other datasets) can move a
 * router's training prompts into the test part, so every saved router's recorded training and
 * validation ids are checked against the test prompts, and any overlap is refused unless
 * `allowOverlap` is set (then the split's entry says so).
 */
import { existsSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { OutcomeTable } from "../data/table.js";
import { selectRows } from "../data/table.js";
import { makeSplits, ROUTERBENCH_SPLIT, type Split, type SplitSpec } from "../data/splits.js";
import type { EmbeddingMatrix, PreparationOptions } from "../embed/embedder.js";
import { DEFAULT_EMBEDDER_SPEC, embedTexts } from "../embed/index.js";
import { loadRouter, MANIFEST_FILE, type SavedRouterManifest } from "../routers/artifact.js";
import { fittedOverlap, overlapError, trainOnTable } from "../routers/pipeline.js";
import { getRouterFactory, parseRouterSpec } from "../routers/registry.js";
import type { PromptBatch, Router } from "../routers/router.js";
import { InputError } from "../util/errors.js";
import type { ProgressFn } from "../util/progress.js";
import { evaluateSplit, type EvalOptions, type RouterUnderTest } from "./evaluate.js";
import { splitEntry, type SplitEntry } from "../report/results.js";

export interface EvalDatasetOptions extends Omit<EvalOptions, "onProgress" | "validation"> {
  /** Router directories (containing router.json) or router specs (`knn:k=5|10`). */
  routers: string[];
  /** Only this dataset's split. */
  dataset?: string;
  /** Split kind for specs (directories bring their own); default in-distribution. */
  split?: "in-distribution" | "out-of-distribution";
  testFraction?: number;
  validationFraction?: number;
  /** Seed of the split and of trained routers; default: the routers' recorded seed, else opts.seed. */
  splitSeed?: number;
  embedder?: string;
  preparation?: Partial<PreparationOptions>;
  cacheDir?: string | false;
  maxPoints?: number;
  /** Evaluate saved routers even on test prompts they were fitted or tuned on (the report then says so). */
  allowOverlap?: boolean;
  onProgress?: (stage: "train" | "embed" | "evaluate", done: number, total: number, label?: string) => void;
}

export interface EvalDatasetResult {
  splits: SplitEntry[];
  /** What each router argument resolved to (for the config echo). */
  routers: { arg: string; name: string; kind: "directory" | "spec"; type: string }[];
  splitSpec: SplitSpec;
}

interface Source {
  arg: string;
  name: string;
  kind: "directory" | "spec";
  type: string;
  dir?: string;
  loaded?: { router: Router; manifest: SavedRouterManifest };
}

function isRouterDir(arg: string): boolean {
  return existsSync(join(arg, MANIFEST_FILE));
}

async function resolveSources(args: string[]): Promise<Source[]> {
  if (args.length === 0) throw new InputError("no routers given (--routers <router dirs or specs...>)");
  const out: Source[] = [];
  const used = new Set<string>();
  for (const arg of args) {
    let src: Source;
    if (isRouterDir(arg)) {
      const loaded = await loadRouter(arg);
      src = { arg, name: basename(resolve(arg)), kind: "directory", type: loaded.manifest.type, dir: arg, loaded };
    } else if (existsSync(arg) && statSync(arg).isDirectory()) {
      throw new InputError(`not a router directory (${MANIFEST_FILE} missing)`, { file: arg });
    } else {
      const type = parseRouterSpec(arg).type;
      getRouterFactory(type);
      src = { arg, name: arg, kind: "spec", type };
    }
    // Names label table rows: keep them unique.
    let name = src.name;
    for (let k = 2; used.has(name); k++) name = `${src.name} #${k}`;
    used.add(name);
    out.push({ ...src, name });
  }
  return out;
}

/** The split settings: from the saved routers' manifests (which must agree), else from the options. */
function resolveSplitSpec(sources: Source[], opts: EvalDatasetOptions): SplitSpec {
  const recorded = sources.filter((s) => s.loaded).map((s) => ({ s, split: s.loaded!.manifest.split as Record<string, unknown> }));
  const kind = opts.split ?? (recorded[0]?.split.kind as SplitSpec["kind"] | undefined) ?? "in-distribution";
  const seed = opts.splitSeed ?? (recorded[0]?.split.seed as number | undefined) ?? opts.seed;
  const validationFraction = opts.validationFraction ?? (recorded[0]?.split.validationFraction as number | undefined) ?? ROUTERBENCH_SPLIT.validationFraction;
  const testFraction = opts.testFraction ?? (recorded[0]?.split.testFraction as number | undefined) ?? (ROUTERBENCH_SPLIT as { testFraction: number }).testFraction;
  const spec: SplitSpec = kind === "in-distribution" ? { kind, testFraction, validationFraction, seed } : { kind, validationFraction, seed };
  for (const { s, split } of recorded) {
    const same = split.kind === spec.kind && split.seed === spec.seed && split.validationFraction === spec.validationFraction && (spec.kind !== "in-distribution" || split.testFraction === spec.testFraction);
    if (!same) {
      throw new InputError(
        `router was trained on split ${JSON.stringify({ kind: split.kind, seed: split.seed, testFraction: split.testFraction, validationFraction: split.validationFraction })}, but this evaluation uses ${JSON.stringify(spec)}; evaluate routers of one split together`,
        { file: join(s.dir!, MANIFEST_FILE) },
      );
    }
  }
  return spec;
}

/** Does a saved router's training leave this split's test rows unseen? */
function appliesTo(manifest: SavedRouterManifest, split: Split): boolean {
  const d = (manifest.split as { dataset?: unknown }).dataset;
  return d === "all" ? split.name === split.dataset : d === split.dataset;
}

/**
 * A router that reads its own test embeddings (each router embeds prompts its own way: its
 * embedder, preparation and learned prefixes), looked up by prompt id so any row subset works.
 */
function withOwnEmbeddings(router: Router, ids: readonly string[], matrix: EmbeddingMatrix): Router {
  const rowOf = new Map(ids.map((id, i) => [id, i]));
  const pick = (batch: PromptBatch): PromptBatch => {
    const d = matrix.dimension;
    const data = new Float32Array(batch.ids.length * d);
    batch.ids.forEach((id, i) => {
      const r = rowOf.get(id);
      if (r === undefined) throw new Error(`no test embedding for prompt ${id}`);
      data.set(matrix.data.subarray(r * d, r * d + d), i * d);
    });
    return { ...batch, embeddings: { ...matrix, rows: batch.ids.length, data } };
  };
  // A view of the router (everything inherited) that no longer asks the evaluator for embeddings.
  const view = Object.create(router) as Router;
  Object.defineProperty(view, "needsEmbeddings", { value: false });
  if (router.kind === "predictive") Object.defineProperty(view, "predictQuality", { value: (b: PromptBatch) => router.predictQuality(pick(b)) });
  else Object.defineProperty(view, "realise", { value: (b: PromptBatch) => router.realise(pick(b)) });
  return view;
}

async function heldOutEmbeddings(
  rows: { texts: string[]; evals: string[] },
  e: { spec: string; preparation: PreparationOptions },
  prefixes: Record<string, string>,
  opts: EvalDatasetOptions,
  progress: ProgressFn,
): Promise<EmbeddingMatrix> {
  const { matrix } = await embedTexts(rows.texts, rows.evals, { spec: e.spec, preparation: e.preparation, prefixes, cacheDir: opts.cacheDir, onProgress: progress });
  return matrix;
}

export async function evaluateRoutersOnTable(table: OutcomeTable, opts: EvalDatasetOptions): Promise<EvalDatasetResult> {
  const sources = await resolveSources(opts.routers);
  if (opts.compareTo !== undefined && !sources.some((s) => s.name === opts.compareTo)) {
    throw new InputError(`--compare-to names "${opts.compareTo}", which is not one of the routers (${sources.map((s) => s.name).join(", ")})`, { field: "--compare-to" });
  }
  const splitSpec = resolveSplitSpec(sources, opts);
  let splits = makeSplits(table, splitSpec);
  if (opts.dataset !== undefined) {
    splits = splits.filter((s) => s.dataset === opts.dataset);
    if (!splits.length) throw new InputError(`no dataset "${opts.dataset}" in the table (has: ${[...new Set(table.datasets)].sort().join(", ")})`, { field: "dataset" });
  }
  const progress = opts.onProgress ?? (() => {});
  const entries: SplitEntry[] = [];
  for (const split of splits) {
    const test = selectRows(table, split.test);
    if (test.ids.length === 0) continue;
    const validation = selectRows(table, split.validation);
    // Each router embeds validation and test prompts its own way, in one pass.
    const scored = { ids: [...test.ids, ...validation.ids], texts: [...test.texts, ...validation.texts], evals: [...test.evals, ...validation.evals] };
    const routers: RouterUnderTest[] = [];
    const overlap: { router: string; prompts: number }[] = [];
    for (const src of sources) {
      let router: Router;
      let embedder: { spec: string; preparation: PreparationOptions } | null;
      let prefixes: Record<string, string>;
      if (src.loaded) {
        if (!appliesTo(src.loaded.manifest, split)) continue;
        const seen = await fittedOverlap(src.dir!, src.loaded.manifest, test.ids);
        if (seen.total > 0) {
          if (!opts.allowOverlap) throw overlapError(src.dir!, seen, test.ids.length, `test prompts of split ${split.name}`);
          overlap.push({ router: src.name, prompts: seen.total });
        }
        router = src.loaded.router;
        embedder = src.loaded.manifest.embedder;
        prefixes = src.loaded.manifest.prefixes ?? {};
      } else {
        const trained = await trainOnTable(table, {
          spec: src.arg,
          seed: splitSpec.seed,
          embedder: opts.embedder ?? DEFAULT_EMBEDDER_SPEC,
          preparation: opts.preparation,
          dataset: split.dataset,
          split: splitSpec.kind,
          validationFraction: splitSpec.validationFraction,
          ...(splitSpec.kind === "in-distribution" ? { testFraction: splitSpec.testFraction } : {}),
          cacheDir: opts.cacheDir,
          onProgress: (stage, d, t, l) => progress(stage === "fit" ? "train" : "embed", d, t, `${split.name} ${src.name}${l ? ` ${l}` : ""}`),
        });
        router = trained.router;
        embedder = trained.embedder;
        prefixes = trained.prefixes;
      }
      if (router.needsEmbeddings) {
        if (!embedder) throw new InputError(`router "${src.name}" reads embeddings but records no embedder`, src.dir ? { file: join(src.dir, MANIFEST_FILE) } : {});
        const matrix = await heldOutEmbeddings(scored, embedder, prefixes, opts, (d, t, l) => progress("embed", d, t, `${split.name} held-out ${l ?? ""}`.trim()));
        router = withOwnEmbeddings(router, scored.ids, matrix);
      }
      routers.push({ name: src.name, router });
    }
    if (routers.length === 0) continue;
    const result = await evaluateSplit({ table: test, embeddings: null }, routers, {
      seed: opts.seed,
      bootstrap: opts.bootstrap,
      lambdas: opts.lambdas,
      aiq: opts.aiq,
      costRange: opts.costRange,
      validation: { table: validation, embeddings: null },
      operatingPoints: opts.operatingPoints ?? "validation",
      // A saved router trained on one dataset is absent from the others' splits.
      compareTo: routers.some((r) => r.name === opts.compareTo) ? opts.compareTo : undefined,
      onProgress: (d, t, l) => progress("evaluate", d, t, `${split.name} ${l ?? ""}`.trim()),
    });
    entries.push(splitEntry(split.dataset, split.name === split.dataset ? splitSpec.kind : split.name, result, { maxPoints: opts.maxPoints, overlap }));
  }
  if (entries.length === 0) throw new InputError("no split had both test rows and a router to evaluate (saved routers apply only to the dataset they were trained on)");
  return { splits: entries, routers: sources.map((s) => ({ arg: s.arg, name: s.name, kind: s.kind, type: s.type })), splitSpec };
}
