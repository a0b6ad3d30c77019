// Writes docs/errors.md from the error catalogue (src/domain/errors.ts).
//
//   npm run docs:errors             rewrite it (run it after adding or changing an error)
//   npm run docs:errors -- --check  exit 1 when it differs from the catalogue
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderErrorsDoc } from "../src/domain/errorsDoc.js";

const path = fileURLToPath(new URL("../docs/errors.md", import.meta.url));
const next = renderErrorsDoc();
let current = "";
try {
  current = readFileSync(path, "utf8");
} catch {}
if (current === next) process.exitCode = 0;
else if (process.argv.includes("--check")) {
  console.error(`${path} differs from src/domain/errors.ts: run npm run docs:errors`);
  process.exitCode = 1;
} else {
  writeFileSync(path, next);
  console.log(`wrote ${path}`);
}
