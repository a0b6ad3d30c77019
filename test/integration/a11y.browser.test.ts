// The accessibility gate (issue 13, item 6): headless Chromium visits every page of the App signed out, as
// a user waiting for approval, as an approved user (also one without a profile yet) and as an
// administrator, at laptop (1280 px) and phone (390 px) widths, runs axe-core on each (injected through the
// DevTools protocol, so the page's Content-Security-Policy stays as served) and fails on any violation of
// impact "serious" or "critical", naming the rule, the page, the width and the first offending elements.
// A first test proves the check can fail (a page made inaccessible on purpose).
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, openPage } from "../helpers/browser.js";
import { type OidcTestProvider, startOidcProvider } from "../helpers/oidcProvider.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

const WIDTHS = [
  ["laptop", { width: 1280, height: 800 }],
  ["phone", { width: 390, height: 844 }],
] as const;
const FAILING = new Set(["serious", "critical"]);
/** Each page is audited twice (two widths); on a busy two-core machine one audit takes seconds. */
const LONG = 600_000;

let op: OidcTestProvider;
let app: TestApp;
let browser: Browser;
let axeSource: string;
const tokens: Record<string, string> = {};
const ids = { running: "", done: "", lookup: "", didId: 0, ben: 0 };

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/** Runs axe-core in the page; returns its serious and critical violations as readable lines. */
async function audit(page: Page, label: string): Promise<string[]> {
  // evaluate() runs through the DevTools protocol: the page's CSP (no inline script) does not apply to it.
  await page.evaluate(axeSource);
  const violations = (await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as { axe: { run(ctx: unknown, o: unknown): Promise<{ violations: unknown[] }> } }
    ).axe;
    const r = await axe.run((globalThis as unknown as { document: unknown }).document, {
      resultTypes: ["violations"],
    });
    return r.violations;
  })) as AxeViolation[];
  return violations
    .filter((v) => v.impact !== null && FAILING.has(v.impact))
    .map(
      (v) =>
        `${label}: [${v.impact}] ${v.id} (${v.help}) at ${v.nodes
          .slice(0, 3)
          .map((n) => JSON.stringify(n.target))
          .join(", ")}${v.nodes.length > 3 ? ` and ${v.nodes.length - 3} more` : ""}`,
    );
}

/** Opens `path` at both widths and audits it; returns the violations found. */
async function auditPage(page: Page, path: string, expectStatus?: number): Promise<string[]> {
  const found: string[] = [];
  for (const [label, size] of WIDTHS) {
    await page.setViewportSize(size);
    const r = await page.goto(`${app.url}${path}`, { waitUntil: "load" });
    expect(new URL(page.url()).origin, `${path} stayed on the App`).toBe(app.url);
    if (expectStatus !== undefined) expect(r?.status(), path).toBe(expectStatus);
    found.push(...(await audit(page, `${path} @ ${label}`)));
  }
  return found;
}

async function signIn(account: string, landing: string): Promise<Page> {
  const page = await openPage(browser);
  await page.goto(`${app.url}/sign-in`);
  await page.locator("#login").waitFor();
  await page.fill("#login", account);
  await Promise.all([
    page.waitForURL((u) => u.origin === app.url && u.pathname === landing, { waitUntil: "load" }),
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
      "file-list": Array.from({ length: n }, (_, i) => `root://eos.example//a11y/${tag}/f${i}.root`),
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
      "file-path": `root://eos.example//a11y/f${fileId}.root`,
      "file-id": fileId,
      status: ok ? "success" : "failure",
      "total-time": 2,
      "total-events": 1000,
      "total-bytes": 250_000,
      "avg-rate": 500,
      place: { host_name: `transformer-pod-${fileId}`, site: "UC-AF" },
      ...(ok ? {} : { error: "OSError: could not read file" }),
    }),
  });
  expect(r.status).toBe(200);
}

beforeAll(async () => {
  const require = createRequire(import.meta.url);
  axeSource = await readFile(require.resolve("axe-core/axe.min.js"), "utf8");
  op = await startOidcProvider({
    users: {
      "ann-sub": { email: "ann@a11y.example", name: "Ann Admin", organization: "Ops" },
      "ben-sub": { email: "ben@a11y.example", name: "Ben Physicist", organization: "Uni" },
      "pat-sub": { email: "pat@a11y.example", name: "Pat Pending", organization: "Uni" },
      "nia-sub": { email: "nia@a11y.example", name: "Nia New", organization: "Uni" },
    },
  });
  const secret = `a11y-browser-${randomBytes(8).toString("hex")}-0123456789abcdef`;
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
    },
  });
  op.setRedirectUris([`${app.url}/auth-callback`]);
  op.setPostLogoutRedirectUris([`${app.url}/`]);
  for (const [name, fullName, admin, pending] of [
    ["ann", "Ann Admin", true, false],
    ["ben", "Ben Physicist", false, false],
    ["pat", "Pat Pending", false, true],
  ] as const) {
    const u = await app.deps.users.repo.insert({
      sub: `${name}-sub`,
      email: `${name}@a11y.example`,
      name: fullName,
      institution: "Uni",
      experiment: "ATLAS",
      admin,
      pending,
      refreshToken: null,
    });
    const refresh = await app.deps.users.rotateApiToken(u.id);
    if (name === "ben") ids.ben = u.id;
    if (pending) continue;
    const r = await fetch(`${app.url}/token/refresh`, {
      method: "POST",
      headers: { authorization: `Bearer ${refresh}` },
    });
    tokens[name] = ((await r.json()) as { access_token: string }).access_token;
  }
  const running = await submit(tokens.ben!, 6, "Running request");
  await fileComplete(running.requestId, running.fileIds[0]!, true);
  await fileComplete(running.requestId, running.fileIds[1]!, false);
  const done = await submit(tokens.ben!, 3, "Finished request");
  for (const [i, id] of done.fileIds.entries()) await fileComplete(done.requestId, id, i !== 1);
  await eventually(async () => (await app.deps.repos.requests.find(done.requestId))!.status === "complete");
  // A request whose DID no finder answers: it stays in Lookup (its badge is on the dashboards).
  const lookup = await fetch(`${app.url}/servicex/transformation`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${tokens.ben}` },
    body: JSON.stringify({
      title: "Waiting for its dataset",
      did: `${app.scheme}://a11y/${randomBytes(4).toString("hex")}`,
      selection: "(Select lambda e: e.Jets)",
      codegen: "passthrough",
      "result-destination": "object-store",
    }),
  });
  expect(lookup.status).toBe(200);
  Object.assign(ids, {
    running: running.requestId,
    done: done.requestId,
    lookup: ((await lookup.json()) as { request_id: string }).request_id,
    didId: running.didId,
  });
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await op?.stop();
});

/** The pages every signed-in user with a profile can open (paths resolved once the fixtures exist). */
const userPages = (): [string, number][] => [
  ["/", 200],
  ["/about", 200],
  ["/docs", 200],
  ["/profile", 200],
  ["/profile/edit", 200],
  ["/api-token", 200],
  ["/sign-out", 200],
  ["/dashboard", 200],
  [`/transformation-request/${ids.running}`, 200],
  [`/transformation-request/${ids.done}`, 200],
  [`/transformation-request/${ids.done}/results`, 200],
  [`/transformation-request/${ids.lookup}`, 200],
  [`/transformation-request/${ids.running}/cancel`, 200],
  [`/transformation-request/${ids.done}/delete`, 200],
  [`/transformation-request/${ids.done}/rerun-failed`, 200],
  ["/dashboard?status=failed", 200],
  ["/datasets", 200],
  ["/datasets?sort=size&order=asc", 200],
  [`/datasets/${ids.didId}`, 200],
  ["/no/such/page", 404],
  ["/transformation-request/00000000-0000-4000-8000-000000000000", 404],
];

describe("axe-core on every page (serious and critical violations fail)", () => {
  it(
    "When a page has an image without a name, then the check reports it (it can fail)",
    async () => {
      const page = await openPage(browser, `${app.url}/about`);
      try {
        await page.evaluate(() => {
          const d = (
            globalThis as unknown as {
              document: { body: { insertAdjacentHTML(w: string, h: string): void } };
            }
          ).document;
          d.body.insertAdjacentHTML("beforeend", '<img src="/static/favicon.svg"><input type="text">');
        });
        const found = await audit(page, "/about (broken on purpose)");
        expect(found.join("\n")).toMatch(/image-alt|label/);
      } finally {
        await page.context().close();
      }
    },
    LONG,
  );

  it(
    "When nobody is signed in, then home, about, docs, a sign-in failure and the error pages pass",
    async () => {
      const page = await openPage(browser);
      try {
        const found: string[] = [];
        for (const [path, status] of [
          ["/", 200],
          ["/about", 200],
          ["/docs", 200],
          ["/auth-callback?code=x&state=y", 400],
          ["/no/such/page", 404],
        ] as const) {
          found.push(...(await auditPage(page, path, status)));
        }
        expect(found).toEqual([]);
      } finally {
        await page.context().close();
      }
    },
    LONG,
  );

  it(
    "When someone signed in has no profile yet, then /profile/new passes",
    async () => {
      const page = await signIn("nia-sub", "/profile/new");
      try {
        expect(await auditPage(page, "/profile/new", 200)).toEqual([]);
      } finally {
        await page.context().close();
      }
    },
    LONG,
  );

  it(
    "When a user waits for approval, then their pages (with the pending banner) pass",
    async () => {
      const page = await signIn("pat-sub", "/dashboard");
      try {
        const found: string[] = [];
        for (const path of ["/", "/profile", "/api-token", "/dashboard", "/datasets"]) {
          found.push(...(await auditPage(page, path, 200)));
        }
        expect(await page.locator("#pending-banner").count()).toBe(1);
        expect(found).toEqual([]);
      } finally {
        await page.context().close();
      }
    },
    LONG,
  );

  it(
    "When an approved user browses, then every page they can open passes",
    async () => {
      const page = await signIn("ben-sub", "/dashboard");
      try {
        const found: string[] = [];
        for (const [path, status] of [...userPages(), ["/admin/users", 403] as [string, number]]) {
          found.push(...(await auditPage(page, path, status)));
        }
        expect(found).toEqual([]);
      } finally {
        await page.context().close();
      }
    },
    LONG,
  );

  it(
    "When an administrator browses, then every page, the admin pages and the confirmations pass",
    async () => {
      const page = await signIn("ann-sub", "/dashboard");
      try {
        const pat = (await app.deps.users.repo.byEmail("pat@a11y.example"))!.id;
        const found: string[] = [];
        for (const [path, status] of [
          ...userPages(),
          ["/global-dashboard", 200],
          ["/admin/users", 200],
          [`/admin/users/${ids.ben}/delete`, 200],
          [`/admin/users/${ids.ben}/make-admin`, 200],
          [`/admin/users/${pat}/reject`, 200],
          [`/datasets/${ids.didId}/delete`, 200],
        ] as [string, number][]) {
          found.push(...(await auditPage(page, path, status)));
        }
        // The confirmation as a dialog over the users page (JavaScript on).
        await page.setViewportSize(WIDTHS[0][1]);
        await page.goto(`${app.url}/admin/users`);
        await page.locator(`a[href="/admin/users/${ids.ben}/delete"]`).click();
        await page.locator("dialog #confirm").waitFor();
        found.push(...(await audit(page, "/admin/users + delete dialog @ laptop")));
        expect(found).toEqual([]);
      } finally {
        await page.context().close();
      }
    },
    LONG,
  );
});
