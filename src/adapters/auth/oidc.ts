// Sign-in with any OIDC provider (docs/sign-in.md, docs/decisions.md D13) through openid-client 6: discovery from
// OAUTH_METADATA_URL (or Globus's issuer), authorization code with PKCE (S256), state and nonce, exact
// redirect URI, claims from the ID token (plus userinfo), Globus `identity_set`, token revocation and
// RP-initiated logout when the provider publishes the endpoints.
//
// What the App relies on (docs/sign-in.md): the account is keyed by the issuer and subject; an e-mail is
// "verified" only when the provider vouches for it — `email_verified === true` for a generic provider; for
// Globus, the e-mails of the `identity_set` entries (identities the user authenticated with and linked to the
// account), unless an entry says `email_verified: false`.
import * as oidc from "openid-client";
import type { Logger } from "../../logger.js";

export const GLOBUS_ISSUER = "https://auth.globus.org";

/**
 * `globus`: `identity_set` is Globus's list of linked identities (their subjects match the account, their
 * e-mails are vouched for); `generic`: `identity_set` is ignored and only `email_verified === true` counts.
 */
export type OidcProviderKind = "globus" | "generic";

export interface OidcOptions {
  /** Discovery document URL, or an issuer URL (the well-known path is appended). */
  metadataUrl: string;
  /** Default: `globus` when the metadata URL is Globus's, else `generic`. */
  provider?: OidcProviderKind;
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
  /** The ID token's issuer (checked against the discovery document). */
  iss: string;
  sub: string;
  /**
   * Every subject of this person at `iss` that may key an account: `sub` first, then (Globus) the ids of the
   * linked identities in `identity_set`.
   */
  subjects: string[];
  /** The e-mail the provider asserts, verified or not (only for pre-filling the profile form). */
  email: string | null;
  /** E-mails the provider vouches for (lowercase, `email` first when it is one): the only ones used to match. */
  verifiedEmails: string[];
  name: string | null;
  organization: string | null;
  tokens: { accessToken: string; refreshToken?: string; idToken?: string };
}

/** The identity the provider's claims describe, under the rules in the header of this file. */
export function identityFromClaims(
  claims: Record<string, unknown>,
  kind: OidcProviderKind,
): Omit<SignedInIdentity, "tokens"> {
  const str = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.trim() : null);
  const sub = str(claims.sub);
  const iss = str(claims.iss);
  if (!sub || !iss) throw new Error("the ID token has no issuer or subject");
  const email = str(claims.email);
  const verified: string[] = [];
  const subjects = [sub];
  if (email && claims.email_verified === true) verified.push(email);
  if (kind === "globus" && Array.isArray(claims.identity_set)) {
    for (const entry of claims.identity_set as unknown[]) {
      if (!entry || typeof entry !== "object") continue;
      const i = entry as Record<string, unknown>;
      const id = str(i.sub);
      if (id && !subjects.includes(id)) subjects.push(id);
      const e = str(i.email);
      if (e && i.email_verified !== false) verified.push(e);
    }
  }
  const lower = [...new Set(verified.map((e) => e.toLowerCase()))];
  // The asserted e-mail first when it is vouched for (it pre-fills the form).
  const first = email?.toLowerCase();
  const verifiedEmails =
    first && lower.includes(first) ? [first, ...lower.filter((e) => e !== first)] : lower;
  return {
    iss,
    sub,
    subjects,
    email,
    verifiedEmails,
    name: str(claims.name),
    organization: str(claims.organization) ?? str(claims.institution),
  };
}

export class OidcClient {
  private config: Promise<oidc.Configuration> | null = null;

  readonly kind: OidcProviderKind;

  constructor(private readonly o: OidcOptions) {
    this.kind =
      o.provider ??
      (new URL(o.metadataUrl).hostname === new URL(GLOBUS_ISSUER).hostname ? "globus" : "generic");
  }

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
    const idClaims: Record<string, unknown> = { ...(tokens.claims() ?? {}) };
    const claims: Record<string, unknown> = { ...idClaims };
    try {
      const info = await oidc.fetchUserInfo(config, tokens.access_token, String(claims.sub));
      for (const [k, v] of Object.entries(info)) if (claims[k] === undefined) claims[k] = v;
      // `email_verified` speaks of the `email` beside it: never pair the ID token's e-mail with userinfo's flag.
      if (idClaims.email !== undefined) claims.email_verified = idClaims.email_verified;
    } catch (err) {
      this.o.logger?.warn({ err: String(err) }, "userinfo unavailable; using the ID token's claims");
    }
    return {
      ...identityFromClaims(claims, this.kind),
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
