// The OIDC test provider (test/helpers/oidcProvider.ts) and the Chromium helper (test/helpers/browser.ts),
// exercised with openid-client 6, the library the App signs in with: discovery, authorization code + PKCE +
// state + nonce, Globus' identity_set in ID token and userinfo, replayed codes, access_denied, refresh,
// revocation and RP-initiated logout; then the login page driven by a real browser.
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import * as client from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserAvailable, launchBrowser, openPage, screenshot } from "../helpers/browser.js";
import {
  CookieJar,
  type IdentitySetEntry,
  type OidcTestProvider,
  globusLikeUser,
  startOidcProvider,
} from "../helpers/oidcProvider.js";

// The provider and the App's stand-in callback are plain http on 127.0.0.1.
const CALLBACK = "http://127.0.0.1:9/auth-callback"; // never contacted by loginWithHttp (it stops there)
const POST_LOGOUT = "http://127.0.0.1:9/";

let op: OidcTestProvider;
let config: client.Configuration;

beforeAll(async () => {
  op = await startOidcProvider({
    users: {
      "alice-sub": globusLikeUser(
        "alice-sub",
        { email: "alice@uni.example", name: "Alice A", organization: "Uni Example" },
        [{ sub: "alice-cern", email: "alice@cern.example", identity_provider_display_name: "CERN" }],
      ),
      "bob-generic": { email: "bob@lab.example", name: "Bob B", organization: "Lab" },
      "una-unverified": { email: "una@lab.example", emailVerified: false, name: "Una U" },
      "nia-noflag": { email: "nia@lab.example", emailVerified: null, name: "Nia N" },
      "ned-noemail": { name: "Ned N" },
    },
  });
  // As the App learns its own URL only after start-up.
  op.setRedirectUris([CALLBACK]);
  op.setPostLogoutRedirectUris([POST_LOGOUT]);
  config = await client.discovery(new URL(op.issuer), op.clientId, op.clientSecret, undefined, {
    execute: [client.allowInsecureRequests],
  });
});

afterAll(async () => {
  await op?.stop();
});

interface Started {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

async function startAuthorization(scope = "openid profile email"): Promise<Started> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  return { url, verifier, state, nonce };
}

function exchange(s: Started, callbackUrl: string) {
  return client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: s.verifier,
    expectedState: s.state,
    expectedNonce: s.nonce,
    idTokenExpected: true,
  });
}

describe("OIDC test provider with openid-client", () => {
  it("publishes discovery metadata with the endpoints the App uses", () => {
    const md = config.serverMetadata();
    expect(md.issuer).toBe(op.issuer);
    expect(op.metadataUrl).toBe(`${op.issuer}/.well-known/openid-configuration`);
    expect(md.authorization_endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(md.token_endpoint).toBeDefined();
    expect(md.userinfo_endpoint).toBeDefined();
    expect(md.revocation_endpoint).toBeDefined();
    expect(md.end_session_endpoint).toBeDefined();
    expect(md.code_challenge_methods_supported).toEqual(["S256"]);
    expect(md.scopes_supported).toEqual(expect.arrayContaining(["openid", "profile", "email"]));
    expect(md.claims_supported).toEqual(
      expect.arrayContaining(["email", "name", "organization", "identity_set"]),
    );
  });

  it("signs in with PKCE + state + nonce; identity_set is in the ID token and userinfo", async () => {
    const s = await startAuthorization();
    const callback = await op.loginWithHttp(s.url.href, "alice-sub");
    const cb = new URL(callback);
    expect(cb.origin + cb.pathname).toBe(CALLBACK);
    expect(cb.searchParams.get("state")).toBe(s.state);
    expect(cb.searchParams.get("iss")).toBe(op.issuer);
    expect(op.issuedCodes).toContain(cb.searchParams.get("code"));

    const tokens = await exchange(s, callback);
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({
      iss: op.issuer,
      aud: op.clientId,
      sub: "alice-sub",
      nonce: s.nonce,
      email: "alice@uni.example",
      name: "Alice A",
      organization: "Uni Example",
    });
    const ids = claims.identity_set as unknown as IdentitySetEntry[];
    expect(ids.map((i) => i.email)).toEqual(["alice@uni.example", "alice@cern.example"]);
    expect(ids[1]).toMatchObject({ sub: "alice-cern", identity_provider_display_name: "CERN" });
    expect(Object.keys(ids[0]!).sort()).toEqual(
      ["email", "identity_provider_display_name", "name", "sub", "username"].sort(),
    );

    const userinfo = await client.fetchUserInfo(config, tokens.access_token, "alice-sub");
    expect(userinfo).toMatchObject({
      sub: "alice-sub",
      email: "alice@uni.example",
      organization: "Uni Example",
    });
    expect(userinfo.identity_set).toEqual(claims.identity_set);

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect(refreshed.access_token).not.toBe(tokens.access_token);
  });

  it("omits identity_set for an account without one (generic provider)", async () => {
    const s = await startAuthorization();
    const tokens = await exchange(s, await op.loginWithHttp(s.url.href, "bob-generic"));
    expect(tokens.claims()).toMatchObject({ sub: "bob-generic", email: "bob@lab.example" });
    expect(tokens.claims()!.identity_set).toBeUndefined();
  });

  it("When an account asserts an unverified e-mail, an e-mail without the flag or none, then the ID token and userinfo say so", async () => {
    const claimsOf = async (account: string) => {
      const s = await startAuthorization();
      const tokens = await exchange(s, await op.loginWithHttp(s.url.href, account));
      const info = await client.fetchUserInfo(config, tokens.access_token, account);
      return { id: tokens.claims()!, info };
    };
    const una = await claimsOf("una-unverified");
    for (const c of [una.id, una.info])
      expect(c).toMatchObject({ email: "una@lab.example", email_verified: false });
    const nia = await claimsOf("nia-noflag");
    for (const c of [nia.id, nia.info]) {
      expect(c.email).toBe("nia@lab.example");
      expect(c).not.toHaveProperty("email_verified");
    }
    const ned = await claimsOf("ned-noemail");
    for (const c of [ned.id, ned.info]) {
      expect(c).not.toHaveProperty("email");
      expect(c).not.toHaveProperty("email_verified");
      expect(c.name).toBe("Ned N");
    }
  });

  it("refuses a replayed code", async () => {
    const s = await startAuthorization();
    const callback = await op.loginWithHttp(s.url.href, "alice-sub");
    await exchange(s, callback);
    const err = await exchange(s, callback).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(client.ResponseBodyError);
    expect((err as client.ResponseBodyError).error).toBe("invalid_grant");
    // issuedCodes lets a test replay a code it did not see itself
    const code = new URL(callback).searchParams.get("code")!;
    expect(op.issuedCodes.at(-1)).toBe(code);
  });

  it("refuses a code with the wrong PKCE verifier and an unregistered redirect URI", async () => {
    const s = await startAuthorization();
    const callback = await op.loginWithHttp(s.url.href, "alice-sub");
    const err = await exchange({ ...s, verifier: client.randomPKCECodeVerifier() }, callback).catch(
      (e: unknown) => e,
    );
    expect((err as client.ResponseBodyError).error).toBe("invalid_grant");

    const bad = client.buildAuthorizationUrl(config, {
      redirect_uri: "http://127.0.0.1:9/elsewhere",
      scope: "openid",
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: "S256",
    });
    const res = await fetch(bad, { redirect: "manual" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain(
      "redirect_uri did not match any of the client&#39;s registered redirect_uris",
    );
  });

  it("requires PKCE", async () => {
    const url = client.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: "openid", state: "x" });
    const res = await fetch(url, { redirect: "manual" });
    const loc = new URL(res.headers.get("location")!);
    expect(loc.searchParams.get("error")).toBe("invalid_request");
    expect(loc.searchParams.get("error_description")).toMatch(/PKCE/);
  });

  it("returns access_denied with a description when the knob is set, even with a session", async () => {
    const jar = new CookieJar();
    const first = await startAuthorization();
    await exchange(first, await op.loginWithHttp(first.url.href, "alice-sub", { jar }));

    op.denyNextAuthorization({ description: "User declined" });
    const s = await startAuthorization();
    const callback = await op.loginWithHttp(s.url.href, "alice-sub", { jar });
    const cb = new URL(callback);
    expect(cb.searchParams.get("error")).toBe("access_denied");
    expect(cb.searchParams.get("error_description")).toBe("User declined");
    expect(cb.searchParams.get("state")).toBe(s.state);
    const err = await exchange(s, callback).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(client.AuthorizationResponseError);
    expect((err as client.AuthorizationResponseError).error).toBe("access_denied");

    // one-shot: the same session signs in silently next time
    const again = await startAuthorization();
    expect(
      new URL(await op.loginWithHttp(again.url.href, "ignored", { jar })).searchParams.get("code"),
    ).toBeTruthy();
  });

  it("reports an unknown account on the login page", async () => {
    const s = await startAuthorization();
    await expect(op.loginWithHttp(s.url.href, "nobody")).rejects.toThrow(/Unknown account/);
  });

  it("revokes tokens and ends the session (RP-initiated logout)", async () => {
    const jar = new CookieJar();
    const s = await startAuthorization();
    const tokens = await exchange(s, await op.loginWithHttp(s.url.href, "alice-sub", { jar }));

    await client.tokenRevocation(config, tokens.access_token, { token_type_hint: "access_token" });
    await client.tokenRevocation(config, tokens.refresh_token!, { token_type_hint: "refresh_token" });
    expect(op.destroyedTokens.map((t) => t.kind)).toEqual(
      expect.arrayContaining(["AccessToken", "RefreshToken"]),
    );
    const err = await client.fetchUserInfo(config, tokens.access_token, "alice-sub").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    const refreshErr = await client.refreshTokenGrant(config, tokens.refresh_token!).catch((e: unknown) => e);
    expect((refreshErr as client.ResponseBodyError).error).toBe("invalid_grant");

    const before = op.endSessionCount();
    const endUrl = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: POST_LOGOUT,
      state: "bye",
    });
    const final = new URL(await op.logoutWithHttp(endUrl.href, { jar }));
    expect(final.origin + final.pathname).toBe(POST_LOGOUT);
    expect(final.searchParams.get("state")).toBe("bye");
    expect(op.endSessionCount()).toBe(before + 1);

    // the provider session is gone: the next authorization shows the login page again (a silent sign-in
    // would not look at the account name at all)
    const next = await startAuthorization();
    await expect(op.loginWithHttp(next.url.href, "carol", { jar })).rejects.toThrow(/Unknown account/);
  });
});

describe("OIDC test provider in Chromium", () => {
  it("Chromium is installed (apt-get install chromium; .ci/run does it)", () => {
    expect(browserAvailable()).toBe(true);
  });

  it("drives the login page to the App's callback", async () => {
    // A stand-in for the App's /auth-callback: records the query, answers a small page.
    const seen: URL[] = [];
    const server: Server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      seen.push(url);
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(`<!DOCTYPE html><title>callback</title><h1 id="done">Callback received</h1>`);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const callback = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth-callback`;
    op.setRedirectUris([CALLBACK, callback]);

    const browser = await launchBrowser();
    try {
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: callback,
        scope: "openid profile email",
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        state,
        nonce,
      });
      const page = await openPage(browser, url.href);
      await page.waitForSelector("#login");
      await page.fill("#login", "alice-sub");
      await screenshot(page, "oidc-provider-login");
      await page.click("button[type=submit]");
      await page.waitForSelector("#done");
      await screenshot(page, "oidc-provider-callback");

      const landed = new URL(page.url());
      expect(landed.origin + landed.pathname).toBe(callback);
      expect(landed.searchParams.get("state")).toBe(state);
      expect(seen.find((u) => u.pathname === "/auth-callback")?.searchParams.get("code")).toBe(
        landed.searchParams.get("code"),
      );

      const tokens = await client.authorizationCodeGrant(config, landed, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
      });
      expect(tokens.claims()?.email).toBe("alice@uni.example");
    } finally {
      await browser.close();
      op.setRedirectUris([CALLBACK]);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
