// Buckets follow requests (contract §7.1, A.28, §2.3.4): created at submit for object-store destinations,
// removed with the request.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryObjectStore } from "../../src/adapters/objectStore/memory.store.js";
import { reportAll, submitFileList } from "../helpers/factories.js";
import { client } from "../helpers/http.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

let app: TestApp;
const store = new MemoryObjectStore();
beforeAll(async () => {
  app = await startTestApp({ backend: "postgres", broker: "memory", objectStore: store });
});
afterAll(async () => {
  await app?.close();
});

const api = client(() => app.url);
/** Results to the volume instead of the object store (SUBMIT_DEFAULTS). */
const VOLUME = { body: { "result-destination": "volume" } };

describe("When the object store is enabled", () => {
  it("then submit creates bucket <request_id>, and deleting the finished request removes it with its objects", async () => {
    const id = (await submitFileList(app, 1)).requestId;
    expect(await store.listBuckets()).toContain(id);
    await store.putObject(id, "out.parquet", Buffer.from("data"));
    await reportAll(app, id);
    const del = await api.delete(`/servicex/transformation/${id}`);
    expect(del.json).toEqual({ message: `Transform request with id ${id} has been archived.` });
    expect(await store.listBuckets()).not.toContain(id);
  });

  it("then file-urls presigns the request's objects with the capped expiry, and refuses volume requests", async () => {
    const id = (await submitFileList(app, 1)).requestId;
    const r = await api.post("/servicex/transformation/file-urls", {
      body: { request_id: id, file_list: ["a.parquet"] },
    });
    expect(r.status).toBe(200);
    const [url, extra, expires] = (r.json as { uris: Record<string, [string, object, number]> }).uris[
      "a.parquet"
    ]!;
    expect(url).toContain(`/${id}/a.parquet`);
    expect(extra).toEqual({});
    expect(expires - Date.now() / 1000).toBeGreaterThan(7 * 24 * 3600 - 60);
    expect(expires - Date.now() / 1000).toBeLessThanOrEqual(7 * 24 * 3600 + 1);
    const vol = (await submitFileList(app, 1, VOLUME)).requestId;
    const bad = await api.post("/servicex/transformation/file-urls", {
      body: { request_id: vol, file_list: ["a"] },
    });
    expect(bad.status).toBe(400);
    const unknown = await api.post("/servicex/transformation/file-urls", {
      body: { request_id: "00000000-0000-4000-8000-000000000000", file_list: ["a"] },
    });
    expect(unknown.status).toBe(404);
  });

  it("then a volume destination gets no bucket", async () => {
    const id = (await submitFileList(app, 1, VOLUME)).requestId;
    expect(await store.listBuckets()).not.toContain(id);
  });
});
