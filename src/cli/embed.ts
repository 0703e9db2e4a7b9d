import type { Command } from "commander";
import { integerOption } from "./options.js";
import { Option } from "commander";
import { readOutcomeTable } from "../data/arrow-io.js";
import { DEFAULT_EMBEDDER_SPEC, defaultCacheDir, embedTable, normalizePreparation, parseEmbedderSpec } from "../embed/index.js";
import { progressReporter } from "../util/progress.js";
import { printJson } from "./output.js";

interface EmbedCliOptions {
  embedder: string;
  cacheDir?: string;
  modelDir?: string;
  threads?: string;
  maxChars: string;
  keep: "head" | "tail";
  stripPrefix: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("embed")
    .description("Embed a dataset's prompts into the embedding cache (later commands reuse it).")
    .argument("<dataset.arrow>", "outcome table (Arrow IPC) whose prompts to embed")
    .option("--embedder <spec>", "use-lite | use-lite-static | hash | hash:<dim> | hf:<model-id> | openai:<model>@<base-url>", DEFAULT_EMBEDDER_SPEC)
    .option("--cache-dir <dir>", `embedding cache (default: $ROUTEKIT_CACHE_DIR or ${defaultCacheDir()})`)
    .option("--model-dir <dir>", "local files for hf: models, <dir>/<model-id>/ (default: $ROUTEKIT_MODEL_DIR; else the hub)")
    .option("--threads <n>", "threads: use-lite worker threads (default: all cores, at most 8), hf onnxruntime threads")
    .option("--max-chars <n>", "keep at most this many characters of each prepared prompt (0 = all)", "0")
    .addOption(new Option("--keep <end>", "which end to keep when cutting to --max-chars").choices(["head", "tail"]).default("head"))
    .option("--no-strip-prefix", "keep the prefix shared by all prompts of an eval (stripped by default)")
    .option("--json", "print the statistics as JSON (texts, cacheHits, computed, seconds)")
    .action(async (file: string, o: EmbedCliOptions) => {
      parseEmbedderSpec(o.embedder);
      const preparation = normalizePreparation({ stripSharedPrefix: o.stripPrefix, maxChars: integerOption(o.maxChars, "--max-chars", 0), keep: o.keep });
      const threads = o.threads === undefined ? undefined : integerOption(o.threads, "--threads", 1);
      const table = await readOutcomeTable(file);
      const bar = progressReporter("embed");
      let result;
      try {
        result = await embedTable(table, { spec: o.embedder, preparation, cacheDir: o.cacheDir, modelDir: o.modelDir, threads, onProgress: bar.update });
      } finally {
        bar.stop();
      }
      const { stats, matrix } = result;
      if (o.json) {
        printJson({ ...stats, embedder: matrix.embedderId, dimension: matrix.dimension, preparation: matrix.preparation, strippedPrefixes: Object.keys(result.prefixes).length });
      } else {
        const rate = stats.computed / Math.max(stats.seconds, 1e-9);
        process.stdout.write(
          `${stats.texts} prompts embedded with ${matrix.embedderId} (${matrix.dimension} dims): ${stats.cacheHits} from the cache, ${stats.computed} computed` +
            `${stats.computed ? ` (${rate.toFixed(1)}/s)` : ""} in ${stats.seconds.toFixed(2)} s; shared prefix stripped for ${Object.keys(result.prefixes).length} eval(s)\n`,
        );
      }
    });
}
