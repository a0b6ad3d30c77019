// Account, admin, dataset and layout pages in a real browser (issue 13, items 2, 5, 6): headless Chromium
// against the App (Postgres, in-process broker, ENABLE_AUTH=true) and the OIDC test provider, as a person
// would use them: signed out, signing up (pending), approved, administrator, with and without JavaScript.
// Confirmations open as a dialog (Cancel changes nothing) and, without JavaScript, as a page; the token is
// masked, revealed by its <details> and copied by its button; a deleted user signing in again is told so and
// can switch accounts; no page of this area is wider than a 390 px phone.
//
// Every page visited is saved at laptop (1280x800) and phone (390x844) widths as
// test-artifacts/screenshots/account-*.png.
import { randomBytes } from "node:crypto";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, openPage, screenshot } from "../helpers/browser.js";
import { type OidcTestProvider, startOidcProvider } from "../helpers/oidcProvider.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const ADMIN_EMAIL = "ada@acctb.example";
const LONG = 300_000;

let op: OidcTestProvider;
let app: TestApp;
let browser: Browser;
const shots: string[] = [];
let didId = 0;

/** The page's globals as the functions run in the browser use them (no DOM library in the tests). */
interface PageGlobals {
  document: { documentElement: { scrollWidth: number } };
  navigator: { clipboard: { readText(): Promise<string> } };
}

beforeAll(async () => {
  op = await startOidcProvider({
    users: {
      "ada-sub": { email: ADMIN_EMAIL, name: "Ada Admin", organization: "Ops" },
      "pip-sub": { email: "pip@acctb.example", name: "Pip Physicist", organization: "Uni" },
      "gus-sub": { email: "gus@acctb.example", name: "Gus Gone", organization: "Uni" },
      "other-sub": { email: "other@acctb.example", name: "Other Account", organization: "Uni" },
    },
  });
  const secret = `acctb-${randomBytes(8).toString("hex")}-0123456789abcdef`;
  app = await startTestApp({
    backend: "postgres",
    broker: "memory",
    env: {
      ENABLE_AUTH: "true",
      JWT_SECRET_KEY: secret,
      SECRET_KEY: secret,
      JWT_ADMIN: ADMIN_EMAIL,
      OAUTH_METADATA_URL: op.metadataUrl,
      OAUTH_CLIENT_ID: op.clientId,
      OAUTH_CLIENT_SECRET: op.clientSecret,
    },
  });
  op.setRedirectUris([`${app.url}/auth-callback`]);
  op.setPostLogoutRedirectUris([`${app.url}/`]);
  // Gus: an approved user with a request (so a dataset exists) whom the admin will delete.
  const gus = await app.deps.users.repo.insert({
    sub: "gus-sub",
    email: "gus@acctb.example",
    name: "Gus Gone",
    institution: "Uni",
    experiment: "CMS",
    admin: false,
    pending: false,
    refreshToken: null,
  });
  const refresh = await app.deps.users.rotateApiToken(gus.id);
  const t = await fetch(`${app.url}/token/refresh`, {
    method: "POST",
    headers: { authorization: `Bearer ${refresh}` },
  });
  const token = ((await t.json()) as { access_token: string }).access_token;
  const r = await fetch(`${app.url}/servicex/transformation`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      title: "Gus's skim",
      "file-list": [0, 1, 2].map(
        (i) => `root://eos.example//acctb/${randomBytes(3).toString("hex")}/f${i}.root`,
      ),
      selection: "(Select lambda e: e.Jets)",
      codegen: "passthrough",
      "result-destination": "object-store",
    }),
  });
  const requestId = ((await r.json()) as { request_id: string }).request_id;
  didId = (await app.deps.repos.requests.find(requestId))!.didId;
  await app.deps.db.sql.query("UPDATE datasets SET size = 52428800000, events = 123456789 WHERE id = $1", [
    didId,
  ]);
  await app.deps.db.sql.query(
    "UPDATE files SET file_size = 17476266667, file_events = 41152263 WHERE dataset_id = $1",
    [didId],
  );
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await op?.stop();
  if (shots.length) console.log(`account page screenshots:\n  ${shots.join("\n  ")}`);
});

/** Screenshots at both widths; fails when the page is wider than the phone. Leaves the page at laptop width. */
async function shoot(page: Page, name: string): Promise<void> {
  for (const [label, size] of [
    ["laptop", LAPTOP],
    ["phone", PHONE],
  ] as const) {
    await page.setViewportSize(size);
    shots.push(await screenshot(page, `account-${name}-${label}`));
    if (label === "phone") {
      const width = await page.evaluate(
        () => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth,
      );
      expect(width, `${name}: page width on a 390 px phone`).toBeLessThanOrEqual(PHONE.width);
    }
  }
  await page.setViewportSize(LAPTOP);
}

async function signIn(page: Page, account: string, landing: string): Promise<void> {
  await page.goto(`${app.url}/`);
  await Promise.all([
    page.waitForURL((u) => u.origin === op.issuer && u.pathname.startsWith("/interaction/")),
    page.locator("main").getByRole("link", { name: "Sign in" }).click(),
  ]);
  await page.fill("#login", account);
  await Promise.all([
    page.waitForURL((u) => u.origin === app.url && u.pathname === landing, { waitUntil: "load" }),
    page.click("button[type=submit]"),
  ]);
}

async function createProfile(page: Page): Promise<void> {
  await page.fill("#institution", "University of Examples");
  await Promise.all([page.waitForURL(`${app.url}/profile`), page.click("#save-profile")]);
}

describe("account pages in a browser", () => {
  it(
    "shows the public pages signed out: home, API docs inside the layout (fits a phone), 404 page, favicon",
    async () => {
      const page = await openPage(browser, `${app.url}/`);
      try {
        expect((await page.locator("h1").textContent())?.trim()).toBe("ServiceX");
        expect(await page.locator('link[rel="icon"]').getAttribute("href")).toBe("/static/favicon.svg");
        await shoot(page, "home-signed-out");
        await page.goto(`${app.url}/docs`);
        expect(await page.locator("header.top nav").count()).toBe(1);
        expect(await page.locator("main").textContent()).not.toContain("`");
        await shoot(page, "docs");
        const r = await page.goto(`${app.url}/nothing/here`);
        expect(r?.status()).toBe(404);
        expect(await page.locator("h1").textContent()).toBe("Page not found");
        await shoot(page, "not-found");
      } finally {
        await page.context().close();
      }
    },
    LONG,
  );

  it(
    "signs up a pending user: banner on every page, the token refused until approval, masked with reveal and copy",
    async () => {
      const page = await openPage(browser);
      await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: app.url });
      try {
        await signIn(page, "pip-sub", "/profile/new");
        expect(await page.locator("#signed-in-as").textContent()).toContain("pip@acctb.example");
        expect(await page.locator("header.top").getByRole("button", { name: "Sign out" }).count()).toBe(1);
        expect(await page.locator("header.top").getByRole("link", { name: "Sign in" }).count()).toBe(0);
        await shoot(page, "profile-new");
        await createProfile(page);
        expect(await page.locator("#pending-banner").count()).toBe(1);
        expect(await page.locator("#token-pending").textContent()).toContain("refuses this token");
        // Masked until revealed; the copy button appears with JavaScript and copies the whole token.
        const token = (await page.locator("#api-token").textContent())!.trim();
        expect(token.length).toBeGreaterThan(40);
        expect(await page.locator("#api-token").isVisible()).toBe(false);
        expect(await page.locator(".token-mask").textContent()).toContain(token.slice(-6));
        await shoot(page, "profile-pending");
        await page.click(".token-reveal summary");
        expect(await page.locator("#api-token").isVisible()).toBe(true);
        await page.click("button[data-copy]");
        await page.locator(".copied", { hasText: "Copied." }).waitFor();
        const copied = await page.evaluate(() =>
          (globalThis as unknown as PageGlobals).navigator.clipboard.readText(),
        );
        expect(copied).toBe(token);
        await shoot(page, "profile-pending-revealed");
        for (const path of ["/", "/about", "/docs", "/datasets"]) {
          await page.goto(`${app.url}${path}`);
          expect(await page.locator("#pending-banner").count(), path).toBe(1);
        }
        await page.goto(`${app.url}/`);
        await shoot(page, "home-pending");
        // Approved: the banner and the note go.
        await app.deps.users.accept("pip@acctb.example");
        await page.goto(`${app.url}/profile`);
        expect(await page.locator("#pending-banner").count()).toBe(0);
        expect(await page.locator("#token-pending").count()).toBe(0);
        await shoot(page, "profile-approved");
        // A new token asks first; Cancel in the dialog keeps the token.
        await page.click("#new-token");
        await page.locator("dialog #confirm").waitFor();
        expect(await page.locator("dialog").textContent()).toContain("The current token stops working");
        await shoot(page, "new-token-dialog");
        await page.click("dialog [data-cancel]");
        expect(await page.locator("dialog").count()).toBe(0);
        expect((await page.locator("#api-token").textContent())!.trim()).toBe(token);
        await page.click("#new-token");
        await Promise.all([
          page.waitForURL(`${app.url}/profile`, { waitUntil: "load" }),
          page.click("dialog #confirm"),
        ]);
        expect((await page.locator("#api-token").textContent())!.trim()).not.toBe(token);
      } finally {
        await page.context().close();
      }
    },
    LONG,
  );

  it(
    "works without JavaScript: the token's reveal, and a confirmation page before a new token",
    async () => {
      const page = await openPage(browser, undefined, { javaScriptEnabled: false });
      try {
        await signIn(page, "pip-sub", "/dashboard");
        await page.goto(`${app.url}/profile`);
        expect(await page.locator("button[data-copy]").isVisible()).toBe(false); // nothing to copy with
        await page.click(".token-reveal summary");
        expect(await page.locator("#api-token").isVisible()).toBe(true);
        const before = (await page.locator("#api-token").textContent())!.trim();
        await Promise.all([page.waitForURL(`${app.url}/api-token`), page.click("#new-token")]);
        await shoot(page, "new-token-page-nojs");
        await Promise.all([page.waitForURL(`${app.url}/profile`), page.click("#confirm")]);
        expect(await page.locator(".flash").first().textContent()).toContain("new API token");
        await page.click(".token-reveal summary");
        expect((await page.locator("#api-token").textContent())!.trim()).not.toBe(before);
      } finally {
        await page.context().close();
      }
    },
    LONG,
  );

  it(
    "lets an admin act after a confirmation (dialog, and page without JavaScript); the deleted user is told so and can switch accounts",
    async () => {
      const page = await openPage(browser);
      try {
        await signIn(page, "ada-sub", "/profile/new");
        await createProfile(page);
        await page.goto(`${app.url}/admin/users`);
        await shoot(page, "admin-users");
        const gus = (await app.deps.users.repo.byEmail("gus@acctb.example"))!;
        // Make admin: the dialog says what it grants; Cancel changes nothing.
        await page.getByRole("link", { name: "Make admin gus@acctb.example" }).click();
        await page.locator("dialog #confirm").waitFor();
        expect(await page.locator("dialog").textContent()).toContain("every user's requests");
        await page.keyboard.press("Escape");
        expect(await page.locator("dialog").count()).toBe(0);
        expect((await app.deps.users.repo.byId(gus.id))!.admin).toBe(false);
        // Delete: the dialog names what is lost; confirming deletes.
        await page.getByRole("link", { name: "Delete gus@acctb.example" }).click();
        await page.locator("dialog #confirm").waitFor();
        expect(await page.locator("dialog").textContent()).toContain(
          "Their 1 transform request and results stay",
        );
        await shoot(page, "admin-delete-dialog");
        await Promise.all([
          page.waitForURL(`${app.url}/admin/users`, { waitUntil: "load" }),
          page.click("dialog #confirm"),
        ]);
        expect(await page.locator(".flash").first().textContent()).toContain("has been deleted");
        expect(await app.deps.users.repo.byId(gus.id)).toBeNull();

        // The dataset page: human sizes, a title larger than its section headings, delete asks first.
        await page.goto(`${app.url}/datasets`);
        expect(await page.locator("th[aria-sort]").count()).toBe(1);
        expect(await page.locator("table.datasets tbody").textContent()).toContain("52.4 GB");
        await shoot(page, "datasets");
        await page.goto(`${app.url}/datasets/${didId}`);
        const size = async (sel: string) =>
          Number.parseFloat(
            await page
              .locator(sel)
              .first()
              .evaluate(
                (e) =>
                  (
                    globalThis as unknown as { getComputedStyle(e: unknown): { fontSize: string } }
                  ).getComputedStyle(e).fontSize,
              ),
          );
        expect(await size("h1")).toBeGreaterThan(await size("h2"));
        await shoot(page, "dataset");
        await page.click("#delete-dataset");
        await page.locator("dialog #confirm").waitFor();
        await shoot(page, "dataset-delete-dialog");
        await Promise.all([
          page.waitForURL(`${app.url}/datasets/${didId}`, { waitUntil: "load" }),
          page.click("dialog #confirm"),
        ]);
        expect(await page.locator(".flash").first().textContent()).toContain("has been deleted");

        // Gus signs in again: told the account was deleted, offered to sign out and use another account.
        const gusPage = await openPage(browser);
        try {
          await signIn(gusPage, "gus-sub", "/profile/new");
          expect(await gusPage.locator(".flash").first().textContent()).toContain(
            "Your ServiceX account was deleted by an administrator",
          );
          await shoot(gusPage, "deleted-user-signs-in");
          // Sign-out ends the provider's session too (it asks to confirm), so the next sign-in may pick another.
          await Promise.all([
            gusPage.waitForURL((u) => u.origin === op.issuer, { waitUntil: "load" }),
            gusPage.click("#switch-account"),
          ]);
          await gusPage.locator("#logout").waitFor();
          await Promise.all([
            gusPage.waitForURL((u) => u.origin === app.url && u.pathname === "/", { waitUntil: "load" }),
            gusPage.click("#logout"),
          ]);
          await signIn(gusPage, "other-sub", "/profile/new");
          expect(await gusPage.locator("#signed-in-as").textContent()).toContain("other@acctb.example");
        } finally {
          await gusPage.context().close();
        }
      } finally {
        await page.context().close();
      }
    },
    LONG,
  );

  it(
    "without JavaScript, an admin's action goes through the confirmation page",
    async () => {
      const page = await openPage(browser, undefined, { javaScriptEnabled: false });
      try {
        await signIn(page, "ada-sub", "/dashboard");
        await page.goto(`${app.url}/admin/users`);
        const pip = (await app.deps.users.repo.byEmail("pip@acctb.example"))!;
        await Promise.all([
          page.waitForURL(`${app.url}/admin/users/${pip.id}/make-admin`),
          page.getByRole("link", { name: "Make admin pip@acctb.example" }).click(),
        ]);
        await shoot(page, "admin-make-admin-page-nojs");
        expect((await app.deps.users.repo.byId(pip.id))!.admin).toBe(false);
        await Promise.all([page.waitForURL(`${app.url}/admin/users`), page.click("#confirm")]);
        expect((await app.deps.users.repo.byId(pip.id))!.admin).toBe(true);
      } finally {
        await page.context().close();
      }
    },
    LONG,
  );
});
