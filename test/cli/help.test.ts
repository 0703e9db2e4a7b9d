import { describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/program.js";
import { runCli } from "../helpers/cli.js";

describe("routekit --help", () => {
  const names = buildProgram().commands.map((c) => c.name());

  it("has every command of the pipeline", () => {
    expect(names).toEqual(expect.arrayContaining(["import", "info", "split", "synth", "embed", "train", "route", "eval", "run"]));
  });

  it("lists each command on one line, and each command has its own --help", async () => {
    const top = await runCli(["--help"]);
    expect(top.code).toBe(0);
    for (const name of names) {
      const line = top.stdout.split("\n").find((l) => l.trimStart().startsWith(`${name} `));
      expect(line, `no line for ${name}`).toBeDefined();
      // the summary fits on its line: the next line starts another command or ends the list
      const next = top.stdout.split("\n")[top.stdout.split("\n").indexOf(line!) + 1];
      expect(next.trim() === "" || /^\s{2}\S/.test(next)).toBe(true);
    }
    for (const name of names) {
      const r = await runCli([name, "--help"]);
      expect(r.code, name).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: routekit ${name} `));
    }
  });
});
