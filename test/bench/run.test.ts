import { describe, expect, it } from "vitest";
import { replaceSection } from "../../bench/run.js";
import { benches } from "../../bench/registry.js";

describe("BENCHMARKS.md sections", () => {
  it("replaces a benchmark's previous section in place and keeps the others", () => {
    const doc = "# Benchmarks\n\n<!-- bench:a -->\nold a\n<!-- /bench:a -->\n\n<!-- bench:b -->\nold b\n<!-- /bench:b -->\n";
    const out = replaceSection(doc, "a", "new a");
    expect(out).toBe("# Benchmarks\n\n<!-- bench:a -->\nnew a\n<!-- /bench:a -->\n\n<!-- bench:b -->\nold b\n<!-- /bench:b -->\n");
  });

  it("appends a benchmark that has no section yet", () => {
    expect(replaceSection("# Benchmarks\n", "c", "c result")).toBe("# Benchmarks\n\n<!-- bench:c -->\nc result\n<!-- /bench:c -->\n");
  });

  it("registers every benchmark under a unique name", () => {
    const names = benches.map((b) => b.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(["import", "synth", "embed", "routers", "evaluate", "main-job", "fuzz"]));
  });
});
