import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { packageRoot } from "../src/util/package-info.js";

export interface CliTime {
  wall: number;
  cpu: number;
  /** Peak resident set size of the process, MiB. */
  maxRssMiB: number;
}

/**
 * Wall and CPU time of one CLI run in a fresh process, as a user sees it. Node reports no
 * child's CPU time, so the child writes its own process.cpuUsage() and peak RSS at exit (a
 * preloaded module).
 */
export async function timeCli(args: string[], dir: string): Promise<CliTime> {
  const cpuFile = join(dir, `cpu-${Date.now()}.json`);
  const preload = `data:text/javascript,import{writeFileSync}from"node:fs";process.on("exit",()=>{const u=process.cpuUsage();writeFileSync(${JSON.stringify(cpuFile)},JSON.stringify([(u.user+u.system)/1e6,process.resourceUsage().maxRSS/1024]))})`;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", preload, join(packageRoot(), "dist", "src", "cli", "main.js"), ...args], { cwd: packageRoot(), stdio: ["ignore", "ignore", "inherit"] });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`routekit ${args.join(" ")} exited with ${code}`))));
  });
  const wall = (performance.now() - t0) / 1000;
  const [cpu, maxRssMiB] = JSON.parse(await readFile(cpuFile, "utf8")) as [number, number];
  return { wall, cpu, maxRssMiB };
}

