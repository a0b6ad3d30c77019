// Security headers on the App's answers (helmet, src/http/middleware/securityHeaders.ts), and the markup the
// policy relies on: no page carries an inline script, style element, style attribute or event handler
// attribute (the browser check of the same is csp.browser.test.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reportFile, submitFileList } from "../helpers/factories.js";
import { type Answer, httpCall } from "../helpers/http.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

let app: TestApp;
const ids = { running: "", done: "", didId: 0 };

const body = { title: "headers", selection: "(Select lambda e: e.Jets)" };

beforeAll(async () => {
  app = await startTestApp({ backend: "postgres", broker: "memory" });
  const running = await submitFileList(app, 3, { body });
  const done = await submitFileList(app, 1, { body });
  const r = await reportFile(app, done.requestId, done.fileIds[0]!, "success", {
    "file-path": "root://x//f.root",
    "file-id": done.fileIds[0],
    status: "success",
    "total-time": 1,
    "total-events": 1,
    "total-bytes": 1,
  });
  expect(r.status, r.text).toBe(200);
  Object.assign(ids, { running: running.requestId, done: done.requestId, didId: running.didId });
}, 120_000);

afterAll(async () => {
  await app?.close();
});

const get = (path: string, headers: Record<string, string> = {}) =>
  httpCall(`${app.url}${path}`, "GET", { headers });

function directives(r: Answer): Map<string, string> {
  const csp = r.headers.get("content-security-policy") ?? "";
  return new Map(
    csp
      .split(";")
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => {
        const [name, ...values] = d.split(/\s+/);
        return [name!, values.join(" ")] as const;
      }),
  );
}

const pages = () => [
  "/",
  "/about",
  "/docs",
  "/dashboard",
  "/global-dashboard",
  "/datasets",
  `/datasets/${ids.didId}`,
  `/transformation-request/${ids.running}`,
  `/transformation-request/${ids.done}`,
  `/transformation-request/${ids.done}/results`,
  "/admin/users",
];

describe("Security headers", () => {
  it("When a page, an API answer, an error or a static file is sent, then it carries the CSP, nosniff, Referrer-Policy and no framing", async () => {
    for (const path of [
      ...pages(),
      "/servicex",
      "/servicex/transformation",
      `/servicex/transformation/${ids.done}/status`,
      "/no-such-page",
      "/static/style.css",
    ]) {
      const r = await get(path);
      const d = directives(r);
      expect(d.get("default-src"), path).toBe("'self'");
      expect(d.get("script-src"), path).toBe("'self'");
      expect(d.get("style-src"), path).toBe("'self'");
      expect(d.get("frame-ancestors"), path).toBe("'none'");
      expect(d.get("object-src"), path).toBe("'none'");
      expect(r.headers.get("content-security-policy"), path).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(r.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(r.headers.get("referrer-policy"), path).toBe("same-origin");
      expect(r.headers.get("x-frame-options"), path).toBe("DENY");
      expect(r.headers.get("x-powered-by"), path).toBeNull();
    }
  });

  it("When the browser came over TLS (X-Forwarded-Proto: https), then HSTS is sent; over plain http to localhost it is not", async () => {
    expect((await get("/")).headers.get("strict-transport-security")).toBeNull();
    const tls = await get("/", { "x-forwarded-proto": "https" });
    expect(tls.headers.get("strict-transport-security")).toBe("max-age=31536000");
  });

  it("When each page is rendered, then it has no inline script, style element, style attribute or on* handler", async () => {
    for (const path of pages()) {
      const r = await get(path);
      expect(r.status, path).toBe(200);
      const html = r.text;
      expect(html.match(/<script(?![^>]*\bsrc=)[^>]*>/gi) ?? [], path).toEqual([]);
      expect(html.match(/<style\b/gi) ?? [], path).toEqual([]);
      expect(html.match(/\sstyle\s*=/gi) ?? [], path).toEqual([]);
      expect(html.match(/\son[a-z]+\s*=/gi) ?? [], path).toEqual([]);
    }
  });
});
