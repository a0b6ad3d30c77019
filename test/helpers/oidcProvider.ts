// A real OpenID Connect provider for tests: the `oidc-provider` package (8.x, the certified Node implementation)
// on 127.0.0.1, plain http, issuer `http://127.0.0.1:<port>`, configured like Globus Auth as the App uses it
// (contract §7.2, A.13): one confidential client, authorization code + PKCE (S256 only, required), scopes
// `openid profile email`, claims `email`, `name`, `organization` and Globus' `identity_set` in both the ID token
// and userinfo, refresh tokens, token revocation and RP-initiated logout (end_session). An account may assert
// an unverified e-mail (`emailVerified: false`), an e-mail without `email_verified` (null) or no e-mail at all.
//
// Sign-in is a tiny HTML page of ours (`#login` text field = the account's sub, `button[type=submit]`); consent
// is granted automatically. A browser can drive it (playwright), and `loginWithHttp` does the same with plain
// fetch and a cookie jar, returning the URL the provider sends the user agent back to (the App's
// `/auth-callback?code=…&state=…&iss=…`).
//
// Terminal sign-in (RFC 8628 device authorization grant, docs/sign-in.md): public clients without a secret
// (`deviceClientId`, and any `deviceClients`) may use the provider's device_authorization_endpoint; the
// verification pages are ours too (`#device-code-form`, `#device-confirm`, `#device-success`), and
// `approveDeviceWithHttp` drives them like a person at a browser would. Token introspection is enabled (any
// confidential client may introspect any token, the package's default policy); `setAccessTokenTtl` shortens
// the lifetime of access tokens issued from then on.
//
// Consumers over plain http: openid-client 6 refuses non-https endpoints unless the configuration is created
// with `execute: [allowInsecureRequests]` (e.g. `discovery(url, id, secret, undefined, { execute:
// [allowInsecureRequests] })`); that is the consumer's business, this helper only serves http.
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** One linked identity, as in Globus' `identity_set` claim. */
export interface IdentitySetEntry {
  sub: string;
  /** null: the identity's provider released no e-mail. */
  email: string | null;
  /** Globus sends none; set it to test an entry that says its e-mail is unverified. */
  email_verified?: boolean;
  name: string;
  username: string;
  identity_provider_display_name: string;
}

/** An account at the provider; the map key (`users`) is its `sub` and what the login form takes. */
export interface OidcUser {
  /** Absent: the provider asserts no e-mail at all (no `email` claim). */
  email?: string;
  /**
   * The `email_verified` claim sent with `email`: default true; false asserts an e-mail the provider did not
   * verify; null sends `email` without `email_verified`.
   */
  emailVerified?: boolean | null;
  name: string;
  organization?: string;
  /** Globus-style linked identities; when absent the claim is omitted (a "generic" provider). */
  identity_set?: IdentitySetEntry[];
}

/**
 * A Globus-like account whose `identity_set` holds the primary identity first, then any `linked` ones.
 * `sub` is used as the primary identity's id.
 */
export function globusLikeUser(
  sub: string,
  user: { email: string; name: string; organization?: string; idp?: string },
  linked: Partial<IdentitySetEntry>[] = [],
): OidcUser {
  const primary: IdentitySetEntry = {
    sub,
    email: user.email,
    name: user.name,
    username: user.email,
    identity_provider_display_name: user.idp ?? user.organization ?? "Test IdP",
  };
  const others = linked.map(
    (l, i): IdentitySetEntry => ({
      sub: l.sub ?? randomUUID(),
      email: l.email === undefined ? `linked${i}-${user.email}` : l.email,
      name: l.name ?? user.name,
      username: l.username ?? l.email ?? `linked${i}-${user.email}`,
      ...(l.email_verified === undefined ? {} : { email_verified: l.email_verified }),
      identity_provider_display_name: l.identity_provider_display_name ?? "Linked IdP",
    }),
  );
  return {
    email: user.email,
    name: user.name,
    ...(user.organization === undefined ? {} : { organization: user.organization }),
    identity_set: [primary, ...others],
  };
}

export interface StartOidcProviderOptions {
  clientId?: string;
  clientSecret?: string;
  /** Allowed redirect URIs (exact match); can also be set later with `setRedirectUris`. */
  redirectUris?: string[];
  /** Allowed `post_logout_redirect_uri`s for end_session; can also be set later. */
  postLogoutRedirectUris?: string[];
  /** Initial accounts (sub → user); the returned `users` map can be changed at any time. */
  users?: Record<string, OidcUser>;
  /** Seconds; default 3600. Can be changed later with `setAccessTokenTtl`. */
  accessTokenTtl?: number;
  /**
   * Public clients (no secret) allowed the device authorization grant; default one,
   * `servicex-device-client`. The first is `deviceClientId`.
   */
  deviceClients?: string[];
}

export interface DenyOptions {
  /** OAuth error code; default `access_denied`. */
  error?: string;
  /** default "The End-User denied the request" */
  description?: string;
}

export interface OidcTestProvider {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  issuer: string;
  /** `<issuer>/.well-known/openid-configuration` */
  metadataUrl: string;
  clientId: string;
  clientSecret: string;
  /** The first public device-flow client (see `deviceClients`). */
  deviceClientId: string;
  /** Accounts by sub; add, change or delete entries at any time. */
  users: Map<string, OidcUser>;
  /** Replace the allowed redirect URIs (e.g. once the App's port is known). */
  setRedirectUris(uris: string[]): void;
  setPostLogoutRedirectUris(uris: string[]): void;
  /**
   * The next authorization request ends with `error` (default `access_denied`) + `error_description` sent to
   * the redirect URI instead of a login page (even when the user agent already has a session).
   */
  denyNextAuthorization(opts?: DenyOptions): void;
  /** Every authorization code issued, oldest first (the values sent to the redirect URI). */
  issuedCodes: string[];
  /** Ids (jti) of access/refresh tokens destroyed, e.g. by revocation or by a replayed code. */
  destroyedTokens: { kind: "AccessToken" | "RefreshToken"; jti: string }[];
  /** How many RP-initiated logouts completed. */
  endSessionCount(): number;
  /**
   * Follows redirects from `startUrl` (the App's sign-in URL or an authorization URL), signs in as `account`
   * on the login page when one is shown, and returns the URL the provider redirects to that matches an
   * allowed redirect URI (the callback with `code`+`state`, or `error`+`error_description`). The jar keeps
   * cookies of every origin visited (the App's session cookie too); pass one to continue the session.
   */
  loginWithHttp(startUrl: string, account: string, opts?: { jar?: CookieJar }): Promise<string>;
  /**
   * Opens an end_session URL, confirms the sign-out (the page's "Yes" button) and returns the final redirect
   * target (the `post_logout_redirect_uri` with `state`, or the provider's success page).
   */
  logoutWithHttp(endSessionUrl: string, opts: { jar: CookieJar }): Promise<string>;
  /**
   * What a person does with a terminal's device code: opens `verificationUrl` (the `verification_uri_complete`
   * of a device authorization, or the bare `verification_uri` with `userCode`), confirms the code, signs in
   * as `account` and approves (or, with `abort`, refuses). Resolves when the provider shows its success page
   * (or the aborted page); throws with the page's message otherwise (unknown or expired code, unknown
   * account).
   */
  approveDeviceWithHttp(
    verificationUrl: string,
    account: string,
    opts?: { userCode?: string; abort?: boolean; jar?: CookieJar },
  ): Promise<"approved" | "aborted">;
  /** Lifetime in seconds of the access tokens issued from now on. */
  setAccessTokenTtl(seconds: number): void;
  stop(): Promise<void>;
}

// ---- minimal typing of the parts of oidc-provider 8 used here (the package ships no types) ----

interface OidcCtx {
  oidc: {
    client?: { clientId: string };
    session?: { accountId?: string; grantIdFor(clientId: string): string | undefined };
    result?: { consent?: { grantId?: string } };
    params?: { scope?: string; claims?: string };
  };
}
interface GrantInstance {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  save(): Promise<string>;
}
interface ProviderInstance {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  on(event: string, listener: (...args: unknown[]) => void): void;
  interactionDetails(
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<{ uid: string; prompt: { name: string; reasons: string[] }; params: Record<string, unknown> }>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    opts?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
  Client: { prototype: Record<string, unknown> };
  Grant: {
    new (init: { accountId: string; clientId: string }): GrantInstance;
    find(id: string): Promise<GrantInstance | undefined>;
  };
}
interface CheckCtor {
  new (reason: string, description: string, check: (ctx: OidcCtx) => boolean): unknown;
}
interface OidcProviderModule {
  default: new (issuer: string, config: Record<string, unknown>) => ProviderInstance;
  interactionPolicy: {
    base(): { get(name: string): { checks: { add(check: unknown): void } } };
    Check: CheckCtor;
  };
}

// A variable specifier keeps tsc from looking for (non-existent) declarations; the shape is typed above.
const OIDC_PROVIDER_MODULE = "oidc-provider";

function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:2em auto;max-width:26em}label,input,button{display:block;margin:.4em 0}
input{width:100%;padding:.3em}button{padding:.4em 1.2em}.error{color:#b00}.hint{color:#666;font-size:.85em}</style>
</head><body>${body}</body></html>`;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

export async function startOidcProvider(opts: StartOidcProviderOptions = {}): Promise<OidcTestProvider> {
  const mod = (await import(OIDC_PROVIDER_MODULE)) as OidcProviderModule;
  const Provider = mod.default;
  const { Check } = mod.interactionPolicy;

  const clientId = opts.clientId ?? "servicex-test-client";
  const clientSecret = opts.clientSecret ?? randomBytes(24).toString("hex");
  const deviceClients = opts.deviceClients?.length ? [...opts.deviceClients] : ["servicex-device-client"];
  let accessTokenTtl = opts.accessTokenTtl ?? 3600;
  const users = new Map<string, OidcUser>(Object.entries(opts.users ?? {}));
  let redirectUris = [...(opts.redirectUris ?? [])];
  let postLogoutRedirectUris = [...(opts.postLogoutRedirectUris ?? [])];
  let deny: Required<DenyOptions> | undefined;
  const issuedCodes: string[] = [];
  const destroyedTokens: OidcTestProvider["destroyedTokens"] = [];
  let endSessions = 0;

  // The issuer contains the port, so listen first and attach the provider afterwards.
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server: Server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), use: "sig", alg: "RS256" };

  // Force the login prompt while a denial is pending, so the denial happens even with an existing session.
  const policy = mod.interactionPolicy.base();
  policy
    .get("login")
    .checks.add(new Check("test_denial", "the test asked to deny the next authorization", () => !!deny));

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        client_name: "ServiceX (test)",
        // oidc-provider accepts client_secret_post too for a client registered with either secret method.
        token_endpoint_auth_method: "client_secret_basic",
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        // Placeholders: the allowed lists are the mutable ones above (see the redirectUriAllowed override).
        redirect_uris: ["http://127.0.0.1/redirect-uri-not-set"],
        post_logout_redirect_uris: ["http://127.0.0.1/post-logout-redirect-uri-not-set"],
      },
      // Terminals: public clients (no secret) of the device authorization grant only.
      ...deviceClients.map((id) => ({
        client_id: id,
        client_name: `Terminal client ${id} (test)`,
        token_endpoint_auth_method: "none",
        grant_types: ["urn:ietf:params:oauth:grant-type:device_code"],
        response_types: [],
        redirect_uris: [],
      })),
    ],
    jwks: { keys: [signingKey] },
    cookies: {
      keys: [randomBytes(32).toString("hex")],
      // Chromium drops SameSite=None cookies that are not Secure, and this is plain http.
      long: { httpOnly: true, sameSite: "lax", signed: true },
      short: { httpOnly: true, sameSite: "lax", signed: true },
    },
    scopes: ["openid", "profile", "email", "offline_access"],
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name", "organization", "preferred_username", "identity_set"],
    },
    // Scope-requested claims in the ID token as well as userinfo (Globus puts identity_set in both).
    conformIdTokenClaims: false,
    pkce: { methods: ["S256"], required: () => true },
    responseTypes: ["code"],
    // oidc-provider 9 revokes the whole grant when one of its tokens is revoked, without a "destroyed"
    // event for the others: the adapter reports those.
    adapter: memoryAdapter((kind, jti) => destroyedTokens.push({ kind, jti })),
    ttl: {
      AccessToken: () => accessTokenTtl,
      AuthorizationCode: 600,
      IdToken: 3600,
      RefreshToken: 86_400,
      Interaction: 3600,
      Session: 86_400,
      Grant: 86_400,
      DeviceCode: 600,
    },
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) =>
      client.grantTypeAllowed("refresh_token"),
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      revocation: { enabled: true },
      introspection: {
        enabled: true,
        // The package's default, stated: a confidential client may introspect any token, a public one its own.
        allowedPolicy: async (
          ctx: { oidc: { client: { clientId: string } } },
          client: { clientAuthMethod: string },
          token: { clientId?: string },
        ) => client.clientAuthMethod !== "none" || token.clientId === ctx.oidc.client.clientId,
      },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: async (
          ctx: { body: string },
          form: string,
          _out: unknown,
          err?: { name?: string; userCode?: string },
        ) => {
          const problem = err
            ? `<p class="error" id="device-error">${esc(err.userCode ? `Unknown or used code ${err.userCode}` : (err.name ?? "error"))}</p>`
            : "";
          ctx.body = page(
            "Enter the code",
            `<h1>Enter the code shown in your terminal</h1>${problem}
<div id="device-code-form">${form}</div>
<button id="device-continue" type="submit" form="op.deviceInputForm">Continue</button>`,
          );
        },
        userCodeConfirmSource: async (
          ctx: { body: string },
          form: string,
          client: { clientId: string },
          _info: unknown,
          userCode: string,
        ) => {
          ctx.body = page(
            "Confirm the code",
            `<h1>Sign in on a terminal</h1>
<p>Client <strong id="device-client">${esc(client.clientId)}</strong> shows the code <code id="device-user-code">${esc(userCode)}</code>.</p>
<div id="device-confirm">${form}</div>
<button id="device-approve" type="submit" form="op.deviceConfirmForm">Continue</button>
<button id="device-abort" type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`,
          );
        },
        successSource: async (ctx: { body: string }) => {
          ctx.body = page("Signed in", `<h1 id="device-success">You may close this page</h1>`);
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx: { body: string }, form: string) => {
          ctx.body = page(
            "Sign out",
            `<h1>Sign out of the test provider?</h1>${form}
<button id="logout" type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button id="stay" type="submit" form="op.logoutForm">No, stay signed in</button>`,
          );
        },
        postLogoutSuccessSource: async (ctx: { body: string }) => {
          ctx.body = page("Signed out", `<h1 id="signed-out">Signed out</h1>`);
        },
      },
    },
    interactions: {
      policy,
      url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}`,
    },
    findAccount: async (_ctx: unknown, sub: string) => {
      const user = users.get(sub);
      if (!user) return undefined;
      return {
        accountId: sub,
        claims: async () => ({
          sub,
          ...(user.email === undefined
            ? {}
            : {
                email: user.email,
                ...(user.emailVerified === null ? {} : { email_verified: user.emailVerified ?? true }),
              }),
          name: user.name,
          preferred_username: user.email ?? sub,
          ...(user.organization === undefined ? {} : { organization: user.organization }),
          ...(user.identity_set === undefined ? {} : { identity_set: user.identity_set }),
        }),
      };
    },
    // Consent is implied: grant whatever OIDC scopes/claims the client asked for.
    loadExistingGrant: async (ctx: OidcCtx) => {
      const { client, session, result, params } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const existing = result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      if (existing) {
        const grant = await provider.Grant.find(existing);
        if (grant) return grant;
      }
      const grant = new provider.Grant({ accountId: session.accountId, clientId: client.clientId });
      grant.addOIDCScope(params?.scope ?? "openid");
      grant.addOIDCClaims([
        "email",
        "email_verified",
        "name",
        "organization",
        "preferred_username",
        "identity_set",
      ]);
      await grant.save();
      return grant;
    },
    renderError: async (ctx: { type: string; body: string }, out: Record<string, string>) => {
      ctx.type = "html";
      ctx.body = page(
        "Error",
        `<h1 id="op-error">${esc(out.error ?? "error")}</h1><p>${esc(out.error_description ?? "")}</p>`,
      );
    },
  });

  // Mutable redirect URI lists (this provider's Client class only).
  const clientProto = provider.Client.prototype;
  clientProto.redirectUriAllowed = (value: string) => redirectUris.includes(value);
  clientProto.postLogoutRedirectUriAllowed = (value: string) => postLogoutRedirectUris.includes(value);

  provider.on("authorization_code.saved", (code) => issuedCodes.push((code as { jti: string }).jti));
  const onDestroyed = (kind: "AccessToken" | "RefreshToken") => (token: unknown) =>
    destroyedTokens.push({ kind, jti: (token as { jti: string }).jti });
  provider.on("access_token.destroyed", onDestroyed("AccessToken"));
  provider.on("refresh_token.destroyed", onDestroyed("RefreshToken"));
  provider.on("end_session.success", () => {
    endSessions++;
  });
  provider.on("server_error", (_ctx, err) => console.error("oidc-provider server_error", err));

  const loginPage = (uid: string, error?: string, login?: string) =>
    page(
      "Sign in",
      `<h1>Test OIDC provider</h1>
${error ? `<p class="error" id="login-error">${esc(error)}</p>` : ""}
<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
<label for="login">Account</label>
<input id="login" name="login" type="text" required autofocus value="${esc(login ?? "")}">
<button type="submit">Sign in</button>
</form>
<p class="hint">Accounts: ${[...users.keys()].map(esc).join(", ") || "(none)"}</p>`,
    );

  const sendHtml = (res: ServerResponse, status: number, html: string) => {
    res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(html);
  };

  const interactions = async (req: IncomingMessage, res: ServerResponse, uid: string, action?: string) => {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) throw new Error("interaction mismatch");
    if (deny) {
      const { error, description } = deny;
      deny = undefined;
      await provider.interactionFinished(
        req,
        res,
        { error, error_description: description },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    if (details.prompt.name !== "login") {
      // Consent is granted by loadExistingGrant; any other prompt is unexpected here.
      sendHtml(res, 500, page("Unexpected prompt", `<p>unexpected prompt ${esc(details.prompt.name)}</p>`));
      return;
    }
    if (req.method === "GET" && action === undefined) {
      sendHtml(res, 200, loginPage(uid));
      return;
    }
    if (req.method === "POST" && action === "login") {
      const login = (await readForm(req)).get("login")?.trim() ?? "";
      if (!users.has(login)) {
        sendHtml(res, 200, loginPage(uid, `Unknown account "${login}"`, login));
        return;
      }
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: login } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    sendHtml(res, 404, page("Not found", "<p>not found</p>"));
  };

  const oidc = provider.callback();
  handler = (req, res) => {
    const m = /^\/interaction\/([^/?]+)(?:\/([a-z]+))?(?:\?.*)?$/.exec(req.url ?? "");
    if (!m) {
      oidc(req, res);
      return;
    }
    interactions(req, res, m[1]!, m[2]).catch((err: unknown) => {
      if (!res.headersSent) {
        sendHtml(res, 400, page("Error", `<p id="op-error">${esc(String(err))}</p>`));
      } else res.end();
    });
  };

  const isRedirectTarget = (url: URL) =>
    redirectUris.some((r) => {
      const u = new URL(r);
      return u.origin === url.origin && u.pathname === url.pathname;
    });

  async function loginWithHttp(startUrl: string, account: string, o: { jar?: CookieJar } = {}) {
    const jar = o.jar ?? new CookieJar();
    let url = new URL(startUrl);
    let method: "GET" | "POST" = "GET";
    let body: URLSearchParams | undefined;
    let loggedIn = false;
    for (let hop = 0; hop < 20; hop++) {
      if (method === "GET" && isRedirectTarget(url)) return url.href;
      const res = await jarFetch(jar, url, method, body);
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        url = new URL(location, url);
        method = "GET";
        body = undefined;
        continue;
      }
      const html = await res.text();
      const action = /<form[^>]*action="([^"]*\/interaction\/[^"]*\/login)"/.exec(html)?.[1];
      if (res.status === 200 && action && !loggedIn) {
        loggedIn = true;
        url = new URL(action.replaceAll("&amp;", "&"), url);
        method = "POST";
        body = new URLSearchParams({ login: account });
        continue;
      }
      const reason = /id="(?:login-error|op-error)"[^>]*>([^<]*)</.exec(html)?.[1];
      throw new Error(
        `loginWithHttp: stopped at ${method} ${url.href} (HTTP ${res.status})${reason ? `: ${reason}` : ""}`,
      );
    }
    throw new Error("loginWithHttp: too many redirects");
  }

  async function logoutWithHttp(endSessionUrl: string, o: { jar: CookieJar }) {
    const { jar } = o;
    let url = new URL(endSessionUrl);
    let method: "GET" | "POST" = "GET";
    let body: URLSearchParams | undefined;
    for (let hop = 0; hop < 10; hop++) {
      if (method === "GET" && url.origin !== issuer) return url.href;
      const res = await jarFetch(jar, url, method, body);
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        url = new URL(location, url);
        method = "GET";
        body = undefined;
        continue;
      }
      const html = await res.text();
      const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
      if (res.status === 200 && form && method === "GET") {
        // The confirmation page (or the auto-submitted form when there is no session): submit it with "yes".
        body = new URLSearchParams({ logout: "yes" });
        for (const [, name, value] of form[2]!.matchAll(
          /<input type="hidden" name="([^"]+)" value="([^"]*)"/g,
        )) {
          if (name !== "logout") body.set(name!, value!.replaceAll("&amp;", "&"));
        }
        url = new URL(form[1]!.replaceAll("&amp;", "&"), url);
        method = "POST";
        continue;
      }
      if (res.status === 200 && html.includes('id="signed-out"')) return url.href;
      throw new Error(`logoutWithHttp: stopped at ${method} ${url.href} (HTTP ${res.status})`);
    }
    throw new Error("logoutWithHttp: too many redirects");
  }

  /** The hidden inputs of the first form in `html`, and its action. */
  const formOf = (html: string) => {
    const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
    if (!form) return undefined;
    const fields = new URLSearchParams();
    for (const [, name, value] of form[2]!.matchAll(
      /<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g,
    )) {
      fields.set(name!, value!.replaceAll("&amp;", "&"));
    }
    return { action: form[1]!.replaceAll("&amp;", "&"), fields };
  };

  async function approveDeviceWithHttp(
    verificationUrl: string,
    account: string,
    o: { userCode?: string; abort?: boolean; jar?: CookieJar } = {},
  ): Promise<"approved" | "aborted"> {
    const jar = o.jar ?? new CookieJar();
    let url = new URL(verificationUrl);
    let method: "GET" | "POST" = "GET";
    let body: URLSearchParams | undefined;
    let loggedIn = false;
    let codeEntered = false;
    for (let hop = 0; hop < 20; hop++) {
      const res = await jarFetch(jar, url, method, body);
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        url = new URL(location, url);
        method = "GET";
        body = undefined;
        continue;
      }
      const html = await res.text();
      if (res.status === 200 && html.includes('id="device-success"')) return "approved";
      if (o.abort && html.includes('id="device-error"') && html.includes("AbortedError")) return "aborted";
      const login = /<form[^>]*action="([^"]*\/interaction\/[^"]*\/login)"/.exec(html)?.[1];
      if (res.status === 200 && login && !loggedIn) {
        loggedIn = true;
        url = new URL(login.replaceAll("&amp;", "&"), url);
        method = "POST";
        body = new URLSearchParams({ login: account });
        continue;
      }
      const form = formOf(html);
      if (res.status === 200 && form && html.includes('id="device-confirm"')) {
        // The confirmation page: approve, or abort.
        if (o.abort) {
          form.fields.delete("confirm");
          form.fields.set("abort", "yes");
        }
        url = new URL(form.action, url);
        method = "POST";
        body = form.fields;
        continue;
      }
      if (res.status === 200 && form && html.includes('id="device-code-form"') && !codeEntered) {
        // The bare verification page: type the code.
        if (!o.userCode) throw new Error("approveDeviceWithHttp: the page asks for the code; pass userCode");
        codeEntered = true;
        form.fields.set("user_code", o.userCode);
        url = new URL(form.action, url);
        method = "POST";
        body = form.fields;
        continue;
      }
      if (res.status === 200 && form && /Submitting Callback/.test(html)) {
        // verification_uri_complete: the provider's self-submitting form with the code.
        url = new URL(form.action, url);
        method = "POST";
        body = form.fields;
        continue;
      }
      const reason = /id="(?:login-error|op-error|device-error)"[^>]*>([^<]*)</.exec(html)?.[1];
      throw new Error(
        `approveDeviceWithHttp: stopped at ${method} ${url.href} (HTTP ${res.status})${reason ? `: ${reason}` : ""}`,
      );
    }
    throw new Error("approveDeviceWithHttp: too many redirects");
  }

  return {
    issuer,
    metadataUrl: `${issuer}/.well-known/openid-configuration`,
    clientId,
    clientSecret,
    deviceClientId: deviceClients[0]!,
    users,
    setRedirectUris(uris) {
      redirectUris = [...uris];
    },
    setPostLogoutRedirectUris(uris) {
      postLogoutRedirectUris = [...uris];
    },
    denyNextAuthorization(o = {}) {
      deny = {
        error: o.error ?? "access_denied",
        description: o.description ?? "The End-User denied the request",
      };
    },
    issuedCodes,
    destroyedTokens,
    endSessionCount: () => endSessions,
    loginWithHttp,
    logoutWithHttp,
    approveDeviceWithHttp,
    setAccessTokenTtl(seconds) {
      accessTokenTtl = seconds;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type StoredPayload = Record<string, unknown> & { uid?: string; userCode?: string; grantId?: string };

/**
 * oidc-provider's storage for one provider instance (its built-in one is process-wide and warns): models by
 * name and id in a Map, with expiry and the lookups the provider needs (by uid, user code, grant).
 */
function memoryAdapter(onRevoked: (kind: "AccessToken" | "RefreshToken", jti: string) => void) {
  const store = new Map<string, { payload: StoredPayload; expiresAt: number | undefined }>();
  const byUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();
  const byGrant = new Map<string, Set<string>>();
  const get = (key: string | undefined) => {
    if (key === undefined) return undefined;
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };
  return class MemoryAdapter {
    constructor(private readonly model: string) {}
    private key(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: StoredPayload, expiresIn?: number) {
      const key = this.key(id);
      store.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
      if (payload.uid) byUid.set(payload.uid, key);
      if (payload.userCode) byUserCode.set(payload.userCode, key);
      if (payload.grantId) {
        const keys = byGrant.get(payload.grantId) ?? new Set<string>();
        keys.add(key);
        byGrant.set(payload.grantId, keys);
      }
    }
    async find(id: string) {
      return get(this.key(id));
    }
    async findByUid(uid: string) {
      return get(byUid.get(uid));
    }
    async findByUserCode(userCode: string) {
      return get(byUserCode.get(userCode));
    }
    async consume(id: string) {
      const payload = get(this.key(id));
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      store.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const key of byGrant.get(grantId) ?? []) {
        const model = key.slice(0, key.indexOf(":"));
        if ((model === "AccessToken" || model === "RefreshToken") && store.has(key)) {
          onRevoked(model, key.slice(model.length + 1));
        }
        store.delete(key);
      }
      byGrant.delete(grantId);
    }
  };
}

async function jarFetch(jar: CookieJar, url: URL, method: "GET" | "POST", body?: URLSearchParams) {
  const headers: Record<string, string> = {};
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  if (body) headers["content-type"] = "application/x-www-form-urlencoded";
  const res = await fetch(url, { method, headers, body: body?.toString(), redirect: "manual" });
  jar.store(url, res.headers.getSetCookie());
  return res;
}

/**
 * A minimal cookie jar for fetch: cookies are kept per origin (host and port, stricter than browsers) and
 * path; expiry via Max-Age/Expires is honoured; Secure/SameSite/Domain are ignored (everything is
 * 127.0.0.1 over http).
 */
export class CookieJar {
  private readonly cookies = new Map<string, { origin: string; path: string; name: string; value: string }>();

  store(url: URL, setCookieHeaders: string[]): void {
    for (const header of setCookieHeaders) {
      const [pair = "", ...attrs] = header.split(";");
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = url.pathname.replace(/\/[^/]*$/, "") || "/";
      let expired = false;
      for (const attr of attrs) {
        const [k = "", v = ""] = attr.split("=").map((s) => s.trim());
        const key = k.toLowerCase();
        if (key === "path" && v.startsWith("/")) path = v;
        else if (key === "max-age" && Number(v) <= 0) expired = true;
        else if (key === "expires" && Date.parse(v) <= Date.now()) expired = true;
      }
      const id = `${url.origin} ${path} ${name}`;
      if (expired) this.cookies.delete(id);
      else this.cookies.set(id, { origin: url.origin, path, name, value });
    }
  }

  header(url: URL): string {
    const parts: string[] = [];
    for (const c of this.cookies.values()) {
      if (c.origin !== url.origin) continue;
      const inPath =
        url.pathname === c.path || url.pathname.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`);
      if (inPath) parts.push(`${c.name}=${c.value}`);
    }
    return parts.join("; ");
  }

  /** The value of cookie `name` for `url`, if any. */
  get(url: URL | string, name: string): string | undefined {
    const u = typeof url === "string" ? new URL(url) : url;
    for (const c of this.cookies.values()) if (c.origin === u.origin && c.name === name) return c.value;
    return undefined;
  }
}
