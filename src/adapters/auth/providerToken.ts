// Sign-in from a terminal (docs/sign-in.md "Signing in from a terminal", docs/decisions.md D34): the identity
// behind an access token that the site's OIDC provider issued to a terminal (device authorization grant,
// RFC 8628). The token is checked by the provider itself, never decoded here: the provider's userinfo
// endpoint answers only for a live token (unexpired, unrevoked, with the `openid` scope) and returns the
// claims the browser sign-in also reads. With introspection on, the token is first introspected as the
// App's confidential client and accepted only when it was issued to one of the allowed clients, so a token
// that another application at the same provider obtained for the person cannot be traded in.
import * as oidc from "openid-client";
import { appError } from "../../domain/errors.js";
import type { Logger } from "../../logger.js";
import { GLOBUS_ISSUER, type OidcProviderKind, type SignedInIdentity, identityFromClaims } from "./oidc.js";

export interface ProviderTokenOptions {
  /** OAUTH_METADATA_URL: the discovery document, or the issuer URL. */
  metadataUrl: string;
  provider?: OidcProviderKind;
  /** OAUTH_DEVICE_FLOW_CLIENT_ID: the public client terminals use (no secret). */
  deviceClientId: string;
  /** OAUTH_TOKEN_INTROSPECTION: the App's confidential client and the clients whose tokens are accepted. */
  introspection?: { clientId: string; clientSecret: string; allowedClients: readonly string[] };
  /** Seconds per call to the provider. */
  timeoutSeconds?: number;
  logger?: Logger;
}

/** The identity a provider token stands for, under the claim rules of docs/sign-in.md. */
export type ProviderIdentity = Omit<SignedInIdentity, "tokens">;

/** The token was refused by the provider (or by the introspection check): the caller's problem, 401. */
export const providerTokenRefused = (why: string) => appError("provider_token_refused", { why });

/** The provider could not be asked (down, timing out, answering 5xx or nonsense): retry later, 503. */
export const providerUnavailable = (why: string) => appError("provider_unavailable", { why });

/**
 * The URL of the discovery document that `metadataUrl` names, by the rule openid-client's discovery
 * applies: a URL without `/.well-known/` is an issuer, and the OpenID Connect well-known path is appended.
 */
export function discoveryDocumentUrl(metadataUrl: string): string {
  const url = new URL(metadataUrl);
  if (url.pathname.includes("/.well-known/")) return url.href;
  url.pathname = `${url.pathname.replace(/\/$/, "")}/.well-known/openid-configuration`;
  return url.href;
}

/** The HTTP status a failed provider call carries, if the provider answered at all. */
function statusOf(err: unknown): number | undefined {
  for (let e = err, depth = 0; e && typeof e === "object" && depth < 4; depth++) {
    const status = (e as { status?: unknown }).status;
    if (typeof status === "number") return status;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The provider's reason (RFC 6750 error_description), or the error's message. */
function reasonOf(err: unknown): string {
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    const c = err.cause[0];
    const desc = c?.parameters.error_description ?? c?.parameters.error;
    if (desc) return desc;
  }
  if (err instanceof oidc.ResponseBodyError) return err.error_description ?? err.error;
  return err instanceof Error ? err.message : String(err);
}

export class ProviderTokens {
  private config: Promise<oidc.Configuration> | null = null;
  readonly kind: OidcProviderKind;

  constructor(private readonly o: ProviderTokenOptions) {
    this.kind =
      o.provider ??
      (new URL(o.metadataUrl).hostname === new URL(GLOBUS_ISSUER).hostname ? "globus" : "generic");
  }

  /** The discovery document URL terminals read (advertised by /device-flow-info). */
  get discoveryUrl(): string {
    return discoveryDocumentUrl(this.o.metadataUrl);
  }

  get deviceClientId(): string {
    return this.o.deviceClientId;
  }

  /** Discovery, cached; a failure is not cached (the next call retries). */
  private configuration(): Promise<oidc.Configuration> {
    if (!this.config) {
      const url = new URL(this.o.metadataUrl);
      const insecure = url.protocol === "http:";
      const i = this.o.introspection;
      const options = {
        timeout: this.o.timeoutSeconds ?? 10,
        ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
      };
      this.config = (
        i
          ? oidc.discovery(url, i.clientId, i.clientSecret, undefined, options)
          : oidc.discovery(url, this.o.deviceClientId, undefined, oidc.None(), options)
      ).catch((err: unknown) => {
        this.config = null;
        throw err;
      });
    }
    return this.config;
  }

  /**
   * The identity behind `accessToken`, as the provider describes it. Throws 401 (`provider_token_refused`)
   * when the provider refuses the token, 503 (`provider_unavailable`) when it cannot be asked.
   */
  async identity(accessToken: string): Promise<ProviderIdentity> {
    let config: oidc.Configuration;
    try {
      config = await this.configuration();
    } catch (err) {
      this.o.logger?.warn({ err: String(err) }, "provider discovery failed");
      throw providerUnavailable("its discovery document could not be read");
    }
    const metadata = config.serverMetadata();
    let introspectedSub: string | undefined;
    if (this.o.introspection) {
      introspectedSub = await this.introspect(config, accessToken, this.o.introspection.allowedClients);
    }
    if (!metadata.userinfo_endpoint) throw providerUnavailable("it publishes no userinfo endpoint");
    let info: Record<string, unknown>;
    try {
      info = { ...(await oidc.fetchUserInfo(config, accessToken, oidc.skipSubjectCheck)) };
    } catch (err) {
      const status = statusOf(err);
      if (status !== undefined && status >= 400 && status < 500) throw providerTokenRefused(reasonOf(err));
      this.o.logger?.warn({ err: String(err), status }, "userinfo call failed");
      throw providerUnavailable(
        status ? `userinfo answered HTTP ${status}` : "userinfo could not be reached",
      );
    }
    if (introspectedSub !== undefined && info.sub !== introspectedSub) {
      throw providerTokenRefused("userinfo and introspection name different subjects");
    }
    // userinfo speaks for the issuer whose discovery document named it; its own `iss`, if any, is not used.
    try {
      return identityFromClaims({ ...info, iss: metadata.issuer }, this.kind);
    } catch {
      throw providerUnavailable("userinfo returned no subject");
    }
  }

  /** RFC 7662 introspection: the token is active and was issued to an allowed client; returns its `sub`. */
  private async introspect(
    config: oidc.Configuration,
    token: string,
    allowed: readonly string[],
  ): Promise<string | undefined> {
    if (!config.serverMetadata().introspection_endpoint) {
      throw providerUnavailable("it publishes no introspection endpoint (OAUTH_TOKEN_INTROSPECTION)");
    }
    let r: oidc.IntrospectionResponse;
    try {
      r = await oidc.tokenIntrospection(config, token, { token_type_hint: "access_token" });
    } catch (err) {
      const status = statusOf(err);
      this.o.logger?.warn({ err: String(err), status }, "token introspection failed");
      throw providerUnavailable(status ? `introspection answered HTTP ${status}` : "introspection failed");
    }
    if (r.active !== true) throw providerTokenRefused("it is not active (expired, revoked or unknown)");
    if (typeof r.client_id !== "string" || !allowed.includes(r.client_id)) {
      throw providerTokenRefused("it was issued to another application");
    }
    return typeof r.sub === "string" ? r.sub : undefined;
  }
}
