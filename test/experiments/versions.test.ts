import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { installedVersion, versions, VERSIONED_PACKAGES } from "../../src/experiments/versions.js";

describe("versions recorded in run.json and results.json", () => {
  it("are the installed ones, also for packages whose exports hide package.json (apache-arrow, transformers)", async () => {
    const v = await versions();
    for (const pkg of VERSIONED_PACKAGES) {
      const want = (JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, "utf8")) as { version: string }).version;
      expect(v[pkg], pkg).toBe(want);
    }
    expect(await installedVersion("no-such-package-routekit")).toBeNull();
  });
});
