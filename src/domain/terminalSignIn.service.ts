// Sign-in from a terminal (docs/sign-in.md "Signing in from a terminal", docs/decisions.md D34): the identity
// of a provider access token (checked by the provider, src/adapters/auth/providerToken.ts) is traded for the
// person's ServiceX API token under the browser sign-in's rules, through the same UserService calls:
// - the account is the one keyed by the provider's issuer and subject (never one found by e-mail);
// - an account provisioned for the subject, or by a vouched-for e-mail and never signed in to, is claimed;
// - a new account needs an e-mail the provider vouches for (there is no profile form here to pick one): a
//   person whose provider vouches for none creates the profile on the website first (403 until then);
// - JWT_ADMIN (vouched for) gives an approved admin, OAUTH_ALLOW_ALL_AFTER_AUTH approves, anyone else waits
//   for approval; a pending user gets the token anyway, as the profile page and servicex.yaml give it, and
//   the API refuses it until an admin approves (docs/api.md).
// The token is the account's current one (re-created from its record, not rotated), so the servicex.yaml
// the person already has keeps working.
// The HTTP routes (GET /device-flow-info, GET /bearer-token-exchange, docs/api.md) call deviceFlowInfo() and
// exchangeProviderToken(); both answer 404 unless the provider's token check is configured.
import type { Logger } from "../logger.js";
import { appError, AppError, forbidden, notFound } from "./errors.js";
import type { SignInIdentity, UserService } from "./users.service.js";

export interface TerminalIdentity extends SignInIdentity {
  name: string | null;
  organization: string | null;
}

export interface TerminalSignInResult {
  /** The API token (the refresh token of servicex.yaml). */
  token: string;
  email: string;
  pending: boolean;
  admin: boolean;
  /** True when this call created (or claimed) the account. */
  created: boolean;
}

/**
 * The provider's side (src/adapters/auth/providerToken.ts): the public client terminals use, the discovery
 * document they read, and the identity behind one of their access tokens (401 refused, 503 unreachable).
 */
export interface ProviderTokenCheck {
  readonly deviceClientId: string;
  readonly discoveryUrl: string;
  identity(accessToken: string): Promise<TerminalIdentity>;
}

export interface TerminalSignInOptions {
  /** ENABLE_AUTH: only says, when the provider is not configured, why (a client then needs no token). */
  authEnabled: boolean;
}

const NOT_CONFIGURED = "Device auth flow not configured";

/** The provider's access token of an `Authorization: Bearer <token>` value; anything else is a 401. */
function providerAccessToken(authorization: string | undefined): string {
  if (authorization === undefined || authorization.trim() === "") {
    throw appError("missing_authorization", {
      detail: "No bearer token provided: send Authorization: Bearer <access token of the identity provider>",
    });
  }
  const m = /^Bearer[ ]+([\x21-\x7e]{1,8192})$/i.exec(authorization.trim());
  if (!m) {
    throw appError("bad_authorization");
  }
  return m[1]!;
}

export const MSG_NO_VERIFIED_EMAIL =
  "Your identity provider does not vouch for an e-mail address of yours (no email_verified), so no profile can be made from a terminal. Sign in on the ServiceX website and create your profile there, then sign in from the terminal again.";

export class TerminalSignIn {
  constructor(
    private readonly users: UserService,
    private readonly logger: Logger,
    /** Null unless ENABLE_AUTH, OAUTH_METADATA_URL and OAUTH_DEVICE_FLOW_CLIENT_ID are set. */
    private readonly provider: ProviderTokenCheck | null = null,
    private readonly o: TerminalSignInOptions = { authEnabled: true },
  ) {}

  private configured(): ProviderTokenCheck {
    if (this.provider) return this.provider;
    throw notFound(
      this.o.authEnabled
        ? NOT_CONFIGURED
        : `${NOT_CONFIGURED}: authentication is disabled on this instance, the client needs no token`,
      "device_flow_not_configured",
    );
  }

  /** GET /device-flow-info: where a terminal signs in. */
  deviceFlowInfo(): { deviceClientId: string; discoveryUrl: string } {
    const p = this.configured();
    return { deviceClientId: p.deviceClientId, discoveryUrl: p.discoveryUrl };
  }

  /**
   * GET /bearer-token-exchange: the `Authorization` value's provider access token, checked by the provider,
   * traded for the person's API token (see exchange()).
   */
  async exchangeProviderToken(authorization: string | undefined): Promise<TerminalSignInResult> {
    const provider = this.configured();
    const identity = await provider.identity(providerAccessToken(authorization));
    return this.exchange(identity);
  }

  async exchange(id: TerminalIdentity): Promise<TerminalSignInResult> {
    const existing = await this.users.signIn(id);
    if (existing?.refreshToken) return this.result(existing.id, false);
    const email = id.verifiedEmails[0];
    if (!email) throw forbidden(MSG_NO_VERIFIED_EMAIL, "unverified_email");
    try {
      const user = await this.users.createProfile({
        iss: id.iss,
        sub: id.sub,
        subjects: id.subjects,
        verifiedEmails: id.verifiedEmails,
        email,
        name: id.name ?? email,
        institution: id.organization ?? "",
        experiment: "",
      });
      this.logger.info({ email: user.email, pending: user.pending }, "profile created from a terminal");
      return await this.result(user.id, true);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.code === "sub_taken") {
        // Two terminals of the same person at once: the other one made the account.
        const again = await this.users.signIn(id);
        if (again?.refreshToken) return this.result(again.id, false);
      }
      if (err.code === "email_taken") {
        throw appError("email_taken", {
          detail: `An account with e-mail ${email} exists but belongs to another sign-in identity: sign in with that identity, or ask an administrator`,
        });
      }
      throw err;
    }
  }

  private async result(userId: number, created: boolean): Promise<TerminalSignInResult> {
    const token = await this.users.currentApiToken(userId);
    const user = await this.users.repo.byId(userId);
    if (!user) throw appError("user_deleted_meanwhile");
    return { token, email: user.email, pending: user.pending, admin: user.admin, created };
  }
}
