/**
 * `routekit eval`: for each split of a table, get every router (load a saved router directory,
 * or train a spec on the split's train rows with its validation rows for grids), embed the
 * split's test and validation prompts the way each router's training prompts were embedded,
 * evaluate, and collect results.json-ready entries.
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
import { selectRows, type OutcomeTable } from "../data/table.js";
import { CROSSFIT_NEEDS_VALIDATION, DEFAULT_FOLDS, splitSpecOf, type Split, type SplitSpec } from "../data/splits.js";
import { selectEmbeddingRows, type PreparationOptions } from "../embed/embedder.js";
import { DEFAULT_EMBEDDER_SPEC } from "../embed/registry.js";
import { evaluateFolds, type EvalOptions, type FoldUnderTest, type RouterUnderTest, type SplitResult } from "../evaluate/evaluate.js";
import { shuffledOutcomes } from "../evaluate/null.js";
import { splitEntry, type SplitEntry } from "../report/results.js";
import { loadRouter, MANIFEST_FILE, type SavedRouterManifest } from "../routers/artifact.js";
import { getRouterFactory, parseRouterSpec, type RouterSpec } from "../routers/registry.js";
import type { Router } from "../routers/router.js";
import { InputError } from "../util/errors.js";
import { embedRows } from "./embed.js";
import { fittedOverlap, overlapError } from "./overlap.js";
import { foldsOf, splitsOf, type FoldedSplit } from "./splits.js";
import { rowRange, trainOnTable } from "./train.js";

/** A router to evaluate: a saved router directory, or a spec trained on each split (`name` labels its rows). */
export type RouterSource = { dir: string } | { spec: RouterSpec; name: string };

export interface EvalDatasetOptions extends Omit<EvalOptions, "onProgress" | "validation"> {
  /** Saved router directories and router specs; a string is either (see routerSource). */
  routers: (RouterSource | string)[];
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
  /** holdout (default): one test part per split; crossfit: K folds, every prompt tested once (router specs only). */
  protocol?: "holdout" | "crossfit";
  /** Folds of the crossfit protocol (default DEFAULT_FOLDS). */
  folds?: number;
  /** Evaluate saved routers even on test prompts they were fitted or tuned on (the report then says so). */
  allowOverlap?: boolean;
  /** The permutation null: the evaluation again on this many outcome shuffles (router specs only; see src/evaluate/null.ts). */
  nullShuffles?: number;
  onProgress?: (stage: "train" | "embed" | "evaluate", done: number, total: number, label?: string) => void;
}

export interface EvalDatasetResult {
  splits: SplitEntry[];
  /** What each router argument resolved to (for the config echo). */
  routers: { arg: string; name: string; kind: "directory" | "spec"; type: string }[];
  splitSpec: SplitSpec;
}

type Source =
  | { arg: string; name: string; kind: "directory"; type: string; dir: string; loaded: { router: Router; manifest: SavedRouterManifest } }
  | { arg: string; name: string; kind: "spec"; type: string; spec: RouterSpec };

/**
 * A `--routers` argument: a directory holding router.json is a saved router; any other
 * directory is refused; anything else is a router spec, labelled by its text.
 */
export function routerSource(arg: string): RouterSource {
  if (existsSync(join(arg, MANIFEST_FILE))) return { dir: arg };
  if (existsSync(arg) && statSync(arg).isDirectory()) throw new InputError(`not a router directory (${MANIFEST_FILE} missing)`, { file: arg });
  return { spec: parseRouterSpec(arg), name: arg };
}

async function resolveSources(given: (RouterSource | string)[]): Promise<Source[]> {
  if (given.length === 0) throw new InputError("no routers given (--routers <router dirs or specs...>)");
  const out: Source[] = [];
  const used = new Set<string>();
  for (const g of given) {
    const r = typeof g === "string" ? routerSource(g) : g;
    let src: Source;
    if ("dir" in r) {
      const loaded = await loadRouter(r.dir);
      src = { arg: r.dir, name: basename(resolve(r.dir)), kind: "directory", type: loaded.manifest.type, dir: r.dir, loaded };
    } else {
      getRouterFactory(r.spec.type);
      src = { arg: r.name, name: r.name, kind: "spec", type: r.spec.type, spec: r.spec };
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
  const saved = sources.flatMap((s) => (s.kind === "directory" ? [{ dir: s.dir, split: s.loaded.manifest.split as Partial<SplitSpec & { testFraction: number }> }] : []));
  const first = saved[0]?.split;
  const spec = splitSpecOf({
    kind: opts.split ?? first?.kind,
    seed: opts.splitSeed ?? first?.seed ?? opts.seed,
    validationFraction: opts.validationFraction ?? first?.validationFraction,
    testFraction: opts.testFraction ?? first?.testFraction,
  });
  for (const { dir, split } of saved) {
    const same = split.kind === spec.kind && split.seed === spec.seed && split.validationFraction === spec.validationFraction && (spec.kind !== "in-distribution" || split.testFraction === spec.testFraction);
    if (!same) {
      throw new InputError(
        `router was trained on split ${JSON.stringify({ kind: split.kind, seed: split.seed, testFraction: split.testFraction, validationFraction: split.validationFraction })}, but this evaluation uses ${JSON.stringify(spec)}; evaluate routers of one split together`,
        { file: join(dir, MANIFEST_FILE) },
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
 * One split (or cross-fitting fold): its test and validation rows, and every router for it (a
 * saved router that applies, or a spec trained on the split's training rows), each with its own
 * embeddings of the held-out prompts. Null when the split has no test rows or no router applies.
 */
async function foldOf(
  table: OutcomeTable,
  split: Split,
  label: string,
  sources: Source[],
  splitSpec: SplitSpec,
  opts: EvalDatasetOptions,
  progress: NonNullable<EvalDatasetOptions["onProgress"]>,
  overlap: { router: string; prompts: number }[],
): Promise<FoldUnderTest | null> {
  const test = selectRows(table, split.test);
  if (test.ids.length === 0) return null;
  const validation = selectRows(table, split.validation);
  // Each router embeds test then validation prompts its own way, in one pass.
  const heldOut = selectRows(table, [...split.test, ...split.validation]);
  const routers: RouterUnderTest[] = [];
  for (const src of sources) {
    let router: Router;
    let embedder: { spec: string; preparation: PreparationOptions } | null;
    let prefixes: Record<string, string>;
    if (src.kind === "directory") {
      if (!appliesTo(src.loaded.manifest, split)) continue;
      const seen = await fittedOverlap(src.dir, src.loaded.manifest, test.ids);
      if (seen.total > 0) {
        if (!opts.allowOverlap) throw overlapError(src.dir, seen, test.ids.length, `test prompts of split ${split.name}`);
        overlap.push({ router: src.name, prompts: seen.total });
      }
      router = src.loaded.router;
      embedder = src.loaded.manifest.embedder;
      prefixes = src.loaded.manifest.prefixes ?? {};
    } else {
      const trained = await trainOnTable(table, {
        spec: src.spec,
        seed: splitSpec.seed,
        embedder: opts.embedder ?? DEFAULT_EMBEDDER_SPEC,
        preparation: opts.preparation,
        dataset: split.dataset,
        split: splitSpec.kind,
        validationFraction: splitSpec.validationFraction,
        ...(splitSpec.kind === "in-distribution" ? { testFraction: splitSpec.testFraction } : {}),
        rows: split,
        cacheDir: opts.cacheDir,
        onProgress: (stage, d, t, l) => progress(stage === "fit" ? "train" : "embed", d, t, `${label} ${src.name}${l ? ` ${l}` : ""}`),
      });
      router = trained.router;
      embedder = trained.embedder;
      prefixes = trained.prefixes;
    }
    if (!router.needsEmbeddings) {
      routers.push({ name: src.name, router });
      continue;
    }
    if (!embedder) throw new InputError(`router "${src.name}" reads embeddings but records no embedder`, src.kind === "directory" ? { file: join(src.dir, MANIFEST_FILE) } : {});
    const { matrix } = await embedRows(heldOut, {
      spec: embedder.spec,
      preparation: embedder.preparation,
      prefixes,
      cacheDir: opts.cacheDir,
      onProgress: (d, t, l) => progress("embed", d, t, `${label} held-out ${l ?? ""}`.trim()),
    });
    const nt = test.ids.length;
    const embeddings = { test: selectEmbeddingRows(matrix, rowRange(0, nt)), validation: selectEmbeddingRows(matrix, rowRange(nt, validation.ids.length)) };
    routers.push({ name: src.name, router, embeddings });
  }
  if (routers.length === 0) return null;
  return { test: { table: test, embeddings: null }, validation: { table: validation, embeddings: null }, routers };
}

export async function evaluateRoutersOnTable(table: OutcomeTable, opts: EvalDatasetOptions): Promise<EvalDatasetResult> {
  const sources = await resolveSources(opts.routers);
  if (opts.compareTo !== undefined && !sources.some((s) => s.name === opts.compareTo)) {
    throw new InputError(`--compare-to names "${opts.compareTo}", which is not one of the routers (${sources.map((s) => s.name).join(", ")})`, { field: "--compare-to" });
  }
  const crossfit = (opts.protocol ?? "holdout") === "crossfit";
  const saved = sources.find((s) => s.kind === "directory");
  if (crossfit && opts.operatingPoints === "test") throw new InputError(CROSSFIT_NEEDS_VALIDATION, { field: "--operating-points" });
  if (crossfit && saved) {
    throw new InputError("cross-fitting trains every router afresh on each fold; a saved router was fitted on one split: give router specs, or evaluate saved routers without --protocol crossfit", { file: saved.arg, field: "--protocol" });
  }
  const shuffles = opts.nullShuffles ?? 0;
  if (shuffles > 0 && saved) {
    throw new InputError("the permutation null retrains every router on shuffled outcomes; a saved router cannot be retrained: give router specs, or evaluate saved routers without --null-shuffles", { file: saved.arg, field: "--null-shuffles" });
  }
  const splitSpec = resolveSplitSpec(sources, opts);
  const groups: FoldedSplit[] = crossfit
    ? foldsOf(table, splitSpec, opts.folds ?? DEFAULT_FOLDS, { dataset: opts.dataset })
    : splitsOf(table, splitSpec, { dataset: opts.dataset }).map((s) => ({ name: s.name, dataset: s.dataset, folds: [s] }));
  const progress = opts.onProgress ?? (() => {});
  const entries: SplitEntry[] = [];
  // One split on `data` (the real outcomes, or a shuffle of them for the null: the folds, keyed
  // by prompt id, are the same); null when a fold had no test rows or no router.
  const evaluateGroup = async (data: OutcomeTable, group: FoldedSplit, bootstrap: number | undefined, overlap: { router: string; prompts: number }[], tag: string): Promise<SplitResult | null> => {
    const folds: FoldUnderTest[] = [];
    for (const [f, split] of group.folds.entries()) {
      const label = `${tag}${group.folds.length > 1 ? `${split.name} fold ${f + 1}/${group.folds.length}` : split.name}`;
      const fold = await foldOf(data, split, label, sources, splitSpec, opts, progress, overlap);
      if (fold) folds.push(fold);
    }
    if (folds.length < group.folds.length || folds.length === 0) return null;
    return evaluateFolds(folds, {
      seed: opts.seed,
      bootstrap,
      lambdas: opts.lambdas,
      aiq: opts.aiq,
      costRange: opts.costRange,
      operatingPoints: opts.operatingPoints ?? "validation",
      // A saved router trained on one dataset is absent from the others' splits.
      compareTo: folds[0].routers.some((r) => r.name === opts.compareTo) ? opts.compareTo : undefined,
      // The null's shuffles are judged on AIQ alone.
      latency: tag === "",
      ...(opts.latencyWeights ? { latencyWeights: opts.latencyWeights } : {}),
      onProgress: (d, t, l) => progress("evaluate", d, t, `${tag}${group.name} ${l ?? ""}`.trim()),
    });
  };
  const shuffled = Array.from({ length: shuffles }, (_, k) => shuffledOutcomes(table, `${opts.seed ?? 0}:${k + 1}`));
  for (const group of groups) {
    const overlap: { router: string; prompts: number }[] = [];
    const result = await evaluateGroup(table, group, opts.bootstrap, overlap, "");
    if (!result) continue;
    // The null: point figures only (the shuffles themselves are its sample), seeded as `run`'s.
    const nullDraws: SplitResult[] = [];
    for (const [k, data] of shuffled.entries()) nullDraws.push((await evaluateGroup(data, group, 0, [], `null ${k + 1}/${shuffles}: `))!);
    entries.push(splitEntry(group.dataset, group.name === group.dataset ? splitSpec.kind : group.name, result, { maxPoints: opts.maxPoints, overlap, nullDraws }));
  }
  if (entries.length === 0) throw new InputError("no split had both test rows and a router to evaluate (saved routers apply only to the dataset they were trained on)");
  return { splits: entries, routers: sources.map((s) => ({ arg: s.arg, name: s.name, kind: s.kind, type: s.type })), splitSpec };
}
