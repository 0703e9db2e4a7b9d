/**
 * Experiment configs: one typed, validated document drives embed -> train -> evaluate ->
 * report. Saved next to the results fully resolved (every default filled in), so the saved
 * copy alone reruns the experiment identically.
 */
import { dirname, extname, isAbsolute, relative, resolve } from "node:path";
import { z } from "zod";
import { LineCounter, parseDocument, stringify, isNode, type Document } from "yaml";
import { InputError, formatLocated } from "../util/errors.js";
import { readInputFile } from "../data/input-file.js";
import { checkUtf8, utf16Kind, utf16Message } from "../data/importers/text-encoding.js";
import { getRouterFactory } from "../routers/registry.js";
import { specParameters } from "../routers/train.js";
import { CROSSFIT_NEEDS_VALIDATION, DEFAULT_FOLDS } from "../data/splits.js";
import { DEFAULT_MAX_POINTS } from "../report/results.js";

const preparation = z.strictObject({
  unwrapList: z.boolean().default(true),
  stripSharedPrefix: z.boolean().default(true),
  maxChars: z.number().int().min(0).default(0),
  keep: z.enum(["head", "tail"]).default("head"),
});

const paramValue = z.union([z.number(), z.string(), z.boolean()]);

/** A list of router specs as one parameter's value: the `stack` router's `members` (spec strings or {type, params, grid}). */
const routerSpecList = z
  .array(
    z.union([
      z.string().min(1),
      z.strictObject({ type: z.string().min(1), params: z.record(z.string(), paramValue).optional(), grid: z.record(z.string(), z.array(paramValue).min(1)).optional() }),
    ]),
  )
  .min(1);

const routerEntry = z.strictObject({
  /** Label in reports and the directory name of the exported router; defaults to the type. */
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, "use letters, digits, '.', '_' or '-'").optional(),
  type: z.string().min(1),
  /** Fixed hyperparameters. */
  params: z.record(z.string(), z.union([paramValue, routerSpecList])).default({}),
  /** Hyperparameters chosen on the validation split (never on test): each key lists candidates. */
  grid: z.record(z.string(), z.array(paramValue).min(1)).default({}),
});

const split = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("in-distribution"),
    testFraction: z.number().gt(0).lt(1).default(0.3),
    validationFraction: z.number().gt(0).lt(1).default(0.1),
    /**
     * false: one router per dataset (RouterBench's protocol). true: one router trained on every
     * dataset's training rows, evaluated on all test rows together (split "all"): what a
     * deployment that sees all of this traffic would get.
     */
    pooled: z.boolean().default(false),
  }),
  z.strictObject({
    kind: z.literal("out-of-distribution"),
    validationFraction: z.number().gt(0).lt(1).default(0.1),
  }),
]);

const data = z
  .strictObject({
    /** An outcome table written by `routekit import` or `routekit synth` (.arrow). */
    table: z.string().optional(),
    /** Or raw files to import first (RouterBench CSV/Parquet/JSONL, long-form outcomes). */
    import: z
      .strictObject({
        files: z.array(z.string()).min(1),
        format: z.string().optional(),
        prices: z.string().optional(),
      })
      .optional(),
    /** Restrict to these datasets (default: all). */
    datasets: z.array(z.string()).optional(),
    /** Restrict the model pool (default: all models of the table). */
    models: z.array(z.string()).min(1).optional(),
  })
  .refine((d) => (d.table === undefined) !== (d.import === undefined), {
    message: "give exactly one of data.table or data.import",
  });

export const experimentSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/, "use letters, digits, '.', '_' or '-'"),
  description: z.string().optional(),
  seed: z.number().int().min(0).default(0),
  data,
  splits: z.array(split).min(1).default([{ kind: "in-distribution", testFraction: 0.3, validationFraction: 0.1, pooled: false }]),
  embedder: z
    .strictObject({
      spec: z.string().default("use-lite"),
      preparation: preparation.default({ unwrapList: true, stripSharedPrefix: true, maxChars: 0, keep: "head" }),
      threads: z.number().int().min(1).optional(),
    })
    .default({ spec: "use-lite", preparation: { unwrapList: true, stripSharedPrefix: true, maxChars: 0, keep: "head" } }),
  routers: z.array(routerEntry).min(1),
  evaluation: z
    .strictObject({
      lambdas: z.union([z.enum(["exact", "routerbench"]), z.array(z.number().min(0)).min(1)]).default("exact"),
      aiq: z.enum(["shared-range", "routerbench-code"]).default("shared-range"),
      /** Where each router's operating points are chosen: validation rows (sound) or test rows (RouterBench's way). */
      operatingPoints: z.enum(["validation", "test"]).default("validation"),
      /** A router label: every row is also compared with it (paired intervals), e.g. task-prior. */
      compareTo: z.string().optional(),
      bootstrap: z.number().int().min(0).default(1000),
      logCost: z.boolean().default(true),
      /**
       * holdout: each in-distribution split tests its testFraction of the prompts once. crossfit:
       * K folds, every prompt tested exactly once by routers fitted without it (grids and
       * operating points chosen inside each fold's training part); intervals resample all of them.
       */
      protocol: z.enum(["holdout", "crossfit"]).default("holdout"),
      /** Folds of the crossfit protocol. */
      folds: z.number().int().min(2).max(50).default(DEFAULT_FOLDS),
      /** AIQ cost range in US$ per query (default: cheapest to dearest single model on each test split). */
      costRange: z
        .tuple([z.number().min(0), z.number().min(0)])
        .refine(([lo, hi]) => hi >= lo, { message: "costRange is [min, max] with max >= min" })
        .optional(),
      /**
       * The permutation null: the whole evaluation again on this many shuffles of the outcomes
       * among each dataset's prompts (each costs one more run), giving every router's AIQ minus
       * Zero (and minus compareTo) under no signal and a permutation p-value. Absent or 0: none.
       */
      nullShuffles: z.number().int().min(0).max(999).optional(),
      /**
       * The latency sweep's prices, US$ per second of waiting (src/evaluate/latency.ts); absent:
       * per router, shares of its chosen lambda per second of the pool's latency spread. Used only
       * when the data has latencies.
       */
      latencyWeights: z.array(z.number().min(0)).min(1).optional(),
      /** Curve points kept per router in results.json (metrics always use all). */
      maxPoints: z.number().int().min(2).default(DEFAULT_MAX_POINTS),
    })
    .default({ lambdas: "exact", aiq: "shared-range", operatingPoints: "validation", bootstrap: 1000, logCost: true, protocol: "holdout", folds: DEFAULT_FOLDS, maxPoints: DEFAULT_MAX_POINTS }),
  /** Where routers, results.json, report.md and plots go (relative to the working directory). */
  output: z.string().optional(),
});

export type ExperimentConfig = z.output<typeof experimentSchema>;
export type ExperimentInput = z.input<typeof experimentSchema>;
export type RouterEntry = ExperimentConfig["routers"][number];
export type SplitConfig = ExperimentConfig["splits"][number];

/** The label of a router entry: its name, or its type. */
export function routerLabel(r: RouterEntry): string {
  return r.name ?? r.type;
}

function fieldOf(path: readonly PropertyKey[]): string | undefined {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("") || undefined;
}

/** Validate an already-parsed config object; errors name the file, line and field. */
export function validateExperiment(value: unknown, file = "<config>", doc?: { doc: Document; lines: LineCounter }): ExperimentConfig {
  const parsed = experimentSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // An unknown key is reported at its own line, not its parent object's.
    const path = issue.code === "unrecognized_keys" && issue.keys.length ? [...issue.path, issue.keys[0]] : issue.path;
    throw new InputError(issue.message, { file, row: doc ? lineOf(doc, path) : undefined, field: fieldOf(path) });
  }
  checkRouterParams(parsed.data, file, doc);
  const labels = parsed.data.routers.map(routerLabel);
  const ref = parsed.data.evaluation.compareTo;
  if (ref !== undefined && !labels.includes(ref)) {
    throw new InputError(`compareTo names "${ref}", which is not a router of this config (${labels.join(", ")})`, { file, row: doc ? lineOf(doc, ["evaluation", "compareTo"]) : undefined, field: "evaluation.compareTo" });
  }
  const ev = parsed.data.evaluation;
  if (ev.protocol === "crossfit" && ev.operatingPoints === "test") {
    throw new InputError(CROSSFIT_NEEDS_VALIDATION, { file, row: doc ? lineOf(doc, ["evaluation", "protocol"]) : undefined, field: "evaluation.protocol" });
  }
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup) {
    const i = labels.lastIndexOf(dup);
    throw new InputError(`two routers are labelled "${dup}": give each a distinct name`, { file, row: doc ? lineOf(doc, ["routers", i]) : undefined, field: `routers[${i}].name` });
  }
  return parsed.data;
}

/**
 * Build each router once per fixed parameter set and per grid value (on a placeholder pool), so
 * that a bad type or parameter is reported with the config's file, line and field, before any
 * data is read or embedded. The routers' own checks are the ones that run at training.
 */
function checkRouterParams(cfg: ExperimentConfig, file: string, doc?: { doc: Document; lines: LineCounter }): void {
  const POOL = ["model-a", "model-b"];
  cfg.routers.forEach((r, i) => {
    const at = (path: PropertyKey[], err: unknown): never => {
      if (!(err instanceof InputError)) throw err;
      // The router's message names only its parameter; put it at the config's line.
      const inner = formatLocated("", { field: err.location.field });
      const message = err.location.file === undefined && err.message.startsWith(inner) ? err.message.slice(inner.length) : err.message;
      throw new InputError(message, { file, row: doc ? lineOf(doc, path) : undefined, field: fieldOf(path) });
    };
    let factory: ReturnType<typeof getRouterFactory>;
    try {
      factory = getRouterFactory(r.type);
    } catch (err) {
      return at(["routers", i, "type"], err);
    }
    try {
      specParameters(r);
    } catch (err) {
      return at(["routers", i, "grid", err instanceof InputError ? (err.location.field ?? "") : ""], err);
    }
    const tryCreate = (params: Record<string, unknown>, path: PropertyKey[]) => {
      try {
        const router = factory.create(POOL, params);
        (router as { dispose?: () => void }).dispose?.();
      } catch (err) {
        const key = err instanceof InputError ? err.location.field : undefined;
        if (key !== undefined && key in r.params && path.length === 2) return at(["routers", i, "params", key], err);
        at(path, err);
      }
    };
    tryCreate({ ...r.params }, ["routers", i]);
    for (const [key, values] of Object.entries(r.grid)) {
      values.forEach((v, k) => tryCreate({ ...r.params, [key]: v }, ["routers", i, "grid", key, k]));
    }
  });
}

/** 1-based line of the deepest node of `path` that exists in the YAML document. */
function lineOf({ doc, lines }: { doc: Document; lines: LineCounter }, path: readonly PropertyKey[]): number | undefined {
  for (let k = path.length; k >= 0; k--) {
    const node = k === 0 ? doc.contents : doc.getIn(path.slice(0, k) as (string | number)[], true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Read a YAML or JSON experiment config (`.json` must be strict JSON; anything else is YAML). */
export async function loadExperiment(file: string): Promise<ExperimentConfig> {
  if (typeof file !== "string" || file === "") throw new InputError("loadExperiment needs the path of a config file");
  const bytes = await readInputFile(file, "config");
  const utf16 = utf16Kind(bytes);
  if (utf16) throw new InputError(utf16Message(utf16), { file });
  // Decoding would turn invalid bytes into U+FFFD silently.
  checkUtf8(bytes, file);
  return resolveDataPaths(parseExperiment(bytes.toString("utf8").replace(/^\uFEFF/, ""), file), dirname(file));
}

/**
 * A config's input paths (data.table, data.import.files, data.import.prices) are relative to
 * the config file's folder, so a config works from any working directory, shipped ones inside
 * node_modules included. They are rewritten relative to the working directory (as the rest of
 * the run sees paths); `output` stays relative to the working directory, so a run writes into
 * the user's project, not beside the config.
 */
export function resolveDataPaths(cfg: ExperimentConfig, configDir: string): ExperimentConfig {
  const at = (p: string) => (isAbsolute(p) ? p : relative(process.cwd(), resolve(configDir, p)) || ".");
  const data = { ...cfg.data };
  if (data.table !== undefined) data.table = at(data.table);
  if (data.import) data.import = { ...data.import, files: data.import.files.map(at), ...(data.import.prices !== undefined ? { prices: at(data.import.prices) } : {}) };
  return { ...cfg, data };
}

/** Line (1-based) of character `pos` of `text`. */
function lineAt(text: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

export function parseExperiment(text: string, file = "<config>"): ExperimentConfig {
  if (typeof text !== "string") throw new InputError("parseExperiment needs the config's text (a string)", { file });
  if (!text.trim()) throw new InputError("the config is empty", { file });
  if (extname(file).toLowerCase() === ".json") {
    // YAML would accept a trailing comma, comments or unquoted keys: a .json config is strict JSON.
    try {
      JSON.parse(text);
    } catch (err) {
      const msg = (err as Error).message;
      const pos = /position (\d+)/.exec(msg);
      throw new InputError(`not valid JSON: ${msg.split("\n")[0]}`, { file, row: pos ? lineAt(text, Number(pos[1])) : undefined });
    }
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const row = e.linePos?.[0]?.line;
    throw new InputError(`not valid ${extname(file) === ".json" ? "JSON" : "YAML"}: ${e.message.split("\n")[0]}`, { file, row });
  }
  return validateExperiment(doc.toJS(), file, { doc, lines });
}

/** The resolved config as YAML (deterministic key order: the schema's). */
export function experimentToYaml(cfg: ExperimentConfig): string {
  return stringify(cfg, { lineWidth: 0 });
}
