// Auth bypass suite (issue 4 "How it is checked"; contract A.5, A.9, A.10, §2.2, §2.5, §7.4, §7.5): every way
// a caller might get past the guards with ENABLE_AUTH=true, each answered with upstream's exact status and
// body, against the three guarded entry points: an auth_required API route (GET /servicex/transformation),
// POST /token/refresh and an admin_required route (GET /users). Tokens are crafted here with jsonwebtoken and
// by hand, independently of the App's own signer.
//
// Error bodies: the App adds a stable `code` key to the bodies it builds itself (errorHandler.ts); callers
// read only `message`/`msg`, so `expectAnswer` compares the body without that one key and nothing else.
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { UserRecord } from "../../src/adapters/repositories/users.repo.js";
import { MSG_ADMIN_ONLY, MSG_DELETED, MSG_PENDING } from "../../src/domain/users.service.js";
import { SESSION_COOKIE, type SessionData, newSession } from "../../src/http/middleware/session.js";
import { CookieJar, type OidcTestProvider, startOidcProvider } from "../helpers/oidcProvider.js";
import { type Answer, expectAnswer, httpCall } from "../helpers/http.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

const JWT_SECRET = `bypass-jwt-${randomBytes(8).toString("hex")}`;
const SESSION_SECRET = `bypass-session-${randomBytes(8).toString("hex")}`;
const ADMIN_EMAIL = "admin@bypass.example";

const ALG_NOT_ALLOWED = { msg: "The specified alg value is not allowed" };
const MISSING_MESSAGE = { message: "Missing Authorization Header" };
const MISSING_MSG = { msg: "Missing Authorization Header" };
const NOT_BEARER = "Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'";
const BAD_HEADER = { msg: "Bad Authorization header. Expected 'Authorization: Bearer <JWT>'" };
const CSRF_FAILED = { message: "The form has expired or did not come from this site. Please try again." };

let app: TestApp;
let op: OidcTestProvider;

function call(
  method: string,
  path: string,
  o: { auth?: string; token?: string; cookie?: string; body?: unknown; form?: Record<string, string> } = {},
): Promise<Answer> {
  const { cookie, ...rest } = o;
  return httpCall(`${app.url}${path}`, method, {
    ...rest,
    ...(cookie !== undefined ? { cookie: `${SESSION_COOKIE}=${cookie}` } : {}),
  });
}

const now = () => Math.floor(Date.now() / 1000);

/** flask-jwt-extended's claim set. */
function claims(sub: string, type: "access" | "refresh", over: Record<string, unknown> = {}) {
  const iat = now();
  return { fresh: false, iat, jti: randomUUID(), type, sub, nbf: iat, exp: iat + 600, ...over };
}

const hs256 = (payload: object, key = JWT_SECRET) => jwt.sign(payload, key, { algorithm: "HS256" });

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
/** An unsigned token (`alg: none`), built by hand as an attacker would. */
const algNone = (payload: object) => `${b64({ alg: "none", typ: "JWT" })}.${b64(payload)}.`;

const rsa = () => generateKeyPairSync("rsa", { modulusLength: 2048 });

let nextUser = 0;
/** An approved user with a current API token (provision → accept → rotate, the App's own paths). */
async function approvedUser(label: string): Promise<{ user: UserRecord; refresh: string; access: string }> {
  const n = ++nextUser;
  const email = `${label}.${n}@bypass.example`;
  const u = await app.deps.users.provision({
    sub: `${label}-sub-${n}-${randomUUID()}`,
    email,
    name: label,
    institution: "Bypass U",
  });
  expect(u).not.toBeNull();
  await app.deps.users.accept(email);
  const refresh = await app.deps.users.rotateApiToken(u!.id);
  const user = (await app.deps.users.repo.byId(u!.id))!;
  return { user, refresh, access: app.deps.jwt!.issue("access", email).token };
}

let admin: Awaited<ReturnType<typeof approvedUser>>;
let alice: Awaited<ReturnType<typeof approvedUser>>;
let bob: Awaited<ReturnType<typeof approvedUser>>;

/**
 * A session cookie made with the App's key; a signed-in one also gets its server-side session record, as the
 * sign-in callback makes it (without the record a signed-in cookie is no session).
 */
async function sessionCookie(s: Partial<SessionData>): Promise<{ cookie: string; session: SessionData }> {
  const session = { ...newSession(), ...s };
  if (session.isAuthenticated) {
    await app.deps.users.startSession(session.sid, {
      userId: session.userId ?? null,
      iss: "https://issuer.bypass.example",
      sub: session.sub ?? "bypass-sub",
    });
  }
  return { cookie: app.deps.sessions.encode(session), session };
}

function signedInCookie(user: UserRecord) {
  return sessionCookie({
    isAuthenticated: true,
    userId: user.id,
    sub: user.sub,
    email: user.email,
    admin: user.admin,
  });
}

/** Submits a one-file request as `token`'s user; returns its request id. */
async function submitAs(token: string): Promise<string> {
  const r = await call("POST", "/servicex/transformation", {
    token,
    body: {
      "file-list": [`root://eos.example//store/${randomUUID()}.root`],
      selection: "(Select (call EventDataset) (lambda (list e) e))",
      codegen: "passthrough",
      "result-destination": "object-store",
    },
  });
  expect(r.status, r.text).toBe(200);
  return (r.json as { request_id: string }).request_id;
}

beforeAll(async () => {
  op = await startOidcProvider({
    users: { "carol-sub": { email: "carol@bypass.example", name: "Carol C", organization: "Bypass U" } },
  });
  app = await startTestApp({
    backend: "postgres",
    broker: "memory",
    env: {
      ENABLE_AUTH: "true",
      JWT_SECRET_KEY: JWT_SECRET,
      SECRET_KEY: SESSION_SECRET,
      JWT_ADMIN: ADMIN_EMAIL,
      OAUTH_METADATA_URL: op.metadataUrl,
      OAUTH_CLIENT_ID: op.clientId,
      OAUTH_CLIENT_SECRET: op.clientSecret,
    },
  });
  op.setRedirectUris([`${app.url}/auth-callback`]);
  const a = await app.deps.users.provision({
    sub: "admin-sub",
    email: ADMIN_EMAIL,
    name: "Admin",
    institution: "Bypass U",
  });
  expect(a?.admin).toBe(true);
  admin = {
    user: a!,
    refresh: await app.deps.users.rotateApiToken(a!.id),
    access: app.deps.jwt!.issue("access", ADMIN_EMAIL).token,
  };
  alice = await approvedUser("alice");
  bob = await approvedUser("bob");
}, 120_000);

afterAll(async () => {
  await app?.close();
  await op?.stop();
});

// ---------------------------------------------------------------------------------------------------------
// Forged and broken tokens, on all three guarded entry points
// ---------------------------------------------------------------------------------------------------------

type Target = "api" | "refresh" | "admin";
const TARGETS: Record<Target, { method: string; path: string; what: string }> = {
  api: { method: "GET", path: "/servicex/transformation", what: "GET /servicex/transformation" },
  refresh: { method: "POST", path: "/token/refresh", what: "POST /token/refresh" },
  admin: { method: "GET", path: "/users", what: "GET /users (admin)" },
};
/** The identity a target's token names, and the token type the target expects. */
const who = (t: Target) => (t === "admin" ? ADMIN_EMAIL : alice.user.email);
const typeFor = (t: Target): "access" | "refresh" => (t === "refresh" ? "refresh" : "access");

interface BypassCase {
  name: string;
  /** The Authorization header value (undefined: none). */
  auth: (t: Target) => string | undefined;
  expect: Record<Target, { status: number; body: unknown }>;
}

const same = (status: number, body: unknown) => ({
  api: { status, body },
  refresh: { status, body },
  admin: { status, body },
});

const CASES: BypassCase[] = [
  {
    name: "an unsigned token (alg: none) is sent",
    auth: (t) => `Bearer ${algNone(claims(who(t), typeFor(t)))}`,
    expect: same(422, ALG_NOT_ALLOWED),
  },
  {
    name: "a token signed with another HS256 key is sent",
    auth: (t) => `Bearer ${hs256(claims(who(t), typeFor(t)), "not-the-servicex-key")}`,
    expect: same(422, { msg: "Signature verification failed" }),
  },
  {
    name: "an RS256 token (someone's own RSA key) is sent",
    auth: (t) => {
      const { privateKey } = rsa();
      return `Bearer ${jwt.sign(claims(who(t), typeFor(t)), privateKey, { algorithm: "RS256" })}`;
    },
    expect: same(422, ALG_NOT_ALLOWED),
  },
  {
    name: "a token that expired a minute ago is sent",
    auth: (t) =>
      `Bearer ${hs256(claims(who(t), typeFor(t), { iat: now() - 700, nbf: now() - 700, exp: now() - 60 }))}`,
    expect: same(401, { msg: "Token has expired" }),
  },
  {
    name: "a token whose nbf is an hour in the future is sent",
    auth: (t) => `Bearer ${hs256(claims(who(t), typeFor(t), { nbf: now() + 3600, exp: now() + 7200 }))}`,
    expect: same(422, { msg: "The token is not yet valid (nbf)" }),
  },
  {
    name: "the wrong kind of token is sent (refresh where access is expected and the reverse)",
    auth: (t) => `Bearer ${hs256(claims(who(t), t === "refresh" ? "access" : "refresh"))}`,
    expect: {
      api: { status: 422, body: { msg: "Only non-refresh tokens are allowed" } },
      refresh: { status: 422, body: { msg: "Only refresh tokens are allowed" } },
      admin: { status: 422, body: { msg: "Only non-refresh tokens are allowed" } },
    },
  },
  {
    name: "no Authorization header is sent",
    auth: () => undefined,
    expect: {
      api: { status: 401, body: MISSING_MESSAGE },
      refresh: { status: 401, body: MISSING_MSG },
      admin: { status: 401, body: MISSING_MESSAGE },
    },
  },
  {
    // flask-jwt-extended raises NoAuthorizationError (401) when no "Bearer" part is found.
    name: "the Authorization header has another scheme ('Token x')",
    auth: () => "Token x",
    expect: {
      api: { status: 401, body: { message: NOT_BEARER } },
      refresh: { status: 401, body: { msg: NOT_BEARER } },
      admin: { status: 401, body: { message: NOT_BEARER } },
    },
  },
  {
    // ... and InvalidHeaderError (422) when "Bearer" is not followed by exactly one token.
    name: "the Authorization header is 'Bearer' without a token",
    auth: () => "Bearer",
    expect: same(422, BAD_HEADER),
  },
  {
    name: "the Authorization header is 'Bearer a b' (two tokens)",
    auth: () => "Bearer a b",
    expect: same(422, BAD_HEADER),
  },
  {
    name: "a garbage token ('Bearer not-a-jwt') is sent",
    auth: () => "Bearer not-a-jwt",
    expect: same(422, { msg: "Not enough segments" }),
  },
];

describe("Forged, broken and misused tokens (ENABLE_AUTH=true)", () => {
  for (const c of CASES) {
    for (const t of ["api", "refresh", "admin"] as const) {
      const e = c.expect[t];
      it(`When ${c.name} to ${TARGETS[t].what}, then it answers ${e.status} ${JSON.stringify(e.body)}`, async () => {
        const auth = c.auth(t);
        const r = await call(TARGETS[t].method, TARGETS[t].path, auth === undefined ? {} : { auth });
        expectAnswer(r, e.status, e.body);
      });
    }
  }

  it("When a token claims HS256 but is signed with RS256 bytes (header edited), then it answers 422 'Signature verification failed'", async () => {
    const { privateKey } = rsa();
    const rs = jwt.sign(claims(alice.user.email, "access"), privateKey, {
      algorithm: "RS256",
    });
    const [, payload, sig] = rs.split(".");
    const forged = `${b64({ alg: "HS256", typ: "JWT" })}.${payload}.${sig}`;
    expectAnswer(await call("GET", "/servicex/transformation", { token: forged }), 422, {
      msg: "Signature verification failed",
    });
  });

  it("When an unsigned token names the admin and claims HS256 with an empty signature, then it is refused with 422", async () => {
    const forged = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims(ADMIN_EMAIL, "access"))}.`;
    const r = await call("GET", "/users", { token: forged });
    expect(r.status).toBe(422);
    expect(Object.keys(r.json as object)).toEqual(["msg"]);
  });
});

describe("RS256/HS256 confusion when JWT_SECRET_KEY is an RSA public key (PEM)", () => {
  let pemApp: TestApp;
  let privateKey: ReturnType<typeof rsa>["privateKey"];
  beforeAll(async () => {
    const pair = rsa();
    privateKey = pair.privateKey;
    const publicPem = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
    pemApp = await startTestApp({
      backend: "postgres",
      broker: "memory",
      env: {
        ENABLE_AUTH: "true",
        JWT_SECRET_KEY: publicPem,
        SECRET_KEY: SESSION_SECRET,
        JWT_ADMIN: ADMIN_EMAIL,
      },
    });
    await pemApp.deps.users.provision({ sub: "pem-admin", email: ADMIN_EMAIL, name: "A", institution: null });
  }, 120_000);
  afterAll(async () => {
    await pemApp?.close();
  });

  const rsToken = (type: "access" | "refresh") =>
    jwt.sign(claims(ADMIN_EMAIL, type), privateKey, { algorithm: "RS256" });

  for (const [what, method, path, type] of [
    ["GET /servicex/transformation", "GET", "/servicex/transformation", "access"],
    ["POST /token/refresh", "POST", "/token/refresh", "refresh"],
    ["GET /users (admin)", "GET", "/users", "access"],
  ] as const) {
    it(`When an RS256 token signed with the matching private key is sent to ${what}, then it answers 422 'The specified alg value is not allowed'`, async () => {
      const res = await fetch(`${pemApp.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${rsToken(type)}` },
      });
      expect({ status: res.status, body: await res.json() }).toEqual({ status: 422, body: ALG_NOT_ALLOWED });
    });
  }
});

// ---------------------------------------------------------------------------------------------------------
// Users who no longer (or not yet) may use the API
// ---------------------------------------------------------------------------------------------------------

describe("Deleted, pending and outdated identities", () => {
  it("When a deleted user's access token and API token are used, then the API, an admin route and /token/refresh answer 401 'account may have been deleted' (never 500, A.9)", async () => {
    const gone = await approvedUser("gone");
    const goneAdmin = await approvedUser("goneadmin");
    await app.deps.users.setAdmin(goneAdmin.user.email, true);
    // Both work before the deletion.
    expect((await call("GET", "/servicex/transformation", { token: gone.access })).status).toBe(200);
    expect((await call("GET", "/users", { token: goneAdmin.access })).status).toBe(200);
    await app.deps.users.deleteUser(gone.user.id);
    await app.deps.users.deleteUser(goneAdmin.user.id);
    expectAnswer(await call("GET", "/servicex/transformation", { token: gone.access }), 401, {
      message: MSG_DELETED,
    });
    expectAnswer(await call("GET", "/users", { token: goneAdmin.access }), 401, { message: MSG_DELETED });
    expectAnswer(await call("POST", "/token/refresh", { token: gone.refresh }), 401, {
      message: MSG_DELETED,
    });
  });

  it("When a user deleted through DELETE /users/<id> refreshes, then the answer is 401 with the deleted message", async () => {
    const gone = await approvedUser("gone-api");
    const del = await call("DELETE", `/users/${gone.user.id}`, { token: admin.access });
    expectAnswer(del, 200, { message: `user ${gone.user.id} has been deleted` });
    expectAnswer(await call("POST", "/token/refresh", { token: gone.refresh }), 401, {
      message: MSG_DELETED,
    });
    expectAnswer(await call("GET", "/servicex/transformation", { token: gone.access }), 401, {
      message: MSG_DELETED,
    });
  });

  it("When a pending user calls the API and an admin route, then both answer 401 with the exact pending message", async () => {
    const email = `pending.${randomUUID()}@bypass.example`;
    const u = await app.deps.users.provision({
      sub: `p-${randomUUID()}`,
      email,
      name: "P",
      institution: null,
    });
    expect(u?.pending).toBe(true);
    const access = app.deps.jwt!.issue("access", email).token;
    expectAnswer(await call("GET", "/servicex/transformation", { token: access }), 401, {
      message: MSG_PENDING,
    });
    expectAnswer(await call("GET", "/users", { token: access }), 401, { message: MSG_PENDING });
  });

  it("When a pending user refreshes their API token, then a token is issued (as upstream) but the API still answers 401 pending", async () => {
    const email = `pending2.${randomUUID()}@bypass.example`;
    const u = await app.deps.users.provision({
      sub: `p2-${randomUUID()}`,
      email,
      name: "P",
      institution: null,
    });
    const refresh = await app.deps.users.rotateApiToken(u!.id);
    const r = await call("POST", "/token/refresh", { token: refresh });
    expect(r.status).toBe(200);
    const access = (r.json as { access_token: string }).access_token;
    expectAnswer(await call("GET", "/servicex/transformation", { token: access }), 401, {
      message: MSG_PENDING,
    });
  });

  it("When an API token is used after the user rotated it, then /token/refresh answers 401 'Invalid or outdated refresh token' and the new one works", async () => {
    const u = await approvedUser("rotating");
    const fresh = await app.deps.users.rotateApiToken(u.user.id);
    expectAnswer(await call("POST", "/token/refresh", { token: u.refresh }), 401, {
      message: "Invalid or outdated refresh token",
    });
    const ok = await call("POST", "/token/refresh", { token: fresh });
    expect(ok.status).toBe(200);
  });

  it("When a refresh token is forged with the right key but an unknown jti, then /token/refresh answers 401 'Invalid or outdated refresh token'", async () => {
    const { exp: _never, ...noExpiry } = claims(alice.user.email, "refresh");
    const forged = hs256(noExpiry);
    expectAnswer(await call("POST", "/token/refresh", { token: forged }), 401, {
      message: "Invalid or outdated refresh token",
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Positive paths
// ---------------------------------------------------------------------------------------------------------

describe("Valid tokens", () => {
  it("When the API token is traded at /token/refresh, then the access token it returns works on the API and sees only the user's requests", async () => {
    const u = await approvedUser("positive");
    const mine = await submitAs(u.access);
    const r = await call("POST", "/token/refresh", { token: u.refresh });
    expect(r.status).toBe(200);
    const body = r.json as { access_token: string; auth_disabled: boolean };
    expect(Object.keys(body).sort()).toEqual(["access_token", "auth_disabled"]);
    expect(body.auth_disabled).toBe(false);
    const list = await call("GET", "/servicex/transformation", { token: body.access_token });
    expect(list.status).toBe(200);
    expect(
      (list.json as { requests: Array<{ request_id: string }> }).requests.map((x) => x.request_id),
    ).toEqual([mine]);
    const one = await call("GET", `/servicex/transformation/${mine}`, { token: body.access_token });
    expect(one.status).toBe(200);
    expect((one.json as { request_id: string }).request_id).toBe(mine);
  });

  it("When the admin's access token is used on GET /users, then it answers 200", async () => {
    const r = await call("GET", "/users", { token: admin.access });
    expect(r.status).toBe(200);
    expect((r.json as { users: Array<{ email: string }> }).users.map((u) => u.email)).toContain(ADMIN_EMAIL);
  });

  it("When a token names the user by their Globus sub (an older API token), then the API accepts it", async () => {
    const token = hs256(claims(alice.user.sub, "access"));
    expect((await call("GET", "/servicex/transformation", { token })).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------------------

describe("Session cookies", () => {
  it("When a valid signed-in session cookie is sent alone, then a safe API read (GET /servicex/transformation) is allowed", async () => {
    const { cookie } = await signedInCookie(alice.user);
    expect((await call("GET", "/servicex/transformation", { cookie })).status).toBe(200);
  });

  it("When the session cookie has one byte flipped, then it is no session: the API answers 401 'Missing Authorization Header'", async () => {
    const { cookie } = await signedInCookie(admin.user);
    const raw = Buffer.from(cookie, "base64url");
    for (const at of [0, 13, 30, raw.length - 1]) {
      const edited = Buffer.from(raw);
      edited[at] = edited[at]! ^ 0x01;
      const forged = edited.toString("base64url");
      expectAnswer(await call("GET", "/servicex/transformation", { cookie: forged }), 401, MISSING_MESSAGE);
      expectAnswer(await call("GET", "/users", { cookie: forged }), 401, MISSING_MESSAGE);
    }
  });

  it("When a session cookie was made with another SECRET_KEY, then the API answers 401 'Missing Authorization Header'", async () => {
    const { SessionCodec } = await import("../../src/http/middleware/session.js");
    const other = new SessionCodec("some-other-secret");
    const cookie = other.encode({
      ...newSession(),
      isAuthenticated: true,
      userId: admin.user.id,
      admin: true,
    });
    expectAnswer(await call("GET", "/users", { cookie }), 401, MISSING_MESSAGE);
  });

  it("When a session cookie is plain JSON claiming to be signed in, then the API answers 401 'Missing Authorization Header'", async () => {
    const cookie = Buffer.from(
      JSON.stringify({ ...newSession(), isAuthenticated: true, userId: admin.user.id, admin: true }),
    ).toString("base64url");
    expectAnswer(await call("GET", "/servicex/transformation", { cookie }), 401, MISSING_MESSAGE);
  });

  it("When a session cookie names a user who was since deleted, then the deletion ended the session: the API answers 401 'Missing Authorization Header'", async () => {
    const gone = await approvedUser("gone-session");
    const { cookie } = await signedInCookie(gone.user);
    await app.deps.users.deleteUser(gone.user.id);
    expectAnswer(await call("GET", "/servicex/transformation", { cookie }), 401, MISSING_MESSAGE);
  });

  it("When only a session cookie is sent to cancel a request (GET …/cancel), then it answers 401 'Missing Authorization Header' and the request keeps running; with the bearer token it is canceled", async () => {
    const id = await submitAs(alice.access);
    const { cookie } = await signedInCookie(alice.user);
    expectAnswer(
      await call("GET", `/servicex/transformation/${id}/cancel`, { cookie }),
      401,
      MISSING_MESSAGE,
    );
    expectAnswer(
      await call("POST", `/servicex/transformation/${id}/cancel`, { cookie }),
      401,
      MISSING_MESSAGE,
    );
    const still = await call("GET", `/servicex/transformation/${id}`, { token: alice.access });
    expect((still.json as { status: string }).status).not.toBe("Canceled");
    expectAnswer(await call("GET", `/servicex/transformation/${id}/cancel`, { token: alice.access }), 200, {
      message: `Canceled transformation request ${id}`,
    });
  });

  it("When only a session cookie is sent to DELETE a request or submit one, then it answers 401 'Missing Authorization Header'", async () => {
    const id = await submitAs(alice.access);
    await call("GET", `/servicex/transformation/${id}/cancel`, { token: alice.access });
    const { cookie } = await signedInCookie(alice.user);
    expectAnswer(await call("DELETE", `/servicex/transformation/${id}`, { cookie }), 401, MISSING_MESSAGE);
    const sub = await call("POST", "/servicex/transformation", {
      cookie,
      body: {
        "file-list": ["root://x//y.root"],
        selection: "s",
        codegen: "passthrough",
        "result-destination": "object-store",
      },
    });
    expectAnswer(sub, 401, MISSING_MESSAGE);
  });

  it("When a caller without any credentials submits a malformed body, then it answers 401 'Missing Authorization Header' (auth_required runs before the body is parsed, as upstream)", async () => {
    const sub = await call("POST", "/servicex/transformation", { body: { selection: "s" } });
    expectAnswer(sub, 401, MISSING_MESSAGE);
  });

  it("When an admin's session cookie alone is sent to an admin write (DELETE /users/<id>), then it answers 401 'Missing Authorization Header' and nobody is deleted", async () => {
    const victim = await approvedUser("victim");
    const { cookie } = await signedInCookie(admin.user);
    expectAnswer(await call("DELETE", `/users/${victim.user.id}`, { cookie }), 401, MISSING_MESSAGE);
    expectAnswer(
      await call("POST", "/accept", { cookie, body: { email: victim.user.email } }),
      401,
      MISSING_MESSAGE,
    );
    expect(await app.deps.users.repo.byId(victim.user.id)).not.toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------------------
// Non-admins on admin routes (A.9: 403, upstream 401)
// ---------------------------------------------------------------------------------------------------------

describe("Non-admins on every admin route", () => {
  const ROUTES: Array<[string, string, (id: number) => string, Record<string, unknown> | undefined]> = [
    ["GET", "/users", () => "/users", undefined],
    ["DELETE", "/users", () => "/users", undefined],
    ["DELETE", "/users/<id>", (id) => `/users/${id}`, undefined],
    ["GET", "/pending", () => "/pending", undefined],
    ["DELETE", "/pending", () => "/pending", undefined],
    ["POST", "/accept", () => "/accept", { email: "someone@bypass.example" }],
  ];
  for (const [method, label, path, body] of ROUTES) {
    it(`When a non-admin calls ${method} ${label} with a valid access token, then it answers 403 {"message": "${MSG_ADMIN_ONLY}"} and changes nothing`, async () => {
      const pendingEmail = `untouched.${randomUUID()}@bypass.example`;
      const pendingUser = await app.deps.users.provision({
        sub: `u-${randomUUID()}`,
        email: pendingEmail,
        name: "U",
        institution: null,
      });
      const before = (await app.deps.users.repo.list()).length;
      const r = await call(method, path(admin.user.id), {
        token: alice.access,
        ...(body ? { body: { ...body, email: pendingEmail } } : {}),
      });
      expectAnswer(r, 403, { message: MSG_ADMIN_ONLY });
      expect((await app.deps.users.repo.list()).length).toBe(before);
      expect((await app.deps.users.repo.byId(pendingUser!.id))?.pending).toBe(true);
    });
  }

  it("When a non-admin's session cookie is used on GET /users and GET /pending, then both answer 403 with the admin message", async () => {
    const { cookie } = await signedInCookie(alice.user);
    expectAnswer(await call("GET", "/users", { cookie }), 403, { message: MSG_ADMIN_ONLY });
    expectAnswer(await call("GET", "/pending", { cookie }), 403, { message: MSG_ADMIN_ONLY });
  });

  it("When a non-admin's session cookie claims admin: true, then GET /users still answers 403 (the database decides)", async () => {
    const { cookie } = await sessionCookie({ isAuthenticated: true, userId: alice.user.id, admin: true });
    expectAnswer(await call("GET", "/users", { cookie }), 403, { message: MSG_ADMIN_ONLY });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Ownership (A.10)
// ---------------------------------------------------------------------------------------------------------

describe("User A on user B's requests (A.10)", () => {
  let running: string;
  let finished: string;
  beforeAll(async () => {
    running = await submitAs(bob.access);
    finished = await submitAs(bob.access);
    const c = await call("GET", `/servicex/transformation/${finished}/cancel`, { token: bob.access });
    expect(c.status).toBe(200);
  });

  it("When A reads B's request, then GET …/<id> answers 403 'You are not authorized to view this request'", async () => {
    expectAnswer(await call("GET", `/servicex/transformation/${running}`, { token: alice.access }), 403, {
      message: "You are not authorized to view this request",
    });
  });

  it("When A reads B's request status and results, then /status and /results answer 403", async () => {
    for (const sub of ["status", "results"]) {
      expectAnswer(
        await call("GET", `/servicex/transformation/${running}/${sub}`, { token: alice.access }),
        403,
        { message: "You are not authorized to view this request" },
      );
    }
  });

  it("When A cancels B's running request, then GET and POST …/cancel answer 403 'You are not authorized to cancel this request' and it keeps running", async () => {
    for (const method of ["GET", "POST"]) {
      expectAnswer(
        await call(method, `/servicex/transformation/${running}/cancel`, { token: alice.access }),
        403,
        { message: "You are not authorized to cancel this request" },
      );
    }
    const s = await call("GET", `/servicex/transformation/${running}`, { token: bob.access });
    expect((s.json as { status: string }).status).not.toBe("Canceled");
  });

  it("When A deletes B's finished request, then DELETE answers 403 'You are not authorized to delete this request' and it is still there", async () => {
    expectAnswer(await call("DELETE", `/servicex/transformation/${finished}`, { token: alice.access }), 403, {
      message: "You are not authorized to delete this request",
    });
    expect((await call("GET", `/servicex/transformation/${finished}`, { token: bob.access })).status).toBe(
      200,
    );
  });

  it("When A deletes B's running request, then DELETE answers 403 (ownership before the in-progress check: no 400 that reveals its state)", async () => {
    expectAnswer(await call("DELETE", `/servicex/transformation/${running}`, { token: alice.access }), 403, {
      message: "You are not authorized to delete this request",
    });
  });

  it("When A lists with submitted_by=<B's id>, then it answers 403 'You are not authorized to view these requests'", async () => {
    expectAnswer(
      await call("GET", `/servicex/transformation?submitted_by=${bob.user.id}`, { token: alice.access }),
      403,
      { message: "You are not authorized to view these requests" },
    );
  });

  it("When A lists without a filter, then none of B's requests is in the answer; the admin sees them", async () => {
    const mine = await call("GET", "/servicex/transformation", { token: alice.access });
    const ids = (mine.json as { requests: Array<{ request_id: string }> }).requests.map((x) => x.request_id);
    expect(ids).not.toContain(running);
    expect(ids).not.toContain(finished);
    const all = await call("GET", `/servicex/transformation?submitted_by=${bob.user.id}`, {
      token: admin.access,
    });
    expect(all.status).toBe(200);
    const bobs = (all.json as { requests: Array<{ request_id: string }> }).requests.map((x) => x.request_id);
    expect(bobs).toEqual(expect.arrayContaining([running, finished]));
  });

  it("When B deletes their own finished request, then it answers 200 'has been archived'", async () => {
    const id = await submitAs(bob.access);
    await call("GET", `/servicex/transformation/${id}/cancel`, { token: bob.access });
    expectAnswer(await call("DELETE", `/servicex/transformation/${id}`, { token: bob.access }), 200, {
      message: `Transform request with id ${id} has been archived.`,
    });
  });
});

// ---------------------------------------------------------------------------------------------------------
// CSRF on the forms
// ---------------------------------------------------------------------------------------------------------

describe("CSRF on every form POST", () => {
  it("When POST /api-token comes with a valid session cookie but no _csrf, then it answers 403 and the API token is unchanged", async () => {
    const u = await approvedUser("csrf1");
    const { cookie } = await signedInCookie(u.user);
    expectAnswer(await call("POST", "/api-token", { cookie, form: {} }), 403, CSRF_FAILED);
    expect((await call("POST", "/token/refresh", { token: u.refresh })).status).toBe(200);
  });

  it("When POST /api-token comes with a wrong _csrf (same length, other length, another session's), then it answers 403", async () => {
    const u = await approvedUser("csrf2");
    const { cookie, session } = await signedInCookie(u.user);
    const other = (await signedInCookie(u.user)).session.csrf;
    const flipped = `${session.csrf.slice(0, -1)}${session.csrf.endsWith("A") ? "B" : "A"}`;
    for (const bad of [flipped, `${session.csrf}x`, "", other]) {
      expectAnswer(await call("POST", "/api-token", { cookie, form: { _csrf: bad } }), 403, CSRF_FAILED);
    }
    expect((await call("POST", "/token/refresh", { token: u.refresh })).status).toBe(200);
  });

  it("When POST /api-token carries a _csrf but no session cookie, then it answers 403", async () => {
    const { session } = await signedInCookie(alice.user);
    expectAnswer(await call("POST", "/api-token", { form: { _csrf: session.csrf } }), 403, CSRF_FAILED);
  });

  it("When POST /api-token carries the session's _csrf, then it answers 302 to /profile and the old API token is dead", async () => {
    const u = await approvedUser("csrf3");
    const { cookie, session } = await signedInCookie(u.user);
    const r = await call("POST", "/api-token", { cookie, form: { _csrf: session.csrf } });
    expect(r.status).toBe(302);
    expect(r.headers.get("location")).toBe("/profile");
    expectAnswer(await call("POST", "/token/refresh", { token: u.refresh }), 401, {
      message: "Invalid or outdated refresh token",
    });
  });

  it("When a cross-site GET /api-token is made with the cookie, then no token is rotated (it only shows a form)", async () => {
    const u = await approvedUser("csrf-get");
    const { cookie } = await signedInCookie(u.user);
    const r = await call("GET", "/api-token", { cookie });
    expect(r.status).toBe(200);
    expect((await call("POST", "/token/refresh", { token: u.refresh })).status).toBe(200);
  });

  const profileFields = (email: string) => ({
    name: "Edited Name",
    email,
    institution: "Edited U",
    experiment: "CMS",
  });

  it("When POST /profile/edit comes without _csrf or with a wrong one, then it answers 403 and the profile is unchanged", async () => {
    const u = await approvedUser("csrf4");
    const { cookie, session } = await signedInCookie(u.user);
    expectAnswer(
      await call("POST", "/profile/edit", { cookie, form: profileFields(u.user.email) }),
      403,
      CSRF_FAILED,
    );
    expectAnswer(
      await call("POST", "/profile/edit", {
        cookie,
        form: { ...profileFields(u.user.email), _csrf: `${session.csrf.slice(1)}Z` },
      }),
      403,
      CSRF_FAILED,
    );
    expect((await app.deps.users.repo.byId(u.user.id))?.name).toBe("csrf4");
  });

  it("When POST /profile/edit carries the session's _csrf, then it answers 302 to /profile and the profile is saved", async () => {
    const u = await approvedUser("csrf5");
    const { cookie, session } = await signedInCookie(u.user);
    const r = await call("POST", "/profile/edit", {
      cookie,
      form: { ...profileFields(u.user.email), _csrf: session.csrf },
    });
    expect(r.status).toBe(302);
    expect(r.headers.get("location")).toBe("/profile");
    const saved = await app.deps.users.repo.byId(u.user.id);
    expect({ name: saved?.name, institution: saved?.institution, experiment: saved?.experiment }).toEqual({
      name: "Edited Name",
      institution: "Edited U",
      experiment: "CMS",
    });
  });

  it("When POST /profile/new comes without _csrf from a signed-in session without a profile, then it answers 403 and no user is created", async () => {
    const email = `csrf-new.${randomUUID()}@bypass.example`;
    const { cookie } = await sessionCookie({ isAuthenticated: true, sub: `new-${randomUUID()}`, email });
    expectAnswer(
      await call("POST", "/profile/new", { cookie, form: profileFields(email) }),
      403,
      CSRF_FAILED,
    );
    expect(await app.deps.users.repo.byEmail(email)).toBeNull();
  });

  it("When POST /sign-out comes without _csrf, then it answers 403", async () => {
    const { cookie } = await signedInCookie(alice.user);
    expectAnswer(await call("POST", "/sign-out", { cookie, form: {} }), 403, CSRF_FAILED);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Open redirects after sign-in (a real OIDC provider, test/helpers/oidcProvider.ts)
// ---------------------------------------------------------------------------------------------------------

describe("Open redirect attempts through /sign-in?next=", () => {
  beforeAll(async () => {
    // Carol has a profile, so the callback sends her on to `next` (or /dashboard).
    const carol = await app.deps.users.provision({
      sub: "carol-sub",
      email: "carol@bypass.example",
      name: "Carol C",
      institution: "Bypass U",
      refreshToken: null,
    });
    await app.deps.users.accept("carol@bypass.example");
    await app.deps.users.rotateApiToken(carol!.id);
  });

  /** Signs in through the provider starting at /sign-in?next=<next>; returns the callback's answer. */
  async function signInWithNext(next: string): Promise<{ status: number; location: string | null }> {
    const jar = new CookieJar();
    const callback = await op.loginWithHttp(
      `${app.url}/sign-in?next=${encodeURIComponent(next)}`,
      "carol-sub",
      {
        jar,
      },
    );
    expect(callback.startsWith(`${app.url}/auth-callback?`)).toBe(true);
    const res = await fetch(callback, {
      headers: { cookie: jar.header(new URL(callback)) },
      redirect: "manual",
    });
    await res.arrayBuffer();
    return { status: res.status, location: res.headers.get("location") };
  }

  for (const evil of [
    "https://evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "javascript:alert(1)",
  ]) {
    it(`When sign-in starts with next=${evil}, then the session does not keep it and the callback redirects to /dashboard`, async () => {
      const start = await fetch(`${app.url}/sign-in?next=${encodeURIComponent(evil)}`, {
        redirect: "manual",
      });
      expect(start.status).toBe(302);
      const set = start.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`));
      const value = set?.split(";")[0]?.slice(SESSION_COOKIE.length + 1) ?? "";
      const session = app.deps.sessions.decode(value);
      expect(session?.oidc).toBeDefined();
      expect(session?.oidc?.next).toBeUndefined();
      if (evil === "https://evil.example" || evil === "//evil.example") {
        expect(await signInWithNext(evil)).toEqual({ status: 302, location: "/dashboard" });
      }
    });
  }

  it("When sign-in starts with next=/profile (same site), then the callback redirects to /profile", async () => {
    expect(await signInWithNext("/profile")).toEqual({ status: 302, location: "/profile" });
  });
});

// ---------------------------------------------------------------------------------------------------------
// ENABLE_AUTH=false (§7.5)
// ---------------------------------------------------------------------------------------------------------

describe("With ENABLE_AUTH=false", () => {
  let open: TestApp;
  beforeAll(async () => {
    open = await startTestApp({ backend: "postgres", broker: "memory", env: { ENABLE_AUTH: "false" } });
  }, 120_000);
  afterAll(async () => {
    await open?.close();
  });
  const req = async (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) => {
    const res = await fetch(`${open.url}${path}`, {
      method,
      headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: (await res.json()) as unknown };
  };

  it("When /token/refresh is called (with or without a token), then it answers 200 with the auth_disabled body", async () => {
    const body = {
      message: "Authentication is disabled on this instance",
      access_token: "authentication_disabled",
      auth_disabled: true,
    };
    expect(await req("POST", "/token/refresh")).toEqual({ status: 200, json: body });
    expect(await req("POST", "/token/refresh", { authorization: "Bearer garbage" })).toEqual({
      status: 200,
      json: body,
    });
  });

  it("When the admin routes are called without any token, then they are open", async () => {
    await open.deps.users.provision({ sub: "o-1", email: "open1@x.example", name: "O", institution: null });
    const users = await req("GET", "/users");
    expect(users.status).toBe(200);
    expect((users.json as { users: Array<{ email: string }> }).users.map((u) => u.email)).toEqual([
      "open1@x.example",
    ]);
    const pending = await req("GET", "/pending");
    expect(pending).toEqual({
      status: 200,
      json: { users: [{ email: "open1@x.example", id: expect.any(Number), admin: false }] },
    });
    expect(await req("POST", "/accept", {}, { email: "open1@x.example" })).toEqual({
      status: 200,
      json: { message: "user open1@x.example now ready for access" },
    });
  });

  it("When the transformation list is read without a token, then it answers 200", async () => {
    const r = await req("GET", "/servicex/transformation");
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ requests: [] });
  });
});
