// DID-finder and sidecar callbacks through a database blip, and repeated or overlapping DID-finder batches.
// DID finders and sidecars ignore status codes (contract A.26), so an answer of 503 is lost work: the App
// waits a restarting database out. The database is cut for this App only, with a TCP proxy in front of the
// machine's Postgres; tasks are counted on the in-process broker (queues private to this App).
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { MemoryBroker } from "../../src/adapters/broker/memory.broker.js";
import { completeLookup, failLookup, reportFile, sendFiles, submit } from "../helpers/factories.js";
import { httpCall } from "../helpers/http.js";
import { type TestDatabase, createTestDatabase } from "../helpers/pg.js";
import { type TcpProxy, tcpProxy } from "../helpers/tcpProxy.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

let db: TestDatabase;
let proxy: TcpProxy;
let app: TestApp;
/** The machine's Postgres directly (not through the proxy), to look at rows while the App's link is cut. */
let direct: pg.Pool;
beforeAll(async () => {
  db = await createTestDatabase();
  direct = new pg.Pool({ connectionString: db.url, max: 2 });
  const u = new URL(db.url);
  proxy = await tcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
  await proxy.up();
  u.port = String(proxy.port);
  app = await startTestApp({
    backend: "postgres",
    broker: "memory",
    databaseUrl: u.toString(),
    // The reconciler stays off: what is re-sent here is re-sent by the callbacks themselves.
    env: { RECONCILE_INTERVAL: "0", RECONCILE_MAX_ATTEMPTS: "2" },
  });
});
afterEach(async () => {
  await proxy.up();
});
afterAll(async () => {
  await app?.close().catch(() => {});
  await direct?.end();
  await proxy?.down();
  await db?.drop();
});

const broker = () => app.deps.broker as MemoryBroker;
const q = async <T>(sql: string, params: unknown[] = []): Promise<T[]> =>
  (await direct.query(sql, params)).rows as T[];
const BASE = () => `${app.url}/servicex/internal/transformation`;

/** Cuts the App's database link now; `back` resolves once it is restored, `ms` later. */
async function outage(ms: number): Promise<{ back: Promise<void> }> {
  await proxy.down();
  return { back: new Promise<void>((resolve) => setTimeout(() => void proxy.up().then(resolve), ms)) };
}

interface Row {
  status: string;
  files: number;
  files_completed: number;
  files_failed: number;
  did_id: number;
}
const request = async (id: string) =>
  (
    await q<Row>(
      "SELECT status::text AS status, files, files_completed, files_failed, did_id FROM requests WHERE request_id = $1",
      [id],
    )
  )[0]!;
const dataset = async (id: number) =>
  (
    await q<{ lookup_status: string; n_files: number; stale: boolean; rows: number; distinct_paths: number }>(
      `SELECT d.lookup_status, d.n_files, d.stale,
              (SELECT count(*)::int FROM files f WHERE f.dataset_id = d.id) AS rows,
              (SELECT count(DISTINCT paths)::int FROM files f WHERE f.dataset_id = d.id) AS distinct_paths
       FROM datasets d WHERE d.id = $1`,
      [id],
    )
  )[0]!;

const batch = (tag: string, from: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    paths: [`root://a//${tag}/f${from + i}.root`, `root://b//${tag}/f${from + i}.root`],
    adler32: "62c5e3e5",
    file_size: 1000,
    file_events: 10,
  }));

/** The transform tasks published for a request, by file id (the queue has no consumer here). */
function tasksOf(requestId: string): { total: number; distinct: number } {
  const ids = broker()
    .messages(`transformer-${requestId}`)
    .map((m) => (m.body as [unknown, { file_id: number }])[1].file_id);
  return { total: ids.length, distinct: new Set(ids).size };
}

async function tasksSettled(requestId: string, n: number): Promise<{ total: number; distinct: number }> {
  await eventually(async () => tasksOf(requestId).total >= n, 30_000, `${n} tasks for ${requestId}`);
  await app.deps.dispatcher.idle();
  return tasksOf(requestId);
}

const lookupsFor = (datasetId: number) =>
  broker()
    .messages(`did_finder_${app.scheme}`)
    .filter((m) => (m.body as [unknown[]])[0][1] === datasetId).length;

const complete = (datasetId: number, files: number) =>
  completeLookup(app, datasetId, { files, "total-events": files * 10, "total-bytes": files * 1000 });

describe("When the database restarts while a DID finder streams 10 batches of 300", () => {
  it("then every batch is answered 200 once the database is back, and every file is stored and tasked once", async () => {
    const tag = `stream-${Date.now()}`;
    const id = await submit(app, { did: `${app.scheme}://${tag}` });
    const ds = (await request(id)).did_id;
    let back: Promise<void> | undefined;
    for (let b = 0; b < 10; b++) {
      // The database goes away after the third batch, for 3 s, while batches keep coming.
      if (b === 3) ({ back } = await outage(3000));
      const t0 = Date.now();
      const r = await sendFiles(app, ds, batch(tag, b * 300, 300));
      expect(r.status, `batch ${b}: ${r.text}`).toBe(200);
      if (b === 3) expect(Date.now() - t0).toBeGreaterThan(1000);
    }
    await back;
    expect((await complete(ds, 3000)).status).toBe(200);

    expect(await request(id)).toMatchObject({ status: "running", files: 3000 });
    expect(await dataset(ds)).toMatchObject({
      lookup_status: "complete",
      n_files: 3000,
      rows: 3000,
      distinct_paths: 3000,
    });
    expect(await tasksSettled(id, 3000)).toEqual({ total: 3000, distinct: 3000 });
  });
});

describe("When the database restarts during the DID finder's /complete or /error", () => {
  it("then /complete waits and starts the request, and /error waits and ends its request as Bad Dataset", async () => {
    const tag = `complete-${Date.now()}`;
    const id = await submit(app, { did: `${app.scheme}://${tag}` });
    const ds = (await request(id)).did_id;
    expect((await sendFiles(app, ds, batch(tag, 0, 300))).status).toBe(200);
    const { back } = await outage(2500);
    const r = await complete(ds, 300);
    await back;
    expect(r.status, r.text).toBe(200);
    expect(await request(id)).toMatchObject({ status: "running", files: 300 });
    expect(await dataset(ds)).toMatchObject({ lookup_status: "complete", n_files: 300 });

    const bad = await submit(app, { did: `${app.scheme}://${tag}-missing` });
    const badDs = (await request(bad)).did_id;
    const { back: back2 } = await outage(2500);
    const e = await failLookup(app, badDs, { message: "no such dataset", "error-type": "does_not_exist" });
    await back2;
    expect(e.status, e.text).toBe(200);
    expect((await request(bad)).status).toBe("bad_dataset");
    expect(await dataset(badDs)).toMatchObject({ lookup_status: "does_not_exist", stale: true });
  });
});

describe("When sidecar v1.5.3 reports (no s3-object-name) while the database restarts", () => {
  it("then every report waits, is recorded with its object name, and the request completes with exact counters", async () => {
    const tag = `sidecar-${Date.now()}`;
    const paths = [0, 1, 2].map((i) => `root://eos//${tag}/f${i}.root`);
    const id = await submit(app, { "file-list": paths, "result-format": "parquet" });
    const files = await q<{ id: number; paths: string }>(
      "SELECT f.id, f.paths FROM files f JOIN requests r ON r.did_id = f.dataset_id WHERE r.request_id = $1 ORDER BY f.id",
      [id],
    );
    const { back } = await outage(3000);
    const t0 = Date.now();
    const answers = await Promise.all(
      files.map((f) =>
        reportFile(app, id, f.id, "success", {
          requestId: id,
          "file-path": f.paths,
          "file-id": f.id,
          status: "success",
          "total-time": 1,
          "total-events": 10,
          "total-bytes": 100,
          "avg-rate": 10,
          place: { host_name: "pod-1", site: "t" },
        }),
      ),
    );
    await back;
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(Date.now() - t0).toBeGreaterThan(1000);
    expect(await request(id)).toMatchObject({
      status: "complete",
      files: 3,
      files_completed: 3,
      files_failed: 0,
    });
    const names = await q<{ s3_object_name: string | null }>(
      "SELECT s3_object_name FROM transform_result WHERE request_id = $1 ORDER BY file_id",
      [id],
    );
    expect(names.map((n) => n.s3_object_name)).toEqual(paths.map((p) => `${p.replaceAll("/", ":")}.parquet`));
  });
});

describe("When a transformer's legacy fatal status report arrives while the database restarts", () => {
  it("then it waits and the request ends Fatal with the reported reason", async () => {
    const id = await submit(app, { "file-list": [`root://eos//legacy-${Date.now()}/f.root`] });
    const { back } = await outage(2500);
    const r = await httpCall(`${BASE()}/${id}/status`, "POST", {
      body: { severity: "fatal", source: "transformer", info: "the generated code does not compile" },
    });
    await back;
    expect(r.status, r.text).toBe(200);
    const row = (
      await q<{ status: string; failure_description: string }>(
        "SELECT status::text AS status, failure_description FROM requests WHERE request_id = $1",
        [id],
      )
    )[0]!;
    expect(row).toEqual({ status: "fatal", failure_description: "the generated code does not compile" });
  });
});

describe("When DID-finder batches arrive twice, overlap, repeat a path, or race each other", () => {
  it("then each path is stored once, the request counts each file once, and one task is published per file", async () => {
    const tag = `dupes-${Date.now()}`;
    const id = await submit(app, { did: `${app.scheme}://${tag}` });
    const ds = (await request(id)).did_id;
    // The same batch twice in a row (a retry after a lost answer).
    expect((await sendFiles(app, ds, batch(tag, 0, 300))).status).toBe(200);
    expect((await sendFiles(app, ds, batch(tag, 0, 300))).status).toBe(200);
    expect(await request(id)).toMatchObject({ files: 300 });
    // A batch that repeats a path within itself.
    const within = [...batch(tag, 300, 2), ...batch(tag, 300, 1)];
    expect((await sendFiles(app, ds, within)).status).toBe(200);
    // Overlapping batches (paths 100..899 in windows of 300, 100 apart), each twice, all at once.
    const windows = [100, 200, 300, 400, 500, 600];
    const answers = await Promise.all(
      [...windows, ...windows].map((from) => sendFiles(app, ds, batch(tag, from, 300))),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);

    expect(await dataset(ds)).toMatchObject({ rows: 900, distinct_paths: 900 });
    expect(await request(id)).toMatchObject({ status: "lookup", files: 900 });
    expect((await complete(ds, 900)).status).toBe(200);
    expect(await request(id)).toMatchObject({ status: "running", files: 900 });
    expect(await tasksSettled(id, 900)).toEqual({ total: 900, distinct: 900 });
  });
});

describe("When the DID finder's /complete counts more files than arrived", () => {
  it("then the request stays in Lookup, the lookup is sent again, another submit of the DID is not served the truncated dataset, and the second run completes it", async () => {
    const tag = `short-${Date.now()}`;
    const did = `${app.scheme}://${tag}`;
    const first = await submit(app, { did });
    const ds = (await request(first)).did_id;
    expect(lookupsFor(ds)).toBe(1);
    // Batches 4..7 were lost (answered 503 by an App that did not wait; the finder does not retry those).
    for (const b of [0, 1, 2, 3, 8, 9]) {
      expect((await sendFiles(app, ds, batch(tag, b * 300, 300))).status).toBe(200);
    }
    expect((await complete(ds, 3000)).status).toBe(200);
    expect(await request(first)).toMatchObject({ status: "lookup", files: 1800 });
    expect(await dataset(ds)).toMatchObject({ lookup_status: "looking", rows: 1800 });
    await eventually(async () => lookupsFor(ds) === 2, 10_000, "the lookup sent again");

    // Another user's submit of the same DID waits for the lookup instead of running on 1,800 files.
    const second = await submit(app, { did });
    expect(await request(second)).toMatchObject({ status: "pending_lookup", did_id: ds, files: 0 });

    // The finder runs again: every batch, the 1,800 it sent before included.
    for (let b = 0; b < 10; b++) {
      expect((await sendFiles(app, ds, batch(tag, b * 300, 300))).status).toBe(200);
    }
    expect((await complete(ds, 3000)).status).toBe(200);
    expect(await dataset(ds)).toMatchObject({
      lookup_status: "complete",
      n_files: 3000,
      rows: 3000,
      distinct_paths: 3000,
    });
    expect(await request(first)).toMatchObject({ status: "running", files: 3000 });
    expect(await request(second)).toMatchObject({ status: "running", files: 3000 });
    expect(await tasksSettled(first, 3000)).toEqual({ total: 3000, distinct: 3000 });
    expect(await tasksSettled(second, 3000)).toEqual({ total: 3000, distinct: 3000 });
  });

  it("then after RECONCILE_MAX_ATTEMPTS re-sends that still come up short, the lookup is abandoned and the request ends Fatal with the reason", async () => {
    const tag = `never-whole-${Date.now()}`;
    const id = await submit(app, { did: `${app.scheme}://${tag}` });
    const ds = (await request(id)).did_id;
    // Each run gets a little further, and each still loses files.
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await sendFiles(app, ds, batch(tag, 0, 100 * (attempt + 1)))).status).toBe(200);
      expect((await complete(ds, 1000)).status).toBe(200);
    }
    const row = (
      await q<{ status: string; failure_description: string }>(
        "SELECT status::text AS status, failure_description FROM requests WHERE request_id = $1",
        [id],
      )
    )[0]!;
    expect(row.status).toBe("fatal");
    expect(row.failure_description).toMatch(/reported 1000 files but 300 arrived, 3 times/);
    expect(lookupsFor(ds)).toBe(3);
    expect(await dataset(ds)).toMatchObject({ lookup_status: "internal_failure", stale: true });
  });

  it("then a finder that counts a repeated path twice completes after one re-run that adds nothing, with each path once", async () => {
    const tag = `repeats-${Date.now()}`;
    const id = await submit(app, { did: `${app.scheme}://${tag}` });
    const ds = (await request(id)).did_id;
    // 300 entries, 10 of them a second listing of a path (a file in two datasets of a container).
    const listing = [...batch(tag, 0, 290), ...batch(tag, 0, 10)];
    for (let run = 0; run < 2; run++) {
      expect((await sendFiles(app, ds, listing)).status).toBe(200);
      expect((await complete(ds, 300)).status).toBe(200);
      if (run === 0) expect(await request(id)).toMatchObject({ status: "lookup", files: 290 });
    }
    expect(lookupsFor(ds)).toBe(2);
    expect(await request(id)).toMatchObject({ status: "running", files: 290 });
    expect(await dataset(ds)).toMatchObject({ lookup_status: "complete", n_files: 290, rows: 290 });
    expect(await tasksSettled(id, 290)).toEqual({ total: 290, distinct: 290 });
  });
});

describe("When /complete and /error arrive for a lookup that already ended", () => {
  it("then the first report stands: a repeat changes nothing (200) and the opposite report is refused with 409", async () => {
    const tag = `ended-${Date.now()}`;
    const failed = await submit(app, { did: `${app.scheme}://${tag}-a` });
    const a = (await request(failed)).did_id;
    const err = { "elapsed-time": 1, message: "gone", "error-type": "does_not_exist" };
    expect((await failLookup(app, a, err)).status).toBe(200);
    expect((await failLookup(app, a, err)).status).toBe(200);
    const late = await complete(a, 0);
    expect(late.status).toBe(409);
    expect(late.json).toMatchObject({ code: "lookup_already_ended" });
    expect(await dataset(a)).toMatchObject({ lookup_status: "does_not_exist", stale: true });
    expect((await request(failed)).status).toBe("bad_dataset");

    const done = await submit(app, { did: `${app.scheme}://${tag}-b` });
    const b = (await request(done)).did_id;
    expect((await sendFiles(app, b, batch(tag, 0, 5))).status).toBe(200);
    expect((await complete(b, 5)).status).toBe(200);
    expect((await complete(b, 5)).status).toBe(200);
    const lateErr = await failLookup(app, b, err);
    expect(lateErr.status).toBe(409);
    expect(lateErr.json).toMatchObject({ code: "lookup_already_ended" });
    expect(await dataset(b)).toMatchObject({ lookup_status: "complete", stale: false, n_files: 5 });
    expect(await request(done)).toMatchObject({ status: "running", files: 5 });
  });
});

describe("When a sidecar reports a file for a request that has no tasks yet", () => {
  it("then a Pending Lookup request answers 409 and its counters do not move, while a Lookup request counts its fed files", async () => {
    const tag = `early-${Date.now()}`;
    const did = `${app.scheme}://${tag}`;
    const looking = await submit(app, { did });
    const pending = await submit(app, { did });
    expect((await request(pending)).status).toBe("pending_lookup");
    const ds = (await request(looking)).did_id;
    expect((await sendFiles(app, ds, batch(tag, 0, 2))).status).toBe(200);
    const [file] = await q<{ id: number; paths: string }>(
      "SELECT id, paths FROM files WHERE dataset_id = $1 ORDER BY id LIMIT 1",
      [ds],
    );
    const report = (requestId: string) =>
      reportFile(app, requestId, file!.id, "success", {
        requestId,
        "file-path": file!.paths.split(",")[0],
        "file-id": file!.id,
        status: "success",
        "total-time": 1,
        "total-events": 10,
        "total-bytes": 100,
        "avg-rate": 10,
        place: { host_name: "pod-1", site: "t" },
        "s3-object-name": "x.parquet",
      });
    const early = await report(pending);
    expect(early.status).toBe(409);
    expect(early.json).toMatchObject({ code: "request_not_running" });
    expect(await request(pending)).toMatchObject({ files: 0, files_completed: 0, files_failed: 0 });
    const results = await q<{ n: number }>(
      "SELECT count(*)::int AS n FROM transform_result WHERE request_id = $1",
      [pending],
    );
    expect(results[0]!.n).toBe(0);

    expect((await report(looking)).status).toBe(200);
    expect(await request(looking)).toMatchObject({ status: "lookup", files: 2, files_completed: 1 });
    // After the lookup the pending request runs on both files, its counters untouched by the early report.
    expect((await complete(ds, 2)).status).toBe(200);
    expect(await request(pending)).toMatchObject({ status: "running", files: 2, files_completed: 0 });
  });
});
