// The submit's file-list helpers work in slices (a 1,000,000-path list is never one string) and must give
// exactly what the whole-list forms gave: the canonical list, the dataset name and the Idempotency-Key hash.
import { createHash } from "node:crypto";
import fc from "fast-check";
import { z } from "zod";
import { describe, expect, it } from "vitest";
import { canonicalFileList, fileListDatasetName } from "../../src/domain/did.js";
import { jsonSha256 } from "../../src/domain/transformation.service.js";
import { describeZodError } from "../../src/http/openapi.js";
import { text } from "../../src/http/schemas/common.js";
import { MAX_FILE_LIST, SubmitBody } from "../../src/http/schemas/transformation.schemas.js";

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const paths = fc.array(
  fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constantFrom("a", "b", "é", "\ud800")),
  {
    maxLength: 60,
  },
);

describe("File-list helpers", () => {
  it("When a list has repeats and any text, then canonicalFileList is [...new Set(list)].sort() and leaves the list alone", () => {
    fc.assert(
      fc.property(paths, (list) => {
        const before = [...list];
        expect(canonicalFileList(list)).toEqual([...new Set(list)].sort());
        expect(list).toEqual(before);
      }),
    );
  });

  it("When lists are longer than one hashing slice, then the dataset name is sha256 of the paths joined by spaces", () => {
    for (const n of [0, 1, 1023, 1024, 1025, 4096, 10_000]) {
      const list = Array.from({ length: n }, (_, i) => `root://eos.example//store/${i}.root`);
      expect(fileListDatasetName(list), String(n)).toBe(sha256(list.join(" ")));
    }
    fc.assert(
      fc.property(paths, (list) => {
        expect(fileListDatasetName(list)).toBe(sha256(list.join(" ")));
      }),
    );
  });

  it("When a submit is hashed for its Idempotency-Key, then the digest is sha256 of its JSON text", () => {
    const input = (fileList: string[] | null) => ({
      title: 't "quoted" é',
      did: null,
      fileList,
      selection: "(call Select)",
      codegen: "uproot",
      treeName: undefined,
      workers: 3,
      resultDestination: "object-store",
      resultFormat: "parquet",
    });
    for (const n of [0, 1, 1024, 1025, 9000]) {
      const v = input(Array.from({ length: n }, (_, i) => `root://x//"${i}"\\.root`));
      expect(jsonSha256(v), String(n)).toBe(sha256(JSON.stringify(v)));
    }
    expect(jsonSha256(input(null))).toBe(sha256(JSON.stringify(input(null))));
    fc.assert(
      fc.property(paths, fc.string(), (list, title) => {
        const v = { ...input(list), title };
        expect(jsonSha256(v)).toBe(sha256(JSON.stringify(v)));
      }),
    );
  });

  it("When a file-list breaks a rule or keeps them all, then SubmitBody answers as the element-by-element zod schema did", () => {
    const reference = z.object({
      "file-list": z
        .array(text(4096).min(1, { message: "file paths must not be empty" }))
        .max(MAX_FILE_LIST, { message: `at most ${MAX_FILE_LIST} files per request` })
        .nullish(),
    });
    const rest = { selection: "s", codegen: "c", "result-destination": "object-store" };
    const lists: unknown[] = [
      undefined,
      null,
      [],
      ["a", "b"],
      ["a", ""],
      ["a", "x".repeat(4097), 3, null, "b\u0000c"],
      "not a list",
      { 0: "a" },
      [["nested"]],
      Array(MAX_FILE_LIST + 1).fill("a"),
    ];
    for (const list of lists) {
      const body = list === undefined ? rest : { ...rest, "file-list": list };
      const want = reference.safeParse(body);
      const got = SubmitBody.safeParse(body);
      const label = JSON.stringify(list)?.slice(0, 80) ?? "undefined";
      expect(got.success, label).toBe(want.success);
      if (want.success && got.success) expect(got.data["file-list"], label).toEqual(want.data["file-list"]);
      if (!want.success && !got.success) {
        expect(describeZodError(got.error), label).toBe(describeZodError(want.error));
      }
    }
  });
});
