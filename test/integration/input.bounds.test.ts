// Bounds of the values callers send (numbers the columns can hold, sums that cannot overflow, text that
// Postgres can store), on every route and body encoding that takes them: POST /accept (JSON, query, form),
// signed Slack clicks, the lifecycle routes, file-complete reports and DID submits. Bad values answer 4xx
// with the App's error shape; values the columns hold but whose sums would not fit saturate.
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MemoryBroker } from "../../src/adapters/broker/memory.broker.js";
import type { UserRecord } from "../../src/adapters/repositories/users.repo.js";
import { toAppError } from "../../src/http/middleware/errorHandler.js";
import { slackBlockActionsPayload, slackInteractionBody, slackSignedHeaders } from "../helpers/fakeSlack.js";
import { type Answer, type CallOptions, httpCall } from "../helpers/http.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

const SIGNING_SECRET = `bounds-slack-${randomBytes(8).toString("hex")}`;
const NUL = "\u0000";
const INT8_MAX = 9223372036854775807n;
const INTERNAL = "/servicex/internal/transformation";

let app: TestApp;
let adminToken: string;

const call = (method: string, path: string, o: CallOptions = {}) => httpCall(`${app.url}${path}`, method, o);
const api = (method: string, path: string, o: CallOptions = {}) =>
  call(method, path, { token: adminToken, ...o });

/**
 * 4xx with the App's error body: {message: string, code: string}; the lifecycle routes keep upstream's
 * {message} (`code: false`).
 */
function expectRefused(r: Answer, status: number, what: string, o: { code?: boolean } = {}): void {
  expect({ what, status: r.status }).toEqual({ what, status });
  const body = r.json as { message?: unknown; code?: unknown };
  expect(typeof body?.message, `${what}: ${r.text}`).toBe("string");
  if (o.code !== false) expect(typeof body?.code, `${what}: ${r.text}`).toBe("string");
}

let n = 0;
async function pendingUser(): Promise<UserRecord> {
  const u = await app.deps.users.provision({
    sub: `s-${randomUUID()}`,
    email: `bounds.${++n}.${randomBytes(3).toString("hex")}@users.example`,
    name: "Pending",
    institution: "U",
  });
  return u!;
}

const submitDefaults = {
  selection: "(call ResultTTree (call Select (call SelectMany (call EventDataset 'ds') j) pt) 'tree')",
  codegen: "passthrough",
  "result-destination": "object-store",
  "result-format": "parquet",
};

/** A running file-list request of `count` files: its id and the file ids. */
async function runningRequest(count: number): Promise<{ requestId: string; fileIds: number[] }> {
  const tag = randomBytes(4).toString("hex");
  const r = await api("POST", "/servicex/transformation", {
    body: {
      ...submitDefaults,
      "file-list": Array.from({ length: count }, (_, i) => `root://eos.example//bounds/${tag}/f${i}.root`),
    },
  });
  expect(r.status, r.text).toBe(200);
  const requestId = (r.json as { request_id: string }).request_id;
  const rows = await app.deps.db.sql.query<{ id: number }>(
    "SELECT f.id FROM files f JOIN requests r ON r.did_id = f.dataset_id WHERE r.request_id = $1 ORDER BY f.id",
    [requestId],
  );
  return { requestId, fileIds: rows.map((x) => x.id) };
}

const report = (fileId: number, extra: Record<string, unknown> = {}) => ({
  requestId: "ignored",
  "file-path": `root://eos.example//f${fileId}.root`,
  "file-id": fileId,
  status: "success",
  "total-time": 1,
  "total-events": 10,
  "total-bytes": 100,
  "avg-rate": 10,
  ...extra,
});

/** Runs fns with at most `width` in flight. */
async function pool<T>(items: readonly T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

beforeAll(async () => {
  app = await startTestApp({
    backend: "postgres",
    broker: "memory",
    env: {
      ENABLE_AUTH: "true",
      JWT_SECRET_KEY: `bounds-jwt-${randomBytes(8).toString("hex")}`,
      SECRET_KEY: "bounds-session",
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_RESPONSE_URL_HOSTS: JSON.stringify(["127.0.0.1"]),
      RATE_LIMIT_PER_MINUTE: "100000",
    },
  });
  const admin = await app.deps.users.provision({
    sub: "bounds-admin",
    email: "admin@bounds.example",
    name: "Admin",
    institution: "HQ",
    refreshToken: "pre-provisioned",
  });
  await app.deps.users.setAdmin(admin!.email, true);
  adminToken = app.deps.jwt!.issue("access", admin!.email).token;
}, 120_000);

afterAll(async () => {
  await app?.close();
});

describe("NUL bytes and over-long text in the e-mail of an approval", () => {
  it("When POST /accept carries a NUL byte in the e-mail as JSON, query or form, then it answers 400 and approves no one", async () => {
    const u = await pendingUser();
    const bad = `${u.email}${NUL}`;
    expectRefused(await api("POST", "/accept", { body: { email: bad } }), 400, "json");
    expectRefused(await api("POST", `/accept?email=${encodeURIComponent(bad)}`), 400, "query");
    expectRefused(await api("POST", "/accept", { form: { email: bad } }), 400, "form");
    expectRefused(await api("POST", "/accept", { body: { email: "x".repeat(321) } }), 400, "too long");
    expect((await app.deps.users.repo.byId(u.id))?.pending).toBe(true);
    // The same user with a clean e-mail is approved: the refusals were about the value only.
    const ok = await api("POST", "/accept", { form: { email: u.email } });
    expect(ok.status, ok.text).toBe(200);
  });

  it("When a signed Slack accept_user or reject_user click carries a NUL byte in the e-mail, then it answers 400 and changes no one", async () => {
    const u = await pendingUser();
    for (const actionId of ["accept_user", "reject_user"]) {
      const body = slackInteractionBody(
        slackBlockActionsPayload({
          actionId,
          value: `${u.email}${NUL}`,
          responseUrl: "http://127.0.0.1:9/unused",
        }),
      );
      const r = await call("POST", "/slack", {
        raw: body,
        headers: slackSignedHeaders(SIGNING_SECRET, body),
      });
      expectRefused(r, 400, actionId);
    }
    expect((await app.deps.users.repo.byId(u.id))?.pending).toBe(true);
  });
});

describe("Huge numbers in file-complete reports", () => {
  it("When two file-complete reports carry avg-rate 1e308, then both are stored and GET …/status answers 200 with the average", async () => {
    const { requestId, fileIds } = await runningRequest(2);
    for (const id of fileIds) {
      const r = await call("PUT", `${INTERNAL}/${requestId}/file-complete`, {
        body: report(id, { "avg-rate": 1e308 }),
      });
      expect(r.status, r.text).toBe(200);
    }
    const s = await api("GET", `/servicex/transformation/${requestId}/status`);
    expect(s.status, s.text).toBe(200);
    expect((s.json as { stats: { "avg-rate": number } }).stats["avg-rate"]).toBe(1e308);
    const d = await api("GET", `/servicex/transformation/${requestId}/status?details=true`);
    expect(d.status, d.text).toBe(200);
  });

  it("When 1,030 reports of total-bytes 2^53-1 arrive, then every one is counted, the request completes and total_bytes saturates at the largest bigint", async () => {
    const { requestId, fileIds } = await runningRequest(1030);
    expect(fileIds).toHaveLength(1030);
    const failures: string[] = [];
    await pool(fileIds, 16, async (id) => {
      const r = await call("PUT", `${INTERNAL}/${requestId}/file-complete`, {
        body: report(id, { "total-bytes": Number.MAX_SAFE_INTEGER, "total-events": Number.MAX_SAFE_INTEGER }),
      });
      if (r.status !== 200) failures.push(`${id}: ${r.status} ${r.text}`);
    });
    expect(failures).toEqual([]);
    const rows = await app.deps.db.sql.query<{
      status: string;
      files_completed: number;
      total_bytes: string;
      total_events: string;
    }>(
      `SELECT status::text AS status, files_completed, total_bytes::text AS total_bytes,
              total_events::text AS total_events FROM requests WHERE request_id = $1`,
      [requestId],
    );
    expect(rows[0]).toEqual({
      status: "complete",
      files_completed: 1030,
      total_bytes: String(INT8_MAX),
      total_events: String(INT8_MAX),
    });
    const s = await api("GET", `/servicex/transformation/${requestId}/status`);
    expect(s.status, s.text).toBe(200);
    const g = await api("GET", `/servicex/transformation/${requestId}`);
    expect(g.status, g.text).toBe(200);
  });
});

describe("Lifecycle parameters beyond what an interval holds", () => {
  it("When dataset-lifecycle gets age=99999999999999999999 or {age: 1e308}, then it answers 422 'Invalid age parameter'", async () => {
    for (const [what, o] of [
      ["query", { path: "/servicex/internal/dataset-lifecycle?age=99999999999999999999" }],
      ["json", { path: "/servicex/internal/dataset-lifecycle", body: { age: 1e308 } }],
      ["json string", { path: "/servicex/internal/dataset-lifecycle", body: { age: "1e308" } }],
      [
        "json big string",
        { path: "/servicex/internal/dataset-lifecycle", body: { age: "99999999999999999999" } },
      ],
    ] as const) {
      const r = await api("POST", o.path, "body" in o ? { body: o.body } : {});
      expectRefused(r, 422, what, { code: false });
      expect((r.json as { message: string }).message).toBe("Invalid age parameter");
    }
    const ok = await api("POST", "/servicex/internal/dataset-lifecycle?age=1000000");
    expect(ok.status, ok.text).toBe(200);
  });

  it("When kubernetes-cleanup gets maxAge=1e308 or a 20-digit maxAge, then it answers 422 'Invalid maxAge parameter'", async () => {
    for (const o of [
      { path: "/servicex/internal/kubernetes-cleanup?maxAge=99999999999999999999" },
      { path: "/servicex/internal/kubernetes-cleanup", body: { maxAge: 1e308 } },
    ]) {
      const r = await api("POST", o.path, "body" in o ? { body: o.body } : {});
      expectRefused(r, 422, o.path, { code: false });
    }
  });
});

describe("Text Postgres cannot store that reaches it past a schema", () => {
  it("When Postgres refuses a NUL character, then the error handler makes it a 400 'invalid_text', not a 500", async () => {
    const err = await app.deps.db.sql
      .query("SELECT $1::text AS t", [`a${NUL}b`])
      .then(() => null)
      .catch((e: unknown) => e);
    expect(err, "Postgres accepted a NUL character").not.toBeNull();
    const e = toAppError(err);
    expect({ status: e.status, code: e.code }).toEqual({ status: 400, code: "invalid_text" });
    expect(toAppError(new Error("anything else")).status).toBe(500);
  });
});

describe("DIDs that name no dataset, and codegen names that are Object.prototype keys", () => {
  const rows = async () =>
    (
      await app.deps.db.sql.query<{ n: string }>(
        "SELECT ((SELECT count(*) FROM requests) + (SELECT count(*) FROM datasets))::text AS n",
      )
    )[0]!.n;
  const lookups = () =>
    (app.deps.broker as unknown as MemoryBroker).messages(`did_finder_${app.scheme}`).length +
    (app.deps.broker as unknown as MemoryBroker).messages("did_finder_rucio").length;

  it("When a DID is `rucio://`, blank, `://x` or otherwise names nothing, then submit answers 400 and no lookup is sent", async () => {
    const before = { rows: await rows(), lookups: lookups() };
    for (const did of [
      "rucio://",
      `${app.scheme}://`,
      " ",
      "\t",
      "://x",
      "rucio://   ",
      " rucio://mc23:x",
      "rucio://mc23:x ",
      "ru-cio://mc23:x",
      "rucio://mc23:\nx",
    ]) {
      const r = await api("POST", "/servicex/transformation", { body: { ...submitDefaults, did } });
      expectRefused(r, 400, JSON.stringify(did));
      expect((r.json as { code: string }).code, JSON.stringify(did)).toBe("invalid_did");
    }
    expect({ rows: await rows(), lookups: lookups() }).toEqual(before);
    // A real DID with and without the scheme is still accepted.
    for (const did of [`${app.scheme}://mc23:ok.${randomBytes(3).toString("hex")}`, "mc23:plain.name"]) {
      const ok = await api("POST", "/servicex/transformation", { body: { ...submitDefaults, did } });
      expect(ok.status, ok.text).toBe(200);
    }
  });

  it("When codegen is `constructor`, `__proto__`, `toString` or `hasOwnProperty`, then submit answers 400 'Invalid Codegen Image Passed in Request: <name>'", async () => {
    const before = await rows();
    for (const codegen of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]) {
      const r = await api("POST", "/servicex/transformation", {
        body: { ...submitDefaults, codegen, "file-list": ["root://eos.example//x.root"] },
      });
      expectRefused(r, 400, codegen);
      expect((r.json as { message: string }).message).toBe(
        `Invalid Codegen Image Passed in Request: ${codegen}`,
      );
    }
    expect(await rows()).toBe(before);
  });
});
