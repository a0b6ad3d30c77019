// Import-direction check (docs/architecture.md, issue 14): the domain sits behind ports, so
//   - src/domain imports nothing from src/adapters or src/http,
//   - src/adapters imports nothing from src/http,
//   - src/config.ts imports nothing from a domain service (src/domain/*.service.ts).
// Violations that remain while the code is being moved are listed in scripts/import-allowlist.txt; the
// check fails on any violation not in that list and prints how many listed ones remain (the goal is 0).
// Run by `npm run lint`; `tsx scripts/check-imports.ts` on its own.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** One import that goes the wrong way: `from` and `to` are repository-relative paths with "/". */
export interface Violation {
  from: string;
  to: string;
  rule: string;
}

const RULES: { rule: string; from: (f: string) => boolean; to: (t: string) => boolean }[] = [
  {
    rule: "src/domain must not import src/adapters or src/http",
    from: (f) => f.startsWith("src/domain/"),
    to: (t) => t.startsWith("src/adapters/") || t.startsWith("src/http/"),
  },
  {
    rule: "src/adapters must not import src/http",
    from: (f) => f.startsWith("src/adapters/"),
    to: (t) => t.startsWith("src/http/"),
  },
  {
    rule: "src/config.ts must not import a domain service",
    from: (f) => f === "src/config.ts",
    to: (t) => /^src\/domain\/.*\.service\.ts$/.test(t),
  },
];

// Static `import … from "x"`, `export … from "x"`, side-effect `import "x"` and dynamic `import("x")`.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g;

/** Relative module specifiers of one source text (comments are not parsed; `from "./x"` in prose counts). */
export function relativeImports(source: string): string[] {
  return [...source.matchAll(SPECIFIER)].map((m) => m[1] as string);
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "generated" ? [] : tsFiles(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

const toPosix = (p: string) => p.split(sep).join("/");
const key = (v: { from: string; to: string }) => `${v.from} -> ${v.to}`;

/** Every import under `root`/src that breaks a rule, once per (importer, imported) pair, sorted. */
export function findViolations(root: string): Violation[] {
  const out: Violation[] = [];
  for (const file of tsFiles(join(root, "src"))) {
    const from = toPosix(relative(root, file));
    const rules = RULES.filter((r) => r.from(from));
    if (rules.length === 0) continue;
    for (const spec of relativeImports(readFileSync(file, "utf8"))) {
      const to = toPosix(relative(root, resolve(dirname(file), spec))).replace(/\.js$/, ".ts");
      for (const r of rules) if (r.to(to)) out.push({ from, to, rule: r.rule });
    }
  }
  const unique = new Map(out.map((v) => [key(v), v]));
  return [...unique.values()].sort((a, b) => `${a.from} ${a.to}`.localeCompare(`${b.from} ${b.to}`));
}

/** Lines `src/a.ts -> src/b.ts` of the allow-list; blank lines and `#` comments are ignored. */
export function parseAllowList(text: string): Set<string> {
  return new Set(
    text
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#")),
  );
}

export interface CheckResult {
  /** Violations not in the allow-list: the check fails when there is any. */
  fresh: Violation[];
  /** Listed violations that still exist. */
  allowed: Violation[];
  /** Allow-list lines that no longer match an import (remove them). */
  stale: string[];
}

export function checkImports(root: string, allowList: Set<string>): CheckResult {
  const all = findViolations(root);
  const seen = new Set(all.map(key));
  return {
    fresh: all.filter((v) => !allowList.has(key(v))),
    allowed: all.filter((v) => allowList.has(key(v))),
    stale: [...allowList].filter((l) => !seen.has(l)),
  };
}

function main(): number {
  const root = fileURLToPath(new URL("../", import.meta.url));
  const listFile = join(root, "scripts", "import-allowlist.txt");
  const { fresh, allowed, stale } = checkImports(root, parseAllowList(readFileSync(listFile, "utf8")));
  for (const v of fresh) console.error(`import direction: ${key(v)} (${v.rule})`);
  for (const l of stale)
    console.error(`import direction: allow-list entry no longer needed, remove it: ${l}`);
  console.log(
    `import direction: ${allowed.length} allowed violation(s) left in scripts/import-allowlist.txt`,
  );
  return fresh.length > 0 ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main();
