// Who a signed-in identity is (docs/sign-in.md), against the real `oidc-provider` asserting unverified e-mails,
// e-mails without `email_verified` and no e-mail at all: accounts are keyed by issuer + subject, an e-mail
// matches, claims or promotes (JWT_ADMIN) an account only when the provider vouches for it; sign-out, user
// deletion and revoking admin rights end every session of the user (server-side session records); HEAD never
// acts. Two Apps share the provider: a generic one and one that reads it as Globus (OAUTH_PROVIDER=globus).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNVERIFIED_EMAIL_NOTE } from "../../src/adapters/notify/slack.js";
import { MSG_DELETED } from "../../src/domain/users.service.js";
import { SESSION_COOKIE, SessionCodec, type SessionData } from "../../src/http/middleware/session.js";
import { FakeSlack } from "../helpers/fakeSlack.js";
import {
  CookieJar,
  type OidcTestProvider,
  globusLikeUser,
  startOidcProvider,
} from "../helpers/oidcProvider.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

const SECRET_KEY = "identity-test-session-secret-0123456789abcdef";
const codec = new SessionCodec(SECRET_KEY);
const ADMIN_EMAIL = "boss@admin.example";

let op: OidcTestProvider;
let app: TestApp; // generic OIDC
let globus: TestApp; // the same provider read as Globus
const slack = new FakeSlack();

beforeAll(async () => {
  await slack.start();
  op = await startOidcProvider({
    users: {
      "boss-sub": { email: ADMIN_EMAIL, name: "Boss", organization: "Admin Lab" },
      "fakeboss-sub": { email: ADMIN_EMAIL, emailVerified: false, name: "Not Boss" },
      "vic-sub": { email: "vic@uni.example", name: "Victoria" },
      "mal-sub": { email: "vic@uni.example", emailVerified: false, name: "Mallory" },
      "nullv-sub": { email: "prov@pre.example", emailVerified: null, name: "No Flag" },
      "prov-sub": { email: "prov@pre.example", name: "Provisioned Owner" },
      "noemail-sub": { name: "No E-mail" },
      "owner-sub": { email: "owner@uni.example", name: "Real Owner" },
      "mover-sub": { email: "mover@uni.example", name: "Mover" },
      "legacy-sub": { email: "legacy@old.example", name: "Legacy" },
      "out-sub": { email: "out@uni.example", name: "Leaver" },
      "del-sub": { email: "del@uni.example", name: "Deleted" },
      "rev-sub": { email: "rev@uni.example", name: "Revoked" },
      "head-sub": { email: "head@uni.example", name: "Header" },
      "g-primary": globusLikeUser("g-primary", { email: "g@uni.example", name: "Gabi" }, [
        { sub: "g-linked", email: "g.linked@cern.example" },
      ]),
      "g-linked": globusLikeUser("g-linked", { email: "g.linked@cern.example", name: "Gabi" }, [
        { sub: "g-primary", email: "g@uni.example" },
      ]),
      "g-flag": {
        email: "gflag@pre.example",
        emailVerified: null,
        name: "Flagged",
        identity_set: [
          {
            sub: "g-flag",
            email: "gflag@pre.example",
            email_verified: false,
            name: "Flagged",
            username: "gflag",
            identity_provider_display_name: "Some IdP",
          },
        ],
      },
    },
  });
  const env = (extra: Record<string, string> = {}) => ({
    ENABLE_AUTH: "true",
    JWT_SECRET_KEY: "identity-test-jwt-secret-0123456789abcdef",
    SECRET_KEY,
    JWT_ADMIN: ADMIN_EMAIL,
    OAUTH_METADATA_URL: op.metadataUrl,
    OAUTH_CLIENT_ID: op.clientId,
    OAUTH_CLIENT_SECRET: op.clientSecret,
    SIGNUP_WEBHOOK_URL: slack.webhookUrl,
    ...extra,
  });
  [app, globus] = await Promise.all([
    startTestApp({ backend: "postgres", broker: "memory", env: env() }),
    startTestApp({ backend: "postgres", broker: "memory", env: env({ OAUTH_PROVIDER: "globus" }) }),
  ]);
  op.setRedirectUris([`${app.url}/auth-callback`, `${globus.url}/auth-callback`]);
  op.setPostLogoutRedirectUris([`${app.url}/`, `${globus.url}/`]);
}, 120_000);

afterAll(async () => {
  await Promise.all([app?.close(), globus?.close()]);
  await op?.stop();
  await slack.stop();
});

// ---- helpers -------------------------------------------------------------------------------------------

async function send(
  a: TestApp,
  jar: CookieJar,
  method: string,
  path: string | URL,
  form?: Record<string, string>,
  headers: Record<string, string> = {},
) {
  const u = typeof path === "string" ? new URL(path, a.url) : path;
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
  return res;
}
const get = (a: TestApp, jar: CookieJar, path: string | URL) => send(a, jar, "GET", path);

function csrfOf(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error("no _csrf field in the page");
  return m[1]!;
}

function session(a: TestApp, jar: CookieJar): SessionData | null {
  const v = jar.get(a.url, SESSION_COOKIE);
  return v ? codec.decode(v) : null;
}

/** Provider login from /sign-in, then the App's callback; returns the callback's answer. */
async function signIn(a: TestApp, jar: CookieJar, account: string): Promise<Response> {
  const callback = await op.loginWithHttp(`${a.url}/sign-in`, account, { jar });
  return get(a, jar, callback);
}

/** Posts the profile form (after a sign-in that landed on /profile/new). */
async function postProfile(a: TestApp, jar: CookieJar, email: string, name = "Someone") {
  const form = await get(a, jar, "/profile/new");
  expect(form.status).toBe(200);
  return send(a, jar, "POST", "/profile/new", {
    _csrf: csrfOf(await form.text()),
    name,
    email,
    institution: "Uni",
    experiment: "ATLAS",
  });
}

/** Signs in and creates the profile with the given e-mail; returns the signed-in jar. */
async function signUp(a: TestApp, account: string, email: string): Promise<CookieJar> {
  const jar = new CookieJar();
  const cb = await signIn(a, jar, account);
  expect(cb.headers.get("location")).toBe("/profile/new");
  const res = await postProfile(a, jar, email);
  expect(res.status, await res.clone().text()).toBe(302);
  expect(res.headers.get("location")).toBe("/profile");
  return jar;
}

/** What GET /.servicex answers in this session: 200 (signed in with a profile) or where it redirects. */
async function servicexFile(a: TestApp, jar: CookieJar): Promise<string> {
  const res = await get(a, jar, "/.servicex");
  return res.status === 200 ? "200" : `${res.status} ${res.headers.get("location")}`;
}

async function identities(a: TestApp, userId: number) {
  return a.deps.db.sql.query<{ iss: string; sub: string; emailVerified: boolean }>(
    `SELECT iss, sub, email_verified AS "emailVerified" FROM user_identities WHERE user_id = $1 ORDER BY id`,
    [userId],
  );
}

let bossJar: CookieJar | undefined;
/** The JWT_ADMIN user's signed-in jar on the generic App (signed up once). */
async function boss(): Promise<CookieJar> {
  if (!bossJar) bossJar = await signUp(app, "boss-sub", ADMIN_EMAIL);
  return bossJar;
}

/** An access token of the JWT_ADMIN user (API token from servicex.yaml → /token/refresh). */
async function bossAccessToken(): Promise<string> {
  const yaml = await (await get(app, await boss(), "/.servicex")).text();
  const refresh = /token: (\S+)/.exec(yaml)![1]!;
  const r = await fetch(`${app.url}/token/refresh`, {
    method: "POST",
    headers: { authorization: `Bearer ${refresh}` },
  });
  return ((await r.json()) as { access_token: string }).access_token;
}

// ---- tests ---------------------------------------------------------------------------------------------

describe("e-mails the provider does not vouch for", () => {
  it("When the provider says email_verified=false for the e-mail of an existing account, then the sign-in does not enter that account and the profile form refuses the address", async () => {
    await signUp(app, "vic-sub", "vic@uni.example");
    const victim = (await app.deps.users.repo.byEmail("vic@uni.example"))!;

    const jar = new CookieJar();
    const cb = await signIn(app, jar, "mal-sub");
    expect(cb.headers.get("location")).toBe("/profile/new");
    expect(session(app, jar)).toMatchObject({ isAuthenticated: true, sub: "mal-sub", verifiedEmails: [] });
    expect(session(app, jar)?.userId).toBeUndefined();
    expect(await servicexFile(app, jar)).toBe("302 /profile/new");

    const res = await postProfile(app, jar, "vic@uni.example", "Mallory");
    expect(res.status).toBe(409);
    expect(await res.text()).toContain("A user with e-mail vic@uni.example already exists");
    expect(await app.deps.users.repo.byId(victim.id)).toMatchObject({
      sub: "vic-sub",
      name: victim.name,
      refreshToken: victim.refreshToken,
    });
    expect(await servicexFile(app, jar)).toBe("302 /profile/new");
  });

  it("When the provider says email_verified=false for the JWT_ADMIN e-mail, then no admin account is made; the verified owner then signs up as admin", async () => {
    const jar = new CookieJar();
    expect((await signIn(app, jar, "fakeboss-sub")).headers.get("location")).toBe("/profile/new");
    const res = await postProfile(app, jar, ADMIN_EMAIL, "Not Boss");
    expect(res.status).toBe(409);
    expect(await res.text()).toContain("is reserved for the administrator");
    expect(await app.deps.users.repo.bySub("fakeboss-sub")).toBeNull();

    await boss();
    expect(await app.deps.users.repo.byEmail(ADMIN_EMAIL)).toMatchObject({
      sub: "boss-sub",
      admin: true,
      pending: false,
    });
  });

  it("When the provider sends an e-mail without email_verified, then it cannot claim the pre-provisioned account with that e-mail; the verified owner can", async () => {
    const pre = (await app.deps.users.provision({
      sub: "provisioned-by-cli",
      email: "prov@pre.example",
      name: "Provisioned",
      institution: null,
    }))!;
    const jar = new CookieJar();
    expect((await signIn(app, jar, "nullv-sub")).headers.get("location")).toBe("/profile/new");
    expect(session(app, jar)?.verifiedEmails).toEqual([]);
    const refused = await postProfile(app, jar, "prov@pre.example");
    expect(refused.status).toBe(409);
    expect(await app.deps.users.repo.byId(pre.id)).toMatchObject({
      sub: "provisioned-by-cli",
      refreshToken: null,
      pending: true,
    });

    await signUp(app, "prov-sub", "prov@pre.example");
    const claimed = (await app.deps.users.repo.byId(pre.id))!;
    expect(claimed).toMatchObject({ sub: "prov-sub", pending: false });
    expect(claimed.refreshToken).toBeTruthy();
    expect(await identities(app, pre.id)).toEqual([{ iss: op.issuer, sub: "prov-sub", emailVerified: true }]);
  });
});

describe("an identity with no e-mail claim", () => {
  it("When it signs up with an unused address, then the account is pending and shown as unverified on the admin page, the profile page and in the Slack message", async () => {
    slack.reset();
    const jar = new CookieJar();
    expect((await signIn(app, jar, "noemail-sub")).headers.get("location")).toBe("/profile/new");
    const form = await get(app, jar, "/profile/new");
    expect(await form.text()).toMatch(/id="email"[^>]*value=""/);
    const res = await postProfile(app, jar, "owner@uni.example", "Squatter");
    expect(res.status).toBe(302);
    const squat = (await app.deps.users.repo.byEmail("owner@uni.example"))!;
    expect(squat).toMatchObject({ sub: "noemail-sub", pending: true, admin: false });

    await slack.waitForRequests(1);
    const text = (slack.requests[0]!.json as { text: string }).text;
    expect(text).toBe(`New signup from owner@uni.example ${UNVERIFIED_EMAIL_NOTE}.`);

    const profile = await (await get(app, jar, "/profile")).text();
    expect(profile).toContain("not verified by your identity provider");

    const admin = await (await get(app, await boss(), "/admin/users")).text();
    const row = new RegExp(`<tr id="user-${squat.id}"[\\s\\S]*?</tr>`).exec(admin)![0];
    expect(row).toContain('class="badge unverified"');
    const bossRow = new RegExp(
      `<tr id="user-${(await app.deps.users.repo.byEmail(ADMIN_EMAIL))!.id}"[\\s\\S]*?</tr>`,
    ).exec(admin)![0];
    expect(bossRow).toContain(">verified<");
  });

  it("When the real owner of that address later signs in with it verified, then they do not land in the squatter's account", async () => {
    const squat = (await app.deps.users.repo.byEmail("owner@uni.example"))!;
    expect(squat.sub).toBe("noemail-sub");
    const jar = new CookieJar();
    const cb = await signIn(app, jar, "owner-sub");
    expect(cb.headers.get("location")).toBe("/profile/new");
    expect(session(app, jar)?.userId).toBeUndefined();
    expect(await servicexFile(app, jar)).toBe("302 /profile/new");
    const res = await postProfile(app, jar, "owner@uni.example", "Real Owner");
    expect(res.status).toBe(409);
    // The squatter's account is unchanged and still keyed by the squatter's subject only.
    expect(await app.deps.users.repo.byId(squat.id)).toMatchObject({ sub: "noemail-sub", name: "Squatter" });
    expect(await identities(app, squat.id)).toEqual([
      { iss: op.issuer, sub: "noemail-sub", emailVerified: false },
    ]);
  });
});

describe("accounts keyed by issuer and subject", () => {
  it("When a user signs in again after the provider changed their e-mail, then they enter the same account", async () => {
    await signUp(app, "mover-sub", "mover@uni.example");
    const id = (await app.deps.users.repo.byEmail("mover@uni.example"))!.id;
    op.users.set("mover-sub", { email: "moved@elsewhere.example", name: "Mover" });
    const jar = new CookieJar();
    expect((await signIn(app, jar, "mover-sub")).headers.get("location")).toBe("/dashboard");
    expect(session(app, jar)?.userId).toBe(id);
    expect(await servicexFile(app, jar)).toBe("200");
  });

  it("When a row made by upstream (users.sub = the subject, no identity of ours) signs in, then it enters that row and binds it to the issuer", async () => {
    const row = await app.deps.users.repo.insert({
      sub: "legacy-sub",
      email: "legacy@old.example",
      name: "Legacy",
      institution: null,
      experiment: null,
      admin: false,
      pending: false,
      refreshToken: null,
    });
    await app.deps.users.rotateApiToken(row.id);
    const jar = new CookieJar();
    expect((await signIn(app, jar, "legacy-sub")).headers.get("location")).toBe("/dashboard");
    expect(session(app, jar)?.userId).toBe(row.id);
    expect(await identities(app, row.id)).toEqual([
      { iss: op.issuer, sub: "legacy-sub", emailVerified: true },
    ]);
  });
});

describe("tokens that name an e-mail", () => {
  it("When an access token was issued before the account with its e-mail existed, then it is refused", async () => {
    const email = "reused@uni.example";
    const now = Math.floor(Date.now() / 1000);
    // Issued an hour ago to the address's former holder (deleted since).
    const old = app.deps.jwt!.sign("access", email, {
      jti: "former-holder",
      iat: now - 3600,
      exp: now + 600,
    });
    await app.deps.users.provision({ sub: "reused-sub", email, name: "New Holder", institution: null });
    await app.deps.users.accept(email);
    const fresh = app.deps.jwt!.issue("access", email).token;
    const call = (t: string) =>
      fetch(`${app.url}/servicex/transformation`, { headers: { authorization: `Bearer ${t}` } });
    expect((await call(fresh)).status).toBe(200);
    const refused = await call(old);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ message: MSG_DELETED });
  });
});

describe("sign-out and ended sessions", () => {
  it("When a user signs out, then a copy of the cookie taken before no longer reads /.servicex, and the user's other sessions end too", async () => {
    const jar = await signUp(app, "out-sub", "out@uni.example");
    const other = new CookieJar();
    expect((await signIn(app, other, "out-sub")).headers.get("location")).toBe("/dashboard");
    const copy = new CookieJar();
    copy.store(new URL(app.url), [`${SESSION_COOKIE}=${jar.get(app.url, SESSION_COOKIE)}; Path=/`]);

    // GET /sign-out only asks; it works without JavaScript (a form with the CSRF token).
    const ask = await get(app, jar, "/sign-out");
    expect(ask.status).toBe(200);
    const html = await ask.text();
    expect(html).toMatch(/<form method="post" action="\/sign-out"/);
    expect(await servicexFile(app, jar)).toBe("200");
    // A POST without the token (another site's form) is refused and signs nobody out.
    expect((await send(app, jar, "POST", "/sign-out", {})).status).toBe(403);
    expect(await servicexFile(app, copy)).toBe("200");

    const out = await send(app, jar, "POST", "/sign-out", { _csrf: csrfOf(html) });
    expect(out.status).toBe(303);
    expect(new URL(out.headers.get("location")!).origin).toBe(op.issuer); // the provider's logout
    for (const j of [jar, copy, other]) expect(await servicexFile(app, j)).toMatch(/^302 \/sign-in/);
    // The API does not take the copied cookie either.
    const api = await get(app, copy, "/servicex/transformation");
    expect(api.status).toBe(401);
  });

  it("When an admin deletes a user, then that user's sessions end at once", async () => {
    const jar = await signUp(app, "del-sub", "del@uni.example");
    await app.deps.users.accept("del@uni.example");
    expect(await servicexFile(app, jar)).toBe("200");
    const id = (await app.deps.users.repo.byEmail("del@uni.example"))!.id;
    const r = await fetch(`${app.url}/users/${id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${await bossAccessToken()}` },
    });
    expect(r.status).toBe(200);
    expect(await servicexFile(app, jar)).toMatch(/^302 \/sign-in/);
  });

  it("When an admin revokes a user's admin rights, then that user's sessions end at once", async () => {
    const jar = await signUp(app, "rev-sub", "rev@uni.example");
    await app.deps.users.accept("rev@uni.example");
    await app.deps.users.setAdmin("rev@uni.example", true);
    expect((await get(app, jar, "/admin/users")).status).toBe(200);
    const id = (await app.deps.users.repo.byEmail("rev@uni.example"))!.id;
    const page = await (await get(app, await boss(), "/admin/users")).text();
    const res = await send(app, await boss(), "POST", `/admin/users/${id}/revoke-admin`, {
      _csrf: csrfOf(page),
    });
    expect(res.status).toBe(303);
    expect(await app.deps.users.repo.byId(id)).toMatchObject({ admin: false });
    expect(await servicexFile(app, jar)).toMatch(/^302 \/sign-in/);
    expect((await get(app, jar, "/admin/users")).status).toBe(302);
  });
});

describe("HEAD changes nothing", () => {
  it("When HEAD …/cancel is sent with the owner's bearer token, then it answers 405 with Allow and the request keeps running; GET still cancels it", async () => {
    const token = await bossAccessToken();
    const auth = { authorization: `Bearer ${token}` };
    const sub = await fetch(`${app.url}/servicex/transformation`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({
        "file-list": ["root://eos.example//store/head.root"],
        selection: "s",
        codegen: "passthrough",
        "result-destination": "object-store",
      }),
    });
    expect(sub.status, await sub.clone().text()).toBe(200);
    const id = ((await sub.json()) as { request_id: string }).request_id;
    const status = async () =>
      (
        (await (await fetch(`${app.url}/servicex/transformation/${id}`, { headers: auth })).json()) as {
          status: string;
        }
      ).status;

    const head = await fetch(`${app.url}/servicex/transformation/${id}/cancel`, {
      method: "HEAD",
      headers: auth,
    });
    expect(head.status).toBe(405);
    expect(head.headers.get("allow")).toBe("GET, POST");
    expect(await status()).not.toBe("Canceled");

    const cancel = await fetch(`${app.url}/servicex/transformation/${id}/cancel`, { headers: auth });
    expect(cancel.status).toBe(200);
    await eventually(async () => (await status()) === "Canceled", 5_000, "the GET cancel to cancel");
  });

  it("When HEAD is sent to the sign-in callback, then it answers 405 and the sign-in is not used up", async () => {
    const jar = new CookieJar();
    const callback = await op.loginWithHttp(`${app.url}/sign-in`, "head-sub", { jar });
    const head = await send(app, jar, "HEAD", callback);
    expect(head.status).toBe(405);
    expect(head.headers.get("allow")).toBe("GET");
    expect(session(app, jar)?.oidc).toBeDefined();
    expect((await send(app, jar, "HEAD", "/sign-in")).status).toBe(405);
    // The real GET still completes the same sign-in.
    expect((await get(app, jar, callback)).headers.get("location")).toBe("/profile/new");
  });

  it("When HEAD /.servicex is sent, then it answers the headers only and issues no token", async () => {
    const jar = new CookieJar();
    await signIn(app, jar, "head-sub");
    const res = await postProfile(app, jar, "head@uni.example");
    expect(res.status).toBe(302);
    await app.deps.users.accept("head@uni.example");
    const u = (await app.deps.users.repo.byEmail("head@uni.example"))!;
    // A user without a usable token: GET /.servicex would issue one.
    await app.deps.users.repo.update(u.id, { refreshToken: `unusable-${u.id}` });
    const head = await send(app, jar, "HEAD", "/.servicex");
    expect(head.status).toBe(200);
    expect(head.headers.get("content-disposition")).toBe('attachment; filename="servicex.yaml"');
    expect((await app.deps.users.repo.byId(u.id))!.refreshToken).toBe(`unusable-${u.id}`);
  });
});

describe("Globus identity_set (OAUTH_PROVIDER=globus)", () => {
  it("When identity_set lists the e-mail of a pre-provisioned account, then that identity claims it, and a sign-in with the linked identity enters the same account", async () => {
    const pre = (await globus.deps.users.provision({
      sub: "provisioned-gabi",
      email: "g.linked@cern.example",
      name: "Gabi (provisioned)",
      institution: null,
    }))!;
    const jar = new CookieJar();
    expect((await signIn(globus, jar, "g-primary")).headers.get("location")).toBe("/profile/new");
    expect(session(globus, jar)).toMatchObject({
      subjects: ["g-primary", "g-linked"],
      verifiedEmails: ["g@uni.example", "g.linked@cern.example"],
    });
    expect((await postProfile(globus, jar, "g.linked@cern.example")).status).toBe(302);
    expect(await globus.deps.users.repo.byId(pre.id)).toMatchObject({ sub: "g-primary", pending: false });

    const linked = new CookieJar();
    expect((await signIn(globus, linked, "g-linked")).headers.get("location")).toBe("/dashboard");
    expect(session(globus, linked)?.userId).toBe(pre.id);
  });

  it("When an identity_set entry says email_verified=false, then its e-mail claims nothing", async () => {
    const pre = (await globus.deps.users.provision({
      sub: "provisioned-flag",
      email: "gflag@pre.example",
      name: "Flag (provisioned)",
      institution: null,
    }))!;
    const jar = new CookieJar();
    expect((await signIn(globus, jar, "g-flag")).headers.get("location")).toBe("/profile/new");
    expect(session(globus, jar)?.verifiedEmails).toEqual([]);
    expect((await postProfile(globus, jar, "gflag@pre.example")).status).toBe(409);
    expect(await globus.deps.users.repo.byId(pre.id)).toMatchObject({
      sub: "provisioned-flag",
      refreshToken: null,
    });
  });

  it("When the generic App gets the same identity_set, then it uses neither its subjects nor its e-mails", async () => {
    const jar = new CookieJar();
    await signIn(app, jar, "g-primary");
    expect(session(app, jar)).toMatchObject({ subjects: ["g-primary"], verifiedEmails: ["g@uni.example"] });
  });
});
