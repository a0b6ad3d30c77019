// .env.example and the README's configuration table are generated from the configuration schema
// (npm run config:example); these tests fail when someone changes a key and forgets to regenerate them.
import { readFileSync } from "node:fs";
import { parse as parseDotenv } from "dotenv";
import { describe, expect, it } from "vitest";
import { ConfigSchema, loadConfig } from "../../src/config.js";
import { configKeyDocs, renderEnvExample, withConfigTable } from "../../src/configDocs.js";

const root = new URL("../../", import.meta.url);
const read = (name: string) => readFileSync(new URL(name, root), "utf8");
const REGENERATE = "out of date: run `npm run config:example` and commit the result";

describe("Configuration documentation", () => {
  it("When the schema is rendered, then .env.example is exactly the generated text", () => {
    expect(read(".env.example"), `.env.example is ${REGENERATE}`).toBe(renderEnvExample());
  });

  it("When the schema is rendered, then the README's configuration table is exactly the generated table", () => {
    const readme = read("README.md");
    expect(withConfigTable(readme) === readme, `README.md's configuration table is ${REGENERATE}`).toBe(true);
  });

  it("When the schema is read, then every key has a one-line meaning and appears once in .env.example and the README", () => {
    const keys = Object.keys(ConfigSchema.shape);
    const docs = configKeyDocs();
    expect(docs.map((d) => d.key)).toEqual(keys);
    const example = read(".env.example");
    const readme = read("README.md");
    for (const d of docs) {
      expect(d.description, d.key).not.toMatch(/\n/);
      expect(example.match(new RegExp(`^# ${d.key}=`, "gm")), d.key).toHaveLength(1);
      expect(readme, d.key).toContain(`| \`${d.key}\` |`);
    }
  });

  it("When every default of .env.example is uncommented, then the configuration is the same as with nothing set", () => {
    // The values shown are the schema's real defaults (not a copy that can drift, e.g. FILE_COMPLETE_MAX_BATCH).
    const uncommented = read(".env.example")
      .split("\n")
      .filter((l) => /^# [A-Z0-9_]+=./.test(l))
      .map((l) => l.slice(2))
      .join("\n");
    const values = parseDotenv(uncommented);
    const keys = new Set(Object.keys(ConfigSchema.shape));
    const given = Object.fromEntries(Object.entries(values).filter(([k]) => keys.has(k)));
    expect(Object.keys(given).length).toBeGreaterThan(50);
    expect(given.FILE_COMPLETE_MAX_BATCH).toBe("128");
    expect(loadConfig(given)).toEqual(loadConfig({}));
  });
});
