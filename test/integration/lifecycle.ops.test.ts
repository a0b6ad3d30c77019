// Lifecycle cron endpoints (contract §2.4.6): dataset-lifecycle marks old datasets stale; data-lifecycle
// deletes finished requests before a cutoff (or down to a cache budget) with their rows and orphaned datasets.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCacheSize } from "../../src/domain/dataLifecycle.service.js";
import { completedRequest, submitFileList } from "../helpers/factories.js";
import { client } from "../helpers/http.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ backend: "postgres", broker: "memory" });
});
afterAll(async () => {
  await app?.close();
});

const q = <T = Record<string, unknown>>(text: string, params?: unknown[]) =>
  app.deps.db.sql.query<T>(text, params);

const api = client(() => `${app.url}/servicex/internal`);
const post = (path: string, body?: unknown) => api.post(path, body === undefined ? {} : { body });

const submittedAt = (id: string, t: string) =>
  q("UPDATE requests SET submit_time = $2::timestamp WHERE request_id = $1", [id, t]);
const count = async (table: string, where: string, v: unknown) =>
  (await q<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, [v]))[0]!.n;

describe("POST /servicex/internal/dataset-lifecycle", () => {
  it("When datasets were last updated longer ago than age hours, then only those become stale", async () => {
    const old = await completedRequest(app);
    const recent = await completedRequest(app);
    await q("UPDATE datasets SET last_updated = now() - interval '30 hours' WHERE id = $1", [old.didId]);
    await q("UPDATE datasets SET last_updated = now() - interval '2 hours' WHERE id = $1", [recent.didId]);

    const r = await post("/dataset-lifecycle", { age: 24 });
    expect({ status: r.status, body: r.json }).toEqual({ status: 200, body: { message: "Success" } });
    const stale = async (id: number) =>
      (await q<{ stale: boolean }>("SELECT stale FROM datasets WHERE id = $1", [id]))[0]!.stale;
    expect(await stale(old.didId)).toBe(true);
    expect(await stale(recent.didId)).toBe(false);

    // Query parameter form, no body: 1 hour catches the 2-hour-old one too.
    const r2 = await post("/dataset-lifecycle?age=1");
    expect(r2.status).toBe(200);
    expect(await stale(recent.didId)).toBe(true);
  });

  it("When age is not a number, then 422 Invalid age parameter", async () => {
    const viaQuery = await post("/dataset-lifecycle?age=abc");
    expect(viaQuery.status).toBe(422);
    expect(viaQuery.json).toEqual({ message: "Invalid age parameter" });
    const viaBody = await post("/dataset-lifecycle", { age: "abc" });
    expect({ status: viaBody.status, body: viaBody.json }).toEqual({
      status: 422,
      body: { message: "Invalid age parameter" },
    });
    expect((await post("/dataset-lifecycle", { age: -1 })).status).toBe(422);
  });
});

describe("POST /servicex/internal/data-lifecycle", () => {
  it("When finished requests were submitted before the cutoff, then they, their rows and orphaned datasets are deleted; newer and running ones stay", async () => {
    const old = await completedRequest(app);
    const running = await submitFileList(app, 1);
    const newer = await completedRequest(app);
    await submittedAt(old.requestId, "2020-01-01T00:00:00");
    await submittedAt(running.requestId, "2020-01-02T00:00:00");
    await q(
      "INSERT INTO file_status (file_id, request_id, status, timestamp, pod_name, info) SELECT id, $1, 'failure', now(), 'p', 'x' FROM files WHERE dataset_id = $2",
      [old.requestId, old.didId],
    );
    expect(await count("file_status", "request_id = $1", old.requestId)).toBeGreaterThan(0);
    const before = (
      await q<{ b: number }>("SELECT COALESCE(SUM(total_bytes),0)::float8 AS b FROM transform_result")
    )[0]!.b;
    const oldBytes = (
      await q<{ b: number }>(
        "SELECT SUM(total_bytes)::float8 AS b FROM transform_result WHERE request_id = $1",
        [old.requestId],
      )
    )[0]!.b;

    const r = await post("/data-lifecycle?cutoff_timestamp=2020-06-01T00:00:00");
    expect(r.status).toBe(200);
    const body = r.json as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual([
      "cutoff_timestamp",
      "deleted_datasets",
      "deleted_transforms",
      "total_bytes_after",
      "total_bytes_before",
    ]);
    expect(body.cutoff_timestamp).toBe("2020-06-01T00:00:00.000000Z");
    expect(body.deleted_transforms).toEqual([old.requestId]);
    expect(body.total_bytes_before).toBe(before);
    expect(body.total_bytes_after).toBe(before - oldBytes);
    const oldName = (await q<{ name: string }>("SELECT name FROM datasets WHERE id = $1", [old.didId]))
      .length;
    expect(oldName).toBe(0);
    expect(body.deleted_datasets).toHaveLength(1);

    expect(await count("requests", "request_id = $1", old.requestId)).toBe(0);
    expect(await count("transform_result", "request_id = $1", old.requestId)).toBe(0);
    expect(await count("file_status", "request_id = $1", old.requestId)).toBe(0);
    expect(await count("files", "dataset_id = $1", old.didId)).toBe(0);
    // The running request before the cutoff and the newer request are kept, with their datasets.
    expect(await count("requests", "request_id = $1", running.requestId)).toBe(1);
    expect(await count("datasets", "id = $1", running.didId)).toBe(1);
    expect(await count("requests", "request_id = $1", newer.requestId)).toBe(1);
    expect(await count("transform_result", "request_id = $1", newer.requestId)).toBe(1);
    expect(await count("datasets", "id = $1", newer.didId)).toBe(1);
  });

  it("When cutoff_timestamp is missing or not a time, then 400 with a message", async () => {
    const missing = await post("/data-lifecycle");
    expect(missing.status).toBe(400);
    expect((missing.json as { message: string }).message).toMatch(/cutoff_timestamp/);
    const bad = await post("/data-lifecycle?cutoff_timestamp=yesterday");
    expect(bad.status).toBe(400);
    expect((bad.json as { message: string }).message).toMatch(/cutoff_timestamp/);
    const impossible = await post("/data-lifecycle?cutoff_timestamp=2024-02-30T00:00:00");
    expect(impossible.status).toBe(400);
  });

  it("When the cache exceeds MAX_DESIRED_TRANSFORM_CACHE_SIZE, then the cutoff moves earlier to free the excess", async () => {
    const oldest = await completedRequest(app);
    const middle = await completedRequest(app);
    await submittedAt(oldest.requestId, "2001-01-01T00:00:00");
    await submittedAt(middle.requestId, "2001-02-01T00:00:00");
    const total = (
      await q<{ b: number }>("SELECT COALESCE(SUM(total_bytes),0)::float8 AS b FROM transform_result")
    )[0]!.b;
    // The budget is configuration (read once at start-up): a second App on the same database carries it.
    const budgeted = await startTestApp({
      backend: "postgres",
      broker: "memory",
      databaseUrl: app.db!.url,
      env: { MAX_DESIRED_TRANSFORM_CACHE_SIZE: String(total - 1) },
    });
    try {
      const res = await client(budgeted).post(
        "/servicex/internal/data-lifecycle?cutoff_timestamp=1999-01-01T00:00:00",
      );
      const r = { status: res.status, body: res.json };
      expect(r.status).toBe(200);
      const body = r.body as Record<string, unknown>;
      expect(body.cutoff_timestamp).toBe("2001-01-01T00:00:00.000000Z");
      expect(body.deleted_transforms).toEqual([oldest.requestId]);
      expect(body.total_bytes_before).toBe(total);
      expect(body.total_bytes_after as number).toBeLessThanOrEqual(total - 1);
      expect(await count("requests", "request_id = $1", middle.requestId)).toBe(1);
    } finally {
      await budgeted.close();
    }
  });
});

describe("parseCacheSize", () => {
  it("When given sizes with units, spaces, any case or plain bytes, then it returns bytes", () => {
    expect(parseCacheSize("500gb")).toBe(500e9);
    expect(parseCacheSize("10TB")).toBe(10e12);
    expect(parseCacheSize("1.5 tb")).toBe(1.5e12);
    expect(parseCacheSize("2Pb")).toBe(2e15);
    expect(parseCacheSize("300mb")).toBe(300e6);
    expect(parseCacheSize("12345")).toBe(12345);
    expect(parseCacheSize("  ")).toBeNull();
  });

  it("When the size is not a number with a known unit, then it throws", () => {
    for (const s of ["abc", "10kb", "-5gb", "gb", "1.2.3tb"]) expect(() => parseCacheSize(s)).toThrow();
  });
});
