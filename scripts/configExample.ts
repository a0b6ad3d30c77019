// Writes .env.example and the README's configuration table from the configuration schema (src/config.ts).
//
//   npm run config:example             rewrite both (run it after adding or changing a key)
//   npm run config:example -- --check  exit 1 when either differs from the schema
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderEnvExample, withConfigTable } from "../src/configDocs.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const files: Array<[string, (current: string) => string]> = [
  [`${root}.env.example`, () => renderEnvExample()],
  [`${root}README.md`, (current) => withConfigTable(current)],
];

const check = process.argv.includes("--check");
let stale = 0;
for (const [path, render] of files) {
  const current = readFileSync(path, "utf8");
  const next = render(current);
  if (next === current) continue;
  stale++;
  if (check) console.error(`${path} differs from src/config.ts: run npm run config:example`);
  else {
    writeFileSync(path, next);
    console.log(`wrote ${path}`);
  }
}
process.exitCode = check && stale > 0 ? 1 : 0;
