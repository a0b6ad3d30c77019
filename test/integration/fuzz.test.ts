// Property-based robustness tests (fast-check) for every client and internal endpoint, over real HTTP so
// that body parsing, routing and path decoding are exercised too. For every invalid input the App must
// answer 4xx (never 5xx) with a JSON body carrying `message`, and must not have written anything: row
// counts of requests, datasets, files, transform_result and file_status — and the state columns of the
// seeded requests and datasets — are compared before and after each rejected call.
import { randomBytes, randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_FILE_LIST } from "../../src/http/schemas/transformation.schemas.js";
import { slackBlockActionsPayload, slackInteractionBody, slackSignedHeaders } from "../helpers/fakeSlack.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

let app: TestApp;

const INTERNAL = "/servicex/internal/transformation";
const NUL = "\u0000";
const INT32_MAX = 2 ** 31 - 1;
const SAFE_MAX = Number.MAX_SAFE_INTEGER;
const RUNS = 50;
const SLACK_SIGNING_SECRET = `fuzz-slack-${randomBytes(8).toString("hex")}`;
/** Where verified Slack interactions are answered: a closed local port, so no reply leaves the machine. */
const SLACK_RESPONSE_URL = "http://127.0.0.1:9/fuzz-response";
/** FUZZ_SCALE=10 multiplies every property's runs (a longer hunt; the default keeps the file well under a minute). */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const runs = (numRuns = RUNS) => ({
  numRuns: Math.max(1, Math.round(numRuns * SCALE)),
  interruptAfterTimeLimit: 30_000 * Math.max(1, SCALE),
});

// ---------------------------------------------------------------------------------------------------
// HTTP and database helpers

interface Res {
  call: string;
  status: number;
  contentType: string;
  text: string;
  json: unknown;
}

interface Send {
  body?: string | Uint8Array;
  /** Content-Type; undefined = none at all (the body goes as bytes so fetch adds none). */
  type?: string;
  headers?: Record<string, string>;
}

async function http(method: string, path: string, opts: Send = {}): Promise<Res> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.type !== undefined) headers["content-type"] = opts.type;
  let body: string | Uint8Array | undefined = opts.body;
  if (typeof body === "string" && opts.type === undefined) body = new TextEncoder().encode(body);
  const res = await fetch(`${app.url}${path}`, { method, headers, body: body as RequestInit["body"] });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const shown = path.length > 200 ? `${path.slice(0, 200)}…(${path.length} chars)` : path;
  return {
    call: `${method} ${shown}`,
    status: res.status,
    contentType: res.headers.get("content-type") ?? "",
    text,
    json,
  };
}

const sendJson = (method: string, path: string, value: unknown) =>
  http(method, path, { type: "application/json", body: JSON.stringify(value) });

const seg = (s: string | number) => encodeURIComponent(String(s));

function query(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs.length === 0 ? "" : `?${pairs.map(([k, v]) => `${seg(k)}=${seg(v)}`).join("&")}`;
}

const SNAPSHOT_SQL = `SELECT
  (SELECT count(*) FROM requests)::int AS requests,
  (SELECT count(*) FROM datasets)::int AS datasets,
  (SELECT count(*) FROM files)::int AS files,
  (SELECT count(*) FROM transform_result)::int AS transform_result,
  (SELECT count(*) FROM file_status)::int AS file_status,
  (SELECT md5(coalesce(string_agg(concat_ws('|', id, status, files, files_completed, files_failed, total_bytes,
     total_events, failure_description, finish_time), ',' ORDER BY id), '')) FROM requests) AS request_state,
  (SELECT md5(coalesce(string_agg(concat_ws('|', id, lookup_status, stale, n_files, events, size), ','
     ORDER BY id), '')) FROM datasets) AS dataset_state`;

async function snapshot(): Promise<Record<string, unknown>> {
  const rows = await app.deps.db.sql.query(SNAPSHOT_SQL);
  return rows[0]!;
}

const show = (r: Res) => `${r.call} → ${r.status} ${r.contentType} ${r.text.slice(0, 400)}`;

/** 4xx with a JSON `message` (a string, or for the legacy per-file endpoint possibly an object). */
function expectClientError(
  r: Res,
  opts: { status?: number | readonly number[]; objectMessage?: boolean } = {},
): void {
  expect(r.status, show(r)).toBeGreaterThanOrEqual(400);
  expect(r.status, show(r)).toBeLessThan(500);
  if (opts.status !== undefined) {
    const allowed = typeof opts.status === "number" ? [opts.status] : opts.status;
    expect(allowed, show(r)).toContain(r.status);
  }
  expect(r.contentType, show(r)).toMatch(/^application\/json/);
  const message = (r.json as { message?: unknown } | null | undefined)?.message;
  if (opts.objectMessage && typeof message === "object" && message !== null) {
    for (const v of Object.values(message)) expect(typeof v, show(r)).toBe("string");
  } else {
    expect(typeof message, show(r)).toBe("string");
  }
}

/** Runs one call that must be rejected: 4xx + JSON message, and nothing written. */
async function rejected(
  send: () => Promise<Res>,
  opts: { status?: number | readonly number[]; objectMessage?: boolean } = {},
): Promise<Res> {
  const before = await snapshot();
  const r = await send();
  const after = await snapshot();
  expectClientError(r, opts);
  expect(after, `partial write by ${show(r)}`).toEqual(before);
  expect(Object.prototype, "Object.prototype polluted").not.toHaveProperty("polluted");
  return r;
}

/** Any answer but 5xx, always JSON; a 4xx writes nothing. */
async function neverServerError(send: () => Promise<Res>): Promise<Res> {
  const before = await snapshot();
  const r = await send();
  const after = await snapshot();
  expect(r.status, show(r)).toBeLessThan(500);
  expect(r.contentType, show(r)).toMatch(/^application\/json/);
  if (r.status >= 400) {
    expectClientError(r);
    expect(after, `partial write by ${show(r)}`).toEqual(before);
  }
  return r;
}

/** Like rejected(), but records the failure and goes on (examples that probe several endpoints). */
async function collect(failures: string[], send: () => Promise<Res>): Promise<void> {
  try {
    await rejected(send);
  } catch (e) {
    failures.push(String((e as Error).message).split("\n")[0]!);
  }
}

// ---------------------------------------------------------------------------------------------------
// Seed: a file-list request (Running, 3 files), a DID request whose dataset is being looked up (2 files
// already streamed in by the "DID finder"), and a canceled request.

const seed = {
  flRequest: "",
  flRequestPk: 0,
  flDataset: 0,
  flFiles: [] as number[],
  didRequest: "",
  didDataset: 0,
  didFiles: [] as number[],
  canceledRequest: "",
};

const submitDefaults = {
  selection: "(call ResultTTree (call Select (call SelectMany (call EventDataset 'ds') j) pt) 'tree')",
  codegen: "passthrough",
  "result-destination": "object-store",
  "result-format": "parquet",
};

async function submitOk(body: Record<string, unknown>): Promise<string> {
  const r = await sendJson("POST", "/servicex/transformation", { ...submitDefaults, ...body });
  expect(r.status, show(r)).toBe(200);
  return (r.json as { request_id: string }).request_id;
}

async function requestRow(requestId: string): Promise<{ id: number; did_id: number; status: string }> {
  const rows = await app.deps.db.sql.query<{ id: number; did_id: number; status: string }>(
    "SELECT id, did_id, status::text AS status FROM requests WHERE request_id = $1",
    [requestId],
  );
  return rows[0]!;
}

async function fileIds(datasetId: number): Promise<number[]> {
  const rows = await app.deps.db.sql.query<{ id: number }>(
    "SELECT id FROM files WHERE dataset_id = $1 ORDER BY id",
    [datasetId],
  );
  return rows.map((r) => r.id);
}

/** A fresh DID request in Lookup: its dataset is `looking`, so DID-finder callbacks would change it. */
async function lookupDataset(): Promise<{ requestId: string; datasetId: number }> {
  const requestId = await submitOk({
    did: `rucio://mc23_13p6TeV:fuzz.victim.${randomBytes(6).toString("hex")}`,
  });
  const row = await requestRow(requestId);
  expect(row.status).toBe("lookup");
  return { requestId, datasetId: row.did_id };
}

beforeAll(async () => {
  app = await startTestApp({
    backend: "postgres",
    broker: "memory",
    env: { SLACK_SIGNING_SECRET, RATE_LIMIT_PER_MINUTE: "1000000" },
  });
  const tag = randomBytes(4).toString("hex");

  seed.flRequest = await submitOk({
    title: "fuzz seed (file list)",
    "file-list": [0, 1, 2].map((i) => `root://eos.example//fuzz/${tag}/f${i}.root`),
  });
  const fl = await requestRow(seed.flRequest);
  expect(fl.status).toBe("running");
  seed.flRequestPk = fl.id;
  seed.flDataset = fl.did_id;
  seed.flFiles = await fileIds(fl.did_id);
  expect(seed.flFiles).toHaveLength(3);

  const did = await lookupDataset();
  seed.didRequest = did.requestId;
  seed.didDataset = did.datasetId;
  const added = await sendJson("PUT", `${INTERNAL}/${seed.didDataset}/files`, [
    {
      paths: [`root://a//${tag}/d0.root`, `root://b//${tag}/d0.root`],
      adler32: "0badcafe",
      file_size: 10,
      file_events: 5,
    },
    { paths: [`root://a//${tag}/d1.root`], adler32: null, file_size: 20, file_events: 7 },
  ]);
  expect(added.status, show(added)).toBe(200);
  seed.didFiles = await fileIds(seed.didDataset);
  expect(seed.didFiles).toHaveLength(2);

  seed.canceledRequest = await submitOk({ "file-list": [`root://eos.example//fuzz/${tag}/canceled.root`] });
  const c = await http("GET", `/servicex/transformation/${seed.canceledRequest}/cancel`);
  expect(c.status, show(c)).toBe(200);
});

afterAll(async () => {
  await app?.close();
});

// ---------------------------------------------------------------------------------------------------
// Arbitraries of invalid values

/** A JSON value emitted verbatim (numbers JSON.stringify cannot write: 1e400, 2^63, …). */
class Raw {
  constructor(readonly text: string) {}
}

function toJson(value: unknown): string {
  const nonce = randomBytes(6).toString("hex");
  const raws: string[] = [];
  const s = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Raw) {
      raws.push(v.text);
      return `__raw_${nonce}_${raws.length - 1}__`;
    }
    return v;
  });
  return s.replace(new RegExp(`"__raw_${nonce}_(\\d+)__"`, "g"), (_m, i: string) => raws[Number(i)]!);
}

const shortStr = fc.string({ maxLength: 12 });
const unicodeStr = fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 });
const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const withNul = fc
  .tuple(fc.oneof(shortStr, unicodeStr), fc.oneof(shortStr, unicodeStr))
  .map(([a, b]) => `${a}${NUL}${b}`);
const longStr = (max: number) =>
  fc
    .tuple(fc.integer({ min: max + 1, max: max + 64 }), fc.constantFrom("x", "é", "😀", "中", "\u00e9\u0301"))
    .map(([n, c]) => c.repeat(n));
/** Non-null, non-string JSON values. */
const notString = fc.oneof(
  fc.integer(),
  finite,
  fc.boolean(),
  fc.array(shortStr, { maxLength: 3 }),
  fc.dictionary(shortStr, shortStr, { maxKeys: 3 }),
);
const notObject = fc.oneof(
  fc.integer(),
  finite,
  fc.boolean(),
  shortStr,
  fc.array(fc.integer(), { maxLength: 3 }),
);

/** A string field of at most `max` characters without NUL; null is valid only when `nullable`. */
const badText = (max: number, opts: { nullable?: boolean; long?: boolean } = {}) =>
  fc.oneof(
    notString,
    withNul,
    ...(opts.long === false ? [] : [longStr(max)]),
    ...(opts.nullable ? [] : [fc.constant(null)]),
  );

const RAW_HUGE = [
  "1e400",
  "-1e400",
  "123456789012345678901234567890",
  "9223372036854775808",
  "-9223372036854775809",
];

/** Integer fields accepting numbers or numeric strings in [min, max]. */
const badInt = (min: number, max: number, opts: { nullable?: boolean } = {}) =>
  fc.oneof(
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: min - 1 }),
    fc
      .constantFrom(max + 1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 63, 2 ** 64, 1e20, 1e300, -(2 ** 63))
      .filter((n) => n > max || n < min),
    finite.filter((d) => !Number.isInteger(d)),
    fc
      .constantFrom(...RAW_HUGE, "0.5", "-1.5", "1e-7", "2147483648", "9007199254740993")
      .filter((t) => !Number.isSafeInteger(Number(t)) || Number(t) < min || Number(t) > max)
      .map((t) => new Raw(t)),
    fc.string().filter((s) => !/^-?\d+$/.test(s)),
    fc.constantFrom(
      "1.5",
      "1e3",
      " 1",
      "0x10",
      "+1",
      "١٢",
      "",
      "NaN",
      "Infinity",
      "-1",
      "99999999999999999999",
    ),
    fc.constant(String(max + 1)),
    fc.boolean(),
    fc.array(fc.integer(), { maxLength: 2 }),
    fc.dictionary(shortStr, fc.integer(), { maxKeys: 2 }),
    ...(opts.nullable ? [] : [fc.constant(null)]),
  );

/** z.number() in [0, 1e12] (no numeric strings). */
const badSeconds = fc.oneof(
  fc.double({ max: -Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(1e12 + 1, 1e300).map((n) => n),
  fc.constantFrom("1e400", "-1e400").map((t) => new Raw(t)),
  fc.constantFrom("5", "1.5", "", "abc"),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
);
const badRate = fc.oneof(
  fc.double({ max: -Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom("1e400", "-1e400").map((t) => new Raw(t)),
  fc.constantFrom("5", "abc"),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 2 }),
);
const badEnum = (valid: readonly string[], opts: { nullable?: boolean } = {}) =>
  fc.oneof(
    fc.string({ maxLength: 20 }).filter((s) => !valid.includes(s)),
    fc.constantFrom(
      ...valid.map((v) => v.toUpperCase()),
      ...valid.map((v) => ` ${v}`),
      ...valid.map((v) => `${v}${NUL}`),
    ),
    notString,
    ...(opts.nullable ? [] : [fc.constant(null)]),
  );

/** A deleted field. */
const MISSING = Symbol("missing");
const KEEP = Symbol("keep");
interface FieldSpec {
  bad: fc.Arbitrary<unknown>;
  required?: boolean;
}

/** A valid base body with at least one field made invalid (bad value, or deleted when required). */
function corrupt(
  base: () => Record<string, unknown>,
  fields: Record<string, FieldSpec>,
): fc.Arbitrary<{ body: Record<string, unknown>; changed: Record<string, unknown> }> {
  const n = Object.keys(fields).length;
  // About one field corrupted on average (shrinks towards KEEP, i.e. towards a single bad field).
  const perField = Object.fromEntries(
    Object.entries(fields).map(([k, s]) => [
      k,
      fc.oneof(
        { arbitrary: fc.constant<unknown>(KEEP), weight: Math.max(1, n - 1) },
        { arbitrary: s.required ? fc.oneof(fc.constant<unknown>(MISSING), s.bad) : s.bad, weight: 1 },
      ),
    ]),
  ) as Record<string, fc.Arbitrary<unknown>>;
  return fc
    .record(perField)
    .filter((r) => Object.values(r).some((v) => v !== KEEP))
    .map((r) => {
      const body = base();
      const changed: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(r)) {
        if (v === KEEP) continue;
        changed[k] = v;
        if (v === MISSING) delete body[k];
        else body[k] = v;
      }
      return { body, changed };
    });
}

/** Keys aimed at prototype pollution and at code that walks keys, injected into the JSON text. */
const pollutingKeys = fc.array(
  fc.tuple(
    fc.constantFrom(
      "__proto__",
      "constructor",
      "prototype",
      "toString",
      "hasOwnProperty",
      "valueOf",
      "__defineGetter__",
    ),
    fc.oneof(
      fc.constant({ polluted: true, "result-destination": "volume", selection: "x", source: "s", info: "i" }),
      fc.constant({ prototype: { polluted: true } }),
      fc.jsonValue({ maxDepth: 2 }),
    ),
  ),
  { maxLength: 3 },
);

function withKeys(json: string, extras: ReadonlyArray<readonly [string, unknown]>): string {
  if (extras.length === 0 || !json.startsWith("{")) return json;
  const head = extras.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",");
  return `{${head}${json === "{}" ? "" : ","}${json.slice(1)}`;
}

function parsesAsObjectOrArray(s: string): boolean {
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === "object" && v !== null;
  } catch {
    return false;
  }
}

/** Bytes that express.json (strict) cannot accept: syntax errors, and top-level non-containers. */
const brokenJson = fc.oneof(
  fc.constantFrom(
    "{",
    "}",
    '{"a":}',
    '{"a":1,}',
    "{'a':1}",
    "{a:1}",
    "[1,2",
    '{"a":"\\u12"}',
    '{"a":01}',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":undefined}',
    NUL,
    `{"a":"${NUL}"}`,
    '{"a":"x"}}',
    '{"a" "b"}',
    '{"a":1}garbage',
    "nul",
    "tru",
    "   ",
    "\n",
  ),
  fc
    .tuple(fc.jsonValue({ maxDepth: 3 }), fc.nat())
    .map(([v, n]) => {
      const s = JSON.stringify(v) ?? "";
      return s.slice(0, n % Math.max(1, s.length));
    })
    .filter((s) => s.length > 0 && !parsesAsObjectOrArray(s)),
  fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !parsesAsObjectOrArray(s)),
);

/** Valid JSON that is not an object: rejected by the strict parser (scalars) or by the schema. */
const nonObjectJson = (allowArrayOfObjects: boolean) =>
  fc.oneof(
    fc.constantFrom(
      "null",
      "true",
      "false",
      "0",
      "-1",
      "1e400",
      '""',
      '"{}"',
      "[]",
      "[null]",
      "[[]]",
      "[1,2,3]",
    ),
    fc.integer().map(String),
    finite.map((d) => JSON.stringify(d)),
    fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s)),
    fc
      .array(fc.oneof(fc.integer(), shortStr, fc.constant(null), fc.boolean()), { maxLength: 4 })
      .map((a) => JSON.stringify(a)),
    ...(allowArrayOfObjects
      ? [
          fc
            .array(fc.dictionary(shortStr, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }), { maxLength: 3 })
            .map((a) => JSON.stringify(a)),
        ]
      : []),
  );

/** A body sent so that the JSON parser never sees it, or cannot decode it. */
const badTransport = (validJson: string) =>
  fc.oneof(
    fc
      .constantFrom(
        "text/plain",
        "text/plain;charset=utf-8",
        "application/xml",
        "application/octet-stream",
        "multipart/form-data; boundary=xyz",
        "text/json",
        "application/jsonx",
      )
      .map((type): Send => ({ type, body: validJson })),
    fc.constant<Send>({ body: validJson }),
    fc
      .constantFrom("application/json; charset=utf-16", "application/json; charset=latin-9")
      .map((type): Send => ({ type, body: validJson })),
    fc
      .constantFrom("gzip", "deflate", "br", "x-unknown")
      .map(
        (enc): Send => ({ type: "application/json", headers: { "content-encoding": enc }, body: validJson }),
      ),
    brokenJson.map((body): Send => ({ type: "application/json", body })),
  );

// Path segments -------------------------------------------------------------------------------------

const REQ_ID_FORMAT = /^[A-Za-z0-9_.-]{1,64}$/;
/** Small numeric strings would alias existing integer primary keys (and "."/".." are normalised away). */
const safeWellFormed = (s: string) =>
  s !== "." && s !== ".." && (!/^\d+$/.test(s) || Number(s) === 0 || Number(s) >= 1_000_000);

const poisonChars = fc.constantFrom(NUL, " ", "😀", "/", "%", "\n", "?", "#", "\\", "é", "\u202e", "\ufeff");

/** Request ids that can never match: NUL, too long, characters outside the id alphabet. */
const malformedRequestId = () =>
  fc.oneof(
    withNul,
    longStr(64).map((s) => s.replace(/[^\x20-\x7e]/g, "x")),
    fc.integer({ min: 65, max: 8_000 }).map((n) => "a".repeat(n)),
    unicodeStr.filter((s) => !REQ_ID_FORMAT.test(s) && s !== "." && s !== ".."),
    fc
      .tuple(
        fc.constantFrom(seed.flRequest, seed.didRequest, seed.canceledRequest, String(seed.flRequestPk)),
        poisonChars,
        fc.boolean(),
      )
      .map(([id, p, before]) => (before ? `${p}${id}` : `${id}${p}`)),
  );
/** Ids in the right format that name no request. */
const unknownRequestId = () =>
  fc.oneof(
    fc.uuid(),
    fc.integer({ min: 1_000_000, max: 999_999_999 }).map(String),
    fc.constantFrom("0", "000", "9999999999", "99999999999999999999", "-1", "1.5", "_", "a.b", "ABC-def"),
    fc.constant(seed.flRequest.toUpperCase()),
    fc.stringMatching(REQ_ID_FORMAT).filter(safeWellFormed),
  );

const malformedDatasetId = () =>
  fc.oneof(
    withNul,
    fc.constantFrom(
      "abc",
      "-1",
      "1.5",
      "1e3",
      " 1",
      "0x1",
      "١",
      "+1",
      "1,0",
      "Infinity",
      "NaN",
      "1234567890",
      "99999999999999999999",
    ),
    fc.integer({ min: 10, max: 5_000 }).map((n) => "9".repeat(n)),
    unicodeStr.filter((s) => !/^\d+$/.test(s) && s !== "." && s !== ".."),
    fc
      .tuple(fc.constantFrom(seed.flDataset, seed.didDataset).map(String), poisonChars, fc.boolean())
      .map(([id, p, before]) => (before ? `${p}${id}` : `${id}${p}`)),
  );
const unknownDatasetId = () =>
  fc.oneof(fc.integer({ min: 1_000_000, max: 999_999_999 }).map(String), fc.constantFrom("0", "000000000"));

// Valid bodies (each test corrupts them) ---------------------------------------------------------

const submitBase = () => ({
  ...submitDefaults,
  title: "fuzz",
  "file-list": [`root://eos.example//fuzz/${randomUUID()}.root`],
  "tree-name": "CollectionTree",
  workers: 2,
  image: "sslhep/servicex_func_adl_xaod_transformer:develop",
  "client-version": "3.3.1",
});
const fileCompleteBase = () => ({
  requestId: seed.flRequest,
  "file-path": "root://eos.example//fuzz/f0.root",
  "file-id": seed.flFiles[0]!,
  status: "success",
  "total-time": 12,
  "total-events": 1000,
  "total-bytes": 123456,
  "avg-rate": 83.3,
  place: { host_name: "transformer-pod-1", site: "UC-AF" },
  "s3-object-name": "root:::eos.example:fuzz:f0.root.parquet",
});
const didFileBase = () => ({
  paths: [`root://a//fuzz/${randomUUID()}.root`],
  adler32: "0badcafe",
  file_size: 1024,
  file_events: 10,
});

// ---------------------------------------------------------------------------------------------------

describe("When a submit body is invalid in one or more fields", () => {
  const fields: Record<string, FieldSpec> = {
    title: { bad: fc.oneof(badText(10240, { nullable: true }), fc.constant("t".repeat(20_000))) },
    did: {
      bad: fc.oneof(
        badText(1024, { nullable: true }),
        fc.constantFrom("d".repeat(2_000), `rucio://${"d".repeat(2_000)}`, `rucio://mc23:x${NUL}`),
      ),
    },
    "file-list": {
      bad: fc.oneof(
        notObject.filter((v) => !Array.isArray(v)),
        fc.dictionary(shortStr, shortStr, { maxKeys: 2 }),
        fc.constant([]),
        fc
          .tuple(
            fc.array(fc.constant("root://ok//a.root"), { maxLength: 3 }),
            fc.oneof(
              withNul,
              fc.constant(""),
              longStr(4096),
              notString.filter((v) => typeof v !== "string"),
              fc.constant(null),
            ),
            fc.array(fc.constant("root://ok//b.root"), { maxLength: 3 }),
          )
          .map(([a, bad, b]) => [...a, bad, ...b]),
      ),
    },
    selection: { bad: badText(10 * 1024 * 1024, { long: false }), required: true },
    codegen: {
      bad: fc.oneof(
        badText(256),
        fc.string({ maxLength: 30 }).filter((s) => s !== "passthrough" && !s.includes(NUL)),
      ),
      required: true,
    },
    image: { bad: badText(1024, { nullable: true }) },
    "tree-name": { bad: badText(512, { nullable: true }) },
    workers: { bad: badInt(1, 100_000, { nullable: true }) },
    "result-destination": { bad: badEnum(["object-store", "volume"]), required: true },
    "result-format": { bad: badEnum(["parquet", "root-file", "root-rntuple"], { nullable: true }) },
    "client-version": { bad: badText(256, { nullable: true }) },
  };

  it("then the App answers 400 with a message and creates no request, dataset or file", async () => {
    await fc.assert(
      fc.asyncProperty(corrupt(submitBase, fields), pollutingKeys, async ({ body }, extras) => {
        await rejected(
          () =>
            http("POST", "/servicex/transformation", {
              type: "application/json",
              body: withKeys(toJson(body), extras),
            }),
          { status: 400 },
        );
      }),
      runs(100),
    );
  });

  it("then a did alongside an invalid file-list, or prototype keys carrying the required fields, are rejected too", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("did+empty-list", "neither", "proto-carries-fields", "constructor-carries-fields"),
        async (kind) => {
          let text: string;
          if (kind === "did+empty-list") {
            text = JSON.stringify({ ...submitDefaults, did: "", "file-list": [] });
          } else if (kind === "neither") {
            text = JSON.stringify({ ...submitDefaults, did: null, "file-list": null });
          } else {
            const key = kind === "proto-carries-fields" ? "__proto__" : "constructor";
            text = `{"${key}": {"result-destination": "volume", "codegen": "passthrough", "polluted": true}, "selection": "x", "file-list": ["root://p//x.root"]}`;
          }
          await rejected(
            () => http("POST", "/servicex/transformation", { type: "application/json", body: text }),
            {
              status: 400,
            },
          );
        },
      ),
      runs(12),
    );
  });
});

describe("When a submit carries a 100,000-entry file-list with bad entries", () => {
  it("then the whole request is rejected with 400 and no file row is written", async () => {
    const list: unknown[] = Array.from(
      { length: 100_000 },
      (_, i) => `root://eos.example//fuzz/big/${i}.root`,
    );
    list[10] = `root://bad${NUL}.root`;
    list[50_000] = "";
    list[99_999] = 42;
    const r = await rejected(
      () => sendJson("POST", "/servicex/transformation", { ...submitDefaults, "file-list": list }),
      {
        status: 400,
      },
    );
    expect((r.json as { message: string }).message).toMatch(/^The json request was malformed/);
  });

  it("then one entry more than MAX_FILE_LIST (1,000,000) is rejected as too many", async () => {
    const list = Array.from({ length: MAX_FILE_LIST + 1 }, (_, i) => `r://e/${i}`);
    await rejected(
      () => sendJson("POST", "/servicex/transformation", { ...submitDefaults, "file-list": list }),
      {
        status: 400,
      },
    );
  });
});

describe("When the list query is invalid", () => {
  const bad = fc.oneof(
    badInt(0, INT32_MAX, { nullable: true })
      .filter((v) => typeof v === "string" || typeof v === "number")
      .map((v) => [["submitted_by", String(v)]] as Array<[string, string]>),
    fc
      .constantFrom("-1", "2147483648", "1.5", "abc", "", NUL, "1e3")
      .map((v) => [["submitted_by", v]] as Array<[string, string]>),
    fc
      .constantFrom("0", "-1", "1000001", "x", "1.5", "")
      .map((v) => [["page", v]] as Array<[string, string]>),
    fc
      .constantFrom("0", "1001", "-5", "y", "2.5", "")
      .map((v) => [["per_page", v]] as Array<[string, string]>),
    fc.constantFrom("submitted_by", "page", "per_page").map(
      (k) =>
        [
          [k, "1"],
          [k, "2"],
        ] as Array<[string, string]>,
    ),
  );
  it("then GET /servicex/transformation answers 400 with a message", async () => {
    await fc.assert(
      fc.asyncProperty(bad, async (pairs) => {
        await rejected(() => http("GET", `/servicex/transformation${query(pairs)}`), { status: 400 });
      }),
      runs(),
    );
  });

  it("then arbitrary query strings never cause a 5xx on the list endpoints", async () => {
    const anyPairs = fc.array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom(
            "submitted_by",
            "page",
            "per_page",
            "did-finder",
            "show-deleted",
            "__proto__",
            "constructor",
          ),
          shortStr,
        ),
        fc.oneof(shortStr, unicodeStr, withNul, fc.integer().map(String), longStr(64)),
      ),
      { maxLength: 4 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("/servicex/transformation", "/servicex/datasets"),
        anyPairs,
        async (path, pairs) => {
          await neverServerError(() => http("GET", `${path}${query(pairs)}`));
        },
      ),
      runs(),
    );
  });
});

describe("When the datasets query is invalid", () => {
  it("then GET /servicex/datasets answers 400 with a message", async () => {
    const bad = fc.oneof(
      fc.oneof(withNul, longStr(64)).map((v) => [["did-finder", v]] as Array<[string, string]>),
      fc.constantFrom("did-finder", "show-deleted").map(
        (k) =>
          [
            [k, "a"],
            [k, "b"],
          ] as Array<[string, string]>,
      ),
    );
    await fc.assert(
      fc.asyncProperty(bad, async (pairs) => {
        await rejected(() => http("GET", `/servicex/datasets${query(pairs)}`), { status: 400 });
      }),
      runs(),
    );
  });
});

describe("When a transformation path names no request", () => {
  const routes: Array<{ method: string; suffix: string }> = [
    { method: "GET", suffix: "" },
    { method: "DELETE", suffix: "" },
    { method: "GET", suffix: "/status" },
    { method: "GET", suffix: "/errors" },
    { method: "GET", suffix: "/cancel" },
    { method: "POST", suffix: "/cancel" },
  ];

  it("then every route answers 404 'Transformation request not found with id: <id>' and writes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.oneof(malformedRequestId(), unknownRequestId()),
        async (route, id) => {
          const r = await rejected(
            () => http(route.method, `/servicex/transformation/${seg(id)}${route.suffix}`),
            {
              status: 404,
            },
          );
          expect((r.json as { message: string }).message, show(r)).toBe(
            `Transformation request not found with id: ${id}`,
          );
        },
      ),
      runs(100),
    );
  });

  it("then /results answers 404 for a malformed id and an empty list for a well-formed unknown one", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(malformedRequestId(), unknownRequestId()), async (id) => {
        if (REQ_ID_FORMAT.test(id)) {
          const r = await neverServerError(() => http("GET", `/servicex/transformation/${seg(id)}/results`));
          expect(r.status, show(r)).toBe(200);
          expect(r.json).toEqual({ results: [] });
        } else {
          await rejected(() => http("GET", `/servicex/transformation/${seg(id)}/results`), { status: 404 });
        }
      }),
      runs(),
    );
  });

  it("then a path longer than Node's header limit is refused without a 5xx", async () => {
    const r = await http("GET", `/servicex/transformation/${"a".repeat(100_000)}`);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
  });

  it("then a malformed percent-encoding in the path answers 400 with a message", async () => {
    for (const bad of ["%", "%zz", "%E0%A4%A", "%C0%AF", "%ED%A0%80"]) {
      await rejected(() => http("GET", `/servicex/transformation/${bad}`), { status: [400, 404] });
      await rejected(
        () => http("PUT", `${INTERNAL}/${bad}/complete`, { type: "application/json", body: "{}" }),
        {
          status: [400, 404],
        },
      );
    }
  });
});

describe("When a request exists but the call is not allowed in its state or carries a bad query", () => {
  it("then DELETE of a running request, cancel of a canceled one, bad ?details and bad ?later_than answer 400", async () => {
    const laterThanGarbage = fc.oneof(
      fc.constantFrom(
        "",
        "garbage",
        "2023-02-29T00:00:00",
        "2024-13-01",
        "2024-00-10",
        "0000-01-01T00:00:00",
        "2024-01-01T24:00:00",
        "2024-01-01T23:60:00",
        "2024-01-01T23:59:60",
        "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00+00:60",
        "2024-01-01T00:00:00.1234567",
        "2024-01-01 00:00:00 00:00",
        "2024-1-1",
        `2024-01-01${NUL}`,
        "١٩٧٠-01-01",
        "2024-01-01T00:00:00ZZ",
      ),
      withNul,
      longStr(64),
      fc.string({ maxLength: 30 }).filter((s) => !/^\d{4}-\d\d-\d\d/.test(s)),
    );
    const call = fc.oneof(
      fc.constant(() => http("DELETE", `/servicex/transformation/${seed.flRequest}`)),
      fc.constant(() => http("DELETE", `/servicex/transformation/${seed.flRequestPk}`)),
      fc
        .constantFrom("GET", "POST")
        .map((m) => () => http(m, `/servicex/transformation/${seed.canceledRequest}/cancel`)),
      fc.constantFrom(...RAW_HUGE, "{}", "[]", "null").map(
        (body) => () =>
          http("POST", `/servicex/transformation/${seed.canceledRequest}/cancel`, {
            type: "application/json",
            body,
          }),
      ),
      laterThanGarbage.map(
        (v) => () =>
          http("GET", `/servicex/transformation/${seed.flRequest}/results${query([["later_than", v]])}`),
      ),
      fc.constant(() =>
        http(
          "GET",
          `/servicex/transformation/${seed.flRequest}/results${query([
            ["later_than", "2024-01-01"],
            ["later_than", "x"],
          ])}`,
        ),
      ),
      fc.constant(() =>
        http(
          "GET",
          `/servicex/transformation/${seed.flRequest}/status${query([
            ["details", "a"],
            ["details", "b"],
          ])}`,
        ),
      ),
    );
    await fc.assert(
      fc.asyncProperty(call, async (send) => {
        await rejected(send, { status: 400 });
      }),
      runs(),
    );
  });

  // Python's datetime.fromisoformat (upstream) accepts UTC offsets up to ±23:59; Postgres only up to ±15:59,
  // so an offset the App accepts must be converted before it reaches the database.
  it("then any ISO-looking later_than answers 200 or 400, never 5xx", async () => {
    const pad = (n: number, w: number) => String(n).padStart(w, "0");
    const iso = fc
      .record({
        y: fc.integer({ min: 0, max: 9999 }),
        mo: fc.integer({ min: 0, max: 13 }),
        d: fc.integer({ min: 0, max: 32 }),
        h: fc.integer({ min: 0, max: 25 }),
        mi: fc.integer({ min: 0, max: 61 }),
        s: fc.integer({ min: 0, max: 61 }),
        frac: fc.option(fc.integer({ min: 0, max: 9_999_999 }).map(String), { nil: "" }),
        zone: fc.constantFrom(
          "",
          "Z",
          "+00:00",
          "-23:59",
          "+23:59",
          "+2359",
          "+14",
          "-12:00",
          "+24:00",
          "+05:60",
        ),
        sep: fc.constantFrom("T", " "),
      })
      .map(
        (t) =>
          `${pad(t.y, 4)}-${pad(t.mo, 2)}-${pad(t.d, 2)}${t.sep}${pad(t.h, 2)}:${pad(t.mi, 2)}:${pad(t.s, 2)}` +
          `${t.frac ? `.${t.frac}` : ""}${t.zone}`,
      );
    await fc.assert(
      fc.asyncProperty(iso, async (v) => {
        const r = await neverServerError(() =>
          http("GET", `/servicex/transformation/${seed.flRequest}/results${query([["later_than", v]])}`),
        );
        if (r.status === 400) {
          expect((r.json as { message: string }).message).toBe(
            `later_than value ${v} is not an ISO 8601 compliant datetime`,
          );
        }
      }),
      runs(100),
    );
  });
});

describe("When a dataset path names no dataset", () => {
  it("then GET and DELETE /servicex/datasets/<id> answer 404 'Dataset <id> not found'", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "DELETE"),
        fc.oneof(malformedDatasetId(), unknownDatasetId()),
        async (method, id) => {
          const r = await rejected(() => http(method, `/servicex/datasets/${seg(id)}`), { status: 404 });
          const shown = /^\d{1,9}$/.test(id) ? String(Number(id)) : id;
          expect((r.json as { message: string }).message, show(r)).toBe(`Dataset ${shown} not found`);
        },
      ),
      runs(),
    );
  });

  it("then the DID-finder callbacks answer 404 (malformed id) or 404/422 (unknown id) and write nothing", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("files", "complete", "error"),
        fc.oneof(
          malformedDatasetId().map((id) => ({ id, known: false })),
          unknownDatasetId().map((id) => ({ id, known: true })),
        ),
        async (what, { id, known }) => {
          const body =
            what === "files"
              ? [didFileBase()]
              : what === "complete"
                ? { files: 1, "files-skipped": 0, "total-events": 10, "total-bytes": 100, "elapsed-time": 1 }
                : { "elapsed-time": 1, message: "no such dataset", "error-type": "does_not_exist" };
          const expected = !known || what === "files" ? 404 : 422;
          await rejected(() => sendJson("PUT", `${INTERNAL}/${seg(id)}/${what}`, body), { status: expected });
        },
      ),
      runs(),
    );
  });
});

describe("When a DID finder sends invalid files", () => {
  const fileFields: Record<string, FieldSpec> = {
    paths: {
      required: true,
      bad: fc.oneof(
        fc.oneof(
          fc.integer(),
          finite,
          fc.boolean(),
          fc.constant(null),
          fc.dictionary(shortStr, shortStr, { maxKeys: 2 }),
        ),
        fc.constant([]),
        fc.constant(""),
        withNul,
        fc.integer({ min: 100_001, max: 100_050 }).map((n) => "x".repeat(n)),
        fc
          .tuple(
            fc.array(fc.constant("root://ok//p.root"), { maxLength: 2 }),
            fc.oneof(
              withNul,
              fc.constant(""),
              longStr(4096),
              fc.integer(),
              fc.constant(null),
              fc.array(fc.string(), { maxLength: 1 }),
            ),
          )
          .map(([ok, bad]) => [...ok, bad]),
        fc.constant(Array.from({ length: 1001 }, (_, i) => `root://r//${i}`)),
      ),
    },
    adler32: { bad: badText(48, { nullable: true }) },
    file_size: { bad: badInt(0, SAFE_MAX, { nullable: true }) },
    file_events: { bad: badInt(0, SAFE_MAX, { nullable: true }) },
  };
  const badBody = fc.oneof(
    corrupt(didFileBase, fileFields).map(({ body }) => body as unknown),
    fc
      .tuple(
        fc.array(fc.constant(null), { maxLength: 4 }),
        corrupt(didFileBase, fileFields),
        fc.array(fc.constant(null), { maxLength: 4 }),
      )
      .map(([a, { body }, b]) => [...a.map(didFileBase), body, ...b.map(didFileBase)] as unknown),
    fc.constant([] as unknown),
  );

  it("then /files answers 400 and none of the valid entries of the batch is stored", async () => {
    await fc.assert(
      fc.asyncProperty(badBody, pollutingKeys, async (body, extras) => {
        await rejected(
          () =>
            http("PUT", `${INTERNAL}/${seed.didDataset}/files`, {
              type: "application/json",
              body: withKeys(toJson(body), extras),
            }),
          { status: 400 },
        );
      }),
      runs(100),
    );
  });

  it("then a 100,000-entry batch with a few bad entries is rejected whole, and 100,001 entries are too many", async () => {
    const batch: unknown[] = Array.from({ length: 100_000 }, (_, i) => ({
      paths: [`root://eos.example//fuzz/bulk/${i}.root`],
      adler32: null,
      file_size: i,
      file_events: i,
    }));
    batch[7] = { paths: [`root://x${NUL}`], file_size: 1, file_events: 1 };
    batch[70_000] = { paths: [], file_size: 1 };
    batch[99_998] = { paths: ["root://ok"], file_size: -1 };
    await rejected(() => sendJson("PUT", `${INTERNAL}/${seed.didDataset}/files`, batch), { status: 400 });
    const tooMany = Array.from({ length: 100_001 }, () => ({ paths: "r://x" }));
    await rejected(() => sendJson("PUT", `${INTERNAL}/${seed.didDataset}/files`, tooMany), { status: 400 });
  });
});

describe("When a DID finder sends an invalid fileset-complete or fileset-error body", () => {
  const completeFields: Record<string, FieldSpec> = {
    files: { bad: badInt(0, SAFE_MAX) },
    "files-skipped": { bad: badInt(0, SAFE_MAX) },
    "total-events": { bad: badInt(0, SAFE_MAX) },
    "total-bytes": { bad: badInt(0, SAFE_MAX) },
    "elapsed-time": { bad: badSeconds },
  };
  const errorFields: Record<string, FieldSpec> = {
    "elapsed-time": { bad: badSeconds },
    message: { bad: badText(10_000) },
    "error-type": { bad: badText(64) },
  };
  const completeBase = () => ({
    files: 2,
    "files-skipped": 0,
    "total-events": 12,
    "total-bytes": 30,
    "elapsed-time": 3,
  });
  const errorBase = () => ({ "elapsed-time": 3, message: "lookup failed", "error-type": "internal_failure" });

  it("then /complete and /error answer 400 and the lookup stays open", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          corrupt(completeBase, completeFields).map(({ body }) => ({ what: "complete", body: toJson(body) })),
          corrupt(errorBase, errorFields).map(({ body }) => ({ what: "error", body: toJson(body) })),
          fc
            .tuple(fc.constantFrom("complete", "error"), nonObjectJson(true))
            .map(([what, body]) => ({ what, body })),
        ),
        pollutingKeys,
        async ({ what, body }, extras) => {
          await rejected(
            () =>
              http("PUT", `${INTERNAL}/${seed.didDataset}/${what}`, {
                type: "application/json",
                body: withKeys(body, extras),
              }),
            { status: 400 },
          );
        },
      ),
      runs(100),
    );
  });
});

describe("When a transformer sidecar sends an invalid file-complete report", () => {
  const fields: Record<string, FieldSpec> = {
    requestId: { bad: badText(64) },
    "file-path": { bad: badText(4096), required: true },
    "file-id": { bad: badInt(1, INT32_MAX), required: true },
    status: { bad: fc.oneof(badText(120), fc.constant("")), required: true },
    "total-time": { bad: badSeconds },
    "total-events": { bad: badInt(0, SAFE_MAX, { nullable: true }) },
    "total-bytes": { bad: badInt(0, SAFE_MAX, { nullable: true }) },
    "avg-rate": { bad: badRate },
    place: {
      bad: fc.oneof(
        fc.oneof(fc.integer(), shortStr, fc.boolean(), fc.array(shortStr, { maxLength: 2 })),
        fc.record({ host_name: badText(256, { nullable: true }) }),
        fc.record({ site: badText(256, { nullable: true }) }),
      ),
    },
    "s3-object-name": { bad: badText(512, { nullable: true }) },
    error: { bad: badText(1_000_000, { nullable: true, long: false }) },
    info: { bad: badText(1_000_000, { nullable: true, long: false }) },
  };

  it("then the App answers 400 and writes no result, no file_status row and no counter", async () => {
    await fc.assert(
      fc.asyncProperty(corrupt(fileCompleteBase, fields), pollutingKeys, async ({ body }, extras) => {
        await rejected(
          () =>
            http("PUT", `${INTERNAL}/${seed.flRequest}/file-complete`, {
              type: "application/json",
              body: withKeys(toJson(body), extras),
            }),
          { status: 400 },
        );
      }),
      runs(100),
    );
  });

  it("then a file id of another dataset or of no file answers 400 and writes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom(...seed.didFiles),
          fc.integer({ min: 10_000_000, max: INT32_MAX }),
          fc.constant(INT32_MAX),
        ),
        fc.constantFrom("success", "failure"),
        async (fileId, status) => {
          await rejected(
            () =>
              sendJson("PUT", `${INTERNAL}/${seed.flRequest}/file-complete`, {
                ...fileCompleteBase(),
                "file-id": fileId,
                status,
              }),
            { status: 400 },
          );
        },
      ),
      runs(30),
    );
  });

  it("then a report for an unknown or malformed request id answers 404", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(malformedRequestId(), unknownRequestId()), async (id) => {
        await rejected(() => sendJson("PUT", `${INTERNAL}/${seg(id)}/file-complete`, fileCompleteBase()), {
          status: 404,
        });
      }),
      runs(),
    );
  });
});

describe("When a legacy transformer sends an invalid status report", () => {
  const fields: Record<string, FieldSpec> = {
    severity: { bad: badText(64) },
    source: { bad: badText(1024), required: true },
    info: { bad: badText(1_000_000, { long: false }), required: true },
    timestamp: { bad: badText(64) },
  };
  const base = () => ({
    severity: "fatal",
    source: "transformer",
    info: "it broke",
    timestamp: "2024-10-21T17:40:31.123456",
  });

  it("then POST …/<request_id>/status answers 400 'bad status' and the request is not failed", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          corrupt(base, fields).map(({ body }) => toJson(body)),
          nonObjectJson(true),
        ),
        pollutingKeys,
        async (body, extras) => {
          const r = await rejected(
            () =>
              http("POST", `${INTERNAL}/${seed.flRequest}/status`, {
                type: "application/json",
                body: withKeys(body, extras),
              }),
            { status: 400 },
          );
          // Scalars never reach the route (the strict JSON parser refuses them); everything else is "bad status".
          if (parsesAsObjectOrArray(body)) expect((r.json as { message: string }).message).toBe("bad status");
        },
      ),
      runs(),
    );
  });

  it("then a fatal report for an unknown or malformed request id answers 404", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(malformedRequestId(), unknownRequestId()), async (id) => {
        await rejected(() => sendJson("POST", `${INTERNAL}/${seg(id)}/status`, base()), { status: 404 });
      }),
      runs(),
    );
  });
});

describe("When a legacy transformer sends an invalid per-file status event", () => {
  const badTimestamp = fc.oneof(
    notString,
    withNul,
    longStr(64),
    fc.constant(null),
    fc.constantFrom(
      "",
      "yesterday",
      "2024-02-30T00:00:00",
      "2024-01-01T25:00:00",
      "21/10/2024 17:40",
      "2024-01-01T00:00:00+99:00",
    ),
  );
  const fields: Record<string, FieldSpec> = {
    timestamp: { bad: badTimestamp, required: true },
    "status-code": { bad: fc.oneof(badText(128), fc.constant("")), required: true },
    "pod-name": { bad: badText(128, { nullable: true }) },
    info: { bad: badText(1_000_000, { nullable: true, long: false }) },
  };
  const base = () => ({
    timestamp: "2024-10-21T17:40:31.123456",
    "status-code": "failure",
    "pod-name": "pod-1",
    info: "oops",
  });

  it("then the App answers 400 {message: {<field>: …}} ('This field cannot be blank' for missing ones) and writes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(corrupt(base, fields), pollutingKeys, async ({ body, changed }, extras) => {
        const r = await rejected(
          () =>
            http("POST", `${INTERNAL}/${seed.flRequest}/${seed.flFiles[0]}/status`, {
              type: "application/json",
              body: withKeys(toJson(body), extras),
            }),
          { status: 400, objectMessage: true },
        );
        const message = (r.json as { message: unknown }).message;
        expect(typeof message, show(r)).toBe("object");
        for (const [k, v] of Object.entries(changed)) {
          if (v === MISSING || v === null) {
            expect((message as Record<string, string>)[k], show(r)).toBe("This field cannot be blank");
          }
        }
      }),
      runs(),
    );
  });

  it("then a non-object body answers 400 with a message and writes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(nonObjectJson(true), async (body) => {
        await rejected(
          () =>
            http("POST", `${INTERNAL}/${seed.flRequest}/${seed.flFiles[0]}/status`, {
              type: "application/json",
              body,
            }),
          { status: 400, objectMessage: true },
        );
      }),
      runs(),
    );
  });

  // As /file-complete answers 400 "File <id> is not a file of request <id>", a per-file event must name a
  // file of the request's dataset: otherwise /errors lists rows for files that do not exist.
  it("then an unknown request, a malformed file id, or a file that is not the request's answers 4xx and writes nothing", async () => {
    const fileSegment = fc.oneof(
      fc.constantFrom("abc", "-1", "1.5", "1e3", "١", "1234567890", `1${NUL}`, "😀", " 1"),
      fc.integer({ min: 10_000_000, max: 999_999_999 }).map(String),
      fc.constant("0"),
      fc.constantFrom(...seed.didFiles).map(String),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(fc.oneof(malformedRequestId(), unknownRequestId()), fc.constant(String(seed.flFiles[0]))),
          fc.tuple(fc.constant(seed.flRequest), fileSegment),
        ),
        async ([rid, fid]) => {
          await rejected(() => sendJson("POST", `${INTERNAL}/${seg(rid)}/${seg(fid)}/status`, base()), {
            status: [400, 404],
            objectMessage: true,
          });
        },
      ),
      runs(),
    );
  });

  // Same offset range problem as later_than, on the write path (file_status.timestamp).
  it("then any ISO-looking timestamp answers 200 or 400, never 5xx", async () => {
    const ts = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 25 }),
        fc.constantFrom("", "Z", "+23:59", "-23:59", "+00"),
      )
      .map(
        ([y, mo, d, h, z]) =>
          `${String(y).padStart(4, "0")}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}T${String(h).padStart(2, "0")}:00:00.000001${z}`,
      );
    await fc.assert(
      fc.asyncProperty(ts, async (timestamp) => {
        const before = await snapshot();
        const r = await sendJson("POST", `${INTERNAL}/${seed.flRequest}/${seed.flFiles[1]}/status`, {
          timestamp,
          "status-code": "start",
        });
        expect(r.status, show(r)).toBeLessThan(500);
        if (r.status >= 400) {
          expectClientError(r, { objectMessage: true });
          expect(await snapshot()).toEqual(before);
        }
      }),
      runs(50),
    );
  });
});

describe("When a body arrives with the wrong content type, broken JSON or another encoding", () => {
  const endpoints = () => [
    { method: "POST", path: "/servicex/transformation", body: () => JSON.stringify(submitBase()) },
    {
      method: "PUT",
      path: `${INTERNAL}/${seed.didDataset}/files`,
      body: () => JSON.stringify([didFileBase()]),
    },
    {
      method: "PUT",
      path: `${INTERNAL}/${seed.didDataset}/complete`,
      body: () => JSON.stringify({ files: 2, "total-events": 1 }),
    },
    {
      method: "PUT",
      path: `${INTERNAL}/${seed.didDataset}/error`,
      body: () => JSON.stringify({ "error-type": "bad_name", message: "x" }),
    },
    {
      method: "PUT",
      path: `${INTERNAL}/${seed.flRequest}/file-complete`,
      body: () => JSON.stringify(fileCompleteBase()),
    },
    {
      method: "POST",
      path: `${INTERNAL}/${seed.flRequest}/status`,
      body: () => JSON.stringify({ severity: "fatal", source: "s", info: "i" }),
    },
    {
      method: "POST",
      path: `${INTERNAL}/${seed.flRequest}/${seed.flFiles[0]}/status`,
      body: () => JSON.stringify({ timestamp: "2024-10-21T17:40:31.123456", "status-code": "failure" }),
      legacyPerFile: true,
    },
  ];

  it("then every body endpoint answers 4xx with a message and writes nothing", async () => {
    const eps = endpoints();
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom(...eps.keys())
          .chain((i) => badTransport(eps[i]!.body()).map((send) => ({ ep: eps[i]!, send }))),
        async ({ ep, send }) => {
          await rejected(() => http(ep.method, ep.path, send), { objectMessage: "legacyPerFile" in ep });
        },
      ),
      runs(100),
    );
  });

  it("then a body with no Content-Type and no bytes answers 400 on every body endpoint", async () => {
    for (const ep of endpoints()) {
      await rejected(() => http(ep.method, ep.path), { status: 400, objectMessage: "legacyPerFile" in ep });
    }
  });

  // express.json turns a zero-length application/json body into {}; with every fileset field optional, an
  // empty PUT would complete (or fail) a lookup and end every request waiting on it.
  it("then a zero-length JSON body is not taken as an empty object (DID-finder, sidecar and submit endpoints)", async () => {
    const failures: string[] = [];
    for (const what of ["files", "complete", "error"]) {
      const { datasetId } = await lookupDataset();
      await collect(failures, () =>
        http("PUT", `${INTERNAL}/${datasetId}/${what}`, { type: "application/json", body: "" }),
      );
    }
    await collect(failures, () =>
      http("POST", "/servicex/transformation", { type: "application/json", body: "" }),
    );
    await collect(failures, () =>
      http("PUT", `${INTERNAL}/${seed.flRequest}/file-complete`, { type: "application/json", body: "" }),
    );
    expect(failures).toEqual([]);
  });

  it("then form-encoded bodies are refused by the JSON-only endpoints (DID-finder and sidecar callbacks, file-list submit)", async () => {
    const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
    const type = "application/x-www-form-urlencoded";
    const failures: string[] = [];
    // file-list is JSON-only (contract §2.3.1).
    await collect(failures, () =>
      http("POST", "/servicex/transformation", {
        type,
        body: form({ ...submitDefaults, "file-list": "root://eos.example//fuzz/form.root" }),
      }),
    );
    // Upstream read these bodies with request.get_json(): a form body never reached the handler.
    for (const [what, body] of [
      ["files", { paths: "root://form//x.root" }],
      ["complete", { files: "1" }],
      ["error", { "error-type": "bad_name", message: "x" }],
    ] as const) {
      const victim = await lookupDataset();
      await collect(failures, () =>
        http("PUT", `${INTERNAL}/${victim.datasetId}/${what}`, { type, body: form(body) }),
      );
    }
    const fl = await submitOk({ "file-list": [`root://eos.example//fuzz/${randomUUID()}.root`] });
    const flFile = (await fileIds((await requestRow(fl)).did_id))[0]!;
    await collect(failures, () =>
      http("PUT", `${INTERNAL}/${fl}/file-complete`, {
        type,
        body: form({ "file-path": "root://x", "file-id": String(flFile), status: "success" }),
      }),
    );
    expect(failures).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Valid but extreme inputs: accepted or refused, never a 5xx.

describe("When valid bodies carry unicode, emoji and boundary values", () => {
  const edgeText = (max: number) =>
    fc.oneof(
      unicodeStr,
      fc.constantFrom(
        "",
        " ",
        "😀".repeat(Math.floor(max / 2)),
        "x".repeat(max),
        "é".repeat(max),
        "\u202e\ufeff",
        "'; DROP TABLE requests; --",
      ),
    );

  it("then a submit answers 200 or 4xx, never 5xx", async () => {
    const body = fc.record({
      title: edgeText(10240),
      "tree-name": edgeText(512),
      "client-version": edgeText(256),
      image: edgeText(1024),
      selection: fc.oneof(unicodeStr, fc.constant("x".repeat(200_000))),
      workers: fc.constantFrom(1, 100_000, "7", "100000"),
      "result-format": fc.constantFrom("parquet", "root-file", "root-rntuple", null),
      "file-list": fc.array(
        fc.oneof(unicodeStr, fc.constant("x".repeat(4096)), fc.constant("root://a,b//comma.root")),
        { minLength: 1, maxLength: 5 },
      ),
    });
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        await neverServerError(() =>
          sendJson("POST", "/servicex/transformation", { ...submitDefaults, ...b }),
        );
      }),
      runs(30),
    );
  });

  it("then a DID submit with a long or odd DID answers 200 or 4xx, never 5xx", async () => {
    const did = fc.oneof(
      fc.constantFrom(
        `rucio://${"d".repeat(1016)}`,
        `rucio://${"d".repeat(1017)}`,
        "d".repeat(1016),
        "d".repeat(1017),
        `nosuchscheme://x`,
        `${"s".repeat(100)}://x`,
        "rucio://",
        "://x",
        "rucio://mc23:😀.é",
        "rucio://x?files=1000000000000",
      ),
      unicodeStr,
    );
    await fc.assert(
      fc.asyncProperty(did, async (d) => {
        await neverServerError(() =>
          sendJson("POST", "/servicex/transformation", { ...submitDefaults, did: d }),
        );
      }),
      runs(30),
    );
  });

  it("then file-complete reports with extreme numbers answer 200 or 4xx, never 5xx", async () => {
    const files = Array.from(
      { length: 40 },
      (_, i) => `root://eos.example//fuzz/edge/${randomUUID()}-${i}.root`,
    );
    const rid = await submitOk({ "file-list": files });
    const ids = await fileIds((await requestRow(rid)).did_id);
    const report = fc.record({
      "file-id": fc.constantFrom(...ids),
      status: fc.constantFrom("success", "failure", "retry", "😀"),
      "file-path": edgeText(4096),
      "total-time": fc.constantFrom(0, 1e-300, 0.5, 2 ** 31, 1e12),
      "total-events": fc.constantFrom(0, 1, 2 ** 31, 2 ** 53 - 1, "9007199254740991", null),
      "total-bytes": fc.constantFrom(0, 1, 2 ** 32, 2 ** 53 - 1, "123", null),
      "avg-rate": fc.constantFrom(0, 1e-300, 1.7976931348623157e308, null),
      place: fc.constantFrom(null, {}, { host_name: "h".repeat(256), site: "😀" }, { host_name: null }),
      "s3-object-name": fc.oneof(fc.constant(null), edgeText(512)),
      error: fc.oneof(fc.constant(null), fc.constant("e".repeat(100_000))),
    });
    await fc.assert(
      fc.asyncProperty(report, async (b) => {
        await neverServerError(() => sendJson("PUT", `${INTERNAL}/${rid}/file-complete`, b));
      }),
      runs(60),
    );
  });

  it("then DID-finder files with extreme values answer 200 or 4xx, never 5xx", async () => {
    const victim = await lookupDataset();
    const entry = fc.record({
      paths: fc.oneof(
        fc.array(
          edgeText(4096).filter((s) => s.length > 0),
          { minLength: 1, maxLength: 3 },
        ),
        fc.constant(Array.from({ length: 1000 }, () => "p".repeat(64))),
        fc.constant("x".repeat(100_000)),
      ),
      adler32: fc.oneof(fc.constant(null), edgeText(48)),
      file_size: fc.constantFrom(0, 2 ** 31, 2 ** 53 - 1, "9007199254740991", null),
      file_events: fc.constantFrom(0, 1, 2 ** 53 - 1, "42", null),
      timestamp: fc.jsonValue({ maxDepth: 2 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(entry, fc.array(entry, { minLength: 1, maxLength: 5 })), async (b) => {
        await neverServerError(() => sendJson("PUT", `${INTERNAL}/${victim.datasetId}/files`, b));
      }),
      runs(30),
    );
  });

  it("then a 100,000-deep nested JSON value answers 4xx, never 5xx", async () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    await rejected(
      () =>
        http("POST", "/servicex/transformation", {
          type: "application/json",
          body: `{"title": ${deep}, "selection": "x", "codegen": "passthrough", "result-destination": "volume", "file-list": ["root://a"]}`,
        }),
      { status: 400 },
    );
    await neverServerError(() =>
      http("PUT", `${INTERNAL}/${seed.flRequest}/file-complete`, {
        type: "application/json",
        body: `{"place": ${deep}}`,
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// The exact contract errors

describe("When the contract's documented errors are provoked", () => {
  it("then did and file-list together answer 400 'Must provide did or file-list but not both'", async () => {
    const r = await rejected(
      () =>
        sendJson("POST", "/servicex/transformation", {
          ...submitDefaults,
          did: "rucio://x:y",
          "file-list": ["root://a//b"],
        }),
      { status: 400 },
    );
    expect((r.json as { message: string }).message).toBe("Must provide did or file-list but not both");
  });

  it("then an unknown codegen answers 400 'Invalid Codegen Image Passed in Request: foo' (contract A.7)", async () => {
    const r = await rejected(
      () =>
        sendJson("POST", "/servicex/transformation", {
          ...submitDefaults,
          codegen: "foo",
          "file-list": ["root://a//b"],
        }),
      { status: 400 },
    );
    expect((r.json as { message: string }).message).toBe("Invalid Codegen Image Passed in Request: foo");
  });

  it("then a bad result-destination answers 400 'The json request was malformed…'", async () => {
    const r = await rejected(
      () =>
        sendJson("POST", "/servicex/transformation", {
          ...submitDefaults,
          "result-destination": "s3",
          "file-list": ["root://a//b"],
        }),
      { status: 400 },
    );
    expect((r.json as { message: string }).message).toMatch(/^The json request was malformed/);
  });

  it("then later_than=garbage answers 400 'later_than value garbage is not an ISO 8601 compliant datetime'", async () => {
    const r = await rejected(
      () => http("GET", `/servicex/transformation/${seed.flRequest}/results?later_than=garbage`),
      {
        status: 400,
      },
    );
    expect((r.json as { message: string }).message).toBe(
      "later_than value garbage is not an ISO 8601 compliant datetime",
    );
  });

  it("then an unknown request id answers 404 'Transformation request not found with id: <id>'", async () => {
    const id = randomUUID();
    const r = await rejected(() => http("GET", `/servicex/transformation/${id}`), { status: 404 });
    expect((r.json as { message: string }).message).toBe(`Transformation request not found with id: ${id}`);
  });

  it("then a legacy per-file status without timestamp answers 400 {message: {timestamp: 'This field cannot be blank'}}", async () => {
    const r = await rejected(
      () =>
        sendJson("POST", `${INTERNAL}/${seed.flRequest}/${seed.flFiles[0]}/status`, {
          "status-code": "start",
        }),
      { status: 400, objectMessage: true },
    );
    expect(r.json).toEqual({ message: { timestamp: "This field cannot be blank" } });
  });

  it("then a legacy status report without source answers 400 'bad status'", async () => {
    const r = await rejected(
      () => sendJson("POST", `${INTERNAL}/${seed.flRequest}/status`, { severity: "fatal", info: "x" }),
      {
        status: 400,
      },
    );
    expect((r.json as { message: string }).message).toBe("bad status");
  });

  it("then a body over MAX_REQUEST_BODY answers 413 with a clear message and writes nothing", async () => {
    const small = await startTestApp({
      backend: "postgres",
      broker: "memory",
      // The submit's body has its own limit (docs/decisions.md D37).
      env: { MAX_REQUEST_BODY: "1kb", MAX_SUBMIT_BODY: "1kb" },
    });
    try {
      const count = async () =>
        (
          await small.deps.db.sql.query<{ n: number }>(
            "SELECT (SELECT count(*) FROM requests) + (SELECT count(*) FROM files) AS n",
          )
        )[0]!.n;
      const before = await count();
      const list = Array.from({ length: 100 }, (_, i) => `root://eos.example//fuzz/limit/${i}.root`);
      const res = await fetch(`${small.url}/servicex/transformation`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...submitDefaults, "file-list": list }),
      });
      expect(res.status).toBe(413);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      const body = (await res.json()) as { message: string };
      expect(body.message).toMatch(/too large/i);
      expect(body.message).toMatch(/1024 bytes/);
      expect(await count()).toEqual(before);
    } finally {
      await small.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Routes and encodings the suites above do not reach: the approval endpoints (/accept as JSON, query string
// and form; signed Slack clicks), query strings of the pages and of the per-request API reads, the
// lifecycle routes (query and JSON), and form posts to the pages. Every answer must be below 500; a 4xx
// from a JSON route must carry a JSON message.

/** Anything below 500; when the answer is a 4xx with a JSON content type, it carries a message. */
async function below500(send: () => Promise<Res>): Promise<Res> {
  const r = await send();
  expect(r.status, show(r)).toBeLessThan(500);
  if (r.status >= 400 && /^application\/json/.test(r.contentType)) {
    expect(typeof (r.json as { message?: unknown } | undefined)?.message, show(r)).not.toBe("undefined");
  }
  return r;
}

/** Text a caller may send in a field: short, unicode, with NUL, over-long, lone surrogates, e-mail-like. */
const anyText = fc.oneof(
  shortStr,
  unicodeStr,
  withNul,
  longStr(400),
  fc.constantFrom("\ud800", "a\udfffb", "", " ", "%", "%zz", "__proto__", "constructor"),
  fc.emailAddress(),
  fc.emailAddress().map((e) => `${e}${NUL}`),
);
/** anyText that encodeURIComponent can write (no lone surrogates), for query strings. */
const queryText = anyText.filter((t) => (t as string & { isWellFormed(): boolean }).isWellFormed());
/** Any JSON value for a field that should be a string. */
const anyJsonField = fc.oneof(anyText, notString, fc.constant(null), fc.constant(new Raw("1e400")));

/** A form/query body written by hand, so that broken percent-encodings and odd separators get through. */
const rawForm = fc.oneof(
  fc
    .array(fc.tuple(fc.oneof(fc.constant("email"), shortStr), queryText), { maxLength: 4 })
    .map(query)
    .map((q) => q.slice(1)),
  fc.constantFrom(
    "email=%",
    "email=%ZZ%00",
    "email=a%00b",
    "email",
    "=&=&",
    "email=%C3%28",
    "email[]=a&email[]=b",
    "a[b][c]=d",
  ),
  fc.string({ maxLength: 64 }),
);

describe("When the approval endpoints get arbitrary input (POST /accept as JSON, query or form; signed Slack clicks)", () => {
  it("then POST /accept answers below 500 whatever the e-mail and its encoding", async () => {
    const send = fc.oneof(
      anyJsonField.map(
        (email) => () => http("POST", "/accept", { type: "application/json", body: toJson({ email }) }),
      ),
      queryText.map((email) => () => http("POST", `/accept${query([["email", email]])}`)),
      rawForm.map(
        (body) => () => http("POST", "/accept", { type: "application/x-www-form-urlencoded", body }),
      ),
      rawForm.map((q) => () => http("POST", `/accept?${q}`)),
    );
    await fc.assert(
      fc.asyncProperty(send, async (call) => {
        const r = await below500(call);
        expect(r.contentType, show(r)).toMatch(/^application\/json/);
        // A missing e-mail keeps reqparse's {"message": {"email": "This field cannot be blank"}}.
        if (r.status >= 400) expectClientError(r, { objectMessage: true });
      }),
      runs(100),
    );
  });

  it("then a correctly signed Slack interaction answers below 500 whatever its payload", async () => {
    const payload = fc.oneof(
      fc
        .tuple(
          fc.constantFrom("accept_user", "reject_user", "other", "__proto__"),
          fc.option(anyText, { nil: undefined }),
        )
        .map(([actionId, value]) =>
          slackInteractionBody(
            slackBlockActionsPayload({
              actionId,
              ...(value === undefined ? {} : { value }),
              responseUrl: SLACK_RESPONSE_URL,
            }),
          ),
        ),
      // Broken payloads: not JSON, JSON of another shape, no payload field, arbitrary bytes.
      fc
        .oneof(
          shortStr,
          anyJsonField.map((v) => toJson(v)),
        )
        .map((p) => new URLSearchParams({ payload: p }).toString()),
      fc
        .dictionary(fc.constantFrom("user", "actions", "response_url", "type", "message"), anyJsonField, {
          maxKeys: 5,
        })
        .map((p) => new URLSearchParams({ payload: toJson(p) }).toString()),
      rawForm,
    );
    await fc.assert(
      fc.asyncProperty(payload, async (body) => {
        const r = await below500(() =>
          http("POST", "/slack", { body, headers: slackSignedHeaders(SLACK_SIGNING_SECRET, body) }),
        );
        if (r.status >= 400) expectClientError(r);
      }),
      runs(100),
    );
  });
});

describe("When query strings of pages and per-request API reads are arbitrary", () => {
  const anyPairs = fc.array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(
          "page",
          "sort",
          "order",
          "show_deleted",
          "status",
          "details",
          "later_than",
          "__proto__",
          "constructor",
          "page[]",
          "a[b]",
        ),
        shortStr,
      ),
      fc.oneof(
        shortStr,
        unicodeStr,
        withNul,
        fc.integer().map(String),
        longStr(64),
        fc.constantFrom("1e308", "99999999999999999999", "-1", "NaN"),
      ),
    ),
    { maxLength: 4 },
  );

  it("then every page and read answers below 500", async () => {
    const paths = () => [
      "/",
      "/dashboard",
      "/global-dashboard",
      "/datasets",
      `/datasets/${seed.flDataset}`,
      `/transformation-request/${seed.flRequest}`,
      `/transformation-request/${seed.flRequest}/results`,
      `/transformation-request/${seed.flRequest}/history.svg`,
      "/admin/users",
      `/servicex/transformation/${seed.flRequest}/status`,
      `/servicex/transformation/${seed.flRequest}/results`,
      `/servicex/transformation/${seed.flRequest}/errors`,
      `/servicex/transformation/${seed.flRequest}/history`,
      `/servicex/datasets/${seed.flDataset}`,
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths().keys()), anyPairs, async (i, pairs) => {
        await below500(() => http("GET", `${paths()[i]!}${query(pairs)}`));
      }),
      runs(150),
    );
  });
});

describe("When the lifecycle routes get arbitrary parameters (query string or JSON body)", () => {
  const anyAge = fc.oneof(
    fc.constantFrom(
      "99999999999999999999",
      "1e308",
      "-1",
      "NaN",
      "Infinity",
      " 24 ",
      "1.5",
      "0x10",
      "1000001",
      "1000000",
    ),
    queryText,
    fc.integer({ min: 1_000_001 }).map(String),
  );
  const anyJsonAge = fc.oneof(
    anyJsonField,
    fc.constantFrom(
      1e308,
      -1,
      1_000_001,
      2 ** 53,
      0.5,
      new Raw("1e400"),
      new Raw("-0"),
      new Raw("123456789012345678901234567890"),
    ),
  );

  it("then dataset-lifecycle and kubernetes-cleanup answer below 500, and 4xx for ages beyond 1,000,000 hours", async () => {
    const route = fc.constantFrom(["dataset-lifecycle", "age"], ["kubernetes-cleanup", "maxAge"]);
    await fc.assert(
      fc.asyncProperty(
        route,
        fc.oneof(
          anyAge.map((v) => ({ q: v as string | undefined, body: undefined as unknown })),
          anyJsonAge.map((v) => ({ q: undefined as string | undefined, body: { v } as unknown })),
        ),
        async ([name, key], input) => {
          const path = `/servicex/internal/${name}${input.q === undefined ? "" : query([[key, input.q]])}`;
          const r =
            input.body === undefined
              ? await http("POST", path)
              : await http("POST", path, {
                  type: "application/json",
                  body: toJson({ [key]: (input.body as { v: unknown }).v }),
                });
          expect(r.status, show(r)).toBeLessThan(500);
          const given = input.q ?? (input.body as { v: unknown }).v;
          const n =
            typeof given === "number" ? given : given instanceof Raw ? Number(given.text) : Number.NaN;
          if (Number.isFinite(n) && n > 1_000_000) expectClientError(r, { status: 422 });
        },
      ),
      runs(100),
    );
  });

  it("then data-lifecycle answers below 500 for any cutoff_timestamp, and a refusal writes nothing", async () => {
    const cutoff = fc.oneof(
      queryText,
      fc.constantFrom(
        "0001-01-01T00:00:00",
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59.999999-23:59",
        "2024-02-30T00:00:00",
        "2024-01-01T24:00:00",
        "1e308",
      ),
      fc
        .tuple(
          fc.integer({ min: 0, max: 1000 }),
          fc.integer({ min: 0, max: 13 }),
          fc.integer({ min: 0, max: 32 }),
        )
        .map(
          ([y, m, d]) =>
            `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`,
        ),
    );
    await fc.assert(
      fc.asyncProperty(cutoff, async (c) => {
        await neverServerError(() =>
          http("POST", `/servicex/internal/data-lifecycle${query([["cutoff_timestamp", c]])}`),
        );
      }),
      runs(100),
    );
  });
});

describe("When the pages' forms are posted with arbitrary bodies", () => {
  it("then cancel, delete, dataset delete and user actions answer below 500 and change nothing without the session's CSRF token", async () => {
    const paths = () => [
      `/transformation-request/${seed.flRequest}/cancel`,
      `/transformation-request/${seed.flRequest}/delete`,
      `/datasets/${seed.flDataset}/delete`,
      "/admin/users/1/approve",
      "/admin/users/99999999999/delete",
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths().keys()), rawForm, async (i, body) => {
        const before = await snapshot();
        await below500(() => http("POST", paths()[i]!, { type: "application/x-www-form-urlencoded", body }));
        expect(await snapshot()).toEqual(before);
      }),
      runs(100),
    );
  });
});
