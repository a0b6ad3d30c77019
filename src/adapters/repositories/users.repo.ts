// All SQL about `users` (docs/database.md, docs/api.md). E-mail matching is case-insensitive (unique index on
// lower(email)); `sub` is the identity provider's subject; `refresh_token` holds the current API token's
// record (adapters/auth/jwt.ts), or a full JWT in databases adopted from upstream. Ours beside it
// (docs/sign-in.md): `user_identities` (issuer + subject → account, and whether the provider vouched for the
// account's e-mail) and `web_sessions` (the live signed-in browser sessions).
import type { Database, Sql } from "../db/database.js";
import { type Columns, rowShape } from "../db/rowShape.js";
import type {
  UserRecord,
  IdentityBinding,
  NewUser,
  UsersRepo as UsersRepoPort,
} from "../../domain/repositories.js";
export type { UserRecord, IdentityBinding, NewUser } from "../../domain/repositories.js";

const EMAIL_VERIFIED = `(SELECT bool_or(i.email_verified) FROM user_identities i WHERE i.user_id = users.id)
  AS "emailVerified"`;

const COLUMNS = `id, sub, email, name, institution, experiment, admin, pending, refresh_token AS "refreshToken",
  created_at AS "createdAt", updated_at AS "updatedAt",
  extract(epoch FROM created_at AT TIME ZONE 'utc')::float8 AS "createdEpoch"`;

/** COLUMNS qualified with the table name, for joins. */
const USER_COLUMNS = `users.id, users.sub, users.email, users.name, users.institution, users.experiment,
  users.admin, users.pending, users.refresh_token AS "refreshToken", users.created_at AS "createdAt",
  users.updated_at AS "updatedAt", extract(epoch FROM users.created_at AT TIME ZONE 'utc')::float8 AS "createdEpoch"`;

export class UsersRepo implements UsersRepoPort {
  constructor(private readonly db: Database) {}

  async byId(id: number): Promise<UserRecord | null> {
    return (await USER.first(this.db.sql, `SELECT ${COLUMNS} FROM users WHERE id = $1`, [id])) ?? null;
  }

  async byIdWithStatus(id: number): Promise<UserRecord | null> {
    const row = await USER_WITH_STATUS.first(
      this.db.sql,
      `SELECT ${COLUMNS}, ${EMAIL_VERIFIED} FROM users WHERE id = $1`,
      [id],
    );
    return row ?? null;
  }

  async byEmail(email: string): Promise<UserRecord | null> {
    const row = await USER.first(this.db.sql, `SELECT ${COLUMNS} FROM users WHERE lower(email) = lower($1)`, [
      email,
    ]);
    return row ?? null;
  }

  async bySub(sub: string): Promise<UserRecord | null> {
    return (await USER.first(this.db.sql, `SELECT ${COLUMNS} FROM users WHERE sub = $1`, [sub])) ?? null;
  }

  /** First user matching any of the e-mails, in the given order. */
  async byAnyEmail(emails: readonly string[]): Promise<UserRecord | null> {
    for (const e of emails) {
      const u = await this.byEmail(e);
      if (u) return u;
    }
    return null;
  }

  async list(opts: { pending?: boolean; emailContains?: string } = {}): Promise<UserRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (opts.pending !== undefined) {
      params.push(opts.pending);
      where.push(`pending = $${params.length}`);
    }
    if (opts.emailContains) {
      params.push(`%${opts.emailContains.toLowerCase()}%`);
      where.push(`lower(email) LIKE $${params.length}`);
    }
    return USER_WITH_STATUS.all(
      this.db.sql,
      `SELECT ${COLUMNS}, ${EMAIL_VERIFIED} FROM users ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id`,
      params,
    );
  }

  async countByState(): Promise<{ pending: number; approved: number }> {
    const rows = await COUNT_BY_STATE.all(
      this.db.sql,
      "SELECT count(*) FILTER (WHERE pending)::int AS pending, count(*) FILTER (WHERE NOT pending)::int AS approved FROM users",
    );
    return rows[0] ?? { pending: 0, approved: 0 };
  }

  /** A new user, with its sign-in identity when given (one transaction). */
  async insert(u: NewUser, identity?: Omit<IdentityBinding, "userId">): Promise<UserRecord> {
    return this.db.sql.transaction(async (tx) => {
      const rows = await USER.all(
        tx,
        `INSERT INTO users (sub, email, name, institution, experiment, admin, pending, refresh_token, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')
         RETURNING ${COLUMNS}`,
        [u.sub, u.email, u.name, u.institution, u.experiment, u.admin, u.pending, u.refreshToken],
      );
      const user = rows[0]!;
      if (identity) await bind(tx, { ...identity, userId: user.id });
      return user;
    });
  }

  // ---- sign-in identities (user_identities) ----

  /**
   * The account bound to one of `subjects` at `iss` (the first subject that has one wins), or else a row of
   * upstream's (no identity of ours yet) whose `users.sub` is one of them.
   */
  async bySubject(
    iss: string,
    subjects: readonly string[],
  ): Promise<{ user: UserRecord; boundSub: string | null; legacySub: string | null } | null> {
    if (subjects.length === 0) return null;
    const bound = await BOUND_USER.all(
      this.db.sql,
      `SELECT ${USER_COLUMNS}, i.sub AS "boundSub"
         FROM user_identities i JOIN users ON users.id = i.user_id
        WHERE i.iss = $1 AND i.sub = ANY($2::text[])
        ORDER BY array_position($2::text[], i.sub::text) LIMIT 1`,
      [iss, subjects],
    );
    if (bound[0]) {
      const { boundSub, ...user } = bound[0];
      return { user, boundSub, legacySub: null };
    }
    const legacy = await USER.all(
      this.db.sql,
      `SELECT ${COLUMNS} FROM users
        WHERE sub = ANY($1::text[])
          AND NOT EXISTS (SELECT 1 FROM user_identities i WHERE i.user_id = users.id)
        ORDER BY array_position($1::text[], sub::text) LIMIT 1`,
      [subjects],
    );
    return legacy[0] ? { user: legacy[0], boundSub: null, legacySub: legacy[0].sub } : null;
  }

  /** Binds (iss, sub) to the user; a binding that exists already is left as it is (returns false). */
  async bindIdentity(b: IdentityBinding): Promise<boolean> {
    return bind(this.db.sql, b);
  }

  /** Whether any sign-in identity is bound to the user (then the account is never claimed by e-mail). */
  async hasIdentity(userId: number): Promise<boolean> {
    const rows = await COUNT.all(
      this.db.sql,
      "SELECT count(*)::int AS n FROM user_identities WHERE user_id = $1",
      [userId],
    );
    return (rows[0]?.n ?? 0) > 0;
  }

  /** Notes a sign-in: the asserted e-mail and whether the provider vouches for the account's e-mail now. */
  async noteSignIn(iss: string, sub: string, email: string | null, emailVerified: boolean): Promise<void> {
    await this.db.sql.query(
      `UPDATE user_identities SET email = $3, email_verified = $4, last_sign_in_at = now()
        WHERE iss = $1 AND sub = $2`,
      [iss, sub, email, emailVerified],
    );
  }

  /** The account's e-mail changed: whether the identity that changed it vouches for the new one. */
  async setEmailVerified(userId: number, emailVerified: boolean): Promise<void> {
    await this.db.sql.query("UPDATE user_identities SET email_verified = $2 WHERE user_id = $1", [
      userId,
      emailVerified,
    ]);
  }

  // ---- signed-in browser sessions (web_sessions) ----

  async startSession(s: {
    id: string;
    userId: number | null;
    iss: string;
    sub: string;
    ttlSeconds: number;
  }): Promise<void> {
    // Expired rows are removed here, at sign-in, rather than by a job (indexed on expires_at).
    await this.db.sql.query("DELETE FROM web_sessions WHERE expires_at < now()");
    await this.db.sql.query(
      `INSERT INTO web_sessions (id, user_id, iss, sub, expires_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
      [s.id, s.userId, s.iss, s.sub, s.ttlSeconds],
    );
  }

  /** The live session's user id (null: no profile yet); undefined when the session has ended. */
  async sessionUser(id: string): Promise<{ userId: number | null } | undefined> {
    const rows = await SESSION_USER.all(
      this.db.sql,
      `SELECT user_id AS "userId" FROM web_sessions WHERE id = $1 AND expires_at > now()`,
      [id],
    );
    return rows[0];
  }

  /** The session's profile was created (or claimed): the session now belongs to that user. */
  async attachSession(id: string, userId: number): Promise<void> {
    await this.db.sql.query("UPDATE web_sessions SET user_id = $2 WHERE id = $1", [id, userId]);
  }

  /**
   * Ends sessions: the one given, every session of `userId`, and every session without a profile of the
   * identity (iss, sub). Returns how many ended.
   */
  async endSessions(o: { id?: string; userId?: number; iss?: string; sub?: string }): Promise<number> {
    const rows = await SESSION_ID.all(
      this.db.sql,
      `DELETE FROM web_sessions
        WHERE id = $1 OR user_id = $2 OR (user_id IS NULL AND iss = $3 AND sub = $4)
        RETURNING id`,
      [o.id ?? null, o.userId ?? null, o.iss ?? null, o.sub ?? null],
    );
    return rows.length;
  }

  async update(
    id: number,
    fields: Partial<
      Pick<
        UserRecord,
        "sub" | "email" | "name" | "institution" | "experiment" | "admin" | "pending" | "refreshToken"
      >
    >,
  ): Promise<UserRecord | null> {
    const map: Record<string, string> = {
      sub: "sub",
      email: "email",
      name: "name",
      institution: "institution",
      experiment: "experiment",
      admin: "admin",
      pending: "pending",
      refreshToken: "refresh_token",
    };
    const sets: string[] = [];
    const params: unknown[] = [id];
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      params.push(v);
      sets.push(`${map[k]} = $${params.length}`);
    }
    sets.push("updated_at = now() AT TIME ZONE 'utc'");
    const rows = await USER.all(
      this.db.sql,
      `UPDATE users SET ${sets.join(", ")} WHERE id = $1 RETURNING ${COLUMNS}`,
      params,
    );
    return rows[0] ?? null;
  }

  async delete(id: number): Promise<boolean> {
    const rows = await ID.all(this.db.sql, "DELETE FROM users WHERE id = $1 RETURNING id", [id]);
    return rows.length > 0;
  }

  async deleteAll(opts: { pending?: boolean } = {}): Promise<number> {
    const rows = await ID.all(
      this.db.sql,
      opts.pending === undefined
        ? "DELETE FROM users RETURNING id"
        : "DELETE FROM users WHERE pending = $1 RETURNING id",
      opts.pending === undefined ? [] : [opts.pending],
    );
    return rows.length;
  }
}

async function bind(sql: Sql, b: IdentityBinding): Promise<boolean> {
  const rows = await ID.all(
    sql,
    `INSERT INTO user_identities (user_id, iss, sub, email, email_verified, last_sign_in_at)
     VALUES ($1, $2, $3, $4, $5, now())
     ON CONFLICT (iss, sub) DO NOTHING RETURNING id`,
    [b.userId, b.iss, b.sub, b.email, b.emailVerified],
  );
  return rows.length > 0;
}

// Result columns of the queries above, one declaration each (src/adapters/db/rowShape.ts).
/** COLUMNS (and USER_COLUMNS): a UserRecord. */
const USER_FIELDS = {
  id: "int4",
  sub: "varchar",
  email: "varchar",
  name: "varchar",
  institution: "varchar?",
  experiment: "varchar?",
  admin: "bool",
  pending: "bool",
  refreshToken: "text?",
  createdAt: "timestamp?",
  updatedAt: "timestamp?",
  createdEpoch: "float8?",
} as const satisfies Columns;
const USER = rowShape(USER_FIELDS);
const USER_WITH_STATUS = rowShape({ ...USER_FIELDS, emailVerified: "bool?" });
const BOUND_USER = rowShape({ ...USER_FIELDS, boundSub: "varchar" });
const COUNT_BY_STATE = rowShape({ pending: "int4", approved: "int4" });
const COUNT = rowShape({ n: "int4" });
const ID = rowShape({ id: "int4" });
const SESSION_ID = rowShape({ id: "varchar" });
const SESSION_USER = rowShape({ userId: "int4?" });
