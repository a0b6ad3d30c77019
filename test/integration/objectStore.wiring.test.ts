// Buckets follow requests (contract §7.1, A.28, §2.3.4): created at submit for object-store destinations,
// removed with the request.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryObjectStore } from "../../src/adapters/objectStore/memory.store.js";
import { fileCompleteBody, putJson } from "../helpers/fakeWorkers.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

let app: TestApp;
const store = new MemoryObjectStore();
beforeAll(async () => {
  app = await startTestApp({ backend: "postgres", broker: "memory", objectStore: store });
});
afterAll(async () => {
  await app?.close();
});

const submit = (destination: string) =>
  putJson(
    `${app.url}/servicex/transformation`,
    {
      "file-list": [`root://x//${randomBytes(4).toString("hex")}.root`],
      selection: "s",
      codegen: "passthrough",
      "result-destination": destination,
    },
    "POST",
  ).then((r) => (r.body as { request_id: string }).request_id);

describe("When the object store is enabled", () => {
  it("then submit creates bucket <request_id>, and deleting the finished request removes it with its objects", async () => {
    const id = await submit("object-store");
    expect(await store.listBuckets()).toContain(id);
    await store.putObject(id, "out.parquet", Buffer.from("data"));
    const files = await app.deps.db.sql.query<{ id: number; paths: string }>(
      "SELECT f.id, f.paths FROM files f JOIN requests r ON r.did_id = f.dataset_id WHERE r.request_id = $1",
      [id],
    );
    await putJson(
      `${app.url}/servicex/internal/transformation/${id}/file-complete`,
      fileCompleteBody({ request_id: id, file_id: files[0]!.id, paths: [files[0]!.paths] }, "success"),
    );
    const del = await fetch(`${app.url}/servicex/transformation/${id}`, { method: "DELETE" });
    expect(await del.json()).toEqual({ message: `Transform request with id ${id} has been archived.` });
    expect(await store.listBuckets()).not.toContain(id);
  });

  it("then file-urls presigns the request's objects with the capped expiry, and refuses volume requests", async () => {
    const id = await submit("object-store");
    const r = await putJson(
      `${app.url}/servicex/transformation/file-urls`,
      { request_id: id, file_list: ["a.parquet"] },
      "POST",
    );
    expect(r.status).toBe(200);
    const [url, extra, expires] = (r.body as { uris: Record<string, [string, object, number]> }).uris[
      "a.parquet"
    ]!;
    expect(url).toContain(`/${id}/a.parquet`);
    expect(extra).toEqual({});
    expect(expires - Date.now() / 1000).toBeGreaterThan(7 * 24 * 3600 - 60);
    expect(expires - Date.now() / 1000).toBeLessThanOrEqual(7 * 24 * 3600 + 1);
    const vol = await submit("volume");
    const bad = await putJson(
      `${app.url}/servicex/transformation/file-urls`,
      { request_id: vol, file_list: ["a"] },
      "POST",
    );
    expect(bad.status).toBe(400);
    const unknown = await putJson(
      `${app.url}/servicex/transformation/file-urls`,
      { request_id: "00000000-0000-4000-8000-000000000000", file_list: ["a"] },
      "POST",
    );
    expect(unknown.status).toBe(404);
  });

  it("then a volume destination gets no bucket", async () => {
    const id = await submit("volume");
    expect(await store.listBuckets()).not.toContain(id);
  });
});
