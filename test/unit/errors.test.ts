// The error catalogue (src/domain/errors.ts) is the one place errors are made: one code per meaning, each
// with a 4xx/5xx status and a doc, rendered into docs/errors.md, and no ad-hoc `new AppError(` elsewhere.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  AppError,
  appError,
  ERROR_CATALOGUE,
  fillTemplate,
  transformNotFound,
} from "../../src/domain/errors.js";
import { renderErrorsDoc } from "../../src/domain/errorsDoc.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const entries = Object.entries(ERROR_CATALOGUE);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(p);
    return /\.ts$/.test(d.name) && !/\.d\.ts$/.test(d.name) ? [p] : [];
  });
}

describe("The error catalogue", () => {
  it("When the entries are listed, then every code is unique, snake_case, with a 4xx/5xx status, a message and a doc", () => {
    const codes = entries.map(([code]) => code);
    expect(new Set(codes).size).toBe(codes.length);
    expect(entries.length).toBeGreaterThan(30);
    for (const [code, e] of entries) {
      expect(code, code).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(e.status >= 400 && e.status <= 599, `${code}: status ${e.status}`).toBe(true);
      expect(e.message.length, code).toBeGreaterThan(0);
      expect(e.doc.trim().length, `${code} has no doc`).toBeGreaterThan(10);
    }
  });

  it("When the codes are compared, then no two share a meaning by sharing a code with different statuses", () => {
    // One code, one status: dataset_not_found (404, URL) and unknown_dataset (422, a callback's body) differ.
    expect(ERROR_CATALOGUE.dataset_not_found.status).toBe(404);
    expect(ERROR_CATALOGUE.unknown_dataset.status).toBe(422);
    expect(ERROR_CATALOGUE.user_deleted.status).toBe(401);
    expect(ERROR_CATALOGUE.user_deleted_meanwhile.status).toBe(409);
    expect(ERROR_CATALOGUE.unverified_email.status).toBe(403);
    expect(ERROR_CATALOGUE.email_not_of_identity.status).toBe(422);
  });

  it("When an error is made from an entry, then it has the entry's code and status and the filled message", () => {
    const e = appError("in_progress", { id: "abc" });
    expect(e).toBeInstanceOf(AppError);
    expect([e.code, e.status, e.message]).toEqual([
      "in_progress",
      400,
      "Transform request with id abc is still in progress.",
    ]);
    expect(e.body).toBeUndefined();
    const t = appError("token_expired", {}, { body: "msg" });
    expect([t.status, t.body]).toEqual([401, { msg: "Token has expired" }]);
    expect(transformNotFound(7).message).toBe("Transformation request not found with id: 7");
    expect(transformNotFound(7).status).toBe(404);
    expect(appError("bad_request", { detail: "x" }, { status: 415 }).status).toBe(415);
    expect(fillTemplate("a {x} b {y}", { x: 1 })).toBe("a 1 b {y}");
  });

  it("When docs/errors.md is compared with the catalogue, then it is exactly the rendered text and lists every code", () => {
    const doc = readFileSync(join(root, "docs/errors.md"), "utf8");
    expect(doc, "docs/errors.md is out of date: run `npm run docs:errors` and commit it").toBe(
      renderErrorsDoc(),
    );
    for (const [code] of entries) expect(doc).toContain(`| \`${code}\` |`);
    expect(readFileSync(join(root, "docs/README.md"), "utf8")).toContain("(errors.md)");
  });

  it("When src is scanned, then no file but the catalogue constructs an AppError directly", () => {
    const offenders: string[] = [];
    for (const file of sourceFiles(join(root, "src"))) {
      if (file.endsWith(join("src", "domain", "errors.ts"))) continue;
      const lines = readFileSync(file, "utf8").split("\n");
      lines.forEach((line, i) => {
        if (/new\s+AppError\s*\(/.test(line)) offenders.push(`${file.slice(root.length)}:${i + 1}`);
      });
    }
    expect(offenders, "make these errors with appError(...) from src/domain/errors.ts").toEqual([]);
  });
});
