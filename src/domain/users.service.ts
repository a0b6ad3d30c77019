// Users, approval and API tokens (contract §2.2, §2.5, §2.6, §7.3, A.5, A.8, A.9): one service shared by the
// admin API, the web pages, the Slack buttons and the user CLI, so every path applies the same rules.
import type { JwtService, TokenRecord } from "../adapters/auth/jwt.js";
import { decodeTokenRecord, encodeTokenRecord, storedJti } from "../adapters/auth/jwt.js";
import type { NewUser, UserRecord, UsersRepo } from "../adapters/repositories/users.repo.js";
import type { Logger } from "../logger.js";
import { AppError, notFound } from "./errors.js";
import type { Notifier } from "./ports.js";

export const MSG_DELETED =
  "Not Authorized: No user found matching this API token. Your account may have been deleted. Please visit the ServiceX website to obtain a new API token.";
export const MSG_PENDING =
  "Not Authorized: Your account is still pending. An administrator should approve it shortly. If not, please contact the ServiceX admins via email or Slack.";
export const MSG_ADMIN_ONLY = "Not Authorized: This resource is restricted to administrators.";

export const unauthorized = (message: string, code = "unauthorized") =>
  new AppError(code, message, 401, { message });

export interface UserServiceOptions {
  /** JWT_ADMIN: the e-mail that becomes admin (and approved) at sign-up. */
  adminEmail?: string;
  /** OAUTH_ALLOW_ALL_AFTER_AUTH: no pending state for anyone. */
  allowAllAfterAuth?: boolean;
  /** How long a resolved user is reused by the bearer-token check (≤ 5 s keeps approval/deletion prompt). */
  cacheMs?: number;
}

export interface ProfileInput {
  /**
   * E-mails the identity provider vouches for (lowercase). When any are given, the profile's e-mail must be
   * one of them: the JWT_ADMIN rule and claiming a pre-provisioned account rest on it, and sign-in matches
   * users by e-mail, so a typed-in address would let one person take another's account.
   */
  verifiedEmails: readonly string[];
  sub: string;
  email: string;
  name: string;
  institution: string;
  experiment: string;
}

/** True when the provider vouches for `email`; with no e-mails from the provider nothing is verified. */
function verifiedEmail(email: string, verified: readonly string[]): boolean {
  return verified.includes(email.toLowerCase());
}

export const unverifiedEmail = (verified: readonly string[]) =>
  new AppError(
    "unverified_email",
    `Use an e-mail address of your sign-in identity (${verified.join(", ")})`,
    422,
  );

export class UserService {
  private readonly cache = new Map<string, { user: UserRecord | null; at: number }>();

  constructor(
    readonly repo: UsersRepo,
    private readonly jwt: JwtService | null,
    private readonly notifier: Notifier,
    private readonly logger: Logger,
    private readonly o: UserServiceOptions = {},
  ) {}

  private get tokens(): JwtService {
    if (!this.jwt) throw new AppError("auth_disabled", "Authentication is disabled on this instance", 400);
    return this.jwt;
  }

  private isAdminEmail(email: string): boolean {
    return !!this.o.adminEmail && email.toLowerCase() === this.o.adminEmail.toLowerCase();
  }

  /** The user a token's `sub` names: by e-mail (newest upstream), else by subject id (older tokens). */
  async byIdentity(identity: string): Promise<UserRecord | null> {
    return (await this.repo.byEmail(identity)) ?? (await this.repo.bySub(identity));
  }

  /** byIdentity with a short cache for the per-request bearer check. */
  private async cachedByIdentity(identity: string): Promise<UserRecord | null> {
    const ttl = this.o.cacheMs ?? 2_000;
    const hit = this.cache.get(identity);
    const now = Date.now();
    if (hit && now - hit.at < ttl) return hit.user;
    const user = await this.byIdentity(identity);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(identity, { user, at: now });
    return user;
  }

  private forget(user: { email: string; sub: string }): void {
    this.cache.delete(user.email);
    this.cache.delete(user.sub);
  }

  /** auth_required with a bearer token (§2.2): the approved user, or the exact 401/422 answers. */
  async userForAccessToken(token: string): Promise<UserRecord> {
    const claims = this.tokens.verify(token, "access");
    const user = await this.cachedByIdentity(claims.sub);
    if (!user) throw unauthorized(MSG_DELETED, "user_deleted");
    if (user.pending) throw unauthorized(MSG_PENDING, "user_pending");
    return user;
  }

  /** POST /token/refresh (§2.5): a new access token for the holder of the user's latest refresh token. */
  async refresh(token: string): Promise<string> {
    const claims = this.tokens.verify(token, "refresh");
    const user = await this.byIdentity(claims.sub);
    if (!user) throw unauthorized(MSG_DELETED, "user_deleted"); // A.9: upstream answered 500 (#535)
    if (storedJti(user.refreshToken) !== claims.jti) {
      throw unauthorized("Invalid or outdated refresh token", "outdated_refresh_token");
    }
    return this.tokens.issue("access", user.email).token;
  }

  /** A new API token for the user; the previous one stops working (jti check). */
  async rotateApiToken(userId: number): Promise<string> {
    const user = await this.repo.byId(userId);
    if (!user) throw notFound(`user ${userId} not found`);
    const { token, record } = this.tokens.issue("refresh", user.email);
    await this.repo.update(user.id, { refreshToken: encodeTokenRecord(record) });
    return token;
  }

  /**
   * The user's current API token for servicex.yaml: re-created from its record (same bytes as issued), the
   * stored JWT of an adopted upstream database, or a new one when the user has none.
   */
  async currentApiToken(userId: number): Promise<string> {
    const user = await this.repo.byId(userId);
    if (!user) throw notFound(`user ${userId} not found`);
    const record: TokenRecord | null = decodeTokenRecord(user.refreshToken);
    if (record) return this.tokens.sign("refresh", user.email, record);
    if (user.refreshToken && storedJti(user.refreshToken)) return user.refreshToken;
    return this.rotateApiToken(user.id);
  }

  /**
   * Profile creation after sign-in (§7.3): JWT_ADMIN becomes admin and approved; a pre-provisioned user with
   * that e-mail and no token is claimed (token set, approved); otherwise a new pending user. Slack is told
   * about pending sign-ups (a failing Slack never fails the sign-up: the notifier does not throw).
   */
  async createProfile(p: ProfileInput): Promise<UserRecord> {
    if (p.verifiedEmails.length > 0 && !verifiedEmail(p.email, p.verifiedEmails)) {
      throw unverifiedEmail(p.verifiedEmails);
    }
    const verified = verifiedEmail(p.email, p.verifiedEmails);
    const admin = verified && this.isAdminEmail(p.email);
    const existing = await this.repo.byEmail(p.email);
    if (existing && !verified) {
      throw new AppError("email_taken", `A user with e-mail ${p.email} already exists`, 409);
    }
    if (existing && existing.refreshToken) {
      throw new AppError("email_taken", `A user with e-mail ${p.email} already exists`, 409);
    }
    const { record } = this.tokens.issue("refresh", p.email);
    let user: UserRecord;
    if (existing) {
      user = (await this.repo.update(existing.id, {
        sub: p.sub,
        name: p.name,
        institution: p.institution,
        experiment: p.experiment,
        pending: false,
        admin: existing.admin || admin,
        refreshToken: encodeTokenRecord(record),
      }))!;
    } else {
      const bySub = await this.repo.bySub(p.sub);
      if (bySub) throw new AppError("sub_taken", "A profile already exists for this sign-in identity", 409);
      user = await this.repo.insert({
        sub: p.sub,
        email: p.email,
        name: p.name,
        institution: p.institution,
        experiment: p.experiment,
        admin,
        pending: !(admin || this.o.allowAllAfterAuth),
        refreshToken: encodeTokenRecord(record),
      });
    }
    this.forget(user);
    if (user.pending) await this.notifier.userSignedUp({ email: user.email, name: user.name });
    return user;
  }

  async updateProfile(
    userId: number,
    f: { name: string; email: string; institution: string; experiment: string },
    verifiedEmails: readonly string[],
  ): Promise<UserRecord> {
    const before = await this.repo.byId(userId);
    if (!before) throw notFound(`user ${userId} not found`);
    if (before.email.toLowerCase() !== f.email.toLowerCase() && !verifiedEmail(f.email, verifiedEmails)) {
      throw unverifiedEmail(verifiedEmails);
    }
    const clash = await this.repo.byEmail(f.email);
    if (clash && clash.id !== userId) {
      throw new AppError("email_taken", `A user with e-mail ${f.email} already exists`, 409);
    }
    const emailChanged = before.email.toLowerCase() !== f.email.toLowerCase();
    let refreshToken: string | undefined;
    if (emailChanged && this.jwt) {
      // Tokens carry the e-mail as identity: the old API token would name nobody; issue one for the new one.
      refreshToken = encodeTokenRecord(this.jwt.issue("refresh", f.email).record);
    }
    const user = (await this.repo.update(userId, { ...f, ...(refreshToken ? { refreshToken } : {}) }))!;
    this.forget(before);
    this.forget(user);
    return user;
  }

  /** POST /accept, Slack approve, CLI approve: pending → approved, then the welcome e-mail. */
  async accept(email: string): Promise<UserRecord> {
    const user = await this.repo.byEmail(email);
    if (!user) throw notFound(`No user registered with email: ${email}`, "user_not_found");
    const updated = (await this.repo.update(user.id, { pending: false }))!;
    this.forget(updated);
    await this.notifier.userApproved({ email: updated.email, name: updated.name });
    this.logger.info({ email: updated.email }, "user approved");
    return updated;
  }

  /** Slack reject (A.8): removes the pending user. Approved users are not removed by a reject. */
  async reject(email: string): Promise<UserRecord> {
    const user = await this.repo.byEmail(email);
    if (!user) throw notFound(`No user registered with email: ${email}`, "user_not_found");
    if (!user.pending) throw new AppError("not_pending", `User ${email} is already approved`, 409);
    await this.repo.delete(user.id);
    this.forget(user);
    return user;
  }

  async setAdmin(email: string, admin: boolean): Promise<UserRecord> {
    const user = await this.repo.byEmail(email);
    if (!user) throw notFound(`No user registered with email: ${email}`, "user_not_found");
    const updated = (await this.repo.update(user.id, { admin }))!;
    this.forget(updated);
    return updated;
  }

  async deleteUser(id: number): Promise<void> {
    const user = await this.repo.byId(id);
    if (!user) throw notFound(`user ${id} not found`, "user_not_found");
    await this.repo.delete(id);
    this.forget(user);
  }

  async deleteAll(opts: { pending?: boolean } = {}): Promise<number> {
    const n = await this.repo.deleteAll(opts);
    this.cache.clear();
    return n;
  }

  /**
   * CLI / default-users file (`user create`, §2.6): admin when the e-mail is JWT_ADMIN; pending unless a
   * token is given; an existing sub is skipped (returns null).
   */
  async provision(u: {
    sub: string;
    email: string;
    name: string;
    institution: string | null;
    refreshToken?: string | null;
  }): Promise<UserRecord | null> {
    if (await this.repo.bySub(u.sub)) return null;
    const admin = this.isAdminEmail(u.email);
    const row: NewUser = {
      sub: u.sub,
      email: u.email,
      name: u.name,
      institution: u.institution,
      experiment: null,
      admin,
      pending: !(admin || u.refreshToken),
      refreshToken: u.refreshToken ?? null,
    };
    return this.repo.insert(row);
  }
}
