// `npm start` runs the compiled App (dist/main.js). Run as `prestart`, this compiles src/ first when dist/ is
// missing or older than the sources, so `npm ci && npm start` stays one command and an edit is never served
// stale. `--stamp` (the end of `npm run build`) only records that dist/ is up to date.
//
// Plain JavaScript on purpose: it must run before anything is compiled, on Node 20 as on 24.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const stamp = path.join(root, "dist", ".build-stamp");
const inputs = ["src", "tsconfig.json", "tsconfig.build.json", "package-lock.json"];

/** Newest modification time (ms) of a file, or of every file under a directory. */
function newest(p) {
  let st;
  try {
    st = statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const e of readdirSync(p)) max = Math.max(max, newest(path.join(p, e)));
  return max;
}

function writeStamp() {
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

if (process.argv.includes("--stamp")) {
  writeStamp();
  process.exit(0);
}

const built = existsSync(path.join(root, "dist", "main.js")) && existsSync(stamp);
const stale = !built || Math.max(...inputs.map((i) => newest(path.join(root, i)))) > statSync(stamp).mtimeMs;
if (!stale) process.exit(0);

const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
if (!existsSync(tsc)) {
  if (built) {
    console.warn("build-if-stale: TypeScript is not installed (production install); serving dist/ as it is");
    process.exit(0);
  }
  console.error(
    "build-if-stale: dist/ is missing and TypeScript is not installed: run `npm ci`, then `npm run build`",
  );
  process.exit(1);
}
console.log(
  built ? "Sources changed: compiling src/ into dist/ ..." : "Compiling src/ into dist/ (first start) ...",
);
const started = Date.now();
const r = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.build.json")], {
  cwd: root,
  stdio: "inherit",
});
if (r.status !== 0) {
  // tsc still emits JavaScript when it reports type errors; starting lets a developer try a change mid-edit,
  // while `npm run build` (CI, the image) fails on them.
  if (r.status === 2 && existsSync(path.join(root, "dist", "main.js"))) {
    console.warn("build-if-stale: type errors above; starting the emitted JavaScript anyway");
    process.exit(0);
  }
  process.exit(r.status ?? 1);
}
writeStamp();
console.log(`Compiled in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
