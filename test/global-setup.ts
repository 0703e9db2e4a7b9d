import { spawnSync } from "node:child_process";

/**
 * Tests that run the CLI as a user would (a fresh process on dist/) need the build to match
 * the sources: compile once before any test file runs. A type error does not stop the build
 * (tsc still emits); `npm test` reports it separately through `tsc --noEmit`.
 */
export default function setup(): void {
  const r = spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], { encoding: "utf8" });
  if (r.status !== 0) process.stderr.write(`global-setup: tsc reported errors (build still emitted):\n${r.stdout}${r.stderr}\n`);
}
