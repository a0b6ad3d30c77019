// Request, dataset and admin pages in a real browser (issue 5): headless Chromium against the App
// (Postgres, in-process broker, ENABLE_AUTH=true) and the OIDC test provider. Users sign in through the
// provider; requests are submitted and fed file-complete reports through the API while the request page is
// open: the progress bar and the history plot move without a reload, errors show their pod names, cancel and
// delete work from the buttons and are refused with a wrong CSRF token, a non-admin cannot reach the admin
// pages, times are shown in the viewer's time zone with UTC on hover.
//
// Every page is saved at laptop (1280x800) and phone (390x844) widths as
// test-artifacts/screenshots/pages-*.png.
import { randomBytes } from "node:crypto";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, openPage, screenshot } from "../helpers/browser.js";
import { type OidcTestProvider, startOidcProvider } from "../helpers/oidcProvider.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

const LAPTOP = { width: 1280, height: 800 };

/** The page's document as the predicates run in the browser use it (the tests compile without the DOM lib). */
interface PageDocument {
  document: {
    getElementById(id: string): { textContent: string | null } | null;
    querySelector(selector: string): { getAttribute(name: string): string | null } | null;
  };
}
const PHONE = { width: 390, height: 844 };
const TZ = "America/New_York";

let op: OidcTestProvider;
let app: TestApp;
let browser: Browser;
const shots: string[] = [];
const tokens: Record<string, string> = {};

beforeAll(async () => {
  op = await startOidcProvider({
    users: {
      "ann-sub": { email: "ann@pages.example", name: "Ann Admin", organization: "Ops" },
      "ben-sub": { email: "ben@pages.example", name: "Ben Physicist", organization: "Uni" },
    },
  });
  const secret = `pages-browser-${randomBytes(8).toString("hex")}-0123456789abcdef`;
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
      PROGRESS_INTERVAL_MS: "500",
      LOGS_URL: "https://logs.example/app",
    },
  });
  op.setRedirectUris([`${app.url}/auth-callback`]);
  op.setPostLogoutRedirectUris([`${app.url}/`]);
  // Two approved users with API tokens (as the sign-up flow leaves them): Ann is an administrator.
  for (const [name, admin] of [
    ["ann", true],
    ["ben", false],
  ] as const) {
    const u = await app.deps.users.repo.insert({
      sub: `${name}-sub`,
      email: `${name}@pages.example`,
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
  // A pending user for the admin page.
  await app.deps.users.repo.insert({
    sub: "pending-sub",
    email: "pending@pages.example",
    name: "Penny Pending",
    institution: "Uni",
    experiment: "CMS",
    admin: false,
    pending: true,
    refreshToken: null,
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await op?.stop();
  if (shots.length) console.log(`page screenshots:\n  ${shots.join("\n  ")}`);
});

async function shoot(page: Page, name: string): Promise<void> {
  for (const [label, size] of [
    ["laptop", LAPTOP],
    ["phone", PHONE],
  ] as const) {
    await page.setViewportSize(size);
    shots.push(await screenshot(page, `pages-${name}-${label}`));
  }
  await page.setViewportSize(LAPTOP);
}

async function signIn(account: string): Promise<Page> {
  const page = await openPage(browser, undefined, { viewport: LAPTOP, timezoneId: TZ });
  await page.goto(`${app.url}/`);
  await Promise.all([
    page.waitForURL((u) => u.origin === op.issuer && u.pathname.startsWith("/interaction/")),
    page.locator("main").getByRole("link", { name: "Sign in" }).click(),
  ]);
  await page.locator("#login").waitFor();
  await page.fill("#login", account);
  await Promise.all([
    page.waitForURL((u) => u.origin === app.url && u.pathname === "/dashboard", { waitUntil: "load" }),
    page.click("button[type=submit]"),
  ]);
  return page;
}

async function submit(token: string, n: number, title: string) {
  const tag = randomBytes(4).toString("hex");
  const r = await fetch(`${app.url}/servicex/transformation`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      title,
      "file-list": Array.from(
        { length: n },
        (_, i) => `root://eos.example//atlas/${tag}/DAOD_PHYS.${i}.root`,
      ),
      selection: "FuncADLQueryPHYSLITE().Select(lambda e: e.Jets()).Select(lambda j: j.pt())",
      codegen: "passthrough",
      "result-destination": "object-store",
      "result-format": "parquet",
    }),
  });
  expect(r.status).toBe(200);
  const requestId = ((await r.json()) as { request_id: string }).request_id;
  const rec = (await app.deps.repos.requests.find(requestId))!;
  const fileIds = (await app.deps.repos.datasets.files(rec.didId)).map((f) => f.id);
  return { requestId, didId: rec.didId, fileIds };
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
      "total-time": 2.5,
      "total-events": 10_000,
      "total-bytes": 4_000_000,
      "avg-rate": 4000,
      place: { host_name: `transformer-${requestId.slice(0, 8)}-7c9f-pod${fileId % 2}`, site: "UC-AF" },
      ...(ok
        ? { "s3-object-name": `DAOD_PHYS.${fileId}.parquet` }
        : { error: `OSError: [Errno 5] could not read file ${fileId}: XRootD timeout` }),
    }),
  });
  expect(r.status).toBe(200);
}

const widthOf = (page: Page, sel: string) =>
  page
    .locator(sel)
    .evaluate((e) => Number.parseFloat((e as unknown as { style: { width: string } }).style.width));

describe("request pages in a browser", () => {
  it("moves the progress bar and the plot while reports arrive, shows errors with pod names, cancels and deletes from the buttons", async () => {
    const page = await signIn("ben-sub");
    try {
      const s = await submit(tokens.ben!, 40, "Jet pT, ttbar sample");
      await page.goto(`${app.url}/transformation-request/${s.requestId}`);
      expect(await page.locator("#n-completed").textContent()).toBe("0");
      expect(await page.locator("#chart svg.chart").getAttribute("data-points")).toBe("1");
      await shoot(page, "request-running-start");
      const url = page.url();

      // Reports arrive over ~3 s while the page is open; no navigation happens.
      for (let i = 0; i < 24; i++) {
        await fileComplete(s.requestId, s.fileIds[i]!, i % 8 !== 5);
        await new Promise((r) => setTimeout(r, 120));
      }
      // Predicates as functions: a string would be evaluated with eval, which the CSP refuses.
      await page.waitForFunction(
        () =>
          (globalThis as unknown as PageDocument).document.getElementById("n-completed")?.textContent ===
          "21",
        undefined,
        {
          timeout: 10_000,
        },
      );
      expect(page.url()).toBe(url);
      expect(await widthOf(page, "#bar-completed")).toBeCloseTo(52.5, 1);
      expect(await widthOf(page, "#bar-failed")).toBeCloseTo(7.5, 1);
      expect(await page.locator("#n-failed").textContent()).toBe("3");
      expect(await page.locator("#n-remaining").textContent()).toBe("16");
      // The plot was refreshed with the snapshots recorded meanwhile.
      await page.waitForFunction(
        () =>
          Number(
            (globalThis as unknown as PageDocument).document
              .querySelector("#chart svg")
              ?.getAttribute("data-points"),
          ) >= 2,
        undefined,
        { timeout: 10_000 },
      );
      const pts = await page.locator("#chart polyline.completed").getAttribute("points");
      expect(new Set(pts!.split(" ").map((p) => p.split(",")[1])).size).toBeGreaterThanOrEqual(2);
      await shoot(page, "request-running-progress");

      // Errors are server-rendered: a reload shows each failure with its pod name and message.
      await page.reload();
      // (issue 13: grouped by message; each of these three messages names its file, so three groups)
      const rows = page.locator("table.errors tbody tr");
      expect(await rows.count()).toBe(3);
      expect(await rows.first().locator("td[data-label=Pods]").textContent()).toMatch(
        new RegExp(`transformer-${s.requestId.slice(0, 8)}-7c9f-pod[01]`),
      );
      expect(await rows.first().textContent()).toContain("XRootD timeout");
      // Times in the viewer's zone, UTC on hover.
      const t = page.locator("time").first();
      expect(await t.getAttribute("title")).toMatch(/ UTC$/);
      expect(await t.textContent()).not.toContain("UTC");
      expect(await page.locator("a", { hasText: "Logs" }).getAttribute("href")).toBe(
        "https://logs.example/app",
      );
      await shoot(page, "request-running-errors");

      // Results page, filtered to failures.
      await page.goto(`${app.url}/transformation-request/${s.requestId}/results?status=failure`);
      expect(await page.locator("table.results tbody tr").count()).toBe(3);
      await shoot(page, "results-failures");
      await page.goto(`${app.url}/transformation-request/${s.requestId}/results`);
      expect(await page.locator("table.results tbody tr").count()).toBe(24);
      await shoot(page, "results");

      // Cancel from the button (issue 13: it asks first, in a dialog).
      await page.goto(url);
      await page.click("#cancel");
      await Promise.all([page.waitForURL(url, { waitUntil: "load" }), page.click("dialog #confirm")]);
      expect(await page.locator(".flash").first().textContent()).toContain("canceled");
      expect(await page.locator("#status").textContent()).toContain("Canceled");
      expect((await app.deps.repos.requests.find(s.requestId))!.status).toBe("canceled");
      await shoot(page, "request-canceled");

      // Delete with a tampered CSRF token: refused; the request stays.
      await page.click("#delete");
      await page.locator("dialog input[name=_csrf]").evaluate((e) => {
        (e as unknown as { value: string }).value = "forged-token-forged-token-forged-";
      });
      const refused = await Promise.all([page.waitForNavigation(), page.click("dialog #confirm")]).then(
        ([r]) => r,
      );
      expect(refused?.status()).toBe(403);
      await shoot(page, "csrf-refused");
      expect(await app.deps.repos.requests.find(s.requestId)).not.toBeNull();
      // ... and with the real token: deleted, back on the dashboard.
      await page.goto(url);
      await page.click("#delete");
      await Promise.all([
        page.waitForURL(`${app.url}/dashboard`, { waitUntil: "load" }),
        page.click("dialog #confirm"),
      ]);
      expect(await page.locator(".flash").first().textContent()).toContain("has been deleted");
      expect(await app.deps.repos.requests.find(s.requestId)).toBeNull();
    } finally {
      await page.context().close();
    }
  });

  it("refuses the admin pages to a non-admin", async () => {
    const page = await signIn("ben-sub");
    try {
      for (const path of ["/global-dashboard", "/admin/users"]) {
        const r = await page.goto(`${app.url}${path}`);
        expect(r?.status(), path).toBe(403);
        expect(await page.locator("h1").textContent()).toBe("Administrators only");
      }
      await shoot(page, "admin-refused");
      expect(await page.locator("nav a", { hasText: "Users" }).count()).toBe(0);
    } finally {
      await page.context().close();
    }
  });

  it("shows every page to an administrator (screenshots at laptop and phone widths)", async () => {
    // A finished request with a history, and a few more for the dashboards.
    const done = await submit(tokens.ben!, 12, "Electron ID scale factors");
    for (let i = 0; i < 12; i++) {
      await fileComplete(done.requestId, done.fileIds[i]!, i !== 4);
      await new Promise((r) => setTimeout(r, 110));
    }
    await eventually(async () => (await app.deps.repos.requests.find(done.requestId))!.status === "complete");
    for (const t of ["Muon isolation study", "Z→μμ skim", "MET trigger efficiency"])
      await submit(tokens.ann!, 3, t);

    const page = await signIn("ann-sub");
    try {
      await shoot(page, "dashboard");
      await page.goto(`${app.url}/global-dashboard`);
      expect(await page.locator("table.dashboard tbody tr").count()).toBeGreaterThanOrEqual(4);
      await shoot(page, "global-dashboard");
      await page.click("th a:has-text('Started')");
      expect(page.url()).toContain("sort=start");
      await page.goto(`${app.url}/transformation-request/${done.requestId}`);
      expect(await page.locator("#status").textContent()).toContain("Complete");
      expect(
        Number(await page.locator("#chart svg.chart").getAttribute("data-points")),
      ).toBeGreaterThanOrEqual(2);
      expect(await page.locator("#delete").count()).toBe(1); // the admin may delete Ben's request
      await shoot(page, "request-complete");
      await page.goto(`${app.url}/datasets`);
      await shoot(page, "datasets");
      await page.goto(`${app.url}/datasets/${done.didId}`);
      await shoot(page, "dataset");
      // Delete asks first (issue 13): the confirmation, as a dialog over the page.
      await page.click("#delete-dataset");
      await page.locator("dialog #confirm").waitFor();
      await Promise.all([
        page.waitForURL(`${app.url}/datasets/${done.didId}`, { waitUntil: "load" }),
        page.click("dialog #confirm"),
      ]);
      expect(await page.locator(".flash").first().textContent()).toContain("has been deleted");
      await page.goto(`${app.url}/admin/users`);
      expect(await page.locator("table.users tbody tr").first().textContent()).toContain("Penny Pending");
      await shoot(page, "admin-users");
      await Promise.all([
        page.waitForURL(`${app.url}/admin/users`, { waitUntil: "load" }),
        page.getByRole("button", { name: "Approve pending@pages.example" }).click(),
      ]);
      expect(await page.locator(".flash").first().textContent()).toContain("approved");
      expect((await app.deps.users.repo.byEmail("pending@pages.example"))!.pending).toBe(false);
      const r = await page.goto(`${app.url}/transformation-request/00000000-0000-4000-8000-000000000000`);
      expect(r?.status()).toBe(404);
      await shoot(page, "not-found");
    } finally {
      await page.context().close();
    }
  });
});
