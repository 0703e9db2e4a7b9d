import { describe, expect, it } from "vitest";
import { TopK } from "../../src/routers/top-k.js";

describe("TopK", () => {
  it("keeps the k largest in descending order, equal values in arrival order, and resets", () => {
    const top = new TopK(3);
    [0.2, 0.9, 0.5, 0.9, 0.1, 0.5, 1.0].forEach((v, j) => top.push(v, j));
    const sims = new Float32Array(4).fill(-1);
    const nb = new Int32Array(4).fill(-1);
    top.writeTo(sims, nb, 1);
    expect(Array.from(sims)).toEqual([-1, 1.0, Math.fround(0.9), Math.fround(0.9)]);
    expect(Array.from(nb)).toEqual([-1, 6, 1, 3]);
    top.reset();
    [3, 1, 2, 2].forEach((v, j) => top.push(v, j));
    expect(Array.from(top.values)).toEqual([3, 2, 2]);
    expect(Array.from(top.indices)).toEqual([0, 2, 3]);
  });
});
