import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import {
  MultipartError,
  multipartBoundary,
  parseHeaderValue,
  parseMultipart,
} from "../../src/adapters/codegen/multipart.js";

/** Exactly what requests-toolbelt's MultipartEncoder(fields={k: v, ...}) emits for plain (filename-less) fields. */
function toolbeltEncode(boundary: string, fields: Array<[string, string | Uint8Array]>): Buffer {
  const chunks: Buffer[] = [];
  for (const [name, value] of fields) {
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`, "latin1"),
    );
    chunks.push(typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value));
    chunks.push(Buffer.from("\r\n", "latin1"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`, "latin1"));
  return Buffer.concat(chunks);
}

const hexBoundary = () => randomUUID().replaceAll("-", "");

describe("parseMultipart: requests-toolbelt shaped bodies", () => {
  it("round-trips the four code generator parts, zip bytes untouched", () => {
    const boundary = hexBoundary();
    // stored (level 0) so the raw content, full of CRLF and dashes, appears verbatim in the zip bytes
    const zip = zipSync(
      {
        "transformer_capabilities.json": Buffer.from('{"language": "python"}\r\n--\r\n--'),
        "generated_transformer.py": Buffer.from(`x = 1\r\n--${boundary.slice(0, 10)}\r\n----\r\n--\r\n`),
        "bin.dat": Uint8Array.from({ length: 2048 }, (_, i) => (i * 31 + 7) % 256),
      },
      { level: 0 },
    );
    expect(Buffer.from(zip).includes("\r\n--")).toBe(true);
    const body = toolbeltEncode(boundary, [
      ["transformer_image", "sslhep/servicex_func_adl_uproot_transformer:uproot5"],
      ["language", "python"],
      ["command", "/generated/transform_single_file.py"],
      ["zip_data", zip],
    ]);
    const parts = parseMultipart(body, `multipart/form-data; boundary=${boundary}`);
    expect(parts.map((p) => p.name)).toEqual(["transformer_image", "language", "command", "zip_data"]);
    expect(parts.map((p) => p.filename)).toEqual([null, null, null, null]);
    expect(parts.map((p) => p.contentType)).toEqual([null, null, null, null]);
    expect(parts[0]!.data.toString()).toBe("sslhep/servicex_func_adl_uproot_transformer:uproot5");
    expect(parts[1]!.data.toString()).toBe("python");
    expect(parts[2]!.data.toString()).toBe("/generated/transform_single_file.py");
    expect(Buffer.isBuffer(parts[3]!.data)).toBe(true);
    expect(parts[3]!.data.equals(Buffer.from(zip))).toBe(true);
  });

  it("returns copies independent of the input buffer", () => {
    const body = toolbeltEncode("b1", [["a", "xyz"]]);
    const [part] = parseMultipart(body, "multipart/form-data; boundary=b1");
    body.fill(0);
    expect(part!.data.toString()).toBe("xyz");
  });

  it("keeps data that contains near-miss delimiters", () => {
    const boundary = "abc123";
    const tricky = Buffer.from(
      "\r\n--abc12\r\n--abc123X\r\n--abc123 x\r\n--abc123\rno\r\n--ab--c123--\r\n--\r\n",
      "latin1",
    );
    const parts = parseMultipart(
      toolbeltEncode(boundary, [
        ["zip_data", tricky],
        ["b", ""],
      ]),
      `multipart/form-data; boundary=${boundary}`,
    );
    expect(parts).toHaveLength(2);
    expect(parts[0]!.data.equals(tricky)).toBe(true);
    expect(parts[1]!.data.length).toBe(0);
  });

  it("accepts quoted and unquoted boundary parameters, any case, with other parameters", () => {
    const boundary = "simple boundary'()+_,-./:=?";
    const body = toolbeltEncode(boundary, [["language", "bash"]]);
    for (const ct of [
      `multipart/form-data; boundary="${boundary}"`,
      `Multipart/Form-Data;charset=utf-8; BOUNDARY="${boundary}"`,
      `multipart/form-data ;  boundary = "${boundary}" ; foo=bar`,
    ]) {
      expect(parseMultipart(body, ct)[0]!.data.toString()).toBe("bash");
    }
    const unquoted = toolbeltEncode("0123abcd", [["language", "bash"]]);
    expect(parseMultipart(unquoted, "multipart/form-data; charset=utf-8; boundary=0123abcd")[0]!.name).toBe(
      "language",
    );
  });

  it("parses filename, content type, preamble, epilogue, transport padding and headerless parts", () => {
    const body = Buffer.from(
      [
        "This is the preamble.",
        "--XYZ  \t",
        'Content-Disposition: form-data; name="file"; filename="a \\"b\\".zip"',
        "Content-Type: application/zip",
        "",
        "PK",
        "--XYZ",
        "",
        "no headers here",
        "--XYZ",
        "content-disposition: form-data; name=plain; filename*=UTF-8''%C3%A9t%C3%A9.txt",
        "",
        "",
        "--XYZ--",
        "epilogue is ignored",
        "--XYZ",
        "",
      ].join("\r\n"),
    );
    const parts = parseMultipart(body, "multipart/form-data; boundary=XYZ");
    expect(parts).toEqual([
      { name: "file", filename: 'a "b".zip', contentType: "application/zip", data: Buffer.from("PK") },
      { name: null, filename: null, contentType: null, data: Buffer.from("no headers here") },
      { name: "plain", filename: "été.txt", contentType: null, data: Buffer.alloc(0) },
    ]);
  });

  it("returns an empty list for a body that only closes", () => {
    expect(parseMultipart(Buffer.from("--b--\r\n"), "multipart/form-data; boundary=b")).toEqual([]);
  });

  it("round-trips arbitrary binary parts (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/["\\\r\n]/.test(s)),
            fc.uint8Array({ maxLength: 300 }),
          ),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
        (fields) => {
          const boundary = hexBoundary();
          const parts = parseMultipart(
            toolbeltEncode(boundary, fields),
            `multipart/form-data; boundary=${boundary}`,
          );
          expect(parts.map((p) => p.name)).toEqual(fields.map(([n]) => n));
          expect(parts.map((p) => p.data.toString("hex"))).toEqual(
            fields.map(([, v]) => Buffer.from(v).toString("hex")),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("parseMultipart: malformed input is rejected", () => {
  const good = toolbeltEncode("bnd", [
    ["a", "1"],
    ["b", "2"],
  ]);
  const ct = "multipart/form-data; boundary=bnd";

  it.each([
    ["", /missing content type/],
    ["application/json", /not a multipart content type/],
    ["multipart/form-data", /missing boundary/],
    ["multipart/form-data; boundary=", /malformed parameter|empty value/],
    ['multipart/form-data; boundary=""', /invalid boundary/],
    ['multipart/form-data; boundary="unterminated', /unterminated quoted string/],
    [`multipart/form-data; boundary=${"x".repeat(71)}`, /invalid boundary/],
    ['multipart/form-data; boundary="ends with space "', /invalid boundary/],
    ["multipart/form-data; boundary", /malformed parameter/],
  ])("content type %j", (contentType, message) => {
    expect(() => parseMultipart(good, contentType)).toThrow(MultipartError);
    expect(() => parseMultipart(good, contentType)).toThrow(message);
  });

  it.each([
    ["empty body", Buffer.alloc(0), /opening boundary/],
    ["other boundary", toolbeltEncode("other", [["a", "1"]]), /opening boundary/],
    ["truncated (no closing delimiter)", good.subarray(0, good.length - 9), /closing boundary .* not found/],
    ["truncated inside a part", good.subarray(0, 50), /closing boundary|not terminated/],
    [
      "headers not terminated",
      Buffer.from("--bnd\r\nContent-Disposition: form-data; name=a\r\n--bnd--\r\n"),
      /not terminated/,
    ],
    [
      "header line without colon",
      Buffer.from("--bnd\r\nnot a header\r\n\r\nx\r\n--bnd--\r\n"),
      /malformed part header line/,
    ],
    [
      "header starting with a fold",
      Buffer.from("--bnd\r\n continued\r\n\r\nx\r\n--bnd--\r\n"),
      /continuation/,
    ],
    [
      "bad disposition parameters",
      Buffer.from('--bnd\r\nContent-Disposition: form-data; name="a\r\n\r\nx\r\n--bnd--\r\n'),
      /unterminated quoted string/,
    ],
    [
      "LF-only line endings",
      Buffer.from("--bnd\nContent-Disposition: form-data; name=a\n\nx\n--bnd--\n"),
      /opening boundary/,
    ],
  ])("%s", (_label, body, message) => {
    expect(() => parseMultipart(body, ct)).toThrow(MultipartError);
    expect(() => parseMultipart(body, ct)).toThrow(message);
  });
});

describe("header helpers", () => {
  it("parseHeaderValue handles quoted semicolons and escapes", () => {
    const parsed = parseHeaderValue('form-data; name="a;b"; filename="c\\\\d"; x=1');
    expect(parsed.value).toBe("form-data");
    expect(Object.fromEntries(parsed.params)).toEqual({ name: "a;b", filename: "c\\d", x: "1" });
  });

  it("multipartBoundary returns the raw boundary", () => {
    expect(multipartBoundary("multipart/form-data; boundary=4f2c8e")).toBe("4f2c8e");
    expect(multipartBoundary('multipart/mixed; boundary="a b"')).toBe("a b");
  });
});
