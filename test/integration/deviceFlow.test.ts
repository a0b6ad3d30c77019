// Sign-in from a terminal (docs/sign-in.md "Signing in from a terminal", docs/decisions.md D34): the App
// (Postgres, in-memory broker) against the real `oidc-provider` with its device authorization grant (RFC
// 8628). A terminal asks /device-flow-info where to sign in, gets a code from the provider, a person approves
// it at the provider's verification page (driven over HTTP), the terminal polls the token endpoint and
// trades the provider's access token at /bearer-token-exchange for a ServiceX API token that works on
// /token/refresh and the API. Also: the browser sign-in's rules (verified e-mail, pending, JWT_ADMIN,
// pre-provisioned accounts, an e-mail of another identity), refused tokens (missing, garbage, forged JWT,
// our own token, revoked, expired, an ID token, another application's with introspection), a provider that
// goes away (503), the rate limit, HEAD, sign-in turned off, and scripts/terminal-sign-in.ts end to end.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProviderTokens } from "../../src/adapters/auth/providerToken.js";
import { MSG_PENDING } from "../../src/domain/users.service.js";
import { CookieJar, type OidcTestProvider, startOidcProvider } from "../helpers/oidcProvider.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
const ADMIN_EMAIL = "boss@uni.example";
const JWT_SECRET_KEY = "device-flow-test-jwt-secret-0123456789";
const SECRET_KEY = "device-flow-test-session-secret-0123456789";
const OTHER_APP = "other-app";

let op: OidcTestProvider;
let app: TestApp;

const person = (name: string, email?: string, emailVerified: boolean | null = true) => ({
  name,
  organization: "Uni Example",
  ...(email === undefined ? {} : { email, emailVerified }),
});

beforeAll(async () => {
  op = await startOidcProvider({
    deviceClients: ["servicex-device-client", OTHER_APP],
    users: {
      newbie: person("New Bie", "newbie@uni.example"),
      boss: person("The Boss", ADMIN_EMAIL),
      shady: person("Shady", "shady@uni.example", false),
      quiet: person("Quiet"),
      fakeboss: person("Fake Boss", ADMIN_EMAIL, false),
      webonly: person("Web Only", "webonly@uni.example", false),
      provisioned: person("Pro Visioned", "provisioned@uni.example"),
      twin: person("Twin", "twin@uni.example"),
      racer: person("Racer", "racer@uni.example"),
      relay: person("Relay", "relay@uni.example"),
      expiring: person("Expiring", "expiring@uni.example"),
      revoked: person("Revoked", "revoked@uni.example"),
      scripted: person("Scripted", "scripted@uni.example"),
    },
  });
  app = await startTestApp({
    backend: "postgres",
    broker: "memory",
    env: {
      ENABLE_AUTH: "true",
      JWT_SECRET_KEY,
      SECRET_KEY,
      JWT_ADMIN: ADMIN_EMAIL,
      OAUTH_METADATA_URL: op.metadataUrl,
      OAUTH_CLIENT_ID: op.clientId,
      OAUTH_CLIENT_SECRET: op.clientSecret,
      OAUTH_DEVICE_FLOW_CLIENT_ID: op.deviceClientId,
    },
  });
  op.setRedirectUris([`${app.url}/auth-callback`]);
});

afterAll(async () => {
  await app?.close();
  await op?.stop();
});

// ---- helpers -------------------------------------------------------------------------------------------

async function postForm(url: string, fields: Record<string, string>) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

async function metadata(p: OidcTestProvider) {
  return (await (await fetch(p.metadataUrl)).json()) as Record<string, string>;
}

/** A terminal's whole device flow at `p`, approved by `account`: the provider's token response. */
async function deviceTokens(p: OidcTestProvider, account: string, clientId = p.deviceClientId) {
  const md = await metadata(p);
  const da = await postForm(md.device_authorization_endpoint!, {
    client_id: clientId,
    scope: "openid profile email",
  });
  expect(da.status).toBe(200);
  expect(await p.approveDeviceWithHttp(da.body.verification_uri_complete!, account)).toBe("approved");
  const tok = await postForm(md.token_endpoint!, {
    grant_type: DEVICE_GRANT,
    device_code: da.body.device_code!,
    client_id: clientId,
  });
  expect(tok.status).toBe(200);
  return tok.body as { access_token: string; id_token: string };
}

async function exchange(authorization?: string, base = app.url) {
  const res = await fetch(`${base}/bearer-token-exchange`, {
    headers: authorization === undefined ? {} : { authorization },
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`not JSON (HTTP ${res.status}): ${text.slice(0, 200)}`);
  }
  return { status: res.status, body, headers: res.headers };
}

async function refresh(apiToken: string, base = app.url) {
  const res = await fetch(`${base}/token/refresh`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiToken}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function listRequests(accessToken: string) {
  const res = await fetch(`${app.url}/servicex/transformation`, {
    headers: { authorization: `Bearer ${accessToken}` },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Terminal sign-in of `account` through to an access token of the API. */
async function apiAccess(account: string): Promise<{ apiToken: string; access: string }> {
  const { access_token } = await deviceTokens(op, account);
  const ex = await exchange(`Bearer ${access_token}`);
  expect(ex.status).toBe(200);
  const rf = await refresh(ex.body.jwt as string);
  expect(rf.status).toBe(200);
  return { apiToken: ex.body.jwt as string, access: rf.body.access_token as string };
}

// ---- browser helpers (for accounts made or used on the website) ---------------------------------------

async function browserGet(jar: CookieJar, url: string) {
  const u = new URL(url, app.url);
  const cookie = jar.header(u);
  const res = await fetch(u, { headers: cookie ? { cookie } : {}, redirect: "manual" });
  jar.store(u, res.headers.getSetCookie());
  return res;
}

async function browserPost(jar: CookieJar, path: string, form: Record<string, string>) {
  const u = new URL(path, app.url);
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

/** Browser sign-in of `account`: where the callback sends the browser. */
async function browserSignIn(jar: CookieJar, account: string): Promise<string | null> {
  const callback = await op.loginWithHttp(`${app.url}/sign-in`, account, { jar });
  return (await browserGet(jar, callback)).headers.get("location");
}

// ---- tests ---------------------------------------------------------------------------------------------

describe("GET /device-flow-info", () => {
  it("names the public client and the provider's discovery document, which offers the device grant", async () => {
    const res = await fetch(`${app.url}/device-flow-info`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ client: op.deviceClientId, config: op.metadataUrl });
    const md = await metadata(op);
    expect(md.device_authorization_endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(md.grant_types_supported).toContain(DEVICE_GRANT);
  });
});

describe("the whole terminal flow", () => {
  it("When a new person signs in from a terminal, then they get a pending API token that works once approved", async () => {
    // The terminal: where to sign in, then a code from the provider.
    const info = (await (await fetch(`${app.url}/device-flow-info`)).json()) as {
      client: string;
      config: string;
    };
    const md = (await (await fetch(info.config)).json()) as Record<string, string>;
    const da = await postForm(md.device_authorization_endpoint!, {
      client_id: info.client,
      scope: "openid profile email",
    });
    expect(da.status).toBe(200);
    expect(da.body.user_code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    const poll = () =>
      postForm(md.token_endpoint!, {
        grant_type: DEVICE_GRANT,
        device_code: da.body.device_code!,
        client_id: info.client,
      });
    expect((await poll()).body.error).toBe("authorization_pending");

    // The person, at a browser: the bare verification page, typing the code.
    const approved = await op.approveDeviceWithHttp(da.body.verification_uri!, "newbie", {
      userCode: da.body.user_code!,
    });
    expect(approved).toBe("approved");

    // The terminal: the provider's token, then the ServiceX API token.
    const tok = await poll();
    expect(tok.status).toBe(200);
    const ex = await exchange(`Bearer ${tok.body.access_token}`);
    expect(ex.status).toBe(200);
    expect(ex.headers.get("cache-control")).toBe("no-store");
    expect(ex.body).toMatchObject({ pending: true, admin: false, email: "newbie@uni.example" });
    const apiToken = ex.body.jwt as string;
    expect(jwt.verify(apiToken, JWT_SECRET_KEY)).toMatchObject({
      type: "refresh",
      sub: "newbie@uni.example",
    });

    // The account is the browser sign-in's: bound to the provider's issuer and subject, with its claims.
    const user = await app.deps.users.repo.byEmail("newbie@uni.example");
    expect(user).toMatchObject({ name: "New Bie", institution: "Uni Example", pending: true, admin: false });
    expect((await app.deps.users.repo.bySubject(op.issuer, ["newbie"]))?.user.id).toBe(user!.id);

    // Pending: /token/refresh gives an access token (as for a browser sign-up), the API refuses it.
    const rf = await refresh(apiToken);
    expect(rf.status).toBe(200);
    const pendingCall = await listRequests(rf.body.access_token as string);
    expect(pendingCall.status).toBe(401);
    expect(pendingCall.body.message).toBe(MSG_PENDING);

    // An admin (signed in from a terminal too) approves; the same token now works on the API.
    const boss = await apiAccess("boss");
    const accept = await fetch(`${app.url}/accept`, {
      method: "POST",
      headers: { authorization: `Bearer ${boss.access}`, "content-type": "application/json" },
      body: JSON.stringify({ email: "newbie@uni.example" }),
    });
    expect(accept.status).toBe(200);
    const rf2 = await refresh(apiToken);
    expect(rf2.status).toBe(200);
    const list = await listRequests(rf2.body.access_token as string);
    expect(list.status).toBe(200);
    expect(list.body).toHaveProperty("requests");

    // Signing in from a terminal again gives the same token (not rotated): servicex.yaml keeps working.
    const again = await exchange(`Bearer ${(await deviceTokens(op, "newbie")).access_token}`);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ jwt: apiToken, pending: false });

    // And the browser finds the same account (no profile form).
    expect(await browserSignIn(new CookieJar(), "newbie")).toBe("/dashboard");
  });

  it("When the JWT_ADMIN e-mail (vouched for) signs in from a terminal, then they are an approved admin", async () => {
    const { access } = await apiAccess("boss");
    const user = await app.deps.users.repo.byEmail(ADMIN_EMAIL);
    expect(user).toMatchObject({ admin: true, pending: false });
    const users = await fetch(`${app.url}/users`, { headers: { authorization: `Bearer ${access}` } });
    expect(users.status).toBe(200);
  });

  it("When two terminals of a new person exchange at once, then both get the one account's token", async () => {
    const [a, b] = await Promise.all([deviceTokens(op, "racer"), deviceTokens(op, "racer")]);
    const [x, y] = await Promise.all([
      exchange(`Bearer ${a.access_token}`),
      exchange(`Bearer ${b.access_token}`),
    ]);
    expect([x.status, y.status]).toEqual([200, 200]);
    expect(x.body.jwt).toBe(y.body.jwt);
    expect((await app.deps.users.repo.list()).filter((u) => u.email === "racer@uni.example")).toHaveLength(1);
  });
});

describe("the browser sign-in's rules", () => {
  it("When the provider does not vouch for the e-mail of a new person, then 403 and no account", async () => {
    for (const account of ["shady", "quiet"]) {
      const { access_token } = await deviceTokens(op, account);
      const ex = await exchange(`Bearer ${access_token}`);
      expect(ex.status).toBe(403);
      expect(ex.body).toMatchObject({ code: "unverified_email" });
      expect(ex.body.message).toMatch(/does not vouch.*website/);
      expect(await app.deps.users.repo.bySubject(op.issuer, [account])).toBeNull();
    }
    expect(await app.deps.users.repo.byEmail("shady@uni.example")).toBeNull();
  });

  it("When an unverified JWT_ADMIN e-mail signs in from a terminal, then it is refused and makes no admin", async () => {
    const { access_token } = await deviceTokens(op, "fakeboss");
    const ex = await exchange(`Bearer ${access_token}`);
    expect(ex.status).toBe(403);
    expect(await app.deps.users.repo.bySubject(op.issuer, ["fakeboss"])).toBeNull();
  });

  it("When a person without a vouched-for e-mail made the profile on the website, then the terminal gets its token", async () => {
    const jar = new CookieJar();
    expect(await browserSignIn(jar, "webonly")).toBe("/profile/new");
    const formPage = await (await browserGet(jar, "/profile/new")).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(formPage)![1]!;
    const created = await browserPost(jar, "/profile/new", {
      _csrf: csrf,
      name: "Web Only",
      email: "webonly@uni.example",
      institution: "Uni Example",
      experiment: "CMS",
    });
    expect(created.headers.get("location")).toBe("/profile");
    const user = (await app.deps.users.repo.byEmail("webonly@uni.example"))!;
    const ex = await exchange(`Bearer ${(await deviceTokens(op, "webonly")).access_token}`);
    expect(ex.status).toBe(200);
    expect(ex.body).toMatchObject({ pending: true, email: "webonly@uni.example" });
    expect(ex.body.jwt).toBe(await app.deps.users.currentApiToken(user.id));
  });

  it("When an account was provisioned for the person's subject, then the terminal claims it, approved", async () => {
    await app.deps.users.provision({
      sub: "provisioned",
      email: "provisioned@uni.example",
      name: "Pro Visioned",
      institution: null,
    });
    expect((await app.deps.users.repo.byEmail("provisioned@uni.example"))?.pending).toBe(true);
    const ex = await exchange(`Bearer ${(await deviceTokens(op, "provisioned")).access_token}`);
    expect(ex.status).toBe(200);
    expect(ex.body).toMatchObject({ pending: false, admin: false });
    expect((await refresh(ex.body.jwt as string)).status).toBe(200);
  });

  it("When the e-mail belongs to an account of another sign-in identity, then 409 and nothing changes", async () => {
    await app.deps.users.provision({
      sub: "someone-else",
      email: "twin@uni.example",
      name: "The Other Twin",
      institution: null,
      refreshToken: "an-upstream-token",
    });
    const ex = await exchange(`Bearer ${(await deviceTokens(op, "twin")).access_token}`);
    expect(ex.status).toBe(409);
    expect(ex.body.message).toMatch(/another sign-in identity/);
    expect(await app.deps.users.repo.bySubject(op.issuer, ["twin"])).toBeNull();
    expect((await app.deps.users.repo.byEmail("twin@uni.example"))?.sub).toBe("someone-else");
  });
});

describe("refused tokens", () => {
  it("When no or a malformed Authorization header is sent, then 401 JSON", async () => {
    const none = await exchange();
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({ code: "missing_authorization" });
    for (const header of ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "token-without-scheme"]) {
      const bad = await exchange(header);
      expect(bad.status, header).toBe(401);
      expect(bad.body.message).toMatch(/Bearer/);
    }
  });

  it("When the token is garbage, a forged JWT, our own API token or the provider's ID token, then 401", async () => {
    const { id_token } = await deviceTokens(op, "boss");
    const bossApiToken = await app.deps.users.currentApiToken(
      (await app.deps.users.repo.byEmail(ADMIN_EMAIL))!.id,
    );
    const forged = jwt.sign(
      {
        iss: op.issuer,
        sub: "nobody",
        email: "forger@uni.example",
        email_verified: true,
        aud: op.deviceClientId,
      },
      "any-key",
      { expiresIn: 600 },
    );
    for (const token of ["garbage", forged, bossApiToken, id_token]) {
      const ex = await exchange(`Bearer ${token}`);
      expect(ex.status).toBe(401);
      expect(ex.body).toMatchObject({ code: "provider_token_refused" });
    }
    expect(await app.deps.users.repo.byEmail("forger@uni.example")).toBeNull();
  });

  it("When the provider's token was revoked, then 401", async () => {
    const { access_token } = await deviceTokens(op, "revoked");
    const md = await metadata(op);
    const res = await fetch(md.revocation_endpoint!, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: access_token, client_id: op.deviceClientId }).toString(),
    });
    expect(res.status).toBe(200);
    const ex = await exchange(`Bearer ${access_token}`);
    expect(ex.status).toBe(401);
    expect(await app.deps.users.repo.byEmail("revoked@uni.example")).toBeNull();
  });

  it("When the provider's token expired, then 401", async () => {
    op.setAccessTokenTtl(1);
    let access_token: string;
    try {
      ({ access_token } = await deviceTokens(op, "expiring"));
    } finally {
      op.setAccessTokenTtl(3600);
    }
    const md = await metadata(op);
    await eventually(
      async () =>
        (await fetch(md.userinfo_endpoint!, { headers: { authorization: `Bearer ${access_token}` } }))
          .status === 401,
      10_000,
      "the provider to refuse the expired token",
    );
    const ex = await exchange(`Bearer ${access_token}`);
    expect(ex.status).toBe(401);
    expect(ex.body.message).toMatch(/refused/);
  });

  it("When HEAD is sent, then 405 and nothing is made", async () => {
    const { access_token } = await deviceTokens(op, "relay");
    const res = await fetch(`${app.url}/bearer-token-exchange`, {
      method: "HEAD",
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
    expect(await app.deps.users.repo.byEmail("relay@uni.example")).toBeNull();
  });

  it("When introspection is off, then a token another application obtained is accepted (docs/sign-in.md)", async () => {
    const { access_token } = await deviceTokens(op, "relay", OTHER_APP);
    const ex = await exchange(`Bearer ${access_token}`);
    expect(ex.status).toBe(200);
  });
});

describe("with OAUTH_TOKEN_INTROSPECTION, a provider that goes away, and the rate limit", () => {
  let op2: OidcTestProvider;
  let app2: TestApp;
  const LIMIT = 6;

  beforeAll(async () => {
    op2 = await startOidcProvider({
      deviceClients: ["terminal", OTHER_APP],
      users: { ann: person("Ann", "ann@uni.example"), bob: person("Bob", "bob@uni.example") },
    });
    app2 = await startTestApp({
      backend: "postgres",
      broker: "memory",
      env: {
        ENABLE_AUTH: "true",
        JWT_SECRET_KEY,
        SECRET_KEY,
        OAUTH_ALLOW_ALL_AFTER_AUTH: "true",
        OAUTH_METADATA_URL: op2.issuer, // an issuer URL: the well-known path is appended
        OAUTH_CLIENT_ID: op2.clientId,
        OAUTH_CLIENT_SECRET: op2.clientSecret,
        OAUTH_DEVICE_FLOW_CLIENT_ID: "terminal",
        OAUTH_TOKEN_INTROSPECTION: "true",
        RATE_LIMIT_PER_MINUTE: String(LIMIT),
      },
    });
  });

  afterAll(async () => {
    await app2?.close();
    await op2?.stop();
  });

  it("advertises the discovery document of an issuer URL", async () => {
    const res = await fetch(`${app2.url}/device-flow-info`);
    expect(await res.json()).toEqual({ client: "terminal", config: op2.metadataUrl });
  });

  it("accepts the device client's token, refuses another application's, and answers 503 once the provider is gone", async () => {
    const ok = await exchange(`Bearer ${(await deviceTokens(op2, "ann")).access_token}`, app2.url);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ pending: false, email: "ann@uni.example" }); // OAUTH_ALLOW_ALL_AFTER_AUTH

    const relayed = await exchange(
      `Bearer ${(await deviceTokens(op2, "bob", OTHER_APP)).access_token}`,
      app2.url,
    );
    expect(relayed.status).toBe(401);
    expect(relayed.body.message).toMatch(/issued to another application/);
    expect(await app2.deps.users.repo.byEmail("bob@uni.example")).toBeNull();

    const annToken = (await deviceTokens(op2, "ann")).access_token;
    await op2.stop();
    const down = await exchange(`Bearer ${annToken}`, app2.url);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ code: "provider_unavailable" });
    expect(down.body.message).toMatch(/could not check the token.*retry/);
    // The App itself is fine; the information route needs no provider.
    expect((await fetch(`${app2.url}/device-flow-info`)).status).toBe(200);
  });

  it("limits calls per client address (429 with Retry-After)", async () => {
    // Three calls so far in this block; the rest of the minute's budget, then one too many.
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT - 3; i++) statuses.push((await exchange("Bearer x", app2.url)).status);
    expect(statuses.every((s) => s !== 429)).toBe(true);
    const res = await fetch(`${app2.url}/bearer-token-exchange`, { headers: { authorization: "Bearer x" } });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(((await res.json()) as { message: string }).message).toMatch(/Too many requests/);
  });
});

describe("an unreachable provider and sign-in turned off", () => {
  it("When the discovery document cannot be read, then the check answers 503 (never 500)", async () => {
    const tokens = new ProviderTokens({
      metadataUrl: "http://127.0.0.1:9/.well-known/openid-configuration",
      deviceClientId: "terminal",
      timeoutSeconds: 2,
    });
    await expect(tokens.identity("anything")).rejects.toMatchObject({
      status: 503,
      code: "provider_unavailable",
    });
  });

  it("When ENABLE_AUTH is false, then both routes answer 404 JSON", async () => {
    const off = await startTestApp({
      backend: "postgres",
      broker: "memory",
      env: { OAUTH_METADATA_URL: op.metadataUrl, OAUTH_DEVICE_FLOW_CLIENT_ID: op.deviceClientId },
    });
    try {
      const info = await fetch(`${off.url}/device-flow-info`);
      expect(info.status).toBe(404);
      expect(((await info.json()) as { message: string }).message).toMatch(/authentication is disabled/);
      const ex = await exchange("Bearer x", off.url);
      expect(ex.status).toBe(404);
      expect(ex.body).toMatchObject({ code: "device_flow_not_configured" });
    } finally {
      await off.close();
    }
  });
});

describe("scripts/terminal-sign-in.ts", () => {
  it("prints the code, waits for the approval and writes a working servicex.yaml", async () => {
    const dir = mkdtempSync(join(tmpdir(), "terminal-sign-in-"));
    const out = join(dir, "servicex.yaml");
    const root = fileURLToPath(new URL("../..", import.meta.url));
    let child: ChildProcess | undefined;
    try {
      child = spawn(
        process.execPath,
        ["--import", "tsx", "scripts/terminal-sign-in.ts", "--app", app.url, "--out", out, "--name", "test"],
        { cwd: root, stdio: ["ignore", "pipe", "pipe"] },
      );
      let stdout = "";
      let stderr = "";
      child.stdout!.on("data", (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<number | null>((r) => child!.on("exit", (code) => r(code)));
      const url = await eventually(
        async () => /or open (\S+)/.exec(stdout)?.[1],
        30_000,
        "the script to print the verification URL",
      );
      expect(stdout).toMatch(/enter the code [A-Z]{4}-[A-Z]{4}/);
      expect(await op.approveDeviceWithHttp(url, "scripted")).toBe("approved");
      const code = await exited;
      expect(code, `stdout: ${stdout}\nstderr: ${stderr}`).toBe(0);
      expect(stdout).toContain("Signed in as scripted@uni.example.");
      expect(stdout).toContain("awaits approval");
      const yaml = readFileSync(out, "utf8");
      const token = /token: (\S+)/.exec(yaml)?.[1];
      expect(yaml).toBe(
        `api_endpoints:\n  - name: test\n    endpoint: ${app.url}\n    token: ${token}\ndefault_endpoint: test\n`,
      );
      expect(statSync(out).mode & 0o777).toBe(0o600);
      expect((await refresh(token!)).status).toBe(200);
    } finally {
      child?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
