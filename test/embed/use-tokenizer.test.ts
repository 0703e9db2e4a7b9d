import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UseTokenizer, type Vocabulary } from "../../src/embed/use-tokenizer.js";
import { useLiteModelDir } from "../../src/embed/use-lite-model.js";

// Only the tokenizer of @energetic-ai/embeddings is used here (its model is never loaded), as
// the reference our faster port must match token for token.
const require = createRequire(import.meta.url);

describe("use-lite tokenizer", () => {
  it("matches @energetic-ai/embeddings' tokenizer exactly", () => {
    const vocab = JSON.parse(readFileSync(join(useLiteModelDir(), "vocab.json"), "utf8")) as Vocabulary;
    const { EmbeddingsModel } = require("@energetic-ai/embeddings") as { EmbeddingsModel: new (d: unknown) => { tokenizer: { encode(s: string): number[] } } };
    const ref = new EmbeddingsModel({ vocabulary: vocab, model: null }).tokenizer;
    const mine = new UseTokenizer(vocab);
    const texts = [
      "Hello world",
      "",
      " ",
      "Ünïcödé ☃ 日本語 text 🎉🎉 emoji",
      "a  b\n\nc\td",
      "Which of the following statements best explains why magnets usually stick to a refrigerator door?\nA) smooth",
      "x".repeat(50),
      "def f(x):\n    return x**2  # {}[]",
      "ﬁ ligature ＡＢＣ fullwidth",
      "Please answer with the letter of the correct answer.\n\nIan volunteered to eat Dennis's menudo because _ despised eating intestine.",
    ];
    for (const t of texts) expect(mine.encode(t), JSON.stringify(t)).toEqual(ref.encode(t));
  });
});
