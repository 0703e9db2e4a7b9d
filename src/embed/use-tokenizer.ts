/**
 * The Universal Sentence Encoder Lite tokenizer (a SentencePiece unigram Viterbi over the
 * model's 8k vocabulary), ported from @energetic-ai/embeddings (Apache-2.0, itself from
 * tensorflow/tfjs-models). Same output, token for token (a test checks it against the
 * original), but linear in the text length: the original copies the remaining symbols at
 * every position, which makes it quadratic (about 30 ms for a 400-word prompt, longer than
 * the model itself takes).
 */

export type Vocabulary = [string, number][];

const SEPARATOR = "\u2581";
const RESERVED_SYMBOLS_COUNT = 6;

interface Node {
  children: Map<string, Node>;
  /** Vocabulary index when a piece ends here, else -1. */
  index: number;
  score: number;
  /** Length of the piece in symbols (code points). */
  length: number;
}

const newNode = (length: number): Node => ({ children: new Map(), index: -1, score: 0, length });

export class UseTokenizer {
  private readonly root = newNode(0);
  /** Piece lengths in UTF-16 units, as the original backtracking uses them. */
  private readonly pieceLength: Int32Array;

  constructor(private readonly vocabulary: Vocabulary) {
    this.pieceLength = Int32Array.from(vocabulary, ([p]) => p.length);
    for (let i = RESERVED_SYMBOLS_COUNT; i < vocabulary.length; i++) {
      const [piece, score] = vocabulary[i];
      let node = this.root;
      let len = 0;
      for (const sym of piece) {
        len++;
        let next = node.children.get(sym);
        if (!next) {
          next = newNode(len);
          node.children.set(sym, next);
        }
        node = next;
      }
      node.index = i;
      node.score = score;
    }
  }

  encode(input: string): number[] {
    const normalized = input.normalize("NFKC");
    const text = normalized.length > 0 ? SEPARATOR + normalized.replace(/ /g, SEPARATOR) : normalized;
    const symbols = Array.from(text);
    const n = symbols.length;
    const best = new Float64Array(n + 1);
    const words = new Int32Array(n + 1);
    // The original visits, for each end position, the matches grouped by start position in
    // increasing order, and within one start in trie order (shorter first); a later match
    // wins ties (`>=`). Collect per end position in that order, then relax.
    const ends: { start: number; score: number; index: number; len: number }[][] = Array.from({ length: n + 1 }, () => []);
    for (let i = 0; i < n; i++) {
      let node = this.root.children.get(symbols[i]);
      let found = false;
      for (let k = i; k < n && node; k++) {
        if (node.index >= 0) {
          ends[k + 1].push({ start: i, score: node.score, index: node.index, len: node.length });
          found = true;
        }
        node = k + 1 < n ? node.children.get(symbols[k + 1]) : undefined;
      }
      if (!found) ends[i + 1].push({ start: i, score: 0, index: 0, len: 1 });
    }
    for (let end = 0; end <= n; end++) {
      const list = ends[end];
      // Matches were pushed in increasing start order already (outer loop over i).
      for (const w of list) {
        const score = w.score + best[end - w.len];
        if (best[end] === 0 || score >= best[end]) {
          best[end] = score;
          words[end] = w.index;
        }
      }
    }
    const results: number[] = [];
    let iter = n;
    while (iter > 0) {
      results.push(words[iter]);
      iter -= this.pieceLength[words[iter]];
    }
    const merged: number[] = [];
    let prevUnk = false;
    for (const id of results) {
      if (!(prevUnk && id === 0)) merged.push(id);
      prevUnk = id === 0;
    }
    return merged.reverse();
  }
}
