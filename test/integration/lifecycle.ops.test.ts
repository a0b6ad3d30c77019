// Lifecycle cron endpoints (contract §2.4.6): dataset-lifecycle marks old datasets stale; data-lifecycle
// deletes finished requests before a cutoff (or down to a cache budget) with their rows and orphaned datasets.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCacheSize } from "../../src/domain/dataLifecycle.service.js";
import { fileCompleteBody, putJson } from "../helpers/fakeWorkers.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ backend: "postgres", broker: "memory" });
});
afterAll(async () => {
  await app?.close();
});

const internal = () => `${app.url}/servicex/internal`;
const q = <T = Record<string, unknown>>(text: string, params?: unknown[]) =>
  app.deps.db.sql.query<T>(text, params);

async function post(path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${internal()}${path}`, {
    method: "POST",
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

/** A file-list request (its own dataset); `complete` reports every file as a success. */
async function submit(complete: boolean): Promise<{ id: string; datasetId: number }> {
  const paths = [`root://eos//${randomBytes(4).toString("hex")}/f.root`];
  const r = await putJson(
    `${app.url}/servicex/transformation`,
    { "file-list": paths, selection: "s", codegen: "passthrough", "result-destination": "object-store" },
    "POST",
  );
  expect(r.status).toBe(200);
  const id = (r.body as { request_id: string }).request_id;
  const files = await q<{ id: number; paths: string; did_id: number }>(
    "SELECT f.id, f.paths, r.did_id FROM files f JOIN requests r ON r.did_id = f.dataset_id WHERE r.request_id = $1",
    [id],
  );
  if (complete) {
    for (const f of files) {
      const a = await putJson(
        `${internal()}/transformation/${id}/file-complete`,
        fileCompleteBody({ request_id: id, file_id: f.id, paths: [f.paths] }, "success"),
      );
      expect(a.status).toBe(200);
    }
    const s = await q<{ status: string }>("SELECT status FROM requests WHERE request_id = $1", [id]);
    expect(s[0]!.status).toBe("complete");
  }
  return { id, datasetId: files[0]!.did_id };
}

const submittedAt = (id: string, t: string) =>
  q("UPDATE requests SET submit_time = $2::timestamp WHERE request_id = $1", [id, t]);
const count = async (table: string, where: string, v: unknown) =>
  (await q<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, [v]))[0]!.n;

describe("POST /servicex/internal/dataset-lifecycle", () => {
  it("When datasets were last updated longer ago than age hours, then only those become stale", async () => {
    const old = await submit(true);
    const recent = await submit(true);
    await q("UPDATE datasets SET last_updated = now() - interval '30 hours' WHERE id = $1", [old.datasetId]);
    await q("UPDATE datasets SET last_updated = now() - interval '2 hours' WHERE id = $1", [
      recent.datasetId,
    ]);

    const r = await post("/dataset-lifecycle", { age: 24 });
    expect(r).toEqual({ status: 200, body: { message: "Success" } });
    const stale = async (id: number) =>
      (await q<{ stale: boolean }>("SELECT stale FROM datasets WHERE id = $1", [id]))[0]!.stale;
    expect(await stale(old.datasetId)).toBe(true);
    expect(await stale(recent.datasetId)).toBe(false);

    // Query parameter form, no body: 1 hour catches the 2-hour-old one too.
    const r2 = await fetch(`${internal()}/dataset-lifecycle?age=1`, { method: "POST" });
    expect(r2.status).toBe(200);
    expect(await stale(recent.datasetId)).toBe(true);
  });

  it("When age is not a number, then 422 Invalid age parameter", async () => {
    const viaQuery = await fetch(`${internal()}/dataset-lifecycle?age=abc`, { method: "POST" });
    expect(viaQuery.status).toBe(422);
    expect(await viaQuery.json()).toEqual({ message: "Invalid age parameter" });
    expect(await post("/dataset-lifecycle", { age: "abc" })).toEqual({
      status: 422,
      body: { message: "Invalid age parameter" },
    });
    expect((await post("/dataset-lifecycle", { age: -1 })).status).toBe(422);
  });
});

describe("POST /servicex/internal/data-lifecycle", () => {
  it("When finished requests were submitted before the cutoff, then they, their rows and orphaned datasets are deleted; newer and running ones stay", async () => {
    const old = await submit(true);
    const running = await submit(false);
    const newer = await submit(true);
    await submittedAt(old.id, "2020-01-01T00:00:00");
    await submittedAt(running.id, "2020-01-02T00:00:00");
    await q(
      "INSERT INTO file_status (file_id, request_id, status, timestamp, pod_name, info) SELECT id, $1, 'failure', now(), 'p', 'x' FROM files WHERE dataset_id = $2",
      [old.id, old.datasetId],
    );
    expect(await count("file_status", "request_id = $1", old.id)).toBeGreaterThan(0);
    const before = (
      await q<{ b: number }>("SELECT COALESCE(SUM(total_bytes),0)::float8 AS b FROM transform_result")
    )[0]!.b;
    const oldBytes = (
      await q<{ b: number }>(
        "SELECT SUM(total_bytes)::float8 AS b FROM transform_result WHERE request_id = $1",
        [old.id],
      )
    )[0]!.b;

    const r = await post("/data-lifecycle?cutoff_timestamp=2020-06-01T00:00:00");
    expect(r.status).toBe(200);
    const body = r.body as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual([
      "cutoff_timestamp",
      "deleted_datasets",
      "deleted_transforms",
      "total_bytes_after",
      "total_bytes_before",
    ]);
    expect(body.cutoff_timestamp).toBe("2020-06-01T00:00:00.000000Z");
    expect(body.deleted_transforms).toEqual([old.id]);
    expect(body.total_bytes_before).toBe(before);
    expect(body.total_bytes_after).toBe(before - oldBytes);
    const oldName = (await q<{ name: string }>("SELECT name FROM datasets WHERE id = $1", [old.datasetId]))
      .length;
    expect(oldName).toBe(0);
    expect(body.deleted_datasets).toHaveLength(1);

    expect(await count("requests", "request_id = $1", old.id)).toBe(0);
    expect(await count("transform_result", "request_id = $1", old.id)).toBe(0);
    expect(await count("file_status", "request_id = $1", old.id)).toBe(0);
    expect(await count("files", "dataset_id = $1", old.datasetId)).toBe(0);
    // The running request before the cutoff and the newer request are kept, with their datasets.
    expect(await count("requests", "request_id = $1", running.id)).toBe(1);
    expect(await count("datasets", "id = $1", running.datasetId)).toBe(1);
    expect(await count("requests", "request_id = $1", newer.id)).toBe(1);
    expect(await count("transform_result", "request_id = $1", newer.id)).toBe(1);
    expect(await count("datasets", "id = $1", newer.datasetId)).toBe(1);
  });

  it("When cutoff_timestamp is missing or not a time, then 400 with a message", async () => {
    const missing = await post("/data-lifecycle");
    expect(missing.status).toBe(400);
    expect((missing.body as { message: string }).message).toMatch(/cutoff_timestamp/);
    const bad = await post("/data-lifecycle?cutoff_timestamp=yesterday");
    expect(bad.status).toBe(400);
    expect((bad.body as { message: string }).message).toMatch(/cutoff_timestamp/);
    const impossible = await post("/data-lifecycle?cutoff_timestamp=2024-02-30T00:00:00");
    expect(impossible.status).toBe(400);
  });

  it("When the cache exceeds MAX_DESIRED_TRANSFORM_CACHE_SIZE, then the cutoff moves earlier to free the excess", async () => {
    const oldest = await submit(true);
    const middle = await submit(true);
    await submittedAt(oldest.id, "2001-01-01T00:00:00");
    await submittedAt(middle.id, "2001-02-01T00:00:00");
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
      const res = await fetch(
        `${budgeted.url}/servicex/internal/data-lifecycle?cutoff_timestamp=1999-01-01T00:00:00`,
        { method: "POST" },
      );
      const r = { status: res.status, body: (await res.json()) as unknown };
      expect(r.status).toBe(200);
      const body = r.body as Record<string, unknown>;
      expect(body.cutoff_timestamp).toBe("2001-01-01T00:00:00.000000Z");
      expect(body.deleted_transforms).toEqual([oldest.id]);
      expect(body.total_bytes_before).toBe(total);
      expect(body.total_bytes_after as number).toBeLessThanOrEqual(total - 1);
      expect(await count("requests", "request_id = $1", middle.id)).toBe(1);
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
