// Sign-in with any OIDC provider (contract A.13, §7.2) through openid-client 6: discovery from
// OAUTH_METADATA_URL (or Globus's issuer), authorization code with PKCE (S256), state and nonce, exact
// redirect URI, claims from the ID token (plus userinfo), Globus `identity_set`, token revocation and
// RP-initiated logout when the provider publishes the endpoints.
import * as oidc from "openid-client";
import type { Logger } from "../../logger.js";

export const GLOBUS_ISSUER = "https://auth.globus.org";

export interface OidcOptions {
  /** Discovery document URL, or an issuer URL (the well-known path is appended). */
  metadataUrl: string;
  clientId: string;
  clientSecret: string;
  logger?: Logger;
}

/** What the browser session keeps between /sign-in and /auth-callback. */
export interface PendingAuthorization {
  state: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
}

export interface SignedInIdentity {
  sub: string;
  email: string | null;
  name: string | null;
  organization: string | null;
  /** Every e-mail the person can be matched by: Globus identity_set e-mails (linked identities), or [email]. */
  emails: string[];
  tokens: { accessToken: string; refreshToken?: string; idToken?: string };
}

export class OidcClient {
  private config: Promise<oidc.Configuration> | null = null;

  constructor(private readonly o: OidcOptions) {}

  /** Discovery, cached; a failure is not cached (the next sign-in retries). */
  private configuration(): Promise<oidc.Configuration> {
    if (!this.config) {
      const url = new URL(this.o.metadataUrl);
      const insecure = url.protocol === "http:";
      this.config = oidc
        .discovery(
          url,
          this.o.clientId,
          this.o.clientSecret,
          undefined,
          insecure ? { execute: [oidc.allowInsecureRequests], timeout: 10 } : { timeout: 10 },
        )
        .catch((err: unknown) => {
          this.config = null;
          throw err;
        });
    }
    return this.config;
  }

  async start(redirectUri: string): Promise<{ url: string; pending: PendingAuthorization }> {
    const config = await this.configuration();
    const verifier = oidc.randomPKCECodeVerifier();
    const pending: PendingAuthorization = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      verifier,
      redirectUri,
    };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: "openid profile email",
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state: pending.state,
      nonce: pending.nonce,
    });
    return { url: url.href, pending };
  }

  /** Exchanges the code of `callbackUrl` after checking state, nonce and the PKCE verifier. */
  async finish(callbackUrl: URL, pending: PendingAuthorization): Promise<SignedInIdentity> {
    const config = await this.configuration();
    const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const claims: Record<string, unknown> = { ...(tokens.claims() ?? {}) };
    try {
      const info = await oidc.fetchUserInfo(config, tokens.access_token, String(claims.sub));
      for (const [k, v] of Object.entries(info)) if (claims[k] === undefined) claims[k] = v;
    } catch (err) {
      this.o.logger?.warn({ err: String(err) }, "userinfo unavailable; using the ID token's claims");
    }
    const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
    const email = str(claims.email);
    const idSet = Array.isArray(claims.identity_set)
      ? (claims.identity_set as Array<Record<string, unknown>>)
      : [];
    const emails = [
      ...(email ? [email] : []),
      ...idSet.map((i) => str(i.email)).filter((e): e is string => e !== null),
    ];
    return {
      sub: String(claims.sub),
      email,
      name: str(claims.name),
      organization: str(claims.organization) ?? str(claims.institution),
      emails: [...new Set(emails.map((e) => e.toLowerCase()))],
      tokens: {
        accessToken: tokens.access_token,
        ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
        ...(tokens.id_token ? { idToken: tokens.id_token } : {}),
      },
    };
  }

  /** Revokes what the provider lets us revoke; errors are logged, never thrown (sign-out must finish). */
  async revoke(tokens: { accessToken?: string; refreshToken?: string }): Promise<void> {
    let config: oidc.Configuration;
    try {
      config = await this.configuration();
    } catch {
      return;
    }
    if (!config.serverMetadata().revocation_endpoint) return;
    for (const t of [tokens.refreshToken, tokens.accessToken]) {
      if (!t) continue;
      await oidc.tokenRevocation(config, t).catch((err: unknown) => {
        this.o.logger?.warn({ err: String(err) }, "token revocation failed");
      });
    }
  }

  /** The provider's logout URL (RP-initiated logout), or null when it publishes none. */
  async endSessionUrl(postLogoutRedirectUri: string, idTokenHint?: string): Promise<string | null> {
    let config: oidc.Configuration;
    try {
      config = await this.configuration();
    } catch {
      return null;
    }
    if (!config.serverMetadata().end_session_endpoint) return null;
    return oidc.buildEndSessionUrl(config, {
      post_logout_redirect_uri: postLogoutRedirectUri,
      ...(idTokenHint ? { id_token_hint: idTokenHint } : {}),
    }).href;
  }
}
