// The incremental JSON parser of the submit body (src/http/middleware/jsonStream.ts) against JSON.parse:
// the same value for any JSON text cut into any chunks, and a SyntaxError wherever JSON.parse has one.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JsonStreamParser } from "../../src/http/middleware/jsonStream.js";

/** Parses `bytes` fed in pieces cut at `cuts` (offsets, any order). */
function parseInChunks(bytes: Buffer, cuts: number[]): unknown {
  const p = new JsonStreamParser();
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const c of at) {
    p.write(bytes.subarray(from, c));
    from = c;
  }
  p.write(bytes.subarray(from));
  return p.end();
}

function outcome(f: () => unknown): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    return { ok: false, error: (e as Error).name };
  }
}

const cuts = fc.array(fc.nat(), { maxLength: 12 });

describe("JsonStreamParser", () => {
  it("When any JSON document arrives in any chunks, then it gives the value JSON.parse gives", () => {
    fc.assert(
      fc.property(fc.jsonValue(), cuts, fc.boolean(), (v, c, pretty) => {
        const text = JSON.stringify(v, null, pretty ? 2 : undefined);
        const bytes = Buffer.from(text, "utf8");
        expect(parseInChunks(bytes, c)).toStrictEqual(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it("When strings carry escapes, surrogates and non-ASCII text cut mid-character, then they decode as JSON.parse does", () => {
    const tricky = fc.constantFrom(
      '["a\\"b", "c\\\\", "\\\\\\"", "\\u00e9\\ud83d\\ude00", "\\ud800", "é😀ü", "\\/\\b\\f\\n\\r\\t"]',
      '{"k\\"ey": "v", "\\u0041": 1}',
      '["\\\\", "x\\\\\\\\"]',
    );
    fc.assert(
      fc.property(tricky, cuts, (text, c) => {
        expect(parseInChunks(Buffer.from(text, "utf8"), c)).toStrictEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it("When any text arrives, then it fails exactly where JSON.parse fails and otherwise agrees", () => {
    const alphabet = fc.constantFrom(...'{}[]:,"\\ 0123456789-+.eEtrufalsn\n\tüx'.split(""));
    const garbage = fc.array(alphabet, { maxLength: 30 }).map((a) => a.join(""));
    const mutated = fc.tuple(fc.jsonValue(), fc.nat(), garbage).map(([v, at, g]) => {
      const t = JSON.stringify(v);
      const k = at % (t.length + 1);
      return t.slice(0, k) + g + t.slice(k + g.length);
    });
    fc.assert(
      fc.property(fc.oneof(garbage, mutated), cuts, (text, c) => {
        const want = outcome(() => JSON.parse(text));
        const got = outcome(() => parseInChunks(Buffer.from(text, "utf8"), c));
        expect(got.ok, text).toBe(want.ok);
        if (want.ok && got.ok) expect(got.value).toStrictEqual(want.value);
        if (!got.ok) expect(got.error).toBe("SyntaxError");
      }),
      { numRuns: 3000 },
    );
  });

  it("When a key is __proto__ or repeated, then it is an own property holding the last value at its first position", () => {
    const text = '{"a": 1, "__proto__": {"x": 1}, "b": 2, "a": 3}';
    const v = parseInChunks(Buffer.from(text), [5, 17]) as Record<string, unknown>;
    expect(v).toStrictEqual(JSON.parse(text));
    expect(Object.keys(v)).toEqual(["a", "__proto__", "b"]);
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(v.a).toBe(3);
  });

  it("When raw control characters, invalid UTF-8 or a byte-order mark arrive, then it does what the body decoder and JSON.parse do", () => {
    expect(() => parseInChunks(Buffer.from('["a\nb"]'), [])).toThrow(SyntaxError);
    expect(() => parseInChunks(Buffer.from('["a\\qb"]'), [])).toThrow(SyntaxError);
    const invalid = Buffer.concat([Buffer.from('["a'), Buffer.from([0xff, 0xc3]), Buffer.from('b"]')]);
    expect(parseInChunks(invalid, [4])).toStrictEqual(JSON.parse(invalid.toString("utf8")));
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a": [1, 2]}')]);
    expect(parseInChunks(bom, [1, 2])).toStrictEqual({ a: [1, 2] });
  });

  it("When a million-entry file list arrives in 64 KiB chunks, then every path comes back in order", () => {
    const list = Array.from({ length: 1_000_000 }, (_, i) => `root://eos.example//store/file_${i}.root`);
    const bytes = Buffer.from(JSON.stringify({ "file-list": list, selection: "x" }));
    const p = new JsonStreamParser();
    for (let i = 0; i < bytes.length; i += 65536) p.write(bytes.subarray(i, i + 65536));
    const v = p.end() as { "file-list": string[]; selection: string };
    expect(v["file-list"].length).toBe(1_000_000);
    const wrong = v["file-list"].findIndex((p, i) => p !== list[i]);
    expect(wrong).toBe(-1);
    expect(v.selection).toBe("x");
  });
});
