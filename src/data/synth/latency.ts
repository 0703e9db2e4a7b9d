/**
 * Synthetic per-call latencies for `routekit synth --latency`. SYNTHETIC: no model was timed.
 * The per-model parameters below are judgement (orders of magnitude of hosted-API latencies in
 * late 2023: big models slower to first token and to stream, small open models fast), chosen
 * so that routing on latency has something to trade, not measurements. data/README.md says so.
 *
 * Per (prompt, model), in ms:
 *   ttft  = TTFT_MEDIAN_MS[m] x lognormal(sd 0.4) + PREFILL_MS_PER_TOKEN x input tokens
 *   total = ttft + output tokens / TOKENS_PER_SECOND[m] x 1000 x lognormal(sd 0.2)
 * drawn from streams of their own (`<seed>:latency:<model>`), after and apart from the score
 * and cost draws, so asking for latencies never changes a score, a cost or a token count.
 */
import { makeRng, normal } from "../../util/rng.js";
import type { ModelName } from "./calibration.js";

export interface SynthLatencyParams {
  /** Median time to the first token, ms. */
  readonly ttftMedianMs: number;
  /** Output tokens streamed per second. */
  readonly tokensPerSecond: number;
}

/** Synthetic (judgement, not measured): see the comment at the top of this file. */
export const SYNTH_LATENCY: Readonly<Record<ModelName, SynthLatencyParams>> = {
  "gpt-4-1106-preview": { ttftMedianMs: 700, tokensPerSecond: 25 },
  "gpt-3.5-turbo-1106": { ttftMedianMs: 350, tokensPerSecond: 70 },
  "claude-v2": { ttftMedianMs: 900, tokensPerSecond: 30 },
  "claude-v1": { ttftMedianMs: 800, tokensPerSecond: 35 },
  "claude-instant-v1": { ttftMedianMs: 400, tokensPerSecond: 80 },
  "meta/llama-2-70b-chat": { ttftMedianMs: 500, tokensPerSecond: 35 },
  "mistralai/mixtral-8x7b-chat": { ttftMedianMs: 300, tokensPerSecond: 60 },
  "zero-one-ai/Yi-34B-Chat": { ttftMedianMs: 450, tokensPerSecond: 40 },
  "meta/code-llama-instruct-34b-chat": { ttftMedianMs: 450, tokensPerSecond: 40 },
  "WizardLM/WizardLM-13B-V1.2": { ttftMedianMs: 250, tokensPerSecond: 70 },
  "mistralai/mistral-7b-chat": { ttftMedianMs: 200, tokensPerSecond: 90 },
};

export const PREFILL_MS_PER_TOKEN = 0.2;
const TTFT_SD = 0.4;
const DECODE_SD = 0.2;

/** Latencies (ms, rounded to 0.1 ms) for a synthesized table's cells, row-major like its scores. */
export function drawLatencies(
  models: readonly ModelName[],
  inputTokens: Float64Array,
  outputTokens: Float64Array,
  seed: string,
): { ttftMs: Float64Array; totalLatencyMs: Float64Array } {
  const m = models.length;
  const n = inputTokens.length / m;
  const ttftMs = new Float64Array(n * m);
  const totalLatencyMs = new Float64Array(n * m);
  const round = (x: number) => Math.round(x * 10) / 10;
  models.forEach((model, j) => {
    const p = SYNTH_LATENCY[model];
    const r = makeRng(`${seed}:latency:${model}`);
    for (let i = 0; i < n; i++) {
      const k = i * m + j;
      const ttft = p.ttftMedianMs * Math.exp(TTFT_SD * normal(r)) + PREFILL_MS_PER_TOKEN * inputTokens[k];
      const decode = (outputTokens[k] / p.tokensPerSecond) * 1000 * Math.exp(DECODE_SD * normal(r));
      ttftMs[k] = round(ttft);
      totalLatencyMs[k] = round(ttft + decode);
    }
  });
  return { ttftMs, totalLatencyMs };
}
