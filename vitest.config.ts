import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests that spawn the built CLI share one build; see test/global-setup.ts.
    globalSetup: ["test/global-setup.ts"],
  },
});
