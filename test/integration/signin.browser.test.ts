// Sign-in, sign-up and the API token in a real browser (contract §2.5, §2.7, §7.2, §7.3): headless Chromium
// against the App (Postgres, in-memory broker) and the OIDC test provider (test/helpers/oidcProvider.ts).
// A new user signs in, creates a profile (pending), downloads servicex.yaml, is refused by the API until an
// administrator approves them, then rotates the API token; the JWT_ADMIN user and a pre-provisioned user
// sign up approved at once; sign-out ends the session; a provider error comes back as a flash.
//
// Lives under test/integration (not test/e2e) because vitest's "main" project only includes
// test/unit/** and test/integration/**.
//
// Every page visited is saved at laptop (1280x800) and phone (390x844) widths in
// test-artifacts/screenshots/signin-*.png.
import { readFile } from "node:fs/promises";
import yaml from "js-yaml";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MSG_PENDING } from "../../src/domain/users.service.js";
import { launchBrowser, openPage, screenshot } from "../helpers/browser.js";
import { type OidcTestProvider, globusLikeUser, startOidcProvider } from "../helpers/oidcProvider.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const ADMIN_EMAIL = "boss@admin.example";
const PENDING_FLASH = "Profile created! Your account is pending approval. We'll email you when it's ready.";

let op: OidcTestProvider;
let app: TestApp;
let browser: Browser;
const shots: string[] = [];

beforeAll(async () => {
  op = await startOidcProvider({
    users: {
      "carol-sub": globusLikeUser("carol-sub", {
        email: "carol@uni.example",
        name: "Carol Physicist",
        organization: "University of Examples",
      }),
      "boss-sub": globusLikeUser("boss-sub", {
        email: ADMIN_EMAIL,
        name: "Boss Admin",
        organization: "Admin Lab",
      }),
      // Signs in with the e-mail of a user pre-provisioned under another sub (CLI / default users file).
      "dave-idp-sub": { email: "dave@pre.example", name: "Dave Provisioned", organization: "Pre Lab" },
      "erin-sub": { email: "erin@uni.example", name: "Erin Leaver", organization: "Uni" },
      "frank-sub": { email: "frank@uni.example", name: "Frank Denied", organization: "Uni" },
    },
  });
  app = await startTestApp({
    backend: "postgres",
    broker: "memory",
    env: {
      ENABLE_AUTH: "true",
      JWT_SECRET_KEY: "browser-test-jwt-secret-0123456789abcdef",
      SECRET_KEY: "browser-test-session-secret-0123456789abcdef",
      JWT_ADMIN: ADMIN_EMAIL,
      OAUTH_METADATA_URL: op.metadataUrl,
      OAUTH_CLIENT_ID: op.clientId,
      OAUTH_CLIENT_SECRET: op.clientSecret,
    },
  });
  op.setRedirectUris([`${app.url}/auth-callback`]);
  op.setPostLogoutRedirectUris([`${app.url}/`]);
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await op?.stop();
  if (shots.length) console.log(`sign-in screenshots:\n  ${shots.join("\n  ")}`);
});

/** Full-page screenshots at laptop and phone widths; the page is left at laptop width. */
async function shoot(page: Page, name: string): Promise<void> {
  for (const [label, size] of [
    ["laptop", LAPTOP],
    ["phone", PHONE],
  ] as const) {
    await page.setViewportSize(size);
    shots.push(await screenshot(page, `signin-${name}-${label}`));
  }
  await page.setViewportSize(LAPTOP);
}

async function flashes(page: Page): Promise<string[]> {
  return (await page.locator(".flash").allTextContents()).map((s) => s.trim());
}

/**
 * Runs `action` and waits until a new document at `path` on the App (query string ignored) has loaded; a
 * page already at `path` (e.g. a form that redirects back to itself) counts only once it navigated again.
 */
async function andArriveAt(page: Page, path: string, action: () => Promise<unknown>): Promise<void> {
  await Promise.all([
    page.waitForEvent("framenavigated", (f) => {
      if (f !== page.mainFrame()) return false;
      const u = new URL(f.url());
      return u.origin === app.url && u.pathname === path;
    }),
    action(),
  ]);
  await page.waitForLoadState("load");
}

/** From the App's home page through the provider's login page back to the App (returns the landing path). */
async function signInFromHome(page: Page, account: string, shotPrefix?: string): Promise<string> {
  await page.goto(`${app.url}/`);
  if (shotPrefix) await shoot(page, `${shotPrefix}-home`);
  await Promise.all([
    page.waitForURL((u) => u.origin === op.issuer && u.pathname.startsWith("/interaction/")),
    page.locator("main").getByRole("link", { name: "Sign in" }).click(),
  ]);
  await page.locator("#login").waitFor();
  if (shotPrefix) await shoot(page, `${shotPrefix}-provider-login`);
  await page.fill("#login", account);
  await Promise.all([
    page.waitForURL((u) => u.origin === app.url && u.pathname !== "/auth-callback", { waitUntil: "load" }),
    page.click("button[type=submit]"),
  ]);
  return new URL(page.url()).pathname;
}

interface ServicexYaml {
  api_endpoints: { name: string; endpoint: string; token?: string }[];
  default_endpoint: string;
}

/** Clicks "Download servicex.yaml" on /profile and parses the downloaded file. */
async function downloadConfig(page: Page): Promise<ServicexYaml> {
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-config")]);
  expect(download.suggestedFilename()).toBe("servicex.yaml");
  const file = await download.path();
  return yaml.load(await readFile(file, "utf8")) as ServicexYaml;
}

async function refresh(token: string): Promise<Response> {
  return fetch(`${app.url}/token/refresh`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
}

const submitBody = {
  "file-list": ["root://x//a.root"],
  selection: "s",
  codegen: "passthrough",
  "result-destination": "object-store",
};

describe("sign-in in a browser", () => {
  it("signs up a new user: pending profile, servicex.yaml, approval, API token rotation", async () => {
    const page = await openPage(browser, undefined, { viewport: LAPTOP });
    try {
      // Home → Sign in → provider login → back at /profile/new, pre-filled from the provider's claims.
      const landed = await signInFromHome(page, "carol-sub", "01-new-user");
      expect(landed).toBe("/profile/new");
      await shoot(page, "01-new-user-profile-new");
      expect(await page.inputValue("#name")).toBe("Carol Physicist");
      expect(await page.inputValue("#email")).toBe("carol@uni.example");
      expect(await page.inputValue("#institution")).toBe("University of Examples");
      expect(await page.inputValue("#experiment")).toBe("ATLAS");
      await page.selectOption("#experiment", "CMS");

      // Submit → /profile: pending, with the §7.3 flash.
      await andArriveAt(page, "/profile", () => page.click("#save-profile"));
      await shoot(page, "01-new-user-profile-pending");
      expect(await flashes(page)).toContain(PENDING_FLASH);
      expect((await page.locator(".badge.pending").textContent())?.trim()).toBe("pending approval");
      const row = await app.deps.users.repo.byEmail("carol@uni.example");
      expect(row).toMatchObject({
        sub: "carol-sub",
        name: "Carol Physicist",
        institution: "University of Examples",
        experiment: "CMS",
        pending: true,
        admin: false,
      });

      // servicex.yaml (client format, §2.7).
      const cfg = await downloadConfig(page);
      expect(cfg.api_endpoints).toHaveLength(1);
      const [endpoint] = cfg.api_endpoints;
      expect(endpoint!.endpoint).toBe(app.url);
      expect(cfg.default_endpoint).toBe(endpoint!.name);
      const token = endpoint!.token!;
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

      // Outside the browser: the API token yields an access token, which is refused while pending.
      const r1 = await refresh(token);
      expect(r1.status).toBe(200);
      const { access_token: access } = (await r1.json()) as { access_token: string };
      const auth = { authorization: `Bearer ${access}` };
      const pending = await fetch(`${app.url}/servicex/transformation`, { headers: auth });
      expect(pending.status).toBe(401);
      expect(await pending.json()).toEqual({ message: MSG_PENDING });

      // An administrator approves the user: the same access token now works (user cache ≤ 2 s).
      await app.deps.users.accept("carol@uni.example");
      await eventually(
        async () => (await fetch(`${app.url}/servicex/transformation`, { headers: auth })).status === 200,
        5_000,
        "the access token to work after approval",
      );
      const submit = await fetch(`${app.url}/servicex/transformation`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(submitBody),
      });
      expect(submit.status).toBe(200);
      expect(((await submit.json()) as { request_id: string }).request_id).toMatch(/^[0-9a-f-]{36}$/);

      // Back in the browser: the profile now says approved; generate a new token.
      await page.goto(`${app.url}/profile`);
      expect((await page.locator(".badge.ok").textContent())?.trim()).toBe("approved");
      await shoot(page, "01-new-user-profile-approved");
      // The button asks first (issue 13: the confirmation page, shown as a dialog with JavaScript).
      await page.click("#new-token");
      await page.locator("dialog #confirm").waitFor();
      await shoot(page, "01-new-user-new-token-confirm");
      await andArriveAt(page, "/profile", () => page.click("dialog #confirm"));
      await shoot(page, "01-new-user-new-token");
      expect(await flashes(page)).toContain("Your new API token has been generated!");

      const old = await refresh(token);
      expect(old.status).toBe(401);
      expect(await old.json()).toEqual({ message: "Invalid or outdated refresh token" });

      const cfg2 = await downloadConfig(page);
      const token2 = cfg2.api_endpoints[0]!.token!;
      expect(token2).not.toBe(token);
      const r2 = await refresh(token2);
      expect(r2.status).toBe(200);
      const access2 = ((await r2.json()) as { access_token: string }).access_token;
      const list = await fetch(`${app.url}/servicex/transformation`, {
        headers: { authorization: `Bearer ${access2}` },
      });
      expect(list.status).toBe(200);

      // The dashboard lists the request submitted with the token.
      await page.goto(`${app.url}/dashboard`);
      await shoot(page, "01-new-user-dashboard");
      expect(await page.locator("table.list tbody tr").count()).toBe(1);
    } finally {
      await page.context().close();
    }
  });

  it("makes the JWT_ADMIN user admin and approved at sign-up", async () => {
    const page = await openPage(browser, undefined, { viewport: LAPTOP });
    try {
      expect(await signInFromHome(page, "boss-sub")).toBe("/profile/new");
      expect(await page.inputValue("#email")).toBe(ADMIN_EMAIL);
      await shoot(page, "02-admin-profile-new");
      await andArriveAt(page, "/profile", () => page.click("#save-profile"));
      await shoot(page, "02-admin-profile");
      expect(await flashes(page)).toContain("Profile created!");
      expect(await page.locator(".badge.pending").count()).toBe(0);
      expect((await page.locator(".badge.ok").textContent())?.trim()).toBe("approved");
      expect(await page.locator(".badge", { hasText: /^\s*admin\s*$/ }).count()).toBe(1);
      expect(await app.deps.users.repo.byEmail(ADMIN_EMAIL)).toMatchObject({ admin: true, pending: false });

      // Its token works at once, on an admin-only endpoint too.
      const token = (await downloadConfig(page)).api_endpoints[0]!.token!;
      const r = await refresh(token);
      expect(r.status).toBe(200);
      const access = ((await r.json()) as { access_token: string }).access_token;
      const users = await fetch(`${app.url}/users`, { headers: { authorization: `Bearer ${access}` } });
      expect(users.status).toBe(200);
    } finally {
      await page.context().close();
    }
  });

  it("lets a pre-provisioned user claim the account on profile creation (approved at once)", async () => {
    const provisioned = await app.deps.users.provision({
      sub: "other",
      email: "dave@pre.example",
      name: "Dave (provisioned)",
      institution: null,
    });
    expect(provisioned).toMatchObject({ pending: true, refreshToken: null });
    const page = await openPage(browser, undefined, { viewport: LAPTOP });
    try {
      expect(await signInFromHome(page, "dave-idp-sub")).toBe("/profile/new");
      expect(await page.inputValue("#email")).toBe("dave@pre.example");
      expect(await page.inputValue("#name")).toBe("Dave Provisioned");
      await shoot(page, "03-provisioned-profile-new");
      await andArriveAt(page, "/profile", () => page.click("#save-profile"));
      await shoot(page, "03-provisioned-profile");
      expect(await flashes(page)).toContain("Profile created!");
      expect((await page.locator(".badge.ok").textContent())?.trim()).toBe("approved");

      const row = await app.deps.users.repo.byEmail("dave@pre.example");
      expect(row).toMatchObject({ id: provisioned!.id, sub: "dave-idp-sub", pending: false });
      expect(row!.refreshToken).toBeTruthy();
      expect((await app.deps.users.repo.list({ emailContains: "dave@pre.example" })).length).toBe(1);

      const token = (await downloadConfig(page)).api_endpoints[0]!.token!;
      const r = await refresh(token);
      expect(r.status).toBe(200);
      const access = ((await r.json()) as { access_token: string }).access_token;
      const list = await fetch(`${app.url}/servicex/transformation`, {
        headers: { authorization: `Bearer ${access}` },
      });
      expect(list.status).toBe(200);
    } finally {
      await page.context().close();
    }
  });

  it("ends the session at sign-out (App and provider)", async () => {
    const page = await openPage(browser, undefined, { viewport: LAPTOP });
    try {
      expect(await signInFromHome(page, "erin-sub")).toBe("/profile/new");
      await andArriveAt(page, "/profile", () => page.click("#save-profile"));
      const cookie = async () =>
        (await page.context().cookies(app.url)).find((c) => c.name === "sx_session")?.value;
      expect(await cookie()).toBeTruthy();
      const endSessions = op.endSessionCount();

      const copied = await cookie();
      // Sign out (a POST button in the header) → the provider asks for confirmation (RP-initiated logout)
      // → back at the App's home.
      await Promise.all([
        page.waitForURL((u) => u.origin === op.issuer, { waitUntil: "load" }),
        page.locator("header nav").getByRole("button", { name: "Sign out" }).click(),
      ]);
      await page.locator("#logout").waitFor();
      await shoot(page, "04-sign-out-provider-confirm");
      await andArriveAt(page, "/", () => page.click("#logout"));
      await shoot(page, "04-sign-out-home");
      expect(op.endSessionCount()).toBe(endSessions + 1);
      expect(await page.locator("header nav").getByRole("link", { name: "Sign in" }).count()).toBe(1);
      expect(await cookie()).toBeFalsy();

      // No session: pages that need one send the browser to /sign-in.
      const res = await page.request.get(`${app.url}/profile`, { maxRedirects: 0 });
      expect(res.status()).toBe(302);
      expect(res.headers().location).toMatch(/^\/sign-in(\?|$)/);
      // Nor does a page's own cookie store bring the profile back.
      await page.goto(`${app.url}/profile`);
      expect(new URL(page.url()).origin).toBe(op.issuer); // at the provider's login page again
      await shoot(page, "04-sign-out-profile-needs-sign-in");
      // A copy of the cookie taken before sign-out is worth nothing now (the session ended on the server).
      const replay = await fetch(`${app.url}/.servicex`, {
        headers: { cookie: `sx_session=${copied}` },
        redirect: "manual",
      });
      expect(replay.status).toBe(302);
      expect(replay.headers.get("location")).toMatch(/^\/sign-in(\?|$)/);
    } finally {
      await page.context().close();
    }
  });

  it("comes back home with a flash when the provider answers with an error", async () => {
    const page = await openPage(browser, undefined, { viewport: LAPTOP });
    try {
      op.denyNextAuthorization({ description: "The user declined to share their identity" });
      await page.goto(`${app.url}/about`);
      await andArriveAt(page, "/", () =>
        page.locator("header nav").getByRole("link", { name: "Sign in" }).click(),
      );
      await shoot(page, "05-provider-error-home");
      expect(await flashes(page)).toContain(
        "You could not be logged into the portal: The user declined to share their identity",
      );
      // Not signed in, and no user was created.
      expect(await page.locator("main").getByRole("link", { name: "Sign in" }).count()).toBe(1);
      expect(await app.deps.users.repo.byEmail("frank@uni.example")).toBeNull();
      // The flash is shown once.
      await page.reload();
      expect(await flashes(page)).toEqual([]);
    } finally {
      await page.context().close();
    }
  });
});
