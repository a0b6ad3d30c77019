// Users, approval and API tokens (docs/api.md, docs/sign-in.md, docs/decisions.md D5, D8, D9): one service shared by the
// admin API, the web pages, the Slack buttons and the user CLI, so every path applies the same rules.
// Sign-in rules (docs/sign-in.md): an account is keyed by the provider's issuer and subject and is never
// re-bound to another subject by e-mail alone; an e-mail matches, claims or promotes (JWT_ADMIN) an account
// only when the provider vouches for it. Signed-in browser sessions are server-side records, so sign-out,
// deletion and losing admin rights end every session of the user at once.
import { createHash } from "node:crypto";
import {
  type ApiTokenSigner,
  decodeTokenRecord,
  encodeTokenRecord,
  storedJti,
  type TokenRecord,
} from "./apiTokens.js";
import type { NewUser, UserRecord, UsersRepo } from "./repositories.js";
import type { Logger } from "../logger.js";
import { appError, ERROR_CATALOGUE, notFound } from "./errors.js";
import type { Notifier } from "./ports.js";

export const MSG_DELETED =
  "Not Authorized: No user found matching this API token. Your account may have been deleted. Please visit the ServiceX website to obtain a new API token.";
export const MSG_PENDING =
  "Not Authorized: Your account is still pending. An administrator should approve it shortly. If not, please contact the ServiceX admins via email or Slack.";
export const MSG_ADMIN_ONLY = ERROR_CATALOGUE.admin_only.message;

export const unauthorized = (
  message: string,
  code: "unauthorized" | "user_deleted" | "user_pending" = "unauthorized",
) => appError(code, { detail: message }, { body: "message" });

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
   * one of them. Only a vouched-for e-mail claims a pre-provisioned account or makes the JWT_ADMIN admin; an
   * identity with none may still sign up, with an e-mail no account uses (shown as unverified to admins).
   */
  verifiedEmails: readonly string[];
  /** The provider's issuer; with it the account is bound to (iss, sub). Without it (CLI-like callers) only `users.sub` keys the row. */
  iss?: string;
  sub: string;
  /** Every subject of the person at `iss` (Globus linked identities), `sub` included; default `[sub]`. */
  subjects?: readonly string[];
  email: string;
  name: string;
  institution: string;
  experiment: string;
}

/** A signed-in identity as the callback hands it over. */
export interface SignInIdentity {
  iss: string;
  sub: string;
  subjects: readonly string[];
  email: string | null;
  verifiedEmails: readonly string[];
}

/** The longest e-mail the users table holds (varchar(320)). */
export const EMAIL_MAX = 320;

/**
 * `value` as an e-mail argument of the admin calls (POST /accept, the Slack buttons): at most EMAIL_MAX
 * characters and no NUL character (Postgres cannot store one), else a 400 naming the field and the reason,
 * never a database error (docs/api.md "Rules for every route").
 */
export function emailArgument(value: string, field = "email"): string {
  const problem =
    value.length > EMAIL_MAX
      ? `must be at most ${EMAIL_MAX} characters`
      : value.includes("\u0000")
        ? "must not contain NUL characters"
        : null;
  if (problem) throw appError("invalid_field", { field, problem });
  return value;
}

/** True when the provider vouches for `email`; with no e-mails from the provider nothing is verified. */
function verifiedEmail(email: string, verified: readonly string[]): boolean {
  return verified.includes(email.trim().toLowerCase());
}

export const unverifiedEmail = (verified: readonly string[]) =>
  appError("email_not_of_identity", { verified: verified.join(", ") });

const emailTaken = (email: string) =>
  appError("email_taken", { detail: `A user with e-mail ${email} already exists` });

/** The hash a session id is stored under (the id itself only ever lives in the encrypted cookie). */
export function sessionKey(sid: string): string {
  return createHash("sha256").update(sid).digest("base64url");
}

/** Seconds a signed-in session lives (the cookie's Max-Age). */
export const SESSION_TTL_S = 12 * 3600;

export class UserService {
  private readonly cache = new Map<string, { user: UserRecord | null; at: number }>();

  constructor(
    readonly repo: UsersRepo,
    private readonly jwt: ApiTokenSigner | null,
    private readonly notifier: Notifier,
    private readonly logger: Logger,
    private readonly o: UserServiceOptions = {},
  ) {}

  private get tokens(): ApiTokenSigner {
    if (!this.jwt) throw appError("auth_disabled");
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

  /** auth_required with a bearer token (docs/api.md): the approved user, or the exact 401/422 answers. */
  async userForAccessToken(token: string): Promise<UserRecord> {
    const claims = this.tokens.verify(token, "access");
    const user = await this.cachedByIdentity(claims.sub);
    if (!user) throw unauthorized(MSG_DELETED, "user_deleted");
    // Tokens name the user by e-mail: one issued before this account existed was another account's (one
    // deleted since, whose address this account now has). A minute of slack for replicas' clocks.
    if (user.createdEpoch != null && claims.iat < user.createdEpoch - 60) {
      throw unauthorized(MSG_DELETED, "user_deleted");
    }
    if (user.pending) throw unauthorized(MSG_PENDING, "user_pending");
    return user;
  }

  /** POST /token/refresh (docs/api.md): a new access token for the holder of the user's latest refresh token. */
  async refresh(token: string): Promise<string> {
    const claims = this.tokens.verify(token, "refresh");
    const user = await this.byIdentity(claims.sub);
    if (!user) throw unauthorized(MSG_DELETED, "user_deleted"); // docs/decisions.md D9: upstream answered 500 (#535)
    if (storedJti(user.refreshToken) !== claims.jti) {
      throw appError("outdated_refresh_token", {}, { body: "message" });
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

  // ---- sign-in ----

  /**
   * The account keyed by the signed-in identity's subject, or null (the profile form comes next). A row made
   * by upstream (or the CLI) whose `users.sub` is one of the subjects is bound to this issuer on first use.
   * The e-mail plays no part here.
   */
  async signIn(id: SignInIdentity): Promise<UserRecord | null> {
    const found = await this.repo.bySubject(id.iss, id.subjects);
    if (!found) return null;
    const { user } = found;
    const vouched = verifiedEmail(user.email, id.verifiedEmails);
    if (found.legacySub !== null) {
      await this.repo.bindIdentity({
        userId: user.id,
        iss: id.iss,
        sub: found.legacySub,
        email: id.email,
        emailVerified: vouched,
      });
    } else if (found.boundSub !== null) {
      await this.repo.noteSignIn(id.iss, found.boundSub, id.email, vouched);
    }
    return user;
  }

  /**
   * Profile creation after sign-in (docs/sign-in.md). In order:
   * - the account keyed by this identity (pre-provisioned for this subject, no token yet) is claimed;
   * - else an account with the e-mail, never signed in and without a token, is claimed — only when the
   *   provider vouches for the e-mail;
   * - else a new user, bound to (iss, sub): admin and approved when the e-mail is JWT_ADMIN and vouched for,
   *   otherwise pending (OAUTH_ALLOW_ALL_AFTER_AUTH approves vouched-for e-mails only).
   * Slack is told about pending sign-ups, with whether the e-mail is verified (a failing Slack never fails
   * the sign-up: the notifier does not throw).
   */
  async createProfile(p: ProfileInput): Promise<UserRecord> {
    const email = p.email.trim();
    if (p.verifiedEmails.length > 0 && !verifiedEmail(email, p.verifiedEmails)) {
      throw unverifiedEmail(p.verifiedEmails);
    }
    const verified = verifiedEmail(email, p.verifiedEmails);
    if (!verified && this.isAdminEmail(email)) {
      // Reserved: an unverified sign-up holding it would lock the real administrator out.
      throw appError("email_reserved", { email });
    }
    const subjects = p.subjects?.length ? [...p.subjects] : [p.sub];
    const mine = p.iss
      ? await this.repo.bySubject(p.iss, subjects)
      : await this.repo.bySub(p.sub).then((u) => (u ? { user: u, boundSub: p.sub, legacySub: null } : null));
    const { record } = this.tokens.issue("refresh", email);
    let user: UserRecord;
    if (mine) {
      if (mine.user.refreshToken || !p.iss) {
        throw appError("sub_taken", { detail: "A profile already exists for this sign-in identity" });
      }
      // Provisioned for this very subject: the identity claims it (with its own e-mail or an unused one).
      if (mine.user.email.toLowerCase() !== email.toLowerCase()) {
        const clash = await this.repo.byEmail(email);
        if (clash && clash.id !== mine.user.id) throw emailTaken(email);
      }
      user = await this.claim(
        mine.user,
        p,
        email,
        verified,
        record,
        mine.boundSub ?? mine.legacySub ?? p.sub,
      );
    } else {
      const existing = await this.repo.byEmail(email);
      if (existing) {
        const claimable = verified && !existing.refreshToken && !(await this.repo.hasIdentity(existing.id));
        if (!claimable) throw emailTaken(email);
        user = await this.claim(existing, p, email, verified, record, p.sub, true);
      } else {
        const admin = verified && this.isAdminEmail(email);
        try {
          user = await this.repo.insert(
            {
              sub: p.sub,
              email,
              name: p.name,
              institution: p.institution,
              experiment: p.experiment,
              admin,
              pending: !(admin || (this.o.allowAllAfterAuth && verified)),
              refreshToken: encodeTokenRecord(record),
            },
            p.iss ? { iss: p.iss, sub: p.sub, email, emailVerified: verified } : undefined,
          );
        } catch (err) {
          // users.sub and users' lower(email) are unique: a concurrent sign-up got there first.
          if ((err as { code?: string }).code === "23505") {
            throw appError("sub_taken", {
              detail: "A profile already exists for this sign-in identity or e-mail",
            });
          }
          throw err;
        }
      }
    }
    this.forget(user);
    if (user.pending) {
      await this.notifier.userSignedUp({ email: user.email, name: user.name, emailVerified: verified });
    }
    return { ...user, emailVerified: verified };
  }

  /** A pre-provisioned account becomes this identity's: token set, approved, bound to (iss, sub). */
  private async claim(
    existing: UserRecord,
    p: ProfileInput,
    email: string,
    verified: boolean,
    record: TokenRecord,
    boundSub: string,
    bySub = false,
  ): Promise<UserRecord> {
    const user = (await this.repo.update(existing.id, {
      ...(bySub ? { sub: p.sub } : {}),
      email,
      name: p.name,
      institution: p.institution,
      experiment: p.experiment,
      pending: false,
      admin: existing.admin || (verified && this.isAdminEmail(email)),
      refreshToken: encodeTokenRecord(record),
    }))!;
    if (p.iss) {
      await this.repo.bindIdentity({
        userId: user.id,
        iss: p.iss,
        sub: boundSub,
        email,
        emailVerified: verified,
      });
      await this.repo.noteSignIn(p.iss, boundSub, email, verified);
    }
    this.forget(existing);
    return user;
  }

  async updateProfile(
    userId: number,
    f: { name: string; email: string; institution: string; experiment: string },
    verifiedEmails: readonly string[],
  ): Promise<UserRecord> {
    const before = await this.repo.byId(userId);
    if (!before) throw notFound(`user ${userId} not found`);
    const emailChanged = before.email.toLowerCase() !== f.email.toLowerCase();
    if (emailChanged && !verifiedEmail(f.email, verifiedEmails)) {
      throw unverifiedEmail(verifiedEmails);
    }
    const clash = await this.repo.byEmail(f.email);
    if (clash && clash.id !== userId) throw emailTaken(f.email);
    let refreshToken: string | undefined;
    if (emailChanged && this.jwt) {
      // Tokens carry the e-mail as identity: the old API token would name nobody; issue one for the new one.
      refreshToken = encodeTokenRecord(this.jwt.issue("refresh", f.email).record);
    }
    const user = (await this.repo.update(userId, { ...f, ...(refreshToken ? { refreshToken } : {}) }))!;
    // A changed e-mail is always one the provider vouches for (checked above).
    if (emailChanged) await this.repo.setEmailVerified(userId, true);
    this.forget(before);
    this.forget(user);
    return user;
  }

  // ---- signed-in browser sessions ----

  /** Records a new signed-in session (at the callback); `userId` null until the profile exists. */
  async startSession(sid: string, s: { userId: number | null; iss: string; sub: string }): Promise<void> {
    await this.repo.startSession({ id: sessionKey(sid), ...s, ttlSeconds: SESSION_TTL_S });
  }

  /** The live session's user id (null: no profile yet), or undefined when it has ended. */
  sessionAlive(sid: string): Promise<{ userId: number | null } | undefined> {
    return this.repo.sessionUser(sessionKey(sid));
  }

  async attachSession(sid: string, userId: number): Promise<void> {
    await this.repo.attachSession(sessionKey(sid), userId);
  }

  /**
   * Sign-out: ends this session, every session of the user, and the identity's sessions without a profile.
   */
  async endSessions(o: { sid?: string; userId?: number; iss?: string; sub?: string }): Promise<number> {
    const { sid, ...rest } = o;
    return this.repo.endSessions({ ...(sid ? { id: sessionKey(sid) } : {}), ...rest });
  }

  /** GET /users, GET /pending: every user, or those waiting for approval, in id order. */
  list(opts: { pending?: boolean } = {}): Promise<UserRecord[]> {
    return this.repo.list(opts);
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

  /** Slack reject (docs/decisions.md D8): removes the pending user. Approved users are not removed by a reject. */
  async reject(email: string): Promise<UserRecord> {
    const user = await this.repo.byEmail(email);
    if (!user) throw notFound(`No user registered with email: ${email}`, "user_not_found");
    if (!user.pending) throw appError("not_pending", { email });
    await this.repo.delete(user.id);
    this.forget(user);
    return user;
  }

  async setAdmin(email: string, admin: boolean): Promise<UserRecord> {
    const user = await this.repo.byEmail(email);
    if (!user) throw notFound(`No user registered with email: ${email}`, "user_not_found");
    const updated = (await this.repo.update(user.id, { admin }))!;
    // Losing admin rights ends every browser session (a session never outlives the rights it was made with).
    if (!admin) await this.repo.endSessions({ userId: user.id });
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
   * CLI / default-users file (`user create`, docs/api.md): admin when the e-mail is JWT_ADMIN; pending unless a
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
