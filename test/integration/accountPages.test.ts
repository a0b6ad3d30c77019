// Account, admin, dataset and layout pages over HTTP (issue 13, items 2, 5, 6): every destructive action
// asks first on a confirmation page that works without JavaScript (and stays a CSRF-checked POST); a
// pending user is told so on every page and next to the token; the token is masked on the profile; someone
// whose account was deleted or rejected is told so when signing in again; /profile/new says who is signed
// in and offers sign-out; a browser gets unknown URLs as an HTML page while API clients keep the JSON; the
// favicon, the home heading, the /docs page, aria-sort on the datasets page, byte counts in human units; and
// the users page with sign-in off. Real App (Postgres, in-process broker) and the real OIDC test provider.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CookieJar, type OidcTestProvider, startOidcProvider } from "../helpers/oidcProvider.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

const ADMIN_EMAIL = "boss@acct.example";
const HTML = { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" };

let op: OidcTestProvider;
let app: TestApp;
let open: TestApp; // ENABLE_AUTH=false

beforeAll(async () => {
  const users: Record<string, { email: string; name: string; organization: string }> = {};
  for (const n of ["boss", "pia", "pen", "ray", "del", "rej", "tok", "adm", "dsu", "new"]) {
    users[`${n}-sub`] = {
      email: n === "boss" ? ADMIN_EMAIL : `${n}@acct.example`,
      name: `${n[0]!.toUpperCase()}${n.slice(1)} Person`,
      organization: "Uni",
    };
  }
  op = await startOidcProvider({ users });
  const secret = `acct-${randomBytes(8).toString("hex")}-0123456789abcdef`;
  [app, open] = await Promise.all([
    startTestApp({
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
    }),
    startTestApp({ backend: "postgres", broker: "memory", env: { ENABLE_AUTH: "false" } }),
  ]);
  op.setRedirectUris([`${app.url}/auth-callback`]);
  op.setPostLogoutRedirectUris([`${app.url}/`]);
}, 120_000);

afterAll(async () => {
  await Promise.all([app?.close(), open?.close()]);
  await op?.stop();
});

// ---- helpers -------------------------------------------------------------------------------------------

interface Page {
  status: number;
  text: string;
  headers: Headers;
  location: string | null;
}

async function send(
  jar: CookieJar,
  method: string,
  path: string,
  form?: Record<string, string>,
  headers: Record<string, string> = HTML,
  base = app.url,
): Promise<Page> {
  const u = new URL(path, base);
  const cookie = jar.header(u);
  const res = await fetch(u, {
    method,
    headers: {
      ...headers,
      ...(cookie ? { cookie } : {}),
      ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
    },
    ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    redirect: "manual",
  });
  jar.store(u, res.headers.getSetCookie());
  return {
    status: res.status,
    text: await res.text(),
    headers: res.headers,
    location: res.headers.get("location"),
  };
}
const get = (jar: CookieJar, path: string) => send(jar, "GET", path);

function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error("no _csrf field in the page");
  return m[1]!;
}

/** Signs `account` in through the provider; returns where the callback sends the browser. */
async function signIn(jar: CookieJar, account: string): Promise<string | null> {
  const callback = await op.loginWithHttp(`${app.url}/sign-in`, account, { jar });
  return (await get(jar, callback)).location;
}

/** Signs in and creates the profile (pending unless JWT_ADMIN); returns the jar and the user's id. */
async function signUp(account: string): Promise<{ jar: CookieJar; id: number }> {
  const jar = new CookieJar();
  expect(await signIn(jar, account)).toBe("/profile/new");
  const form = await get(jar, "/profile/new");
  const email = account === "boss-sub" ? ADMIN_EMAIL : `${account.replace("-sub", "")}@acct.example`;
  const saved = await send(jar, "POST", "/profile/new", {
    _csrf: csrfOf(form.text),
    name: `${account} name`,
    email,
    institution: "Uni",
    experiment: "ATLAS",
  });
  expect(saved.location).toBe("/profile");
  return { jar, id: (await app.deps.users.repo.byEmail(email))!.id };
}

let bossJar: CookieJar | undefined;
async function boss(): Promise<CookieJar> {
  bossJar ??= (await signUp("boss-sub")).jar;
  return bossJar;
}

/** The forms of a page: action → method. */
function forms(html: string): Map<string, string> {
  return new Map(
    [...html.matchAll(/<form[^>]*method="(\w+)"[^>]*action="([^"]+)"/g)].map((m) => [m[2]!, m[1]!]),
  );
}

async function approvedToken(email: string): Promise<string> {
  const u = await app.deps.users.repo.byEmail(email);
  await app.deps.users.accept(email);
  const refresh = await app.deps.users.currentApiToken(u!.id);
  const r = await fetch(`${app.url}/token/refresh`, {
    method: "POST",
    headers: { authorization: `Bearer ${refresh}` },
  });
  return ((await r.json()) as { access_token: string }).access_token;
}

// ---- confirmations ---------------------------------------------------------------------------------------

describe("Confirmations (issue 13, item 2)", () => {
  it("When an admin opens the users page, then reject, make/revoke admin and delete are links to confirmation pages, approve stays a form", async () => {
    const admin = await boss();
    const pia = await signUp("pia-sub");
    const list = await get(admin, "/admin/users");
    expect(list.status).toBe(200);
    const f = forms(list.text);
    expect(f.get(`/admin/users/${pia.id}/approve`)).toBe("post");
    for (const action of ["reject", "delete"]) {
      expect(f.has(`/admin/users/${pia.id}/${action}`), action).toBe(false);
      expect(list.text).toContain(`href="/admin/users/${pia.id}/${action}" data-confirm`);
    }
  });

  it("When an admin deletes a user, then a confirmation page says what is lost, and only its CSRF-checked POST deletes", async () => {
    const admin = await boss();
    const ray = await signUp("ray-sub");
    const token = await approvedToken("ray@acct.example");
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${app.url}/servicex/transformation`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({
          title: `ray ${i}`,
          "file-list": [`root://eos.example//acct/${randomBytes(4).toString("hex")}.root`],
          selection: "(Select lambda e: e.Jets)",
          codegen: "passthrough",
          "result-destination": "object-store",
        }),
      });
      expect(r.status).toBe(200);
    }
    const page = await get(admin, `/admin/users/${ray.id}/delete`);
    expect(page.status).toBe(200);
    expect(page.text).toContain("Delete ray-sub name?");
    expect(page.text).toContain("API token stops working");
    expect(page.text).toContain("Their 2 transform requests and results stay");
    expect(forms(page.text).get(`/admin/users/${ray.id}/delete`)).toBe("post");
    expect(page.text).toContain('id="confirm" class="danger"');
    // Opening the page changed nothing; a POST without the page's token is refused.
    expect(await app.deps.users.repo.byId(ray.id)).not.toBeNull();
    expect((await send(admin, "POST", `/admin/users/${ray.id}/delete`, {})).status).toBe(403);
    expect(await app.deps.users.repo.byId(ray.id)).not.toBeNull();
    const done = await send(admin, "POST", `/admin/users/${ray.id}/delete`, { _csrf: csrfOf(page.text) });
    expect(done.status).toBe(303);
    expect(await app.deps.users.repo.byId(ray.id)).toBeNull();
  });

  it("When an admin makes, revokes or rejects, then each asks first with its own consequences", async () => {
    const admin = await boss();
    const adm = await signUp("adm-sub");
    await app.deps.users.accept("adm@acct.example");
    const make = await get(admin, `/admin/users/${adm.id}/make-admin`);
    expect(make.text).toContain("every user&#39;s requests");
    expect((await app.deps.users.repo.byId(adm.id))!.admin).toBe(false);
    await send(admin, "POST", `/admin/users/${adm.id}/make-admin`, { _csrf: csrfOf(make.text) });
    expect((await app.deps.users.repo.byId(adm.id))!.admin).toBe(true);
    const revoke = await get(admin, `/admin/users/${adm.id}/revoke-admin`);
    expect(revoke.text).toContain("signed out of every browser");
    await send(admin, "POST", `/admin/users/${adm.id}/revoke-admin`, { _csrf: csrfOf(revoke.text) });
    expect((await app.deps.users.repo.byId(adm.id))!.admin).toBe(false);
    // Reject is for pending users only: an approved one is sent back with a message.
    const notPending = await get(admin, `/admin/users/${adm.id}/reject`);
    expect(notPending.status).toBe(303);
    expect(notPending.location).toBe("/admin/users");
    // An administrator's own row: delete and revoke are refused before the question.
    const me = (await app.deps.users.repo.byEmail(ADMIN_EMAIL))!.id;
    expect((await get(admin, `/admin/users/${me}/delete`)).status).toBe(303);
    // Unknown users and actions are a 404 page.
    expect((await get(admin, "/admin/users/99999999/delete")).status).toBe(404);
    expect((await get(admin, `/admin/users/${adm.id}/promote`)).status).toBe(404);
    // A non-admin cannot open the confirmation pages (revoking ended adm's sessions: sign in again).
    const plain = new CookieJar();
    expect(await signIn(plain, "adm-sub")).toBe("/dashboard");
    expect((await get(plain, `/admin/users/${me}/delete`)).status).toBe(403);
  });

  it("When the profile's token button is used, then it goes to the /api-token confirmation, which says the old token stops working", async () => {
    const tok = await signUp("tok-sub");
    const profile = await get(tok.jar, "/profile");
    expect(forms(profile.text).has("/api-token")).toBe(false);
    expect(profile.text).toMatch(/<a [^>]*id="new-token" href="\/api-token"/);
    const before = (await app.deps.users.repo.byId(tok.id))!.refreshToken;
    const confirm = await get(tok.jar, "/api-token");
    expect(confirm.text).toContain("The current token stops working");
    expect(forms(confirm.text).get("/api-token")).toBe("post");
    expect((await app.deps.users.repo.byId(tok.id))!.refreshToken).toBe(before);
    await send(tok.jar, "POST", "/api-token", { _csrf: csrfOf(confirm.text) });
    expect((await app.deps.users.repo.byId(tok.id))!.refreshToken).not.toBe(before);
  });

  it("When an admin deletes a dataset, then GET /datasets/<id>/delete asks first; a non-admin is refused", async () => {
    const admin = await boss();
    const dsu = await signUp("dsu-sub");
    const token = await approvedToken("dsu@acct.example");
    const r = await fetch(`${app.url}/servicex/transformation`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({
        "file-list": [`root://eos.example//acct/${randomBytes(4).toString("hex")}.root`],
        selection: "s",
        codegen: "passthrough",
        "result-destination": "object-store",
      }),
    });
    const requestId = ((await r.json()) as { request_id: string }).request_id;
    const didId = (await app.deps.repos.requests.find(requestId))!.didId;
    const dataset = await get(admin, `/datasets/${didId}`);
    expect(dataset.text).toMatch(
      /<a class="button danger" href="\/datasets\/\d+\/delete" id="delete-dataset"/,
    );
    expect(forms(dataset.text).has(`/datasets/${didId}/delete`)).toBe(false);
    expect((await get(dsu.jar, `/datasets/${didId}/delete`)).status).toBe(403);
    const confirm = await get(admin, `/datasets/${didId}/delete`);
    expect(confirm.text).toContain("looks it up again");
    expect(confirm.text).toContain("Requests already made with it and their results are not touched");
    expect((await app.deps.repos.datasets.get(didId))!.stale).toBe(false);
    await send(admin, "POST", `/datasets/${didId}/delete`, { _csrf: csrfOf(confirm.text) });
    expect((await app.deps.repos.datasets.get(didId))!.stale).toBe(true);
    // Asking again for a deleted dataset says so instead of asking.
    expect((await get(admin, `/datasets/${didId}/delete`)).location).toBe(`/datasets/${didId}`);
  });
});

// ---- pending and signed-in state -------------------------------------------------------------------------

describe("Pending and signed-in state (issue 13, item 5)", () => {
  it("When a pending user opens any page, then a pending banner shows, and the token box says it is refused until approval", async () => {
    const { jar } = await signUp("pen-sub");
    for (const path of ["/", "/about", "/docs", "/profile", "/dashboard", "/datasets", "/no-such-page"]) {
      const p = await get(jar, path);
      expect(p.text, path).toContain('id="pending-banner"');
    }
    const profile = await get(jar, "/profile");
    expect(profile.text).toContain('id="token-pending"');
    expect(profile.text).toContain("the API refuses this token until an");
    await app.deps.users.accept("pen@acct.example");
    for (const path of ["/", "/profile"]) {
      const p = await get(jar, path);
      expect(p.text, path).not.toContain('id="pending-banner"');
    }
    expect((await get(jar, "/profile")).text).not.toContain('id="token-pending"');
  });

  it("When the profile shows the API token, then it is masked, revealed by a <details>, with a copy button, and never cached", async () => {
    const admin = await boss();
    const profile = await get(admin, "/profile");
    const me = (await app.deps.users.repo.byEmail(ADMIN_EMAIL))!;
    const token = await app.deps.users.currentApiToken(me.id);
    expect(profile.headers.get("cache-control")).toContain("no-store");
    expect(profile.text).toContain(`…${token.slice(-6)}</code>`);
    expect(profile.text).toMatch(/<details class="token-reveal">\s*<summary>Show token<\/summary>/);
    expect(profile.text).toContain(`<code class="token" id="api-token">${token}</code>`);
    expect(profile.text).toContain('data-copy="api-token" hidden');
    // The token is in the page only inside the <details> (plus the masked tail).
    expect(profile.text.split(token).length - 1).toBe(1);
  });

  it("When a deleted user signs in again, then they are told the account was deleted; a rejected one that the sign-up was not approved", async () => {
    const admin = await boss();
    const del = await signUp("del-sub");
    await app.deps.users.accept("del@acct.example");
    const ask = await get(admin, `/admin/users/${del.id}/delete`);
    await send(admin, "POST", `/admin/users/${del.id}/delete`, { _csrf: csrfOf(ask.text) });
    // The old browser session ended with the account.
    expect((await get(del.jar, "/profile")).location).toMatch(/^\/sign-in/);
    const again = new CookieJar();
    expect(await signIn(again, "del-sub")).toBe("/profile/new");
    const page = await get(again, "/profile/new");
    expect(page.text).toContain("Your ServiceX account was deleted by an administrator on");
    expect(page.text).toContain("its API token no longer works");

    const rej = await signUp("rej-sub");
    const askReject = await get(admin, `/admin/users/${rej.id}/reject`);
    expect(askReject.text).toContain("Reject rej-sub name?");
    await send(admin, "POST", `/admin/users/${rej.id}/reject`, { _csrf: csrfOf(askReject.text) });
    const back = new CookieJar();
    expect(await signIn(back, "rej-sub")).toBe("/profile/new");
    expect((await get(back, "/profile/new")).text).toContain("was not approved by the administrators");
    // A first-time sign-in is told nothing of the kind.
    const fresh = new CookieJar();
    expect(await signIn(fresh, "new-sub")).toBe("/profile/new");
    const first = await get(fresh, "/profile/new");
    expect(first.text).not.toContain("deleted by an administrator");
    expect(first.text).not.toContain("not approved");
  });

  it("When a signed-in user without a profile opens /profile/new, then it names the identity and offers sign-out, not sign-in", async () => {
    const jar = new CookieJar();
    expect(await signIn(jar, "new-sub")).toBe("/profile/new");
    const page = await get(jar, "/profile/new");
    expect(page.text).toContain("You are signed in as <strong>new@acct.example</strong>");
    expect(page.text).toContain('id="switch-account"');
    expect(forms(page.text).get("/sign-out")).toBe("post");
    expect(page.text).not.toContain('href="/sign-in"');
    // The switch: sign out (CSRF-checked) ends the session.
    const out = await send(jar, "POST", "/sign-out", { _csrf: csrfOf(page.text) });
    expect(out.status).toBe(303);
    expect((await get(jar, "/profile/new")).location).toMatch(/^\/sign-in/);
  });
});

// ---- slips -----------------------------------------------------------------------------------------------

describe("Layout and page slips (issue 13, item 6)", () => {
  it("When a browser asks for an unknown URL, then it gets the HTML 404 page in the layout; API clients keep the JSON", async () => {
    const jar = new CookieJar();
    const page = await get(jar, "/no/such/page");
    expect(page.status).toBe(404);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.text).toContain('<nav aria-label="Main">');
    expect(page.text).toContain("Page not found");
    for (const accept of [undefined, "*/*", "application/json"]) {
      const r = await fetch(`${app.url}/no/such/page`, { headers: accept ? { accept } : {} });
      expect(r.status, accept).toBe(404);
      expect(await r.json(), accept).toEqual({
        message: "The requested URL GET /no/such/page was not found on the server.",
        code: "not_found",
      });
    }
    // A form post to nowhere is not a page view: JSON.
    const post = await send(jar, "POST", "/no/such/page", { a: "b" });
    expect(post.headers.get("content-type")).toMatch(/json/);
    // The API's own 404 answers stay JSON even for a browser.
    const api = await get(jar, "/servicex/transformation/00000000-0000-4000-8000-000000000000");
    expect(api.status).toBe(401);
    expect(api.headers.get("content-type")).toMatch(/json/);
  });

  it("When a page is served, then it names the favicon, which is served from /static; /favicon.ico points to it", async () => {
    const home = await get(new CookieJar(), "/");
    expect(home.text).toContain('<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">');
    const icon = await fetch(`${app.url}/static/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get("content-type")).toMatch(/^image\/svg\+xml/);
    expect(await icon.text()).toContain("<svg");
    const ico = await fetch(`${app.url}/favicon.ico`, { redirect: "manual" });
    expect(ico.status).toBe(301);
    expect(ico.headers.get("location")).toBe("/static/favicon.svg");
  });

  it("When the home page is opened with the default instance name, then the heading is ServiceX alone", async () => {
    const home = await get(new CookieJar(), "/");
    expect(home.text).toMatch(/<h1>ServiceX<\/h1>/);
    expect(home.text).not.toMatch(/ServiceX servicex/i);
  });

  it("When /docs is opened, then it is a page of the layout with code spans, without backticks or notes about upstream", async () => {
    const docs = await get(new CookieJar(), "/docs");
    expect(docs.status).toBe(200);
    expect(docs.text).toContain('<nav aria-label="Main">');
    expect(docs.text).toContain('<link rel="stylesheet" href="/static/style.css">');
    expect(docs.text).toContain("/servicex/transformation/:request_id/results");
    expect(docs.text).toContain("<code>later_than</code>");
    const body = docs.text.replace(/<[^>]+>/g, "");
    expect(body).not.toContain("`");
    expect(body).not.toMatch(/crashed|A\.\d/);
  });

  it("When the datasets page is sorted, then aria-sort is on the header cell, sizes are in human units with the exact count in a title", async () => {
    const admin = await boss();
    const [d] = await app.deps.db.sql.query<{ id: number }>("SELECT id FROM datasets ORDER BY id LIMIT 1");
    await app.deps.db.sql.query("UPDATE datasets SET size = 1234567890 WHERE id = $1", [d!.id]);
    const page = await get(admin, "/datasets?sort=size&order=desc");
    expect(page.text).toMatch(
      /<th scope="col" class="num" aria-sort="descending"><a href="\/datasets\?sort=size&(amp;)?order=asc">Size/,
    );
    expect(page.text).not.toMatch(/<a [^>]*aria-sort/);
    expect(page.text).toContain('<span title="1,234,567,890 bytes">1.23 GB</span>');
    expect((await get(admin, `/datasets/${d!.id}`)).text).toContain("1.23 GB");
  });

  it("When sign-in is off, then the users page says accounts are not needed instead of '0 users', and the nav has no Users link", async () => {
    const jar = new CookieJar();
    const page = await send(jar, "GET", "/admin/users", undefined, HTML, open.url);
    expect(page.status).toBe(200);
    expect(page.text).toContain("Sign-in is off on this instance");
    expect(page.text).toContain("There are no user accounts, and none are needed while sign-in is off.");
    expect(page.text).not.toMatch(/\b0 users\b/);
    expect(page.text).not.toContain('href="/admin/users"');
  });
});

describe("HTML error pages for browsers (issue 13, item 6)", () => {
  it("When a page route fails, then a browser gets the error page in the layout and an API client the JSON 500", async () => {
    const express = (await import("express")).default;
    const { fileURLToPath } = await import("node:url");
    const { pageErrors, pageKit } = await import("../../src/http/routes/pages/kit.js");
    const { errorHandler } = await import("../../src/http/middleware/errorHandler.js");
    const { webServices } = await import("../../src/routeServices.js");
    const mini = express();
    mini.set("views", fileURLToPath(new URL("../../views", import.meta.url)));
    mini.set("view engine", "ejs");
    mini.use((req, _res, next) => {
      req.session = { sid: "s", iat: 0, csrf: "c" };
      next();
    });
    // A page route (ENABLE_AUTH=false, so the guard lets it run) that throws.
    const kit = pageKit(webServices(open.deps));
    mini.get("/open-boom", kit.oauthRequired, () => {
      throw new Error("secret internals");
    });
    mini.use(pageErrors(kit, open.deps.logger));
    mini.use(errorHandler);
    const server = mini.listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    try {
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const page = await fetch(`${base}/open-boom`, { headers: HTML });
      expect(page.status).toBe(500);
      expect(page.headers.get("content-type")).toMatch(/^text\/html/);
      const html = await page.text();
      expect(html).toContain("Server error");
      expect(html).toContain('<nav aria-label="Main">');
      expect(html).not.toContain("secret internals");
      const api = await fetch(`${base}/open-boom`, { headers: { accept: "*/*" } });
      expect(api.status).toBe(500);
      expect(await api.json()).toEqual({ message: "Internal Server Error", code: "internal" });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
