/**
 * The k largest of a stream of (value, index) pairs, by sorted insertion into k slots: k is
 * small (<= ~50 for KNN), so this beats a heap. Descending by value; equal values keep arrival
 * order, so feeding indices in increasing order breaks ties to the lower index (what tf.topk
 * does, and what both KNN search paths must agree on bitwise).
 */
export class TopK {
  readonly values: Float64Array;
  readonly indices: Int32Array;
  private filled = 0;

  constructor(readonly k: number) {
    this.values = new Float64Array(k);
    this.indices = new Int32Array(k);
  }

  /** Start a new selection (the slots are overwritten as values arrive). */
  reset(): void {
    this.filled = 0;
  }

  push(v: number, j: number): void {
    const { values, indices, k } = this;
    if (this.filled === k && v <= values[k - 1]) return;
    let p = this.filled < k ? this.filled++ : k - 1;
    while (p > 0 && values[p - 1] < v) {
      values[p] = values[p - 1];
      indices[p] = indices[p - 1];
      p--;
    }
    values[p] = v;
    indices[p] = j;
  }

  /** The k slots into sims and neighbours at `offset`. */
  writeTo(sims: Float32Array, neighbours: Int32Array, offset: number): void {
    for (let r = 0; r < this.k; r++) {
      sims[offset + r] = this.values[r];
      neighbours[offset + r] = this.indices[r];
    }
  }
}
