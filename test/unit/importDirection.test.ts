// The import-direction check of `npm run lint` (scripts/check-imports.ts): the domain sits behind ports.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { checkImports, findViolations, parseAllowList } from "../../scripts/check-imports.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const dirs: string[] = [];

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "imports-"));
  dirs.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("Import direction", () => {
  it("When a domain module imports a repository, then the check reports that import", () => {
    const root = tree({
      "src/domain/a.service.ts": 'import type { X } from "../adapters/repositories/x.repo.js";\n',
      "src/adapters/repositories/x.repo.ts": "export type X = 1;\n",
    });
    const result = checkImports(root, new Set());
    expect(result.fresh.map((v) => `${v.from} -> ${v.to}`)).toEqual([
      "src/domain/a.service.ts -> src/adapters/repositories/x.repo.ts",
    ]);
  });

  it("When adapters import http, or config imports a domain service, then each is reported; allowed ways are not", () => {
    const root = tree({
      "src/adapters/x.ts": 'import { y } from "../http/y.js";\nimport { p } from "../domain/ports.js";\n',
      "src/config.ts":
        'import { c } from "./domain/data.service.js";\nimport { e } from "./domain/errors.js";\n',
      "src/http/routes/r.ts":
        'import { d } from "../../domain/data.service.js";\nconst m = await import("../../adapters/x.js");\n',
    });
    expect(findViolations(root).map((v) => `${v.from} -> ${v.to}`)).toEqual([
      "src/adapters/x.ts -> src/http/y.ts",
      "src/config.ts -> src/domain/data.service.ts",
    ]);
  });

  it("When a violation is in the allow-list, then only new ones fail and unused entries are named", () => {
    const root = tree({
      "src/domain/a.ts": 'import "../adapters/old.js";\nexport { z } from "../http/new.js";\n',
    });
    const allow = parseAllowList(
      "# comment\nsrc/domain/a.ts -> src/adapters/old.ts\nsrc/domain/gone.ts -> src/http/x.ts\n",
    );
    const result = checkImports(root, allow);
    expect(result.fresh.map((v) => v.to)).toEqual(["src/http/new.ts"]);
    expect(result.allowed.map((v) => v.to)).toEqual(["src/adapters/old.ts"]);
    expect(result.stale).toEqual(["src/domain/gone.ts -> src/http/x.ts"]);
  });

  it("When the repository itself is checked, then it has no violation beyond its allow-list", () => {
    const allow = parseAllowList(readFileSync(join(repoRoot, "scripts/import-allowlist.txt"), "utf8"));
    expect(checkImports(repoRoot, allow).fresh).toEqual([]);
  });
});
