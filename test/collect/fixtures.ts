/**
 * Collect fixtures: arithmetic prompts with numeric references, a fake OpenAI server whose three
 * models answer them right at different rates (keyed by the prompt, so every run answers alike),
 * and collect files pointing at it.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startFakeOpenAI, type FakeOpenAI, type FakeOptions } from "../../bench/fake-openai.js";

export const MODELS = ["strong", "medium", "weak"] as const;

/** `n` prompts "What is a plus b?" with their sums as references, over two datasets. */
export function arithmeticPrompts(n: number): { id: string; text: string; dataset: string; reference: string }[] {
  return Array.from({ length: n }, (_, i) => {
    const a = (i * 37) % 101;
    const b = (i * 53) % 89;
    return { id: `q${String(i).padStart(3, "0")}`, text: `Question ${i}: what is ${a} plus ${b}?`, dataset: i % 2 ? "sums" : "adds", reference: `#### ${a + b}` };
  });
}

/** The last user message of a chat request. */
export function promptOf(body: Record<string, unknown>): string {
  const msgs = body.messages as { role: string; content: string }[];
  return msgs.filter((m) => m.role === "user").at(-1)?.content ?? "";
}

/** Right for every prompt (strong), 2 in 3 (medium), 1 in 3 (weak); a wrong answer is off by one. */
export function arithmeticAnswer(model: string, body: Record<string, unknown>): string {
  const m = /Question (\d+): what is (\d+) plus (\d+)\?/.exec(promptOf(body));
  if (!m) return "I do not know.";
  const [i, a, b] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const right = model === "strong" || (model === "medium" ? i % 3 !== 0 : i % 3 === 0);
  return `Let me add ${a} and ${b}.\n#### ${right ? a + b : a + b + 1}`;
}

export function startArithmeticFake(opts: FakeOptions = {}): Promise<FakeOpenAI> {
  return startFakeOpenAI({ answer: arithmeticAnswer, ...opts });
}

export async function writePrompts(dir: string, n: number, name = "prompts.jsonl"): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, arithmeticPrompts(n).map((p) => JSON.stringify(p)).join("\n") + "\n");
  return path;
}

/** A collect file for the three models on `baseUrl` (prices differ per model; numeric scorer unless `extra` names one), with extra top-level YAML. */
export async function writeCollectFile(dir: string, baseUrl: string, extra = "", name = "collect.yaml", modelExtra = ""): Promise<string> {
  const prices: Record<string, [number, number]> = { strong: [10, 30], medium: [1, 2], weak: [0.1, 0.2] };
  const lines = [
    "models:",
    ...MODELS.flatMap((m) => [`  ${m}:`, `    baseUrl: ${baseUrl}`, `    model: ${m}`, "    apiKeyEnv: FAKE_COLLECT_KEY", `    price: { input: ${prices[m][0]}, output: ${prices[m][1]} }`, ...(modelExtra ? [`    ${modelExtra}`] : [])]),
    "defaults:",
    "  options: { max_tokens: 64, temperature: 0 }",
    "  timeoutSeconds: 5",
    ...(/^scorer:/m.test(extra) ? [] : ["scorer: { type: numeric }"]),
    "retry: { maxAttempts: 5, baseDelayMs: 5, maxDelayMs: 50 }",
    extra,
  ];
  const path = join(dir, name);
  await writeFile(path, lines.join("\n") + "\n");
  return path;
}

export const KEY_ENV = { FAKE_COLLECT_KEY: "sk-fake" };
