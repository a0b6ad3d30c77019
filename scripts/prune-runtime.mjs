// Runs in the image's runtime stage after `npm ci --omit=dev` (Dockerfile): deletes from node_modules what the
// compiled App never loads, to keep the image small (docs/decisions.md, D34):
//   - source maps and TypeScript declarations (*.map, *.d.ts, *.d.mts, *.d.cts);
//   - Prisma's query compilers for the databases the App does not speak (it speaks only PostgreSQL, through
//     node-postgres or PGlite): the sqlserver, cockroachdb, mysql and sqlite builds;
//   - READMEs, changelogs and other Markdown.
// Plain Node (no dependencies), so it runs before anything else is installed. Prints what it removed.
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

const root = process.argv[2] ?? "node_modules";
const OTHER_DATABASES =
  /\.(sqlserver|cockroachdb|mysql|sqlite)\.(wasm|js|mjs|cjs)|\.(sqlserver|cockroachdb|mysql|sqlite)\.wasm-base64\.(js|mjs)$/;
const DROP = [/\.map$/, /\.d\.(ts|mts|cts)$/, /\.md$/i, /^(README|CHANGELOG|HISTORY)(\.\w+)?$/i];

let files = 0;
let bytes = 0;
function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) walk(p);
    else if (entry.isFile() && (DROP.some((re) => re.test(entry.name)) || isOtherDatabase(p, entry.name))) {
      bytes += statSync(p).size;
      files++;
      rmSync(p);
    }
  }
}
function isOtherDatabase(p, name) {
  return p.includes(join("@prisma", "client", "runtime")) && OTHER_DATABASES.test(name);
}

walk(root);
console.log(`prune-runtime: removed ${files} files, ${(bytes / 1e6).toFixed(1)} MB from ${root}`);
