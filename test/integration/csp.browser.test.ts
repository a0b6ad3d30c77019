// The Content-Security-Policy in a real browser: headless Chromium visits every page signed out, as a user
// (also one who has no profile yet) and as an administrator, and fails on any CSP violation the page
// reports (securitypolicyviolation events and Chromium's console errors), including the live request page
// while its script polls and swaps in a new plot. The header check itself is in security.headers.test.ts.
import { randomBytes } from "node:crypto";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, openPage } from "../helpers/browser.js";
import { type OidcTestProvider, startOidcProvider } from "../helpers/oidcProvider.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

let op: OidcTestProvider;
let app: TestApp;
let browser: Browser;
const tokens: Record<string, string> = {};
const fixtures = { running: "", done: "", didId: 0 };

/**
 * The page's globals as the functions run in the browser use them (the tests compile without the DOM
 * library): `g()` inside such a function is the page's window.
 */
interface PageWindow {
  document: {
    addEventListener(
      type: string,
      f: (e: {
        violatedDirective: string;
        blockedURI: string;
        sourceFile: string;
        lineNumber: number;
      }) => void,
    ): void;
    createElement(tag: string): { setAttribute(name: string, value: string): void };
    body: { append(node: unknown): void };
    getElementById(id: string): { textContent: string | null } | null;
  };
  __csp?: string[];
}

interface Watched {
  page: Page;
  /** Violations on the App's origin so far (the provider's own pages are not ours to judge). */
  violations: string[];
}

/** A page whose CSP violations are recorded, from the first byte of every document it loads. */
async function watchedPage(): Promise<Watched> {
  const page = await openPage(browser);
  const violations: string[] = [];
  await page.addInitScript(() => {
    const g = globalThis as unknown as PageWindow;
    g.document.addEventListener("securitypolicyviolation", (e) => {
      const w = g;
      w.__csp = w.__csp ?? [];
      w.__csp.push(
        `${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`,
      );
    });
  });
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text()) && page.url().startsWith(app.url)) {
      violations.push(`console on ${page.url()}: ${m.text()}`);
    }
  });
  return { page, violations };
}

/** Opens `path`, lets its scripts run, and returns the violations the document reported. */
async function visit(w: Watched, path: string, settleMs = 300): Promise<string[]> {
  const r = await w.page.goto(`${app.url}${path}`, { waitUntil: "load" });
  expect(r, path).not.toBeNull();
  await w.page.waitForTimeout(settleMs);
  const inPage = await w.page.evaluate(() => (globalThis as unknown as PageWindow).__csp ?? []);
  return inPage.map((v) => `${path}: ${v}`);
}

async function signIn(account: string, landing: string): Promise<Watched> {
  const w = await watchedPage();
  await w.page.goto(`${app.url}/`);
  await Promise.all([
    w.page.waitForURL((u) => u.origin === op.issuer && u.pathname.startsWith("/interaction/")),
    w.page.locator("main").getByRole("link", { name: "Sign in" }).click(),
  ]);
  await w.page.fill("#login", account);
  await Promise.all([
    w.page.waitForURL((u) => u.origin === app.url && u.pathname === landing, { waitUntil: "load" }),
    w.page.click("button[type=submit]"),
  ]);
  return w;
}

async function submit(token: string, n: number, title: string) {
  const tag = randomBytes(4).toString("hex");
  const r = await fetch(`${app.url}/servicex/transformation`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      title,
      "file-list": Array.from({ length: n }, (_, i) => `root://eos.example//csp/${tag}/f${i}.root`),
      selection: "(Select lambda e: e.Jets)",
      codegen: "passthrough",
      "result-destination": "object-store",
    }),
  });
  expect(r.status).toBe(200);
  const requestId = ((await r.json()) as { request_id: string }).request_id;
  const rec = (await app.deps.repos.requests.find(requestId))!;
  return {
    requestId,
    didId: rec.didId,
    fileIds: (await app.deps.repos.datasets.files(rec.didId)).map((f) => f.id),
  };
}

async function fileComplete(requestId: string, fileId: number, ok: boolean): Promise<void> {
  const r = await fetch(`${app.url}/servicex/internal/transformation/${requestId}/file-complete`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      requestId,
      "file-path": `root://eos.example//f${fileId}.root`,
      "file-id": fileId,
      status: ok ? "success" : "failure",
      "total-time": 1,
      "total-events": 100,
      "total-bytes": 1000,
      "avg-rate": 100,
      place: { host_name: `transformer-pod-${fileId}`, site: "UC-AF" },
      ...(ok ? {} : { error: "OSError: could not read file" }),
    }),
  });
  expect(r.status).toBe(200);
}

beforeAll(async () => {
  op = await startOidcProvider({
    users: {
      "ann-sub": { email: "ann@csp.example", name: "Ann Admin", organization: "Ops" },
      "ben-sub": { email: "ben@csp.example", name: "Ben Physicist", organization: "Uni" },
      "cara-sub": { email: "cara@csp.example", name: "Cara New", organization: "Uni" },
    },
  });
  const secret = `csp-browser-${randomBytes(8).toString("hex")}-0123456789abcdef`;
  app = await startTestApp({
    backend: "postgres",
    broker: "memory",
    env: {
      ENABLE_AUTH: "true",
      JWT_SECRET_KEY: secret,
      SECRET_KEY: secret,
      OAUTH_METADATA_URL: op.metadataUrl,
      OAUTH_CLIENT_ID: op.clientId,
      OAUTH_CLIENT_SECRET: op.clientSecret,
      PROGRESS_INTERVAL_MS: "300",
      LOGS_URL: "https://logs.example/app",
    },
  });
  op.setRedirectUris([`${app.url}/auth-callback`]);
  op.setPostLogoutRedirectUris([`${app.url}/`]);
  for (const [name, admin] of [
    ["ann", true],
    ["ben", false],
  ] as const) {
    const u = await app.deps.users.repo.insert({
      sub: `${name}-sub`,
      email: `${name}@csp.example`,
      name: name === "ann" ? "Ann Admin" : "Ben Physicist",
      institution: "Uni",
      experiment: "ATLAS",
      admin,
      pending: false,
      refreshToken: null,
    });
    const refresh = await app.deps.users.rotateApiToken(u.id);
    const r = await fetch(`${app.url}/token/refresh`, {
      method: "POST",
      headers: { authorization: `Bearer ${refresh}` },
    });
    tokens[name] = ((await r.json()) as { access_token: string }).access_token;
  }
  const running = await submit(tokens.ben!, 6, "Running request");
  await fileComplete(running.requestId, running.fileIds[0]!, true);
  await fileComplete(running.requestId, running.fileIds[1]!, false);
  const done = await submit(tokens.ben!, 2, "Finished request");
  for (const id of done.fileIds) await fileComplete(done.requestId, id, true);
  fixtures.running = running.requestId;
  fixtures.done = done.requestId;
  fixtures.didId = running.didId;
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await op?.stop();
});

describe("Content-Security-Policy in the browser", () => {
  it("When a script sets an inline style attribute, then the watcher reports it (the check can fail)", async () => {
    const w = await watchedPage();
    try {
      await visit(w, "/about");
      await w.page.evaluate(() => {
        const { document } = globalThis as unknown as PageWindow;
        const d = document.createElement("div");
        d.setAttribute("style", "color: red");
        document.body.append(d);
      });
      await eventually(
        async () =>
          (await w.page.evaluate(() => (globalThis as unknown as PageWindow).__csp ?? [])).length > 0,
        5_000,
        "a securitypolicyviolation event for the inline style",
      );
    } finally {
      await w.page.context().close();
    }
  });

  it("When signed out, then the home, about and API pages load without a CSP violation", async () => {
    const w = await watchedPage();
    try {
      const found: string[] = [];
      for (const path of ["/", "/about", "/docs"]) found.push(...(await visit(w, path)));
      expect([...found, ...w.violations]).toEqual([]);
    } finally {
      await w.page.context().close();
    }
  });

  it("When a new user signs in without a profile, then the profile form loads without a CSP violation", async () => {
    const w = await signIn("cara-sub", "/profile/new");
    try {
      const found = await visit(w, "/profile/new");
      expect([...found, ...w.violations]).toEqual([]);
    } finally {
      await w.page.context().close();
    }
  });

  it("When a user visits every page, including the live request page while reports arrive, then no CSP violation", async () => {
    const w = await signIn("ben-sub", "/dashboard");
    try {
      const found: string[] = [];
      for (const path of [
        "/dashboard",
        "/datasets",
        `/datasets/${fixtures.didId}`,
        `/transformation-request/${fixtures.done}`,
        `/transformation-request/${fixtures.done}/results`,
        "/profile",
        "/profile/edit",
        "/api-token",
        "/about",
        "/docs",
        "/admin/users",
      ]) {
        found.push(...(await visit(w, path)));
      }
      // The live page: its script polls, moves the bar and swaps in the new plot.
      found.push(...(await visit(w, `/transformation-request/${fixtures.running}`)));
      const before = await w.page.locator("#n-completed").textContent();
      const rec = (await app.deps.repos.requests.find(fixtures.running))!;
      const files = (await app.deps.repos.datasets.files(rec.didId)).map((f) => f.id);
      await fileComplete(fixtures.running, files[2]!, true);
      await w.page.waitForFunction(
        (b) =>
          (globalThis as unknown as PageWindow).document.getElementById("n-completed")?.textContent !== b,
        before,
        {
          timeout: 15_000,
        },
      );
      const width = await w.page
        .locator("#bar-completed")
        .evaluate((e) => (e as unknown as { style: { width: string } }).style.width);
      expect(width).toBe("33.33%");
      const late = await w.page.evaluate(() => (globalThis as unknown as PageWindow).__csp ?? []);
      found.push(...late.map((v) => `live page: ${v}`));
      expect([...new Set(found), ...w.violations]).toEqual([]);
    } finally {
      await w.page.context().close();
    }
  });

  it("When an administrator visits every page, then no CSP violation", async () => {
    const w = await signIn("ann-sub", "/dashboard");
    try {
      const found: string[] = [];
      for (const path of [
        "/dashboard",
        "/global-dashboard",
        "/admin/users",
        "/datasets?show_deleted=1",
        `/datasets/${fixtures.didId}`,
        `/transformation-request/${fixtures.done}`,
        `/transformation-request/${fixtures.done}/results?status=success`,
        `/transformation-request/${fixtures.running}`,
        "/profile",
        "/about",
        "/docs",
      ]) {
        found.push(...(await visit(w, path)));
      }
      expect([...found, ...w.violations]).toEqual([]);
    } finally {
      await w.page.context().close();
    }
  });
});
