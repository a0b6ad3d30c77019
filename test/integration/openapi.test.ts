// The OpenAPI document is generated from the schemas that validate requests; real responses are checked
// against the response schemas of the same document (contract tests), so docs and behaviour cannot drift.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TransformRequestJson, TransformResultJson } from "../../src/http/schemas/transformation.schemas.js";
import { fileCompleteBody, putJson } from "../helpers/fakeWorkers.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ backend: "postgres", broker: "memory" });
});
afterAll(async () => {
  await app?.close();
});

describe("GET /openapi.json", () => {
  it("When fetched, then it is OpenAPI 3.1 and lists every client and internal route with its schemas", async () => {
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>;
    };
    expect(doc.openapi).toBe("3.1.0");
    const expected: Array<[string, string]> = [
      ["get", "/servicex"],
      ["get", "/multiple-codegen-list"],
      ["post", "/servicex/transformation"],
      ["get", "/servicex/transformation"],
      ["get", "/servicex/transformation/{request_id}"],
      ["delete", "/servicex/transformation/{request_id}"],
      ["get", "/servicex/transformation/{request_id}/status"],
      ["get", "/servicex/transformation/{request_id}/cancel"],
      ["post", "/servicex/transformation/{request_id}/cancel"],
      ["get", "/servicex/transformation/{request_id}/results"],
      ["get", "/servicex/transformation/{request_id}/errors"],
      ["get", "/servicex/datasets"],
      ["get", "/servicex/datasets/{dataset_id}"],
      ["delete", "/servicex/datasets/{dataset_id}"],
      ["put", "/servicex/internal/transformation/{dataset_id}/files"],
      ["put", "/servicex/internal/transformation/{dataset_id}/complete"],
      ["put", "/servicex/internal/transformation/{dataset_id}/error"],
      ["put", "/servicex/internal/transformation/{request_id}/file-complete"],
      ["post", "/servicex/internal/transformation/{request_id}/status"],
      ["post", "/servicex/internal/transformation/{request_id}/{file_id}/status"],
    ];
    for (const [m, p] of expected) expect(doc.paths[p]?.[m], `${m.toUpperCase()} ${p}`).toBeDefined();
    const submit = doc.paths["/servicex/transformation"]!.post!.requestBody as {
      content: {
        "application/json": { schema: { properties: Record<string, unknown>; required: string[] } };
      };
    };
    const schema = submit.content["application/json"].schema;
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining([
        "did",
        "file-list",
        "selection",
        "codegen",
        "result-destination",
        "result-format",
      ]),
    );
    expect(schema.required).toEqual(expect.arrayContaining(["selection", "codegen", "result-destination"]));
  });

  it("When the OpenAPI document lists a route, then the project's API map (docs/api.md) names it", async () => {
    const doc = (await (await fetch(`${app.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    const map = await readFile(new URL("../../docs/api.md", import.meta.url), "utf8");
    // docs/api.md writes path parameters Express-style (`:request_id`), the document OpenAPI-style.
    const missing = Object.keys(doc.paths)
      .map((p) => p.replace(/\{(\w+)\}/g, ":$1"))
      .filter((p) => !map.includes(`${p}\``) && !map.includes(`${p} `) && !map.includes(`${p},`));
    expect(missing, "routes of /openapi.json missing from docs/api.md").toEqual([]);
  });

  it("When the docs page is opened, then it lists the operations", async () => {
    const res = await fetch(`${app.url}/docs`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("/servicex/transformation/:request_id/results");
    expect(html).toContain("/openapi.json");
  });

  it("When a real request and its results are fetched, then they match the documented response schemas", async () => {
    const paths = [`root://x//${randomBytes(4).toString("hex")}/a.root`, "root://x//b.root"];
    const sub = await putJson(
      `${app.url}/servicex/transformation`,
      {
        "file-list": paths,
        selection: "s",
        codegen: "passthrough",
        "result-destination": "object-store",
        title: "t",
      },
      "POST",
    );
    const id = (sub.body as { request_id: string }).request_id;
    const files = await app.deps.db.sql.query<{ id: number; paths: string }>(
      "SELECT f.id, f.paths FROM files f JOIN requests r ON r.did_id = f.dataset_id WHERE r.request_id = $1",
      [id],
    );
    for (const f of files) {
      await putJson(
        `${app.url}/servicex/internal/transformation/${id}/file-complete`,
        fileCompleteBody({ request_id: id, file_id: f.id, paths: [f.paths] }, "success"),
      );
    }
    const one = await (await fetch(`${app.url}/servicex/transformation/${id}`)).json();
    expect(TransformRequestJson.safeParse(one).error).toBeUndefined();
    const list = (await (await fetch(`${app.url}/servicex/transformation`)).json()) as {
      requests: unknown[];
    };
    for (const r of list.requests) expect(TransformRequestJson.safeParse(r).error).toBeUndefined();
    const results = (await (await fetch(`${app.url}/servicex/transformation/${id}/results`)).json()) as {
      results: unknown[];
    };
    expect(results.results).toHaveLength(2);
    for (const r of results.results) expect(TransformResultJson.safeParse(r).error).toBeUndefined();
  });
});
