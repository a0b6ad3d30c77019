// User administration API and API tokens (contract §2.5, §2.6, §7.3, §7.4, §7.7; A.5, A.8, A.9), against the
// real App on Postgres: GET/DELETE /users, DELETE /users/<id>, GET/DELETE /pending, POST /accept with the
// welcome e-mail going to a local Mailgun stand-in, the JWT_ADMIN rule, the /token/refresh answer and the
// claims of the access token it returns, what the database keeps of an API token, and the rate limit.
//
// Error bodies: the App adds a stable `code` key to the bodies it builds itself (errorHandler.ts); callers
// read only `message`, so `expectAnswer` compares the body without that one key and nothing else.
import { randomBytes, randomUUID } from "node:crypto";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { UserRecord } from "../../src/adapters/repositories/users.repo.js";
import { FakeMailgun } from "../helpers/fakeMailgun.js";
import { type Answer, type CallOptions, expectAnswer, httpCall } from "../helpers/http.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

const JWT_SECRET = `admin-jwt-${randomBytes(8).toString("hex")}`;
const ADMIN_EMAIL = "Boss@Admin.Example";
const MG_KEY = "key-admin-test-0123456789";
const MG_DOMAIN = "mg.admin.example";
const DOCS = "https://docs.servicex.example/en/latest/";
const ACCESS_TTL = 1234;

let app: TestApp;
const mailgun = new FakeMailgun(MG_KEY);
let adminToken: string;
let admin: UserRecord;

const call = (base: string, method: string, path: string, o: CallOptions = {}) =>
  httpCall(`${base}${path}`, method, o);
const api = (method: string, path: string, o: Parameters<typeof call>[3] = {}) =>
  call(app.url, method, path, { token: adminToken, ...o });

let n = 0;
const uniq = (label: string) => `${label}.${++n}.${randomBytes(3).toString("hex")}@users.example`;

/** A pending user (provisioned without a token, as the CLI does). */
async function pendingUser(label = "pending"): Promise<UserRecord> {
  const email = uniq(label);
  const u = await app.deps.users.provision({
    sub: `sub-${randomUUID()}`,
    email,
    name: label,
    institution: "U",
  });
  expect(u?.pending).toBe(true);
  return u!;
}

/** An approved user with an API token. */
async function approvedUser(label = "approved"): Promise<{ user: UserRecord; refresh: string }> {
  const u = await pendingUser(label);
  await app.deps.users.accept(u.email);
  const refresh = await app.deps.users.rotateApiToken(u.id);
  return { user: (await app.deps.users.repo.byId(u.id))!, refresh };
}

beforeAll(async () => {
  await mailgun.start();
  app = await startTestApp({
    backend: "postgres",
    broker: "memory",
    env: {
      ENABLE_AUTH: "true",
      JWT_SECRET_KEY: JWT_SECRET,
      SECRET_KEY: "admin-session-secret",
      JWT_ADMIN: ADMIN_EMAIL,
      JWT_ACCESS_TOKEN_EXPIRES: String(ACCESS_TTL),
      MAILGUN_API_KEY: MG_KEY,
      MAILGUN_DOMAIN: MG_DOMAIN,
      MAILGUN_URL: mailgun.url,
      DOCS_BASE_URL: DOCS,
    },
  });
  const a = await app.deps.users.provision({
    sub: "boss-sub",
    email: "boss@admin.example",
    name: "Boss",
    institution: "HQ",
  });
  admin = a!;
  adminToken = app.deps.jwt!.issue("access", admin.email).token;
}, 120_000);

afterAll(async () => {
  await app?.close();
  await mailgun.stop();
});

beforeEach(() => {
  mailgun.reset();
});

describe("The JWT_ADMIN rule", () => {
  it("When the JWT_ADMIN e-mail (any case) is provisioned, then that user is admin and not pending", () => {
    expect({ admin: admin.admin, pending: admin.pending }).toEqual({ admin: true, pending: false });
  });

  it("When other users are provisioned, then they are not admin, and pending unless a token is given", async () => {
    const p = await app.deps.users.provision({
      sub: `s-${randomUUID()}`,
      email: uniq("p"),
      name: "P",
      institution: null,
    });
    const t = await app.deps.users.provision({
      sub: `s-${randomUUID()}`,
      email: uniq("t"),
      name: "T",
      institution: null,
      refreshToken: "pre-provisioned-token",
    });
    expect({ admin: p?.admin, pending: p?.pending }).toEqual({ admin: false, pending: true });
    expect({ admin: t?.admin, pending: t?.pending }).toEqual({ admin: false, pending: false });
  });

  it("When a sub that already exists is provisioned again, then it is skipped (null)", async () => {
    expect(
      await app.deps.users.provision({ sub: "boss-sub", email: uniq("dup"), name: "D", institution: null }),
    ).toBeNull();
  });

  it("When the JWT_ADMIN e-mail creates a profile after sign-in, then the user is admin and approved; another e-mail is pending", async () => {
    const other = await startTestApp({
      backend: "postgres",
      broker: "memory",
      env: {
        ENABLE_AUTH: "true",
        JWT_SECRET_KEY: JWT_SECRET,
        SECRET_KEY: "x",
        JWT_ADMIN: "first.admin@site.example",
      },
    });
    try {
      const first = await other.deps.users.createProfile({
        verifiedEmails: [String("First.Admin@site.example").toLowerCase()],
        sub: "first-sub",
        email: "First.Admin@site.example",
        name: "First",
        institution: "Site",
        experiment: "ATLAS",
      });
      const second = await other.deps.users.createProfile({
        verifiedEmails: [String("second@site.example").toLowerCase()],
        sub: "second-sub",
        email: "second@site.example",
        name: "Second",
        institution: "Site",
        experiment: "CMS",
      });
      expect({ admin: first.admin, pending: first.pending }).toEqual({ admin: true, pending: false });
      expect({ admin: second.admin, pending: second.pending }).toEqual({ admin: false, pending: true });
      expect(first.refreshToken).not.toBeNull();
    } finally {
      await other.close();
    }
  });

  it("When a pre-provisioned user without a token creates their profile, then the row is claimed: approved, with a token", async () => {
    const pre = await pendingUser("claimed");
    const claimed = await app.deps.users.createProfile({
      sub: `oidc-${randomUUID()}`,
      verifiedEmails: [String(pre.email).toLowerCase()],
      email: pre.email,
      name: "Claimed",
      institution: "U",
      experiment: "ATLAS",
    });
    expect(claimed.id).toBe(pre.id);
    expect(claimed.pending).toBe(false);
    expect(claimed.refreshToken).not.toBeNull();
  });
});

describe("GET /users, DELETE /users/<id>", () => {
  it("When an admin lists users, then the answer is {users: [{email, id, admin, pending}]} for every user", async () => {
    const p = await pendingUser("listed");
    const r = await api("GET", "/users");
    expect(r.status).toBe(200);
    const users = (r.json as { users: Array<Record<string, unknown>> }).users;
    expect(Object.keys(r.json as object)).toEqual(["users"]);
    for (const u of users) expect(Object.keys(u).sort()).toEqual(["admin", "email", "id", "pending"]);
    expect(users).toContainEqual({ email: "boss@admin.example", id: admin.id, admin: true, pending: false });
    expect(users).toContainEqual({ email: p.email, id: p.id, admin: false, pending: true });
    expect(users.length).toBe((await app.deps.users.repo.list()).length);
  });

  it("When an admin deletes a user, then it answers 200 'user <id> has been deleted' and the user is gone", async () => {
    const { user } = await approvedUser("deleted");
    expectAnswer(await api("DELETE", `/users/${user.id}`), 200, {
      message: `user ${user.id} has been deleted`,
    });
    expect(await app.deps.users.repo.byId(user.id)).toBeNull();
  });

  it("When an admin deletes an unknown user id, then it answers 404 'user <id> not found'", async () => {
    expectAnswer(await api("DELETE", "/users/987654"), 404, { message: "user 987654 not found" });
  });

  it("When an admin deletes a user id that is not a number, then it answers 404 'user <id> not found'", async () => {
    expectAnswer(await api("DELETE", "/users/abc"), 404, { message: "user abc not found" });
  });
});

describe("GET /pending, DELETE /pending (A.8)", () => {
  it("When an admin lists pending users, then only pending users are listed as {email, id, admin}", async () => {
    const p = await pendingUser("waiting");
    const { user: ok } = await approvedUser("ok");
    const r = await api("GET", "/pending");
    expect(r.status).toBe(200);
    const users = (r.json as { users: Array<Record<string, unknown>> }).users;
    for (const u of users) expect(Object.keys(u).sort()).toEqual(["admin", "email", "id"]);
    expect(users).toContainEqual({ email: p.email, id: p.id, admin: false });
    expect(users.map((u) => u.email)).not.toContain(ok.email);
    expect(users.length).toBe((await app.deps.users.repo.list({ pending: true })).length);
  });

  it("When an admin deletes pending users, then only pending users are deleted and the count is reported", async () => {
    await pendingUser("gone1");
    await pendingUser("gone2");
    const { user: kept } = await approvedUser("kept");
    const pendingBefore = (await app.deps.users.repo.list({ pending: true })).length;
    const approvedBefore = (await app.deps.users.repo.list({ pending: false })).length;
    expect(pendingBefore).toBeGreaterThanOrEqual(2);
    expectAnswer(await api("DELETE", "/pending"), 200, { message: `${pendingBefore} row(s) deleted` });
    expect((await app.deps.users.repo.list({ pending: true })).length).toBe(0);
    expect((await app.deps.users.repo.list({ pending: false })).length).toBe(approvedBefore);
    expect(await app.deps.users.repo.byId(kept.id)).not.toBeNull();
    expect(await app.deps.users.repo.byId(admin.id)).not.toBeNull();
  });
});

describe("POST /accept and the welcome e-mail (§7.7)", () => {
  it("When the email is missing, then it answers 400 {message: {email: 'This field cannot be blank'}}", async () => {
    expectAnswer(await api("POST", "/accept", { body: {} }), 400, {
      message: { email: "This field cannot be blank" },
    });
    expectAnswer(await api("POST", "/accept"), 400, { message: { email: "This field cannot be blank" } });
    expectAnswer(await api("POST", "/accept", { body: { email: "" } }), 400, {
      message: { email: "This field cannot be blank" },
    });
  });

  it("When the email is unknown, then it answers 404 'No user registered with email: <email>' and no e-mail is sent", async () => {
    expectAnswer(await api("POST", "/accept", { body: { email: "nobody@users.example" } }), 404, {
      message: "No user registered with email: nobody@users.example",
    });
    await app.deps.notifier.drain();
    expect(mailgun.requests).toHaveLength(0);
  });

  it("When a pending user is accepted (JSON body), then it answers 200 'user <email> now ready for access', the user is approved and Mailgun gets the welcome e-mail", async () => {
    const p = await pendingUser("welcome");
    expectAnswer(await api("POST", "/accept", { body: { email: p.email } }), 200, {
      message: `user ${p.email} now ready for access`,
    });
    expect((await app.deps.users.repo.byId(p.id))?.pending).toBe(false);
    await app.deps.notifier.drain();
    const sent = mailgun.messages(MG_DOMAIN);
    expect(sent).toHaveLength(1);
    const m = sent[0]!;
    expect(m.method).toBe("POST");
    expect(m.auth).toEqual({ username: "api", password: MG_KEY });
    expect(m.form?.from).toEqual([`ServiceX <noreply@${MG_DOMAIN}>`]);
    expect(m.form?.to).toEqual([p.email]);
    expect(m.form?.subject).toEqual(["Welcome to ServiceX!"]);
    expect(m.form?.html?.[0]).toContain("https://docs.servicex.example/en/latest/user/getting-started/");
    expect(m.form?.text?.[0]).toContain("https://docs.servicex.example/en/latest/user/getting-started/");
    expect(m.form?.text?.[0]).toContain(p.email);
    expect(m.answeredStatus).toBe(200);
  });

  it("When a pending user is accepted with a form body, then it answers 200 too", async () => {
    const p = await pendingUser("formaccept");
    expectAnswer(await api("POST", "/accept", { form: { email: p.email } }), 200, {
      message: `user ${p.email} now ready for access`,
    });
    expect((await app.deps.users.repo.byId(p.id))?.pending).toBe(false);
  });

  it("When an accepted user calls the API, then the pending 401 is gone at once (no stale cache)", async () => {
    const p = await pendingUser("cache");
    const access = app.deps.jwt!.issue("access", p.email).token;
    expect((await call(app.url, "GET", "/servicex/transformation", { token: access })).status).toBe(401);
    expect((await api("POST", "/accept", { body: { email: p.email } })).status).toBe(200);
    expect((await call(app.url, "GET", "/servicex/transformation", { token: access })).status).toBe(200);
  });

  it("When Mailgun answers 500 to every attempt, then /accept still answers 200 and the user is approved", async () => {
    mailgun.fail({ status: 500, times: Number.POSITIVE_INFINITY });
    const p = await pendingUser("mailfail");
    expectAnswer(await api("POST", "/accept", { body: { email: p.email } }), 200, {
      message: `user ${p.email} now ready for access`,
    });
    expect((await app.deps.users.repo.byId(p.id))?.pending).toBe(false);
    await app.deps.notifier.drain();
    const sent = mailgun.messages(MG_DOMAIN);
    expect(sent.length).toBeGreaterThanOrEqual(1);
    expect(sent.every((r) => r.answeredStatus === 500)).toBe(true);
  });

  it("When Mailgun is unreachable, then /accept still answers 200", async () => {
    mailgun.fail({ dropConnection: true, times: Number.POSITIVE_INFINITY });
    const p = await pendingUser("maildrop");
    expect((await api("POST", "/accept", { body: { email: p.email } })).status).toBe(200);
    await app.deps.notifier.drain();
    expect((await app.deps.users.repo.byId(p.id))?.pending).toBe(false);
  });
});

describe("POST /token/refresh and the tokens (§2.5, §7.4, A.5)", () => {
  const b64json = (seg: string) =>
    JSON.parse(Buffer.from(seg, "base64url").toString("utf8")) as Record<string, unknown>;

  it("When a valid API token is refreshed, then the answer is exactly {access_token, auth_disabled: false}", async () => {
    const { refresh } = await approvedUser("refresh");
    const r = await call(app.url, "POST", "/token/refresh", { token: refresh });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ access_token: expect.any(String), auth_disabled: false });
    expect(r.headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("When the access token is decoded, then it is HS256 with flask-jwt-extended's claims and exp = iat + JWT_ACCESS_TOKEN_EXPIRES", async () => {
    const { user, refresh } = await approvedUser("claims");
    const before = Math.floor(Date.now() / 1000);
    const r = await call(app.url, "POST", "/token/refresh", { token: refresh });
    const after = Math.floor(Date.now() / 1000);
    const token = (r.json as { access_token: string }).access_token;
    const [h, p] = token.split(".");
    expect(b64json(h!)).toEqual({ alg: "HS256", typ: "JWT" });
    const c = b64json(p!);
    expect(Object.keys(c).sort()).toEqual(["exp", "fresh", "iat", "jti", "nbf", "sub", "type"]);
    expect(c.fresh).toBe(false);
    expect(c.type).toBe("access");
    expect(c.sub).toBe(user.email);
    expect(c.jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(c.iat as number).toBeGreaterThanOrEqual(before);
    expect(c.iat as number).toBeLessThanOrEqual(after);
    expect(c.nbf).toBe(c.iat);
    expect(c.exp).toBe((c.iat as number) + ACCESS_TTL);
    // Independently verifiable with the site's JWT_SECRET_KEY (a site keeping its key keeps its tokens).
    expect(() => jwt.verify(token, JWT_SECRET, { algorithms: ["HS256"] })).not.toThrow();
  });

  it("When the API token itself is decoded, then it is a refresh token for the user's e-mail without exp (JWT_REFRESH_TOKEN_EXPIRES=false)", async () => {
    const { user, refresh } = await approvedUser("refreshclaims");
    const c = b64json(refresh.split(".")[1]!);
    expect(Object.keys(c).sort()).toEqual(["fresh", "iat", "jti", "nbf", "sub", "type"]);
    expect({ type: c.type, sub: c.sub, fresh: c.fresh }).toEqual({
      type: "refresh",
      sub: user.email,
      fresh: false,
    });
  });

  it("When two access tokens are issued, then their jti differ", async () => {
    const { refresh } = await approvedUser("jti");
    const a = await call(app.url, "POST", "/token/refresh", { token: refresh });
    const b = await call(app.url, "POST", "/token/refresh", { token: refresh });
    const jti = (r: Answer) => b64json((r.json as { access_token: string }).access_token.split(".")[1]!).jti;
    expect(jti(a)).not.toBe(jti(b));
  });

  it("When an API token is issued, then the database never holds the token itself (users.refresh_token is only a record of it)", async () => {
    const { user, refresh } = await approvedUser("dbdump");
    const profile = await app.deps.users.createProfile({
      sub: `dump-${randomUUID()}`,
      ...((e) => ({ verifiedEmails: [e.toLowerCase()], email: e }))(uniq("dump2")),
      name: "Dump",
      institution: "U",
      experiment: "ATLAS",
    });
    const profileToken = await app.deps.users.currentApiToken(profile.id);
    for (const [id, token] of [
      [user.id, refresh],
      [profile.id, profileToken],
    ] as const) {
      const rows = await app.deps.db.sql.query<{ refresh_token: string | null }>(
        "SELECT refresh_token FROM users WHERE id = $1",
        [id],
      );
      const stored = rows[0]?.refresh_token ?? "";
      expect(stored).not.toBe("");
      expect(stored).not.toBe(token);
      const [, payload, signature] = token.split(".");
      expect(stored).not.toContain(signature!);
      expect(stored).not.toContain(payload!);
      // Nothing else in the table holds it either.
      const dump = await app.deps.db.sql.query<{ t: string }>(
        "SELECT row_to_json(u)::text AS t FROM users u",
      );
      expect(dump.some((r) => r.t.includes(signature!))).toBe(false);
    }
    // The token shown in servicex.yaml is re-created byte for byte from that record, and still works.
    expect(await app.deps.users.currentApiToken(user.id)).toBe(refresh);
    expect((await call(app.url, "POST", "/token/refresh", { token: refresh })).status).toBe(200);
  });
});

describe("Rate limit on /token/refresh (RATE_LIMIT_PER_MINUTE=3)", () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({
      backend: "postgres",
      broker: "memory",
      env: {
        ENABLE_AUTH: "true",
        JWT_SECRET_KEY: JWT_SECRET,
        SECRET_KEY: "rl",
        RATE_LIMIT_PER_MINUTE: "3",
      },
    });
  }, 120_000);
  afterAll(async () => {
    await limited?.close();
  });

  it("When a 4th refresh comes within a minute, then it answers 429 with Retry-After and a JSON message", async () => {
    const u = await limited.deps.users.provision({
      sub: "rl-sub",
      email: "rl@users.example",
      name: "RL",
      institution: null,
      refreshToken: "x",
    });
    const refresh = await limited.deps.users.rotateApiToken(u!.id);
    for (let i = 0; i < 3; i++) {
      expect((await call(limited.url, "POST", "/token/refresh", { token: refresh })).status).toBe(200);
    }
    const r = await call(limited.url, "POST", "/token/refresh", { token: refresh });
    expect(r.status).toBe(429);
    const retryAfter = r.headers.get("retry-after");
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    expect(r.headers.get("content-type")).toMatch(/^application\/json/);
    expectAnswer(r, 429, {
      message: `Too many requests: at most 3 per 60 s. Retry in ${retryAfter} s.`,
    });
  });
});

describe("DELETE /users (every user)", () => {
  it("When an admin deletes all users, then it answers 200 '<n> row(s) deleted' and the table is empty", async () => {
    await pendingUser("all1");
    const count = (await app.deps.users.repo.list()).length;
    expect(count).toBeGreaterThan(1);
    expectAnswer(await api("DELETE", "/users"), 200, { message: `${count} row(s) deleted` });
    expect(await app.deps.users.repo.list()).toEqual([]);
    // The admin's own token names nobody now.
    expect((await api("GET", "/users")).status).toBe(401);
  });
});
