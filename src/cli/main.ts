#!/usr/bin/env node
import { buildProgram } from "./program.js";

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    // One line for the user; the stack only when asked for.
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`routekit: error: ${msg}\n`);
    if (process.env.ROUTEKIT_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = 1;
  });
