/**
 * Batching for padded encoders: a batch is padded to its longest text, so texts of similar
 * length go together (a 20-token prompt next to a 500-token one wastes most of the work).
 */
/** Indices of `texts` cut into batches of similar length, longest first. */
export function lengthOrderedBatches(texts: readonly string[], batchSize: number, batchChars: number): number[][] {
  const order = Array.from(texts.keys()).sort((a, b) => texts[b].length - texts[a].length || a - b);
  const out: number[][] = [];
  let cur: number[] = [];
  let chars = 0;
  for (const i of order) {
    const len = texts[i].length;
    if (cur.length && (cur.length >= batchSize || chars + len > batchChars)) {
      out.push(cur);
      cur = [];
      chars = 0;
    }
    cur.push(i);
    chars += len;
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * Indices cut into batches of equal `lengths` (token counts), longest first, at most
 * `batchSize` each: no text is ever padded, so a text's vector cannot depend on its batchmates
 * through padding (padded attention products round differently; see use-lite-model.ts).
 */
export function equalLengthBatches(lengths: readonly number[], batchSize: number): number[][] {
  const groups = new Map<number, number[]>();
  lengths.forEach((len, i) => {
    const g = groups.get(len);
    if (g) g.push(i);
    else groups.set(len, [i]);
  });
  const out: number[][] = [];
  for (const len of [...groups.keys()].sort((a, b) => b - a)) {
    const g = groups.get(len)!;
    for (let s = 0; s < g.length; s += batchSize) out.push(g.slice(s, s + batchSize));
  }
  return out;
}
