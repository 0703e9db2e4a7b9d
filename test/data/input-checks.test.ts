import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readOutcomeTable } from "../../src/data/arrow-io.js";
import { importFiles, loadPrices } from "../../src/data/importers/index.js";
import { detectDelimiter } from "../../src/data/importers/csv.js";
import { tableInfo } from "../../src/data/info.js";
import { synthesize } from "../../src/data/synth/index.js";
import { validateTable, type OutcomeTable } from "../../src/data/table.js";
import { loadExperiment, parseExperiment } from "../../src/experiments/config.js";
import { InputError } from "../../src/util/errors.js";

const FIX = fileURLToPath(new URL("../fixtures/data/", import.meta.url));
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rk-input-checks-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(name: string, content: string | Uint8Array): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, content);
  return p;
}

const LONG = "prompt_id,prompt,model,score,cost\nq1,What is 2+2?,a,1,0.001\nq1,What is 2+2?,b,0,0.002\nq2,Name a prime.,a,0.5,0.001\nq2,Name a prime.,b,1,0.003\n";

function wideCsv(prompt: string): string {
  return `sample_id,prompt,eval_name,m,m|total_cost\nx.1,['fine'],ev,1,0.1\nx.2,${prompt},ev,0,0.2\n`;
}

describe("text encodings", () => {
  it("Latin-1 bytes in a CSV are an error naming the file and line, not a silent U+FFFD", async () => {
    const bad = Buffer.from(LONG.replace("Name a prime.", "Name a caf\u00e9"), "latin1");
    const p = await put("latin1.csv", bad);
    await expect(importFiles([p])).rejects.toThrow(/latin1\.csv: not valid UTF-8 at line 4 \(byte \d+\): byte 0xe9 is not UTF-8 \(is the file Latin-1/);
  });

  it("an encoded lone surrogate (CESU-8 / surrogatepass bytes) in a CSV, and a \\ud800 escape in JSON Lines, are errors", async () => {
    const csv = Buffer.concat([Buffer.from(LONG.slice(0, 60)), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(LONG.slice(60))]);
    await expect(importFiles([await put("sur.csv", csv)])).rejects.toThrow(/sur\.csv: not valid UTF-8 at line \d .*lone UTF-16 surrogate/);
    const jsonl = `{"prompt": "ok", "model": "a", "score": 1, "cost": 0.1}\n{"prompt": "bad \\ud800 text", "model": "a", "score": 1, "cost": 0.1}\n`;
    await expect(importFiles([await put("sur.jsonl", jsonl)])).rejects.toThrow(/sur\.jsonl, row 2, field "prompt": the text holds a lone UTF-16 surrogate/);
  });

  it("a pickle whose text is not UTF-8 (a lone surrogate Python wrote with 'surrogatepass') is an error, not U+FFFD", async () => {
    const b = Buffer.from(await readFile(join(FIX, "wide-p4.pkl")));
    const at = b.indexOf("plain ascii");
    expect(at).toBeGreaterThan(0);
    b.set([0xed, 0xa0, 0x80], at);
    await expect(importFiles([await put("sur.pkl", b)])).rejects.toThrow(/sur\.pkl: a text in the pickle is not valid UTF-8/);
    const ok = await importFiles([join(FIX, "wide-p4.pkl")]);
    expect(ok.table.texts[0]).toContain("plain ascii");
  });

  it("a UTF-16 file (with or without a BOM) is named as UTF-16 with the conversion, not 'binary content'", async () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(LONG, "utf16le")]);
    await expect(importFiles([await put("le.csv", le)])).rejects.toThrow(/le\.csv: the file is UTF-16LE text; convert it to UTF-8 first, e\.g\. iconv -f UTF-16LE -t UTF-8/);
    const be = Buffer.from(LONG, "utf16le").swap16();
    await expect(importFiles([await put("be.csv", be)])).rejects.toThrow(/be\.csv: the file is UTF-16BE text/);
    await expect(loadExperiment(await put("cfg.yaml", le))).rejects.toThrow(/cfg\.yaml: the file is UTF-16LE text/);
  });
});

describe("CSV delimiters", () => {
  it("';' and tab delimited files import as the comma delimited one does (they failed with 'Invalid Opening Quote')", async () => {
    const comma = await importFiles([await put("c.csv", LONG)]);
    for (const [name, d] of [["semi.csv", ";"], ["tab.tsv", "\t"]] as const) {
      const { table } = await importFiles([await put(name, LONG.replaceAll(",", d))]);
      expect(table).toEqual(comma.table);
    }
    expect(detectDelimiter('"a;b",c')).toBe(",");
    expect(detectDelimiter('"a,b";c;d')).toBe(";");
    expect(detectDelimiter("a\tb;c\td")).toBe("\t");
  });
});

describe("prompt list literals", () => {
  it("[], [None] and [''] are errors naming file, row and field, not empty prompts", async () => {
    for (const lit of ["[]", "[None]", "['']"]) {
      await expect(importFiles([await put("e.csv", wideCsv(lit))])).rejects.toThrow(/e\.csv, row 2, field "prompt": the prompt list .* holds no text/);
    }
  });

  it("a list of numbers ([1, 2]) is an error, not a literal prompt; text that starts with [ is still text", async () => {
    await expect(importFiles([await put("n.csv", wideCsv('"[1, 2]"'))])).rejects.toThrow(/n\.csv, row 2, field "prompt": the prompt is a Python list of non-strings \(\[1, 2\]\)/);
    const { table } = await importFiles([await put("t.csv", wideCsv('"[INST] sort [1, 2]"'))]);
    expect(table.texts[1]).toBe("[INST] sort [1, 2]");
  });
});

describe("paths that are not files", () => {
  it("a directory as input is one clear line, not bare EISDIR", async () => {
    await expect(importFiles([dir])).rejects.toThrow(new RegExp(`^${dir}: cannot read: is a directory, not a file$`));
    await expect(readOutcomeTable(dir)).rejects.toThrow(/cannot read the outcome table: is a directory, not a file$/);
    await expect(loadExperiment(dir)).rejects.toThrow(/cannot read the config: is a directory, not a file$/);
    await expect(loadPrices(dir)).rejects.toThrow(/cannot read the price table: is a directory, not a file$/);
  });
});

const CONFIG = `name: demo
data:
  table: data/default.arrow
routers:
  - type: knn
    grid:
      k: [5, 10]
  - type: linear
    params:
      alpha: 1
`;

describe("experiment configs", () => {
  it("a .json config must be strict JSON: a trailing comma is an error with its line (YAML accepted it)", async () => {
    const json = '{\n  "name": "j",\n  "data": {"table": "t.arrow"},\n  "routers": [{"type": "linear"}],\n}\n';
    expect(() => parseExperiment(json, "c.json")).toThrow(/^c\.json, row 5: not valid JSON/);
    await expect(loadExperiment(await put("c.json", json))).rejects.toThrow(/c\.json, row 5: not valid JSON/);
    expect(parseExperiment(json.replace("}],\n}", "}]\n}"), "c.json").name).toBe("j");
    // The same text is fine as YAML, where the comma is allowed.
    expect(parseExperiment(json, "c.yaml").name).toBe("j");
  });

  it("router parameter errors name the file, the line and the field", () => {
    expect(() => parseExperiment(CONFIG.replace("k: [5, 10]", "k: [5, -1]"), "r.yaml")).toThrow(/^r\.yaml, row 7, field "routers\[0\]\.grid\.k\[1\]": k must be a positive integer/);
    expect(() => parseExperiment(CONFIG.replace("alpha: 1", "alpah: 1"), "r.yaml")).toThrow(/^r\.yaml, row 10, field "routers\[1\]\.params\.alpah": router linear has no parameter "alpah"/);
    expect(() => parseExperiment(CONFIG.replace("type: linear", "type: lineer"), "r.yaml")).toThrow(/^r\.yaml, row 8, field "routers\[1\]\.type": unknown router type "lineer"/);
  });

  it("a config with Latin-1 bytes is an error naming its line", async () => {
    const p = await put("l.yaml", Buffer.from(CONFIG.replace("name: demo", "name: demo\ndescription: caf\u00e9"), "latin1"));
    await expect(loadExperiment(p)).rejects.toThrow(/l\.yaml: not valid UTF-8 at line 2/);
  });
});

describe("library entry points", () => {
  it("an inconsistent table (10 texts for 30 ids) is refused by tableInfo and validateTable", () => {
    const t = synthesize({ prompts: 30, seed: 1 });
    const bad: OutcomeTable = { ...t, texts: t.texts.slice(0, 10) };
    expect(() => tableInfo(bad)).toThrow(/column texts has 10 entries for 30 prompts/);
    expect(() => validateTable(bad)).toThrow(InputError);
  });

  it("null or wrong arguments are InputErrors, not bare TypeErrors", async () => {
    const t = synthesize({ prompts: 3, seed: 1 });
    expect(() => tableInfo(null as unknown as OutcomeTable)).toThrow(/expected an outcome table, got null/);
    expect(() => validateTable({ ...t, scores: [1, 2] } as unknown as OutcomeTable)).toThrow(/field "scores": the table's scores is not a Float64Array/);
    expect(() => synthesize(null as never)).toThrow(InputError);
    expect(() => parseExperiment(null as unknown as string)).toThrow(InputError);
    await expect(readOutcomeTable(null as unknown as string)).rejects.toThrow(InputError);
    await expect(importFiles(null as unknown as string[])).rejects.toThrow(/importFiles needs a list of file paths/);
    const { table } = await importFiles([join(FIX, "wide.csv")], null);
    expect(table.ids.length).toBeGreaterThan(0);
  });
});

describe("error messages", () => {
  it("are one line whatever they quote", () => {
    const e = new InputError("bad value \"a\nb\r\u0000\"", { file: "f.csv", row: 2 });
    expect(e.message).toBe('f.csv, row 2: bad value "a\\nb\\r\\u0000"');
  });
});

