// The sign-in flow without a browser, for its security edge cases (contract §2.7, §7.2, §7.3): the App
// (Postgres, in-memory broker) against the OIDC test provider, driven with fetch + CookieJar (loginWithHttp).
// Callback checks (state, replayed code, no started sign-in), session renewal and CSRF at sign-in, cookie
// attributes, the `next` parameter (no open redirect) and the profile form's validation.
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SESSION_COOKIE, SessionCodec, type SessionData } from "../../src/http/middleware/session.js";
import { CookieJar, type OidcTestProvider, startOidcProvider } from "../helpers/oidcProvider.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

const SECRET_KEY = "http-test-session-secret-0123456789abcdef";
const codec = new SessionCodec(SECRET_KEY);
const INVALID_FLASH = "Profile could not be saved. Please fix invalid fields below.";
const ADMIN_EMAIL = "admin@uni.example";

let op: OidcTestProvider;
let app: TestApp;

const ACCOUNTS = [
  "state",
  "replay",
  "nosession",
  "renew",
  "cookie",
  "secure",
  "next",
  "invalid",
  "xss",
  "nocsrf",
  "mallory",
  "trudy",
] as const;

beforeAll(async () => {
  op = await startOidcProvider({
    users: Object.fromEntries(
      ACCOUNTS.map((a) => [
        `${a}-sub`,
        { email: `${a}@uni.example`, name: `User ${a}`, organization: "Uni Example" },
      ]),
    ),
  });
  app = await startTestApp({
    backend: "postgres",
    broker: "memory",
    env: {
      ENABLE_AUTH: "true",
      JWT_SECRET_KEY: "http-test-jwt-secret-0123456789abcdef",
      SECRET_KEY,
      JWT_ADMIN: ADMIN_EMAIL,
      OAUTH_METADATA_URL: op.metadataUrl,
      OAUTH_CLIENT_ID: op.clientId,
      OAUTH_CLIENT_SECRET: op.clientSecret,
    },
  });
  op.setRedirectUris([`${app.url}/auth-callback`]);
  op.setPostLogoutRedirectUris([`${app.url}/`]);
});

afterAll(async () => {
  await app?.close();
  await op?.stop();
});

// ---- helpers -------------------------------------------------------------------------------------------

function appUrl(path: string): URL {
  return new URL(path, app.url);
}

/** GET through the jar, without following redirects. */
async function get(jar: CookieJar, url: string | URL, headers: Record<string, string> = {}) {
  const u = typeof url === "string" ? appUrl(url) : url;
  const cookie = jar.header(u);
  const res = await fetch(u, { headers: { ...headers, ...(cookie ? { cookie } : {}) }, redirect: "manual" });
  jar.store(u, res.headers.getSetCookie());
  return res;
}

/** A form POST through the jar, without following redirects. */
async function post(jar: CookieJar, path: string, form: Record<string, string>) {
  const u = appUrl(path);
  const cookie = jar.header(u);
  const res = await fetch(u, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(form).toString(),
    redirect: "manual",
  });
  jar.store(u, res.headers.getSetCookie());
  return res;
}

function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error("no _csrf field in the page");
  return m[1]!;
}

function sessionCookie(jar: CookieJar): string | undefined {
  return jar.get(app.url, SESSION_COOKIE);
}

function decodeSession(value: string | undefined): SessionData {
  const s = value ? codec.decode(value) : null;
  if (!s) throw new Error("no readable session cookie");
  return s;
}

/** The Set-Cookie header of the session cookie in `res`, if any. */
function sessionSetCookie(res: Response): string | undefined {
  return res.headers.getSetCookie().find((h) => h.startsWith(`${SESSION_COOKIE}=`));
}

function attributes(setCookie: string): string[] {
  return setCookie
    .split(";")
    .slice(1)
    .map((a) => a.trim().toLowerCase());
}

/** Provider login from the App's /sign-in; returns the callback URL (not yet opened). */
function providerLogin(jar: CookieJar, account: string, next?: string): Promise<string> {
  const q = next === undefined ? "" : `?next=${encodeURIComponent(next)}`;
  return op.loginWithHttp(`${app.url}/sign-in${q}`, account, { jar });
}

/** Full sign-in: provider login, then the App's callback; returns the callback's answer. */
async function signIn(jar: CookieJar, account: string, next?: string): Promise<Response> {
  return get(jar, await providerLogin(jar, account, next));
}

const validProfile = (account: string) => ({
  name: `User ${account}`,
  email: `${account}@uni.example`,
  institution: "Uni Example",
  experiment: "ATLAS",
});

/** Signs in and creates the profile; returns the jar of the signed-in session. */
async function signUp(account: string): Promise<CookieJar> {
  const jar = new CookieJar();
  const cb = await signIn(jar, `${account}-sub`);
  expect(cb.headers.get("location")).toBe("/profile/new");
  const form = await get(jar, "/profile/new");
  const res = await post(jar, "/profile/new", { _csrf: csrfOf(await form.text()), ...validProfile(account) });
  expect(res.status).toBe(302);
  expect(res.headers.get("location")).toBe("/profile");
  return jar;
}

/** Whether the jar's session is signed in (an oauth_required page answers 200, not a redirect). */
async function signedIn(jar: CookieJar): Promise<boolean> {
  const res = await get(jar, "/profile/new");
  return res.status === 200 || (res.status === 302 && res.headers.get("location") === "/profile");
}

// ---- tests ---------------------------------------------------------------------------------------------

describe("the OIDC callback", () => {
  it("answers 400 to a callback whose state does not match the started sign-in", async () => {
    const jar = new CookieJar();
    const callback = new URL(await providerLogin(jar, "state-sub"));
    const genuine = callback.href;
    callback.searchParams.set("state", "forged-state");
    const res = await get(jar, callback);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await res.text()).toContain("Sign-in failed");
    expect(await signedIn(jar)).toBe(false);
    // The started sign-in was used up by the failed attempt: the genuine answer is refused as well.
    const again = await get(jar, genuine);
    expect(again.status).toBe(400);
    expect(await signedIn(jar)).toBe(false);
    expect(await app.deps.users.repo.bySub("state-sub")).toBeNull();
  });

  it("answers 400 to a replayed callback (an already used code), even with the pre-callback cookie", async () => {
    const jar = new CookieJar();
    const callback = await providerLogin(jar, "replay-sub");
    const preCallbackCookie = sessionCookie(jar)!;
    expect(decodeSession(preCallbackCookie).oidc).toBeDefined();
    const first = await get(jar, callback);
    expect(first.status).toBe(302);
    expect(first.headers.get("location")).toBe("/profile/new");

    // The same callback in the signed-in session: no sign-in is pending any more.
    const sameSession = await get(jar, callback);
    expect(sameSession.status).toBe(400);

    // The whole request replayed (URL and the cookie it carried): the provider refuses the used code.
    const attacker = new CookieJar();
    attacker.store(appUrl("/"), [`${SESSION_COOKIE}=${preCallbackCookie}; Path=/`]);
    const replay = await get(attacker, callback);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain("Sign-in failed");
    expect(await signedIn(attacker)).toBe(false);
    expect(op.issuedCodes).toContain(new URL(callback).searchParams.get("code"));
  });

  it("answers 400 to a callback without a started sign-in (no session)", async () => {
    const bare = await fetch(appUrl("/auth-callback?code=abc&state=xyz"), { redirect: "manual" });
    expect(bare.status).toBe(400);
    expect(await bare.text()).toContain("Sign-in failed");

    // A genuine, unused code of someone else's sign-in (login CSRF): refused without that session.
    const victim = new CookieJar();
    const callback = await providerLogin(new CookieJar(), "nosession-sub");
    const res = await get(victim, callback);
    expect(res.status).toBe(400);
    const set = sessionSetCookie(res);
    if (set)
      expect(codec.decode(set.slice(SESSION_COOKIE.length + 1).split(";")[0]!)?.isAuthenticated).toBeFalsy();
    expect(await signedIn(victim)).toBe(false);
    expect(await app.deps.users.repo.bySub("nosession-sub")).toBeNull();
  });
});

describe("the session at sign-in", () => {
  it("renews the session cookie and its CSRF token", async () => {
    const jar = new CookieJar();
    const callback = await providerLogin(jar, "renew-sub");
    const before = sessionCookie(jar)!;
    const pre = decodeSession(before);
    const res = await get(jar, callback);
    expect(res.status).toBe(302);
    const after = sessionCookie(jar)!;
    expect(after).not.toBe(before);
    const post2 = decodeSession(after);
    expect(post2.sid).not.toBe(pre.sid);
    expect(post2.csrf).not.toBe(pre.csrf);
    expect(post2.oidc).toBeUndefined();
    expect(post2).toMatchObject({ isAuthenticated: true, sub: "renew-sub" });

    // The page's form carries the new token; the pre-sign-in token is refused.
    const form = await get(jar, "/profile/new");
    expect(form.status).toBe(200);
    expect(csrfOf(await form.text())).toBe(post2.csrf);
    const stale = await post(jar, "/profile/new", { _csrf: pre.csrf, ...validProfile("renew") });
    expect(stale.status).toBe(403);
    expect(await app.deps.users.repo.bySub("renew-sub")).toBeNull();
    const ok = await post(jar, "/profile/new", { _csrf: post2.csrf, ...validProfile("renew") });
    expect(ok.status).toBe(302);
    expect(ok.headers.get("location")).toBe("/profile");
    expect(await app.deps.users.repo.bySub("renew-sub")).not.toBeNull();
  });

  it("refuses a profile POST without the CSRF token", async () => {
    const jar = new CookieJar();
    await signIn(jar, "nocsrf-sub");
    const res = await post(jar, "/profile/new", validProfile("nocsrf"));
    expect(res.status).toBe(403);
    expect(await app.deps.users.repo.bySub("nocsrf-sub")).toBeNull();
  });

  it("sets the cookie HttpOnly, SameSite=Lax, Path=/, without Secure over plain http", async () => {
    const jar = new CookieJar();
    const start = await get(jar, "/sign-in");
    expect(start.status).toBe(302);
    const atStart = sessionSetCookie(start)!;
    expect(atStart).toBeDefined();
    const callback = await op.loginWithHttp(start.headers.get("location")!, "cookie-sub", { jar });
    const cb = await get(jar, callback);
    const atSignIn = sessionSetCookie(cb)!;
    expect(atSignIn).toBeDefined();
    for (const header of [atStart, atSignIn]) {
      const attrs = attributes(header);
      expect(attrs).toContain("httponly");
      expect(attrs).toContain("samesite=lax");
      expect(attrs).toContain("path=/");
      expect(attrs).not.toContain("secure");
    }
  });

  it("sets the cookie Secure when the request carries X-Scheme: https (sign-in behind a TLS proxy)", async () => {
    // Behind the proxy the browser is at https://<host>; the App builds its redirect URI from X-Scheme.
    const httpsCallback = `${app.url.replace(/^http:/, "https:")}/auth-callback`;
    op.setRedirectUris([`${app.url}/auth-callback`, httpsCallback]);
    try {
      const jar = new CookieJar();
      const start = await get(jar, "/sign-in", { "x-scheme": "https" });
      expect(start.status).toBe(302);
      const authorize = new URL(start.headers.get("location")!);
      expect(authorize.searchParams.get("redirect_uri")).toBe(httpsCallback);
      expect(attributes(sessionSetCookie(start)!)).toContain("secure");

      // The provider sends the browser to https://…/auth-callback; the proxy forwards it over http.
      const returned = new URL(await op.loginWithHttp(authorize.href, "secure-sub", { jar }));
      expect(returned.protocol).toBe("https:");
      const forwarded = new URL(`${returned.pathname}${returned.search}`, app.url);
      const cb = await get(jar, forwarded, { "x-scheme": "https" });
      expect(cb.status).toBe(302);
      expect(cb.headers.get("location")).toBe("/profile/new");
      const attrs = attributes(sessionSetCookie(cb)!);
      expect(attrs).toContain("secure");
      expect(attrs).toContain("httponly");
      expect(attrs).toContain("samesite=lax");
    } finally {
      op.setRedirectUris([`${app.url}/auth-callback`]);
    }
  });
});

describe("the session cookie behind a proxy without X-Scheme", () => {
  it("is Secure when the App assumes https (a non-local Host and no X-Scheme, §2.7)", async () => {
    // The App builds https://<host>/auth-callback for such a request, so the browser is on https: the
    // session cookie (which then carries the PKCE verifier and, after sign-in, the signed-in session) must
    // be Secure as well.
    const { status, location, setCookie } = await new Promise<{
      status: number;
      location: string;
      setCookie: string[];
    }>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: app.port, path: "/sign-in", headers: { host: "servicex.example.org" } },
        (res) => {
          res.resume();
          resolve({
            status: res.statusCode ?? 0,
            location: String(res.headers.location ?? ""),
            setCookie: res.headers["set-cookie"] ?? [],
          });
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(302);
    expect(new URL(location).searchParams.get("redirect_uri")).toBe(
      "https://servicex.example.org/auth-callback",
    );
    const header = setCookie.find((h) => h.startsWith(`${SESSION_COOKIE}=`));
    expect(header).toBeDefined();
    expect(attributes(header!)).toContain("secure");
  });
});

describe("the profile e-mail and the identity's e-mail", () => {
  it("applies the JWT_ADMIN rule only to the identity that has that e-mail, not to a typed-in one", async () => {
    const jar = new CookieJar();
    expect((await signIn(jar, "mallory-sub")).headers.get("location")).toBe("/profile/new");
    const form = await get(jar, "/profile/new");
    await post(jar, "/profile/new", {
      _csrf: csrfOf(await form.text()),
      ...validProfile("mallory"),
      email: ADMIN_EMAIL, // typed in; the provider says mallory@uni.example
    });
    const row = await app.deps.users.repo.byEmail(ADMIN_EMAIL);
    // Refused, or at most an ordinary pending account: never admin, never approved.
    if (row) expect(row).toMatchObject({ admin: false, pending: true });
    const session = decodeSession(sessionCookie(jar));
    expect(session.admin ?? false).toBe(false);
  });

  it("lets only the identity with that e-mail claim a pre-provisioned account", async () => {
    const provisioned = await app.deps.users.provision({
      sub: "other-provisioned",
      email: "victim@pre.example",
      name: "Victim (provisioned)",
      institution: null,
    });
    expect(provisioned).not.toBeNull();
    const jar = new CookieJar();
    expect((await signIn(jar, "trudy-sub")).headers.get("location")).toBe("/profile/new");
    const form = await get(jar, "/profile/new");
    await post(jar, "/profile/new", {
      _csrf: csrfOf(await form.text()),
      ...validProfile("trudy"),
      email: "victim@pre.example", // typed in; the provider says trudy@uni.example
    });
    // The pre-provisioned account is untouched: not claimed by trudy, still waiting for its owner.
    const row = await app.deps.users.repo.byId(provisioned!.id);
    expect(row).toMatchObject({ sub: "other-provisioned", refreshToken: null, pending: true });
  });
});

describe("the `next` parameter of /sign-in", () => {
  it("returns to a same-site path after sign-in and ignores other targets", async () => {
    await signUp("next");
    const landing = async (next: string) => {
      const res = await signIn(new CookieJar(), "next-sub", next);
      expect(res.status).toBe(302);
      return res.headers.get("location");
    };
    expect(await landing("/dashboard")).toBe("/dashboard");
    expect(await landing("/profile/edit")).toBe("/profile/edit");
    for (const evil of [
      "https://evil.example",
      "//evil.example",
      "/\\evil.example",
      "\\\\evil.example",
      "http:evil.example",
      "javascript:alert(1)",
      " //evil.example",
    ]) {
      expect(await landing(evil), evil).toBe("/dashboard");
    }
  });
});

describe("the profile form's validation", () => {
  async function signedInWithoutProfile(account: string) {
    const jar = new CookieJar();
    const cb = await signIn(jar, `${account}-sub`);
    expect(cb.headers.get("location")).toBe("/profile/new");
    const form = await get(jar, "/profile/new");
    expect(form.status).toBe(200);
    return { jar, csrf: csrfOf(await form.text()) };
  }

  const cases: {
    what: string;
    change: Record<string, string>;
    errors: Record<string, string>;
  }[] = [
    { what: "an empty name", change: { name: "" }, errors: { name: "Name is required" } },
    { what: "a blank name", change: { name: "   " }, errors: { name: "Name is required" } },
    {
      what: "a bad e-mail",
      change: { email: "not-an-email" },
      errors: { email: "Not a valid e-mail address" },
    },
    {
      what: "an experiment other than ATLAS/CMS",
      change: { experiment: "LHCb" },
      errors: { experiment: "Choose ATLAS or CMS" },
    },
    {
      what: "all of them at once",
      change: { name: "", email: "a@", experiment: "ALICE" },
      errors: {
        name: "Name is required",
        email: "Not a valid e-mail address",
        experiment: "Choose ATLAS or CMS",
      },
    },
  ];

  it.each(cases)("refuses $what with 400, the flash and the field messages, writing nothing", async (c) => {
    const { jar, csrf } = await signedInWithoutProfile("invalid");
    const countBefore = (await app.deps.users.repo.list()).length;
    const res = await post(jar, "/profile/new", { _csrf: csrf, ...validProfile("invalid"), ...c.change });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain(INVALID_FLASH);
    for (const [field, message] of Object.entries(c.errors)) {
      if (field === "experiment") {
        expect(html).toMatch(new RegExp(`class="field-error"[^>]*>${message}<`));
      } else {
        expect(html).toContain(`<p class="field-error" id="${field}-error">${message}</p>`);
        expect(html).toMatch(new RegExp(`id="${field}"[^>]*aria-invalid="true"`));
      }
    }
    // Fields without a problem have no message.
    for (const field of ["name", "email", "institution"]) {
      if (!(field in c.errors)) expect(html).not.toContain(`id="${field}-error"`);
    }
    // The entered values are kept.
    if (c.change.email !== undefined) expect(html).toContain(`value="${c.change.email}"`);
    // Nothing was written.
    expect(await app.deps.users.repo.bySub("invalid-sub")).toBeNull();
    expect(await app.deps.users.repo.byEmail("invalid@uni.example")).toBeNull();
    expect((await app.deps.users.repo.list()).length).toBe(countBefore);
    // The flash was for that answer only.
    const next = await get(jar, "/profile/new");
    expect(await next.text()).not.toContain(INVALID_FLASH);
  });

  it("escapes what was entered when the form is shown again", async () => {
    const { jar, csrf } = await signedInWithoutProfile("xss");
    const res = await post(jar, "/profile/new", {
      _csrf: csrf,
      ...validProfile("xss"),
      name: '"><script>alert(1)</script>',
      email: "bad",
    });
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).toContain("&lt;script&gt;");
    expect(await app.deps.users.repo.bySub("xss-sub")).toBeNull();
    // A valid form afterwards is saved.
    const ok = await post(jar, "/profile/new", { _csrf: csrf, ...validProfile("xss") });
    expect(ok.status).toBe(302);
    expect(await app.deps.users.repo.bySub("xss-sub")).toMatchObject({ pending: true, experiment: "ATLAS" });
  });
});
