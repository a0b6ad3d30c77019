// POST /servicex/transformation reads its JSON body as it streams in (src/http/middleware/streamBody.ts,
// docs/decisions.md D37): the same request as before for any way the body arrives (chunked, compressed,
// with a byte-order mark), the same 4xx answers for bodies that are too large or not JSON, and its own limit
// (MAX_SUBMIT_BODY) next to every other route's (MAX_REQUEST_BODY).
import { createHash } from "node:crypto";
import http from "node:http";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

const submitDefaults = {
  selection: "(call Select (call EventDataset 'ds') x)",
  codegen: "passthrough",
  "result-destination": "object-store",
};

interface Raw {
  status: number;
  json: Record<string, unknown>;
}

/** A POST with a raw body written in `pieces` (chunked transfer when no content-length is given). */
function post(
  url: string,
  pieces: Buffer[],
  headers: Record<string, string> = { "content-type": "application/json" },
): Promise<Raw> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: u.pathname, method: "POST", headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {}
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on("error", reject);
    (async () => {
      for (const p of pieces) {
        req.write(p);
        await new Promise((r) => setImmediate(r));
      }
      req.end();
    })().catch(reject);
  });
}

/** `bytes` cut into pieces of `size`. */
const cut = (bytes: Buffer, size: number) =>
  Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));

let app: TestApp;
let small: TestApp;
const counts = async (a: TestApp) =>
  (
    await a.deps.db.sql.query<{ r: number; f: number }>(
      "SELECT (SELECT count(*) FROM requests)::int AS r, (SELECT count(*) FROM files)::int AS f",
    )
  )[0]!;

beforeAll(async () => {
  [app, small] = await Promise.all([
    startTestApp({ backend: "postgres", broker: "memory" }),
    startTestApp({
      backend: "postgres",
      broker: "memory",
      env: { MAX_SUBMIT_BODY: "2kb", MAX_REQUEST_BODY: "1kb" },
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([app?.close(), small?.close()]);
});

describe("Given the streamed submit body", () => {
  it("When a file list arrives in 7-byte pieces with repeats, then the request holds the sorted distinct list under its upstream dataset name", async () => {
    const tag = Math.random().toString(36).slice(2);
    const list = Array.from(
      { length: 500 },
      (_, i) => `root://eos.example//stream/${tag}/é${(i * 7919) % 500}.root`,
    );
    const sent = [...list, list[3]!, list[42]!];
    const body = Buffer.from(JSON.stringify({ ...submitDefaults, title: "chunks ✓", "file-list": sent }));
    const r = await post(`${app.url}/servicex/transformation`, cut(body, 7));
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const rec = await app.deps.repos.requests.find(String(r.json.request_id));
    expect(rec?.title).toBe("chunks ✓");
    const canonical = [...new Set(sent)].sort();
    const files = await app.deps.db.sql.query<{ paths: string; name: string }>(
      `SELECT f.paths, d.name FROM files f JOIN datasets d ON d.id = f.dataset_id WHERE d.id = $1 ORDER BY f.id`,
      [rec!.didId],
    );
    expect(files.map((f) => f.paths)).toEqual(canonical);
    expect(files[0]!.name).toBe(createHash("sha256").update(canonical.join(" ")).digest("hex"));
    expect(rec?.files).toBe(500);
  });

  it("When paths hold quotes, backslashes, braces, commas, spaces, tabs, lone surrogates or the word NULL, then they are stored exactly as sent", async () => {
    const tag = Math.random().toString(36).slice(2);
    const plain = ['a"b', "c\\d", "{e,f}", "NULL", " g ", 'h\\"i', "ü😀", "j\\\\"];
    for (const extra of [[], ["\ud800", "k\tl"]]) {
      const odd = [...plain, ...extra].map((x) => `root://eos.example//odd/${tag}/${extra.length}/${x}`);
      const r = await post(`${app.url}/servicex/transformation`, [
        Buffer.from(JSON.stringify({ ...submitDefaults, "file-list": odd })),
      ]);
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      const rec = await app.deps.repos.requests.find(String(r.json.request_id));
      const rows = await app.deps.db.sql.query<{ paths: string }>(
        "SELECT paths FROM files WHERE dataset_id = $1 ORDER BY id",
        [rec!.didId],
      );
      // A lone surrogate cannot be UTF-8: it is stored as U+FFFD, as the driver always sent it.
      expect(rows.map((x) => x.paths)).toEqual([...odd].sort().map((x) => x.replace("\ud800", "\ufffd")));
    }
  });

  it("When the body is gzip-compressed or starts with a byte-order mark, then it is read as express.json read it", async () => {
    const tag = Math.random().toString(36).slice(2);
    const body = Buffer.from(JSON.stringify({ ...submitDefaults, "file-list": [`root://x//${tag}/a.root`] }));
    const gz = await post(`${app.url}/servicex/transformation`, cut(gzipSync(body), 100), {
      "content-type": "application/json; charset=utf-8",
      "content-encoding": "gzip",
    });
    expect(gz.status, JSON.stringify(gz.json)).toBe(200);
    const bom = await post(
      `${app.url}/servicex/transformation`,
      cut(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]), 2),
      { "content-type": "application/vnd.api+json" },
    );
    expect(bom.status, JSON.stringify(bom.json)).toBe(200);
    expect(bom.json.request_id).not.toBe(gz.json.request_id);
  });

  it("When the body is not JSON, is cut short, has trailing text or is not an object, then 400 'The json request was malformed' and nothing is written", async () => {
    const before = await counts(app);
    const good = JSON.stringify({ ...submitDefaults, "file-list": ["root://x//m.root"] });
    const bad = [
      good.slice(0, -5),
      `${good} x`,
      good.replace('"codegen"', "codegen"),
      good.replace("root://x//m.root", "root://x//m\u0001.root"),
      '"just a string"',
      "nonsense",
      "   ",
    ];
    for (const text of bad) {
      const r = await post(`${app.url}/servicex/transformation`, cut(Buffer.from(text), 11));
      expect({ text, status: r.status }).toEqual({ text, status: 400 });
      expect(String(r.json.message), text).toMatch(/^The json request was malformed/);
      expect(typeof r.json.code).toBe("string");
    }
    // An empty body is read as {} (express.json's rule): the schema then names what is missing.
    const empty = await post(`${app.url}/servicex/transformation`, [], {
      "content-type": "application/json",
      "content-length": "0",
    });
    expect(empty.status).toBe(400);
    expect(String(empty.json.message)).toMatch(/^The json request was malformed: .*selection/);
    expect(await counts(app)).toEqual(before);
  });

  it("When a file list has more than 1,000,000 entries, then 400 names the limit and nothing is written", async () => {
    const before = await counts(app);
    const body = Buffer.from(JSON.stringify({ ...submitDefaults, "file-list": Array(1_000_001).fill("a") }));
    const r = await post(`${app.url}/servicex/transformation`, cut(body, 65536));
    expect(r.status).toBe(400);
    expect(String(r.json.message)).toMatch(/at most 1000000 files per request/);
    expect(await counts(app)).toEqual(before);
  });

  it("When a submit is over MAX_SUBMIT_BODY, then 413 names that limit; MAX_REQUEST_BODY bounds every other route but not the submit", async () => {
    const before = await counts(small);
    const list = (n: number) => Array.from({ length: n }, (_, i) => `root://eos.example//limit/${i}.root`);
    // 1.5 KB: over MAX_REQUEST_BODY (1 KB), under MAX_SUBMIT_BODY (2 KB).
    const mid = Buffer.from(JSON.stringify({ ...submitDefaults, "file-list": list(30) }));
    expect(mid.length).toBeGreaterThan(1024);
    expect(mid.length).toBeLessThan(2048);
    const ok = await post(`${small.url}/servicex/transformation`, cut(mid, 100));
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);

    const big = Buffer.from(JSON.stringify({ ...submitDefaults, "file-list": list(100) }));
    for (const headers of [
      { "content-type": "application/json" } as Record<string, string>,
      { "content-type": "application/json", "content-length": String(big.length) },
    ]) {
      const r = await post(`${small.url}/servicex/transformation`, cut(big, 100), headers);
      expect(r.status).toBe(413);
      expect(String(r.json.message)).toMatch(/too large: the limit is 2048 bytes/);
    }
    // Another JSON route keeps MAX_REQUEST_BODY.
    const other = await post(`${small.url}/servicex/internal/transformation/999999/files`, [
      Buffer.from(JSON.stringify(list(60).map((p) => ({ paths: p })))),
    ]);
    expect(other.status).toBe(413);
    expect(String(other.json.message)).toMatch(/the limit is 1024 bytes/);
    const after = await counts(small);
    expect(after).toEqual({ r: before.r + 1, f: before.f + 30 });
  });
});
