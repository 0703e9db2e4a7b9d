// `npm start` builds only when a source is newer than the build: tsc costs ~12 CPU-seconds on
// 2 cores even when nothing changed. The build is stale when dist/src/cli/main.js is missing or
// older than any file under src/ or bench/, a tsconfig, or package.json.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const OUT = "dist/src/cli/main.js";

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const name of readdirSync(path)) m = Math.max(m, newest(join(path, name)));
  return m;
}

const inputs = ["src", "bench", "tsconfig.json", "tsconfig.build.json", "package.json"].filter((p) => existsSync(p));
const stale = !existsSync(OUT) || Math.max(...inputs.map(newest)) > statSync(OUT).mtimeMs;
if (stale) {
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
} else if (process.env.ROUTEKIT_DEBUG) {
  process.stderr.write("build is current\n");
}
