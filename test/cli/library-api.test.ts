import { describe, expect, it } from "vitest";
import * as routekit from "../../src/index.js";

// The README's library example imports these from "routekit".
describe("the library entry point", () => {
  it("exports every function the README names", () => {
    for (const name of ["importFiles", "makeSplits", "embedTable", "trainRouter", "evaluateSplit", "parseExperiment", "runExperiment", "pooledSplit", "readOutcomeTable", "writeReport", "trainAndSave", "routeWithSavedRouter", "chooseTarget", "calibrateSavedRouter", "measureOperatingPoints"]) {
      expect(typeof (routekit as Record<string, unknown>)[name], name).toBe("function");
    }
  });
});
