import { Command } from "commander";
import { readFileSync } from "node:fs";
import { commands } from "./commands.js";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

/** The whole CLI; each command lives in its own file under src/cli and is listed in commands.ts. */
export function buildProgram(): Command {
  const program = new Command("routekit")
    .description("Train and evaluate LLM routers: pick the model for each prompt, trading quality against cost.")
    .version(version())
    .showHelpAfterError("(add --help for usage)");
  for (const register of commands) register(program);
  return program;
}
