// The repositories' row declarations (src/adapters/db/rowShape.ts) against the database: every shaped query
// the repositories run is described by Postgres (PGlite's describeQuery: result column names and types) and
// compared with its declaration, and every row the drivers returned (node-postgres on a Postgres server,
// and the embedded PGlite) is checked value by value: the declared keys only, the JavaScript type the
// declared Postgres type comes as, NULL only in a column declared nullable. This stands in for the types
// TypedSQL would generate (docs/database.md, "Typed SQL").
import { randomUUID } from "node:crypto";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { type Database, openDatabase, type Sql, type SqlDb } from "../../src/adapters/db/database.js";
import { applyMigrations } from "../../src/adapters/db/migrate.js";
import {
  type Columns,
  declaredShapes,
  observeShapedQueries,
  type PgType,
} from "../../src/adapters/db/rowShape.js";
import { IdempotencyRepo } from "../../src/adapters/repositories/idempotency.repo.js";
import { type DashboardFilter, PagesRepo } from "../../src/adapters/repositories/pages.repo.js";
import { ProgressRepo } from "../../src/adapters/repositories/progress.repo.js";
import { ReconcileRepo } from "../../src/adapters/repositories/reconcile.repo.js";
import { RemovedAccountsRepo } from "../../src/adapters/repositories/removedAccounts.repo.js";
import { type NewRequest, RequestsRepo } from "../../src/adapters/repositories/requests.repo.js";
import { RerunsRepo } from "../../src/adapters/repositories/reruns.repo.js";
import { ResultsRepo } from "../../src/adapters/repositories/results.repo.js";
import { UsersRepo } from "../../src/adapters/repositories/users.repo.js";
import { PrismaClient } from "../../src/generated/prisma/client.js";
import { createTestDatabase, type TestDatabase } from "../helpers/pg.js";

interface Seen {
  columns: Columns;
  text: string;
  rows: number;
}

/** Runs the shaped queries of every converted repository on `db`; returns what ran and the value problems. */
async function exercise(db: Database): Promise<{ seen: Seen[]; problems: string[] }> {
  const seen: Seen[] = [];
  const problems: string[] = [];
  observeShapedQueries((columns, text, rows) => {
    seen.push({ columns, text, rows: rows.length });
    for (const row of rows) problems.push(...checkRow(columns, row, text));
  });
  try {
    await run(db);
  } finally {
    observeShapedQueries(null);
  }
  return { seen, problems };
}

async function run(db: Database): Promise<void> {
  const requests = new RequestsRepo(db);
  const results = new ResultsRepo(db);
  const progress = new ProgressRepo(db);
  const pages = new PagesRepo(db);
  const reconcile = new ReconcileRepo(db);
  const reruns = new RerunsRepo(db);
  const idem = new IdempotencyRepo(db);
  const removed = new RemovedAccountsRepo(db);
  const q = (text: string, params: unknown[] = []) => db.sql.query(text, params);

  const sub = `sub-${randomUUID()}`;
  const [user] = await db.sql.query<{ id: number }>(
    "INSERT INTO users (sub, email, name, pending) VALUES ($1, $2, 'Row Shapes', false) RETURNING id",
    [sub, `${sub}@example.org`],
  );
  const userId = user!.id;
  const name = `rucio://shapes-${randomUUID()}`;
  const [ds] = await db.sql.query<{ id: number }>(
    `INSERT INTO datasets (name, last_used, last_updated, did_finder, n_files, size, events, lookup_status)
     VALUES ($1, now(), now(), 'rucio', 3, 300, 30, 'complete') RETURNING id`,
    [name],
  );
  const datasetId = ds!.id;
  const fileIds: number[] = [];
  for (let i = 1; i <= 3; i++) {
    const [f] = await db.sql.query<{ id: number }>(
      "INSERT INTO files (dataset_id, paths, file_size, file_events) VALUES ($1, $2, 100, 10) RETURNING id",
      [datasetId, `root://a//${i}.root,root://b//${i}.root`],
    );
    fileIds.push(f!.id);
  }
  const base: NewRequest = {
    requestId: randomUUID(),
    title: "shapes ttbar",
    did: name,
    didId: datasetId,
    selection: "sel",
    treeName: null,
    image: "img",
    workers: 1,
    resultDestination: "object-store",
    resultFormat: "root-file",
    submittedBy: userId,
    files: 3,
    generatedCodeCm: "cm",
    status: "running",
    appVersion: "1",
    codeGenImage: "cg",
    transformerLanguage: null,
    transformerCommand: null,
  };
  const lookupReq = { ...base, requestId: randomUUID(), status: "lookup" as const, title: null };
  // A finished request without failed files: the one a submit may reuse.
  const done = { ...base, requestId: randomUUID(), status: "complete" as const };
  const ids = await db.sql.transaction(async (tx) => [
    await requests.insert(tx, base),
    await requests.insert(tx, lookupReq),
    await requests.insert(tx, done),
  ]);
  const [runId, lookupId] = ids;
  if (runId === undefined || lookupId === undefined) throw new Error("requests not inserted");
  await requests.advanceWatermark(runId, fileIds[2]!);

  // Requests.
  await requests.find(base.requestId);
  await requests.find(String(runId));
  await requests.list({});
  await requests.list({ submittedBy: userId, skip: 0, take: 5 });
  await requests.statuses([base.requestId, lookupReq.requestId]);
  await requests.resultFormat(base.requestId);
  await requests.countActive(userId);
  await requests.dispatchRow(runId);
  await requests.activeDispatchIds();
  await db.sql.transaction(async (tx) => {
    await requests.lockAwaitingDataset(tx, datasetId);
    await requests.runningOnDataset(tx, datasetId);
  });

  // Reports: one success, two failures, then the request completes; file-status rows and progress.
  const report = (i: number, success: boolean) => ({
    requestId: base.requestId,
    fileId: fileIds[i]!,
    success,
    status: success ? "success" : "failure",
    filePath: `root://a//${i + 1}.root`,
    transformTime: 1.5,
    totalEvents: 10,
    totalBytes: 100,
    avgRate: 6.5,
    s3ObjectName: success ? `obj${i}` : null,
    podName: "pod-1",
    info: success ? null : "boom",
  });
  for (const i of [1, 2]) {
    await results.addFileStatus({
      requestId: base.requestId,
      fileId: fileIds[i]!,
      status: "failure",
      timestamp: new Date().toISOString(),
      podName: `pod-${i}`,
      info: "boom",
    });
  }
  await progress.snapshotRunning([base.requestId], 0);
  await results.applyReports([report(0, true)]);
  await results.applyReports([report(1, false), report(2, false), report(0, true)]);
  await progress.history(base.requestId);
  await results.listForRequest(base.requestId, null);
  await results.listForRequest(base.requestId, "2000-01-01T00:00:00Z");
  await results.failures(base.requestId);
  await requests.stats(base.requestId);
  await requests.cacheBytes();
  await requests.submitTimeFreeing(1);
  await requests.submittedThrough(new Date(Date.now() + 60_000).toISOString());
  await requests.countByStatus();
  await requests.findReusable({
    datasetName: name,
    selection: "sel",
    codeGenImage: "cg",
    resultFormat: "root-file",
    resultDestination: "object-store",
    treeName: null,
    submittedBy: userId,
  });

  // Pages: every filter, sort and order, both search plans, status slices, the read models of a request.
  const filters: DashboardFilter[] = ["active", "failed", "complete", "canceled", "all"];
  for (const filter of filters) {
    for (const sort of ["start", "finish", "status"] as const) {
      for (const order of ["asc", "desc"] as const) {
        await pages.requests({ filter, sort, order, limit: 10, offset: 0 });
      }
    }
  }
  await pages.requests({
    submittedBy: userId,
    filter: "all",
    search: { words: ["ttbar"] },
    plan: "index",
    sort: "start",
    order: "desc",
    limit: 10,
    offset: 0,
  });
  await pages.requests({
    filter: "all",
    search: { words: ["shapes"] },
    plan: "walk",
    sort: "start",
    order: "desc",
    limit: 10,
    offset: 0,
  });
  await pages.requests({
    filter: "all",
    search: { requestId: base.requestId },
    sort: "start",
    order: "desc",
    limit: 10,
    offset: 0,
  });
  await pages.requestsByStatus({
    submittedBy: userId,
    slices: [
      { status: "complete", failed: true, skip: 0, take: 5 },
      { status: "complete", failed: false, skip: 0, take: 5 },
      { status: "lookup", skip: 0, take: 5 },
    ],
  });
  await pages.dashboardCounts({});
  await pages.dashboardCounts({ submittedBy: userId, search: { words: ["ttbar"] } });
  await pages.dashboardRows([runId, lookupId]);
  await pages.dashboardRows([runId, lookupId], userId);
  for (const status of [undefined, "success", "failure"] as const) {
    await pages.results({ requestId: base.requestId, status, limit: 10, offset: 0 });
  }
  await pages.errorGroups(base.requestId, 10);
  for (const sort of ["last_used", "last_updated", "name", "size", "events", "files"] as const) {
    await pages.datasets({ sort, order: "desc", showDeleted: false, limit: 10, offset: 0 });
  }
  await pages.datasets({ sort: "name", order: "asc", showDeleted: true, limit: 10, offset: 0 });
  await pages.dataset(datasetId);
  await pages.datasetFiles(datasetId, 10, 0);
  await pages.datasetRequests(datasetId, 10);
  await pages.datasetRequests(datasetId, 10, userId);

  // Re-run of the two failed files, then the re-runs listed.
  await reruns.datasetStale(datasetId);
  await db.sql.transaction(async (tx) => {
    await reruns.lock(tx, runId);
    await reruns.start(tx, { id: runId, requestId: base.requestId, userId });
  });
  await reruns.list(base.requestId);
  await reruns.list(String(runId));

  // Reconciler: a stalled lookup and a stalled run (timeouts of 0 s), leases.
  await q("UPDATE datasets SET lookup_status = 'looking' WHERE id = $1", [datasetId]);
  await reconcile.stalledLookups(0);
  await reconcile.stalledRuns(0);
  await reconcile.noteAttempt(runId);
  await reconcile.reopenLookup(datasetId);
  await reconcile.unclaimedDispatches();
  const lease = `shapes-${randomUUID()}`;
  await reconcile.lease(lease, "me", 60_000);
  await reconcile.leaseAcquiredAt(lease, 60_000);
  await reconcile.dbNow();
  await reconcile.releaseLease(lease, "me");

  // Idempotency keys and removed accounts.
  await idem.claim(userId, "k1", "h1");
  await idem.get(userId, "k1");
  await idem.complete(userId, "k1", base.requestId);
  await idem.claim(userId, "k2", "h2");
  await idem.release(userId, "k2");
  await idem.expire(0);

  // Users: lookups, identities, sessions, updates, deletes.
  const users = new UsersRepo(db);
  const iss = "https://issuer.example";
  const made = await users.insert(
    {
      sub: `new-${randomUUID()}`,
      email: `${randomUUID()}@example.org`,
      name: "New",
      institution: null,
      experiment: null,
      admin: false,
      pending: true,
      refreshToken: null,
    },
    { iss, sub: `id-${randomUUID()}`, email: null, emailVerified: true },
  );
  await users.byId(userId);
  await users.byIdWithStatus(made.id);
  await users.byEmail(`${sub}@example.org`);
  await users.bySub(sub);
  await users.byAnyEmail(["nobody@example.org", `${sub}@example.org`]);
  await users.list();
  await users.list({ pending: true, emailContains: "example" });
  await users.countByState();
  await users.bindIdentity({ userId, iss, sub, email: null, emailVerified: false });
  await users.bySubject(iss, [sub]);
  await users.bySubject(iss, [made.sub]);
  await users.hasIdentity(userId);
  await users.noteSignIn(iss, sub, `${sub}@example.org`, true);
  await users.setEmailVerified(userId, true);
  const session = randomUUID();
  await users.startSession({ id: session, userId: null, iss, sub, ttlSeconds: 60 });
  await users.attachSession(session, userId);
  await users.sessionUser(session);
  await users.endSessions({ id: session });
  await users.update(made.id, { name: "Renamed", refreshToken: "t" });
  await users.delete(made.id);
  await users.deleteAll({ pending: true });

  // Ending and deleting: finish (any and only-from), delete.
  await db.sql.transaction(async (tx) => {
    await requests.finish(tx, lookupReq.requestId, "canceled", "stopped", ["lookup"]);
    await requests.finish(tx, base.requestId, "complete");
    await requests.delete(tx, lookupId, lookupReq.requestId);
  });
  await q("DELETE FROM users WHERE id = $1", [userId]);
  await removed.latest(iss, [sub]);
}

/** The JavaScript type each Postgres type arrives as (node-postgres or PGlite). */
const JS_TYPES: Record<PgType, (v: unknown) => boolean> = {
  int2: Number.isInteger,
  int4: Number.isInteger,
  int8: (v) => (typeof v === "string" && /^-?\d+$/.test(v)) || Number.isInteger(v),
  float4: (v) => typeof v === "number",
  float8: (v) => typeof v === "number",
  numeric: (v) => typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v),
  text: (v) => typeof v === "string",
  varchar: (v) => typeof v === "string",
  bool: (v) => typeof v === "boolean",
  timestamp: (v) => v instanceof Date,
  timestamptz: (v) => v instanceof Date,
  transformstatus: (v) =>
    typeof v === "string" &&
    [
      "submitted",
      "pending_lookup",
      "lookup",
      "running",
      "complete",
      "fatal",
      "canceled",
      "bad_dataset",
    ].includes(v),
  "text[]": (v) => Array.isArray(v) && v.every((x) => typeof x === "string"),
  "int4[]": (v) => Array.isArray(v) && v.every(Number.isInteger),
};

const isPgType = (t: string): t is PgType => Object.hasOwn(JS_TYPES, t);

function parse(t: string): { type: PgType; nullable: boolean } {
  const nullable = t.endsWith("?");
  const type = nullable ? t.slice(0, -1) : t;
  if (!isPgType(type)) throw new Error(`unknown declared type ${t}`);
  return { type, nullable };
}

function checkRow(columns: Columns, row: object, text: string): string[] {
  const out: string[] = [];
  const where = text.replace(/\s+/g, " ").slice(0, 90);
  const values = new Map(Object.entries(row));
  for (const key of values.keys()) if (!(key in columns)) out.push(`${where}: undeclared column ${key}`);
  for (const [key, t] of Object.entries(columns)) {
    const { type, nullable } = parse(t);
    if (!values.has(key)) {
      out.push(`${where}: declared column ${key} missing`);
      continue;
    }
    const v = values.get(key);
    if (v === null) {
      if (!nullable) out.push(`${where}: ${key} is NULL but declared ${t}`);
    } else if (!JS_TYPES[type](v)) out.push(`${where}: ${key} = ${JSON.stringify(v)} is not a ${t}`);
  }
  return out;
}

let pgDb: TestDatabase;
let onPostgres: Database;
let onPglite: Database;
let describer: PGlite;

/**
 * The repositories on the describing PGlite itself, as openDatabase() wraps an embedded one (one migrated
 * PGlite serves both; starting a second costs tens of seconds on a busy machine).
 */
function onPgliteInstance(lite: PGlite): Database {
  const sql: SqlDb = {
    async query<T>(text: string, params?: unknown[]) {
      return (await lite.query<T>(text, params)).rows;
    },
    transaction<R>(fn: (tx: Sql) => Promise<R>) {
      return lite.transaction(async (t) =>
        fn({
          async query<T>(text: string, params?: unknown[]) {
            return (await t.query<T>(text, params)).rows;
          },
        }),
      );
    },
  };
  return {
    kind: "pglite",
    prisma: new PrismaClient({ adapter: new PrismaPGlite(lite) }),
    sql,
    control: sql,
    async ping() {},
    async close() {},
  };
}

beforeAll(async () => {
  pgDb = await createTestDatabase("sx_shapes");
  onPostgres = await openDatabase({ url: pgDb.url, migrate: false, poolSize: 2 });
  describer = new PGlite();
  await describer.exec("SET TIME ZONE 'UTC'");
  await applyMigrations({ kind: "pglite", db: describer });
  onPglite = onPgliteInstance(describer);
}, 300_000);

afterAll(async () => {
  await onPostgres?.close();
  await onPglite?.prisma.$disconnect();
  await describer?.close();
  await pgDb?.drop();
});

describe("The repositories' row declarations", () => {
  it("when every shaped query runs on Postgres and on PGlite, then every value is of its declared type, NULL only where declared, and every declaration is exercised", async () => {
    const pg = await exercise(onPostgres);
    const lite = await exercise(onPglite);
    expect([...pg.problems, ...lite.problems]).toEqual([]);
    // Every query ran at least once with rows on one driver or the other (a value check needs a row).
    const unexercised = declaredShapes().filter((c) => !pg.seen.some((s) => s.columns === c && s.rows > 0));
    expect(unexercised).toEqual([]);
  });

  it("when Postgres describes each shaped query, then its result columns are the declared names and types", async () => {
    const { seen } = await exercise(onPglite);
    const types = new Map<number, string>();
    const catalog = await describer.query<{ oid: number; typname: string; elem: string | null }>(
      "SELECT t.oid::int AS oid, t.typname, e.typname AS elem FROM pg_type t LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'",
    );
    for (const r of catalog.rows) types.set(r.oid, r.elem ? `${r.elem}[]` : r.typname);
    const problems: string[] = [];
    const done = new Set<string>();
    for (const s of seen) {
      if (done.has(s.text)) continue;
      done.add(s.text);
      const where = s.text.replace(/\s+/g, " ").slice(0, 90);
      const d = await describer.describeQuery(s.text);
      const actual = d.resultFields.map((f) => `${f.name}:${types.get(f.dataTypeID) ?? f.dataTypeID}`).sort();
      const declared = Object.entries(s.columns)
        .map(([k, t]) => `${k}:${parse(t).type}`)
        .sort();
      if (actual.join(",") !== declared.join(",")) {
        problems.push(`${where}\n  described: ${actual.join(", ")}\n  declared:  ${declared.join(", ")}`);
      }
    }
    expect(problems).toEqual([]);
    expect(done.size).toBeGreaterThan(40);
  });
});
