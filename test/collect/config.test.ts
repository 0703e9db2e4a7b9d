/**
 * The collect file and the prompts file: every mistake is one line naming the file, the line
 * and the field; defaults merge into each model's options; paths are relative to the file.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { loadCollectConfig, parseCollectConfig } from "../../src/collect/config.js";
import { readPrompts } from "../../src/collect/prompts.js";
import { runCli } from "../helpers/cli.js";

const GOOD = `models:
  a:
    baseUrl: http://127.0.0.1:9/v1/
    model: up-a
    apiKeyEnv: KEY_A
    price: { input: 1, output: 2 }
    options: { max_tokens: 16 }
  b:
    baseUrl: http://127.0.0.1:9/v1
    price: { input: 0.5, output: 0.5 }
defaults:
  options: { temperature: 0, max_tokens: 8 }
scorer: { type: exact }
endpoints:
  "http://127.0.0.1:9/v1": { concurrency: 3, requestsPerMinute: 60 }
`;

const env = { KEY_A: "secret-a" };
const err = (text: string, file = "c.yaml", e: NodeJS.ProcessEnv = env) => {
  try {
    parseCollectConfig(text, file, { env: e });
  } catch (x) {
    return (x as Error).message;
  }
  return "no error";
};

describe("collect file", () => {
  it("resolves models: upstream ids, keys, merged options, per-endpoint limits", () => {
    const c = parseCollectConfig(GOOD, "c.yaml", { env });
    expect(c.models.map((m) => [m.name, m.upstream.model, m.upstream.baseUrl, m.upstream.apiKey])).toEqual([
      ["a", "up-a", "http://127.0.0.1:9/v1", "secret-a"],
      ["b", "b", "http://127.0.0.1:9/v1", null],
    ]);
    expect(c.models[0].options).toEqual({ temperature: 0, max_tokens: 16 });
    expect(c.models[1].options).toEqual({ temperature: 0, max_tokens: 8 });
    expect(c.limitsOf("http://127.0.0.1:9/v1/")).toEqual({ concurrency: 3, requestsPerMinute: 60, tokensPerMinute: null });
    expect(c.limitsOf("http://other/v1")).toEqual({ concurrency: 4, requestsPerMinute: null, tokensPerMinute: null });
    expect(c.scorer).toEqual({ type: "exact" });
  });

  it("names the file, the line and the field of each mistake", () => {
    expect(err(GOOD.replace("price: { input: 1,", "prise: { input: 1,"))).toMatch(/^c\.yaml, row 6, field "models\.a\.prise": /);
    expect(err(GOOD.replace("input: 0.5", "input: -1"))).toMatch(/^c\.yaml, row 10, field "models\.b\.price\.input": /);
    expect(err(GOOD.replace("http://127.0.0.1:9/v1\n", "ftp://x\n"))).toMatch(/^c\.yaml, row 9, field "models\.b\.baseUrl": must be an http\(s\) URL/);
    expect(err(GOOD.replace("{ max_tokens: 16 }", "{ max_tokens: 16, messages: [] }"))).toMatch(/^c\.yaml, row 7, field "models\.a\.options\.messages": "messages" is set by routekit collect/);
    expect(err(GOOD.replace("{ max_tokens: 16 }", "{ max_tokens: -3 }"))).toMatch(/field "models\.a\.options\.max_tokens": must be a positive integer/);
    expect(err(GOOD, "c.yaml", {})).toMatch(/^c\.yaml, row 5, field "models\.a\.apiKeyEnv": environment variable KEY_A \(the key for "a"\) is not set$/);
    expect(err(GOOD.replace("{ type: exact }", "{ type: bleu }"))).toMatch(/^c\.yaml, row 13, field "scorer\.type": /);
    expect(err(GOOD.replace("{ type: exact }", '{ type: regex, pattern: "(" }'))).toMatch(/field "scorer\.pattern": not a valid regular expression/);
    expect(err(GOOD.replace("concurrency: 3", "concurrency: 0"))).toMatch(/field "endpoints\.http:\/\/127\.0\.0\.1:9\/v1\.concurrency"/);
    expect(err("models: {}\n")).toMatch(/^c\.yaml, row 1, field "models": name at least one model/);
    expect(err('{"models": {}', "c.json")).toMatch(/^c\.json: not valid JSON/);
    expect(err("models: [a\n")).toMatch(/^c\.yaml, row \d: not valid YAML/);
    expect(err(`${GOOD}scorer: { type: judge, baseUrl: "http://127.0.0.1:9/v1", price: { input: 1, output: 1 } }\n`)).toMatch(/^c\.yaml, row \d+: not valid YAML: Map keys must be unique/); // a second scorer
  });

  it("the judge needs its model id; keys are not needed for a dry run", () => {
    const judge = GOOD.replace("scorer: { type: exact }", 'scorer: { type: judge, baseUrl: "http://127.0.0.1:9/v1", price: { input: 1, output: 1 } }');
    expect(err(judge)).toMatch(/field "scorer": the judge needs `model`/);
    expect(() => parseCollectConfig(GOOD, "c.yaml", { env: {}, requireKeys: false })).not.toThrow();
  });

  describe("files", () => {
    let dir = "";
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "rk-collect-cfg-"));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("`prompts:` is relative to the collect file's folder", async () => {
      await mkdir(join(dir, "sub"), { recursive: true });
      await writeFile(join(dir, "sub", "c.yaml"), `prompts: p.jsonl\n${GOOD}`);
      const c = await loadCollectConfig(join(dir, "sub", "c.yaml"), { env });
      expect(c.prompts).toBe(relative(process.cwd(), join(dir, "sub", "p.jsonl")));
    });

    it("prompts files: a missing text column, a duplicate id, an empty text name file, row and field", async () => {
      const f = join(dir, "p.jsonl");
      await writeFile(f, '{"id": "a", "question": "x"}\n');
      await expect(readPrompts(f)).rejects.toThrow(/p\.jsonl, field "text": missing column/);
      await writeFile(f, '{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n');
      await expect(readPrompts(f)).rejects.toThrow(/p\.jsonl, row 2, field "id": duplicate prompt id "a" \(also row 1\)/);
      await writeFile(f, '{"id": "a", "text": "x"}\n{"id": "b", "text": "  "}\n');
      await expect(readPrompts(f)).rejects.toThrow(/p\.jsonl, row 2, field "text": missing value/);
    });

    it("the example in examples/collect is valid: its dry run lists 8 prompts x 3 models", async () => {
      const d = await runCli(["collect", "examples/collect/collect.yaml", "--out", join(dir, "example.arrow"), "--dry-run", "--json", "--max-spend", "2"], { env: {} });
      expect(d.code, d.stderr).toBe(0);
      expect(JSON.parse(d.stdout)).toMatchObject({ cells: 24, calls: 24, done: 0 });
    });

    it("an output that is an input is refused before any work, in one line naming the option", async () => {
      const c = join(dir, "ok.yaml");
      const p = join(dir, "in.jsonl");
      await writeFile(c, GOOD);
      await writeFile(p, '{"text": "x", "reference": "y"}\n');
      const r = await runCli(["collect", c, "--prompts", p, "--out", p], { env });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/--out: .*in\.jsonl is also an input of this command/);
      const j = await runCli(["collect", c, "--prompts", p, "--out", join(dir, "x.arrow"), "--journal", c], { env });
      expect(j.stderr).toMatch(/--journal: .*ok\.yaml is also an input of this command/);
    });

    it("the CLI prints the one line and exits 1", async () => {
      const c = join(dir, "bad.yaml");
      await writeFile(c, GOOD.replace("input: 0.5", 'input: "cheap"'));
      const r = await runCli(["collect", c, "--prompts", join(dir, "none.jsonl"), "--out", join(dir, "o.arrow")], { env });
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toMatch(/^routekit: error: .*bad\.yaml, row 10, field "models\.b\.price\.input": /);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
    });
  });
});
