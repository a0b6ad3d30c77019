// Contract of the transform-request routes: for every route of docs/api.md's client table, the 200 body
// (and an error body) validates against the response schema of the OpenAPI document the App serves
// (/openapi.json, not a schema restated here), and carries the field names the ServiceX clients read
// (docs/decisions.md D20–D22, D12; docs/api.md). Both answers of GET …/<id> are covered: the fast path
// (src/http/fastPath.ts) and the Express route.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { MemoryObjectStore } from "../../src/adapters/objectStore/memory.store.js";
import { type Submitted, reportAll, reportFile, submitFileList } from "../helpers/factories.js";
import { type Answer, type Client, client, httpCall } from "../helpers/http.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

type Json = Record<string, unknown>;
type Method = "get" | "post" | "delete";

interface OpenApi {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: { "application/json": { schema: unknown } } }> }>
  >;
}

/** A file-list request of `n` files, each reported a success: it ends Complete. */
async function completedRequest(n: number): Promise<Submitted> {
  const s = await submitFileList(app, n);
  await reportAll(app, s.requestId);
  return s;
}

let app: TestApp;
let api: Client;
let doc: OpenApi;

beforeAll(async () => {
  app = await startTestApp({
    broker: "memory",
    objectStore: new MemoryObjectStore(),
    env: {
      OBJECT_STORE_ENABLED: "true",
      MINIO_URL: "minio.contract:9000",
      MINIO_ACCESS_KEY: "contract-access",
      MINIO_SECRET_KEY: "contract-secret",
      LOGS_URL: "https://logs.example/contract",
    },
  });
  api = client(app);
  doc = (await api.get("/openapi.json")).json as OpenApi;
});
afterAll(async () => {
  await app?.close();
});

/** The response schema the OpenAPI document publishes for `method path` and `status`, as a zod schema. */
function published(method: Method, path: string, status: number): z.ZodType {
  const op = doc.paths[path]?.[method];
  expect(op, `${method.toUpperCase()} ${path} in /openapi.json`).toBeDefined();
  const schema = op!.responses[String(status)]?.content?.["application/json"].schema;
  expect(schema, `${method.toUpperCase()} ${path} ${status}: a JSON schema in /openapi.json`).toBeDefined();
  return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
}

/** The answer has `status` and a body valid for the document's schema of `method path` at that status. */
function conforms(r: Answer, method: Method, path: string, status: number): Json {
  expect(r.status, r.text).toBe(status);
  const check = published(method, path, status).safeParse(r.json);
  expect(
    check.error?.issues,
    `${method.toUpperCase()} ${path} ${status}: ${r.text.slice(0, 500)}`,
  ).toBeUndefined();
  return r.json as Json;
}

/** Every name is a key of `body`. */
function reads(body: Json, names: readonly string[]): void {
  expect(Object.keys(body)).toEqual(expect.arrayContaining([...names]));
}

// The request object the Python client parses (docs/decisions.md D20; minio-* and log-url when configured).
const CLIENT_REQUEST_FIELDS = [
  "request_id",
  "did",
  "did_id",
  "title",
  "selection",
  "tree-name",
  "image",
  "result-destination",
  "result-format",
  "generated-code-cm",
  "status",
  "app-version",
  "code-gen-image",
  "files",
  "files-completed",
  "files-failed",
  "files-remaining",
  "submit-time",
  "finish-time",
] as const;
const CLIENT_ACCESS_FIELDS = [
  "minio-endpoint",
  "minio-secured",
  "minio-access-key",
  "minio-secret-key",
  "log-url",
];
// Result items the client reads to know it has everything (docs/decisions.md D21, D22).
const CLIENT_RESULT_FIELDS = ["file-path", "s3-object-name", "total-bytes", "created_at"] as const;
const ERROR_BODY = ["message"] as const;

const R = "/servicex/transformation/{request_id}";
const UNKNOWN = "00000000-0000-4000-8000-00000000abcd";

describe("Transform-request routes against /openapi.json", () => {
  it("When a request is submitted, then the answer has request_id; a bad body answers the published 400", async () => {
    const s = await submitFileList(app, 2);
    expect(s.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const ok = conforms(
      await api.post("/servicex/transformation", {
        body: {
          "file-list": ["root://eos//c/a.root"],
          selection: "s",
          codegen: "passthrough",
          "result-destination": "volume",
        },
      }),
      "post",
      "/servicex/transformation",
      200,
    );
    reads(ok, ["request_id"]);
    const bad = conforms(
      await api.post("/servicex/transformation", { body: { selection: "s" } }),
      "post",
      "/servicex/transformation",
      400,
    );
    reads(bad, ERROR_BODY);
  });

  it("When the client polls a request (fast path and Express route), then the body is the published TransformRequest with every field the client reads; an unknown id is the published 404", async () => {
    const s = await submitFileList(app, 2, { body: { title: "contract poll" } });
    const fast = conforms(await api.get(`/servicex/transformation/${s.requestId}`), "get", R, 200);
    reads(fast, [...CLIENT_REQUEST_FIELDS, ...CLIENT_ACCESS_FIELDS]);
    // The published schema is not vacuous: a body without a field, or with one the document does not name,
    // or with a wrong type, is refused.
    const schema = published("get", R, 200);
    const { request_id: _, ...withoutId } = fast;
    expect(schema.safeParse(withoutId).success).toBe(false);
    expect(schema.safeParse({ ...fast, surprise: 1 }).success).toBe(false);
    expect(schema.safeParse({ ...fast, files: "2" }).success).toBe(false);
    expect(fast).toMatchObject({
      request_id: s.requestId,
      title: "contract poll",
      files: 2,
      "files-remaining": 2,
    });
    // The fast path takes only ids of plain characters; a percent-encoded "-" takes the Express route, which
    // decodes it to the same id.
    const encoded = s.requestId.replace("-", "%2D");
    const express = conforms(await api.get(`/servicex/transformation/${encoded}`), "get", R, 200);
    expect(express).toEqual(fast);
    reads(conforms(await api.get(`/servicex/transformation/${UNKNOWN}`), "get", R, 404), ERROR_BODY);
  });

  it("When requests are listed (with and without a page), then each item is a published TransformRequest", async () => {
    await submitFileList(app, 1);
    const all = conforms(await api.get("/servicex/transformation"), "get", "/servicex/transformation", 200);
    expect((all.requests as Json[]).length).toBeGreaterThan(0);
    for (const r of all.requests as Json[]) reads(r, CLIENT_REQUEST_FIELDS);
    expect(all).not.toHaveProperty("total");
    const page = conforms(
      await api.get("/servicex/transformation?page=1&per_page=1"),
      "get",
      "/servicex/transformation",
      200,
    );
    expect(page.requests).toHaveLength(1);
    expect(page.total).toBeGreaterThan(0);
  });

  it("When the legacy status is asked (plain and ?details=true), then both bodies are the published status with the counters and stats", async () => {
    const s = await submitFileList(app, 3);
    await reportFile(app, s.requestId, s.fileIds[0]!, "success");
    await reportFile(app, s.requestId, s.fileIds[1]!, "failure");
    const plain = conforms(
      await api.get(`/servicex/transformation/${s.requestId}/status`),
      "get",
      `${R}/status`,
      200,
    );
    reads(plain, [
      "status",
      "request-id",
      "submit-time",
      "finish-time",
      "files-completed",
      "files-processed",
      "files-failed",
      "files-skipped",
      "files-remaining",
      "stats",
    ]);
    expect(plain).toMatchObject({
      status: "Running",
      "request-id": s.requestId,
      "finish-time": null,
      "files-completed": 1,
      "files-processed": 1,
      "files-failed": 1,
      "files-skipped": 1,
      "files-remaining": 1,
    });
    expect(plain).not.toHaveProperty("details");
    reads(plain.stats as Json, [
      "min-time",
      "max-time",
      "avg-time",
      "total-time",
      "avg-rate",
      "total-bytes",
      "total-events",
    ]);

    const detailed = conforms(
      await api.get(`/servicex/transformation/${s.requestId}/status?details=true`),
      "get",
      `${R}/status`,
      200,
    );
    expect(detailed.details).toHaveLength(2);
    for (const d of detailed.details as Json[]) reads(d, CLIENT_RESULT_FIELDS);
    reads(
      conforms(await api.get(`/servicex/transformation/${UNKNOWN}/status`), "get", `${R}/status`, 404),
      ERROR_BODY,
    );
  });

  it("When results are asked, then the body is the published results list; a bad later_than is the published 400", async () => {
    const s = await completedRequest(2);
    const body = conforms(
      await api.get(`/servicex/transformation/${s.requestId}/results`),
      "get",
      `${R}/results`,
      200,
    );
    expect(body.results).toHaveLength(2);
    for (const r of body.results as Json[]) reads(r, CLIENT_RESULT_FIELDS);
    const later = conforms(
      await api.get(`/servicex/transformation/${s.requestId}/results?later_than=0001-01-01T00:00:00%2B00:00`),
      "get",
      `${R}/results`,
      200,
    );
    expect(later.results).toHaveLength(2);
    const bad = conforms(
      await api.get(`/servicex/transformation/${s.requestId}/results?later_than=yesterday`),
      "get",
      `${R}/results`,
      400,
    );
    expect(bad.message).toBe("later_than value yesterday is not an ISO 8601 compliant datetime");
  });

  it("When errors are asked, then the body is the published errors list with pod, file, events and message", async () => {
    const s = await submitFileList(app, 2);
    const event = await httpCall(
      `${app.url}/servicex/internal/transformation/${s.requestId}/${s.fileIds[0]}/status`,
      "POST",
      {
        body: {
          timestamp: "2026-01-02T03:04:05.000000",
          "status-code": "failure",
          "pod-name": "transformer-pod-1",
          info: "file could not be opened",
        },
      },
    );
    expect(event.status, event.text).toBe(200);
    const body = conforms(
      await api.get(`/servicex/transformation/${s.requestId}/errors`),
      "get",
      `${R}/errors`,
      200,
    );
    expect(body.errors).toHaveLength(1);
    const [error] = body.errors as Json[];
    reads(error!, ["pod-name", "file", "events", "info"]);
    expect(error).toMatchObject({
      "pod-name": "transformer-pod-1",
      file: s.paths[0],
      info: "file could not be opened",
    });
    reads(
      conforms(await api.get(`/servicex/transformation/${UNKNOWN}/errors`), "get", `${R}/errors`, 404),
      ERROR_BODY,
    );
  });

  it("When the progress history is asked, then the body is the published history with the current counters", async () => {
    const s = await submitFileList(app, 2);
    await reportFile(app, s.requestId, s.fileIds[0]!, "success");
    const body = conforms(
      await api.get(`/servicex/transformation/${s.requestId}/history`),
      "get",
      `${R}/history`,
      200,
    );
    reads(body.current as Json, [
      "status",
      "terminal",
      "files",
      "files-completed",
      "files-failed",
      "files-remaining",
      "finish-time",
    ]);
    expect(body.current).toMatchObject({
      status: "Running",
      terminal: false,
      files: 2,
      "files-remaining": 1,
    });
    reads(
      conforms(await api.get(`/servicex/transformation/${UNKNOWN}/history`), "get", `${R}/history`, 404),
      ERROR_BODY,
    );
  });

  it("When download links are asked, then the body is the published uris map of [url, {}, expiry]; an unknown request is the published 404", async () => {
    const s = await completedRequest(1);
    const key = "root:::eos::c::a.root.parquet";
    const body = conforms(
      await api.post("/servicex/transformation/file-urls", {
        body: { request_id: s.requestId, file_list: [key] },
      }),
      "post",
      "/servicex/transformation/file-urls",
      200,
    );
    const [url, extra, expiry] = (body.uris as Record<string, [string, Json, number]>)[key]!;
    expect(url).toContain(s.requestId);
    expect(extra).toEqual({});
    expect(expiry).toBeGreaterThan(Date.now() / 1000);
    const unknown = await api.post("/servicex/transformation/file-urls", {
      body: { request_id: UNKNOWN, file_list: [key] },
    });
    reads(conforms(unknown, "post", "/servicex/transformation/file-urls", 404), ERROR_BODY);
  });

  it("When the Deployment's status is asked, then the body is the published dict; without a Deployment the published 404", async () => {
    const s = await submitFileList(app, 1);
    reads(
      conforms(
        await api.get(`/servicex/transformation/${s.requestId}/deployment-status`),
        "get",
        `${R}/deployment-status`,
        404,
      ),
      ERROR_BODY,
    );
    const status = {
      replicas: 1,
      ready_replicas: 1,
      available_replicas: 1,
      conditions: [{ type: "Available" }],
    };
    Object.assign(app.launcher, {
      deploymentStatus: async (id: string) => (id === s.requestId ? status : null),
    });
    try {
      const body = conforms(
        await api.get(`/servicex/transformation/${s.requestId}/deployment-status`),
        "get",
        `${R}/deployment-status`,
        200,
      );
      expect(body).toEqual(status);
    } finally {
      Reflect.deleteProperty(app.launcher, "deploymentStatus");
    }
  });

  it("When a request is canceled (GET and POST) and deleted, then each answers the published message; a repeat is the published 400", async () => {
    const a = await submitFileList(app, 1);
    const b = await submitFileList(app, 1);
    const cancelA = conforms(
      await api.get(`/servicex/transformation/${a.requestId}/cancel`),
      "get",
      `${R}/cancel`,
      200,
    );
    expect(cancelA.message).toBe(`Canceled transformation request ${a.requestId}`);
    conforms(await api.post(`/servicex/transformation/${b.requestId}/cancel`), "post", `${R}/cancel`, 200);
    reads(
      conforms(await api.get(`/servicex/transformation/${a.requestId}/cancel`), "get", `${R}/cancel`, 400),
      ERROR_BODY,
    );

    const running = await submitFileList(app, 1);
    reads(
      conforms(await api.delete(`/servicex/transformation/${running.requestId}`), "delete", R, 400),
      ERROR_BODY,
    );
    const gone = conforms(await api.delete(`/servicex/transformation/${a.requestId}`), "delete", R, 200);
    expect(gone.message).toBe(`Transform request with id ${a.requestId} has been archived.`);
  });

  it("When the failed files of a Complete request are re-run, then the answer is the published re-run body; a request with none is the published 409", async () => {
    const s = await submitFileList(app, 2);
    await reportAll(app, s.requestId, (id) => (id === s.fileIds[0] ? "failure" : "success"));
    const body = conforms(
      await api.post(`/servicex/transformation/${s.requestId}/rerun-failed`),
      "post",
      `${R}/rerun-failed`,
      200,
    );
    reads(body, ["message", "request_id", "files", "rerun"]);
    expect(body).toMatchObject({ request_id: s.requestId, files: 1, rerun: 1 });

    const clean = await completedRequest(1);
    reads(
      conforms(
        await api.post(`/servicex/transformation/${clean.requestId}/rerun-failed`),
        "post",
        `${R}/rerun-failed`,
        409,
      ),
      ERROR_BODY,
    );
  });
});
