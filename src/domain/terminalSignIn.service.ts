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
import type { Logger } from "../logger.js";
import { appError, AppError, forbidden } from "./errors.js";
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

export const MSG_NO_VERIFIED_EMAIL =
  "Your identity provider does not vouch for an e-mail address of yours (no email_verified), so no profile can be made from a terminal. Sign in on the ServiceX website and create your profile there, then sign in from the terminal again.";

export class TerminalSignIn {
  constructor(
    private readonly users: UserService,
    private readonly logger: Logger,
  ) {}

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
