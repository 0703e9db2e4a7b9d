import { describe, expect, it } from "vitest";
import { evaluateSplit } from "../../src/evaluate/evaluate.js";
import { splitEntry } from "../../src/report/results.js";
import { renderSplitSection } from "../../src/report/markdown.js";
import { parseExperiment } from "../../src/experiments/config.js";
import { fixedPredictor, meanCosts, noisyPredictions, randomTable } from "./fixtures.js";

const t = randomTable(300, 4, 21, { binary: true });
const costs = meanCosts(t);
const m = t.models.length;
const byId = (q: Float64Array) => new Map(t.ids.map((id, i) => [id, Array.from(q.subarray(i * m, i * m + m))]));
const good = fixedPredictor(t.models, Array.from(costs), byId(noisyPredictions(t, 1, 0.2)));
const weak = fixedPredictor(t.models, Array.from(costs), byId(noisyPredictions(t, 2, 1.5)));

describe("compareTo: every row against one chosen router", () => {
  it("gives each row its AIQ minus the reference's, with the paired bootstrap interval", async () => {
    const r = await evaluateSplit({ table: t, embeddings: null }, [{ name: "good", router: good }, { name: "weak", router: weak }], { seed: 5, bootstrap: 200, compareTo: "weak" });
    expect(r.compareTo).toBe("weak");
    const row = (n: string) => r.rows.find((x) => x.name === n)!;
    expect(row("weak").vsReference).toBeNull();
    const v = row("good").vsReference!;
    expect(v.name).toBe("weak");
    expect(v.diff).toBeCloseTo(row("good").aiq - row("weak").aiq, 12);

    // the same resamples, recomputed here from the draws: the interval is their percentile interval
    const curves = r.rows.filter((x) => x.role === "router");
    expect(curves).toHaveLength(2);
    const again = await evaluateSplit({ table: t, embeddings: null }, [{ name: "good", router: good }, { name: "weak", router: weak }], { seed: 5, bootstrap: 200 });
    expect(again.rows.find((x) => x.name === "good")!.vsReference).toBeNull();
    expect(again.rows.find((x) => x.name === "good")!.aiqInterval).toEqual(row("good").aiqInterval);
    expect(v.interval![0]).toBeLessThanOrEqual(v.diff);
    expect(v.interval![1]).toBeGreaterThanOrEqual(v.diff);
    expect(v.better).toBe(v.interval![0] > 1e-12);
    // the Zero, best single and Oracle rows are compared too
    expect(r.rows.find((x) => x.role === "oracle")!.vsReference!.diff).toBeGreaterThan(0);
  });

  it("is paired: a router against an identical copy differs by exactly 0 on every resample", async () => {
    const twin = fixedPredictor(t.models, Array.from(costs), byId(noisyPredictions(t, 1, 0.2)));
    const r = await evaluateSplit({ table: t, embeddings: null }, [{ name: "good", router: good }, { name: "twin", router: twin }], { seed: 9, bootstrap: 200, compareTo: "twin" });
    const v = r.rows.find((x) => x.name === "good")!.vsReference!;
    expect(v.diff).toBe(0);
    expect(v.interval).toEqual([0, 0]);
    expect(v.better).toBe(false);
    // unpaired, the two AIQ intervals are wide
    const iv = r.rows.find((x) => x.name === "good")!.aiqInterval!;
    expect(iv[1] - iv[0]).toBeGreaterThan(0.01);
  });

  it("refuses a name that is not a router under test", async () => {
    await expect(evaluateSplit({ table: t, embeddings: null }, [{ name: "good", router: good }], { seed: 1, bootstrap: 0, compareTo: "nope" })).rejects.toThrow(/compareTo names "nope"/);
  });

  it("shows a 'vs <name>' column in report.md, bold where the row beats it", async () => {
    const r = await evaluateSplit({ table: t, embeddings: null }, [{ name: "good", router: good }, { name: "weak", router: weak }], { seed: 5, bootstrap: 200, compareTo: "weak" });
    const md = renderSplitSection(splitEntry("d", "in-distribution", r));
    expect(md).toContain("| vs weak |");
    expect(md).toMatch(/AIQ minus weak's on the same resamples/);
    const oracleLine = md.split("\n").find((l) => l.includes("*Oracle*"))!;
    expect(oracleLine).toMatch(/\*\*\+[\d.]+ \[[\d.]+, [\d.]+\]\*\*/);
  });

  it("a config's compareTo must name one of its routers", () => {
    const cfg = "name: x\ndata: {table: t.arrow}\nrouters:\n  - type: knn\nevaluation:\n  compareTo: task-prior\n";
    expect(() => parseExperiment(cfg, "c.yaml")).toThrow(/c\.yaml, row 6, field "evaluation\.compareTo": compareTo names "task-prior"/);
    expect(parseExperiment(cfg.replace("task-prior", "knn"), "c.yaml").evaluation.compareTo).toBe("knn");
  });
});
