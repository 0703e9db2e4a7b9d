/**
 * The endpoint limiter (calls in flight, requests and tokens per minute, the 429 pause) on a
 * fake clock, and the spend cap's reservations.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EndpointLimiter, SpendCap, type Slot } from "../../src/collect/limits.js";
import { maxInputTokens, worstCaseCost } from "../../src/collect/client.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Acquire and record when each slot was granted (fake ms since start). */
function grants(l: EndpointLimiter, tokens: number[]): { at: number[]; slots: Slot[] } {
  const start = Date.now();
  const at: number[] = [];
  const slots: Slot[] = [];
  for (const t of tokens) {
    void l.acquire(t).then((s) => {
      at.push(Date.now() - start);
      slots.push(s);
    });
  }
  return { at, slots };
}

describe("EndpointLimiter", () => {
  it("never has more than `concurrency` calls in flight", async () => {
    const l = new EndpointLimiter({ concurrency: 2, requestsPerMinute: null, tokensPerMinute: null });
    const g = grants(l, [1, 1, 1, 1]);
    await vi.advanceTimersByTimeAsync(10);
    expect(g.at).toHaveLength(2);
    g.slots[0].release();
    await vi.advanceTimersByTimeAsync(0);
    expect(g.at).toHaveLength(3);
  });

  it("starts at most requestsPerMinute calls in any 60 s", async () => {
    const l = new EndpointLimiter({ concurrency: 10, requestsPerMinute: 3, tokensPerMinute: null });
    const g = grants(l, [1, 1, 1, 1, 1]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(g.at).toEqual([0, 0, 0]);
    for (const s of g.slots) s.release();
    await vi.advanceTimersByTimeAsync(59_500);
    expect(g.at).toEqual([0, 0, 0, 60_000, 60_000]);
  });

  it("keeps tokensPerMinute, corrected by the usage a released call reports", async () => {
    const l = new EndpointLimiter({ concurrency: 10, requestsPerMinute: null, tokensPerMinute: 100 });
    const g = grants(l, [60, 60, 30]);
    await vi.advanceTimersByTimeAsync(10);
    expect(g.at).toEqual([0]);
    // the first call used only 20 tokens: the second (60) now fits, the third (30) waits for the window
    g.slots[0].release(20);
    await vi.advanceTimersByTimeAsync(10);
    expect(g.at).toEqual([0, 10]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(g.at).toEqual([0, 10, 60_000]);
  });

  it("pauses the endpoint for a 429's Retry-After", async () => {
    const l = new EndpointLimiter({ concurrency: 10, requestsPerMinute: null, tokensPerMinute: null });
    l.pauseFor(2000);
    const g = grants(l, [1]);
    await vi.advanceTimersByTimeAsync(1999);
    expect(g.at).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(g.at).toEqual([2000]);
  });
});

describe("SpendCap", () => {
  it("reserves only what fits beside the spent and the reservations in flight", () => {
    const cap = new SpendCap(1, 0.25);
    expect(cap.tryReserve(0.5)).toBe(true);
    expect(cap.tryReserve(0.3)).toBe(false); // 0.25 + 0.5 + 0.3 > 1
    cap.settle(0.5, 0.1);
    expect(cap.spent).toBeCloseTo(0.35);
    expect(cap.tryReserve(0.3)).toBe(true);
    expect(new SpendCap(null).tryReserve(1e9)).toBe(true);
  });

  it("bounds a call's cost by its UTF-8 bytes (plus the template) and max_tokens", () => {
    const msgs = [{ role: "user" as const, content: "héllo" }]; // 6 bytes
    expect(maxInputTokens(msgs)).toBe(6 + 8 + 16);
    expect(worstCaseCost({ input: 1e6, output: 2e6 }, msgs, 10)).toBe(30 + 20);
    expect(worstCaseCost({ input: 1, output: 1 }, msgs, null)).toBe(Infinity);
  });
});
