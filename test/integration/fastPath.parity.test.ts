// The fast path (src/http/fastPath.ts) answers exactly as the Express routes it stands in for: for the same
// request, the same status, the same body and the same headers (CORS, request id, content type, the security
// headers of src/http/middleware/securityHeaders.ts), through the one response helper src/http/respond.ts.
// Each request goes once to the App's own listener (fast path first) and once to a server running only the
// Express app (buildApp) over the same dependencies.
import { type Server, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
import { appError } from "../../src/domain/errors.js";
import { errorAnswer } from "../../src/http/respond.js";
import { fileReport, submitFileList } from "../helpers/factories.js";
import { type Answer, type CallOptions, httpCall } from "../helpers/http.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

/** Headers that depend on the moment or the connection, not on the App's answer. */
const TRANSPORT = new Set(["date", "connection", "keep-alive", "transfer-encoding"]);

interface Pair {
  app: TestApp;
  /** The URL of a server running only the Express app over the same dependencies. */
  express: string;
  server: Server;
}

async function pair(env: Record<string, string> = {}): Promise<Pair> {
  const app = await startTestApp({ backend: "postgres", broker: "memory", env });
  const server = createServer(buildApp(app.deps));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const express = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { app, express, server };
}

async function unpair(p: Pair | undefined): Promise<void> {
  if (!p) return;
  p.server.closeAllConnections();
  await new Promise((r) => p.server.close(r));
  await p.app.close();
}

function headerSet(a: Answer): Record<string, string> {
  const out: Record<string, string> = {};
  a.headers.forEach((v, k) => {
    if (!TRANSPORT.has(k)) out[k] = v;
  });
  return out;
}

/**
 * One call over node:http, which (unlike fetch) sends the Host header given: both servers are then asked as
 * the App's own listener, so what the answer derives from Host (the local S3 endpoint) is equal.
 */
function rawCall(base: string, method: string, path: string, o: CallOptions): Promise<Answer> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  let body = o.raw;
  if (o.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(o.body);
  }
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(", ") : v);
        }
        resolve({ status: res.statusCode ?? 0, json, text, headers: h });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** The request through both paths; expects the same status, body and headers and returns the fast answer. */
async function both(p: Pair, method: string, path: string, o: CallOptions = {}): Promise<Answer> {
  const call = { ...o, headers: { host: new URL(p.app.url).host, ...o.headers } };
  const fast = await rawCall(p.app.url, method, path, call);
  const slow = await rawCall(p.express, method, path, call);
  expect({ status: fast.status, body: fast.json ?? fast.text }).toEqual({
    status: slow.status,
    body: slow.json ?? slow.text,
  });
  expect(headerSet(fast)).toEqual(headerSet(slow));
  return fast;
}

const fileComplete = (id: string) => `/servicex/internal/transformation/${id}/file-complete`;
const UNKNOWN = "00000000-0000-4000-8000-000000000000";

describe("fast path and Express answer alike (ENABLE_AUTH=false)", () => {
  let p: Pair;
  beforeAll(async () => {
    p = await pair();
  }, 120_000);
  afterAll(() => unpair(p));

  it("When a request is polled, then both paths answer 200 with the same body and headers, including CORS, the given request id and the security headers", async () => {
    const s = await submitFileList(p.app, 2, { body: { title: "parity" } });
    const r = await both(p, "GET", `/servicex/transformation/${s.requestId}`, {
      headers: { "x-request-id": "parity-poll-1" },
    });
    expect(r.status).toBe(200);
    expect((r.json as { request_id: string }).request_id).toBe(s.requestId);
    expect(r.headers.get("x-request-id")).toBe("parity-poll-1");
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
    expect(r.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(r.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(r.headers.get("strict-transport-security")).toBeNull();
  });

  it("When a poll comes over TLS (X-Forwarded-Proto: https), then both paths add the same HSTS header", async () => {
    const s = await submitFileList(p.app, 1);
    const r = await both(p, "GET", `/servicex/transformation/${s.requestId}`, {
      headers: { "x-request-id": "parity-tls", "x-forwarded-proto": "https" },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get("strict-transport-security")).toBe("max-age=31536000");
  });

  it("When an unknown request is polled, then both paths answer the same 404 body { message, code }", async () => {
    const r = await both(p, "GET", `/servicex/transformation/${UNKNOWN}`, {
      headers: { "x-request-id": "parity-404" },
    });
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ message: expect.any(String), code: expect.any(String) });
  });

  it("When no request id is given, then each path makes up one of the same shape", async () => {
    const path = `/servicex/transformation/${UNKNOWN}`;
    const fast = await httpCall(`${p.app.url}${path}`, "GET");
    const slow = await httpCall(`${p.express}${path}`, "GET");
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(fast.headers.get("x-request-id")).toMatch(uuid);
    expect(slow.headers.get("x-request-id")).toMatch(uuid);
    // An unusable id (too long, odd characters) is replaced on both.
    const odd = { headers: { "x-request-id": "a b" } };
    expect((await httpCall(`${p.app.url}${path}`, "GET", odd)).headers.get("x-request-id")).toMatch(uuid);
    expect((await httpCall(`${p.express}${path}`, "GET", odd)).headers.get("x-request-id")).toMatch(uuid);
  });

  it('When a sidecar reports a file, then both paths answer 200 "Ok" with the same headers', async () => {
    const s = await submitFileList(p.app, 2);
    // One file per path: each report is recorded once.
    const headers = { "x-request-id": "parity-fc" };
    const fast = await httpCall(`${p.app.url}${fileComplete(s.requestId)}`, "PUT", {
      body: fileReport(s.requestId, s.fileIds[0]!, "success"),
      headers,
    });
    const slow = await httpCall(`${p.express}${fileComplete(s.requestId)}`, "PUT", {
      body: fileReport(s.requestId, s.fileIds[1]!, "success"),
      headers,
    });
    expect(fast.status, fast.text).toBe(200);
    expect({ status: fast.status, body: fast.json }).toEqual({ status: slow.status, body: slow.json });
    expect(fast.json).toBe("Ok");
    expect(headerSet(fast)).toEqual(headerSet(slow));
  });

  it("When a report is not JSON, breaks the schema or names an unknown request, then both paths answer the same 400/404", async () => {
    const s = await submitFileList(p.app, 1);
    const headers = { "x-request-id": "parity-bad", "content-type": "application/json" };
    const malformed = await both(p, "PUT", fileComplete(s.requestId), { raw: '{"file-id": ', headers });
    expect(malformed.status).toBe(400);
    expect((malformed.json as { code: string }).code).toBe("malformed_json");
    const invalid = await both(p, "PUT", fileComplete(s.requestId), { body: { "file-id": "x" }, headers });
    expect(invalid.status).toBe(400);
    expect((invalid.json as { code: string }).code).toBe("validation_failed");
    const unknown = await both(p, "PUT", fileComplete(UNKNOWN), {
      body: fileReport(UNKNOWN, s.fileIds[0]!, "success"),
      headers,
    });
    expect(unknown.status).toBe(404);
  });
});

describe("the error answer both paths send", () => {
  it("When the database is unavailable, then the answer is 503 { message, code } with Retry-After (both paths send errorAnswer's headers)", () => {
    const a = errorAnswer(appError("database_unavailable"));
    expect(a.status).toBe(503);
    expect(a.body).toEqual({ message: expect.any(String), code: "database_unavailable" });
    expect(a.headers).toEqual({ "Retry-After": "5" });
    // Anything that is not an AppError is a 500 whose body does not leak the error's text.
    const internal = errorAnswer(new Error("secret detail"));
    expect(internal).toMatchObject({
      status: 500,
      body: { message: "Internal Server Error", code: "internal" },
    });
    expect(internal.headers).toEqual({});
  });
});

describe("fast path and Express answer alike (ENABLE_AUTH=true)", () => {
  let p: Pair;
  beforeAll(async () => {
    p = await pair({
      ENABLE_AUTH: "true",
      JWT_SECRET_KEY: "parity-secret-parity-secret-parity",
      SECRET_KEY: "parity-session-parity-session-parity",
    });
  }, 120_000);
  afterAll(() => unpair(p));

  it("When a poll carries an invalid bearer token, then both paths refuse it with the same status, body and headers", async () => {
    const r = await both(p, "GET", `/servicex/transformation/${UNKNOWN}`, {
      token: "not-a-token",
      headers: { "x-request-id": "parity-auth" },
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
    expect(r.headers.get("x-request-id")).toBe("parity-auth");
  });
});
