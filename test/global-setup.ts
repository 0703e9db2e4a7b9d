import { execFileSync } from "node:child_process";

/**
 * Tests that run the CLI as a user would (a fresh process on dist/) need the build to match
 * the sources: compile once before any test file runs.
 */
export default function setup(): void {
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
}
