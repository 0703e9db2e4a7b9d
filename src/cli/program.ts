import { Command } from "commander";
import { commands } from "./commands.js";
import { packageVersion } from "../util/package-info.js";

/** The whole CLI; each command lives in its own file under src/cli and is listed in commands.ts. */
export function buildProgram(): Command {
  const program = new Command("routekit")
    .description("Train and evaluate LLM routers: pick the model for each prompt, trading quality against cost.")
    .version(packageVersion())
    .showHelpAfterError("(add --help for usage)");
  for (const register of commands) register(program);
  // The command list shows one line each: the first sentence of the description, unless the
  // command set its own summary; `routekit <command> --help` shows the whole description.
  for (const cmd of program.commands) {
    if (!cmd.summary()) cmd.summary(cmd.description().split(/(?<=[.:])\s|\n/)[0].replace(/:$/, ""));
  }
  return program;
}
