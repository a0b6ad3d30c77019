// All SQL about `users` (contract §3.1, §2.6). E-mail matching is case-insensitive (unique index on
// lower(email)); `sub` is the identity provider's subject; `refresh_token` holds the current API token's
// record (adapters/auth/jwt.ts), or a full JWT in databases adopted from upstream.
import type { Database } from "../db/database.js";

export interface UserRecord {
  id: number;
  sub: string;
  email: string;
  name: string;
  institution: string | null;
  experiment: string | null;
  admin: boolean;
  pending: boolean;
  refreshToken: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
}

const COLUMNS = `id, sub, email, name, institution, experiment, admin, pending, refresh_token AS "refreshToken",
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface NewUser {
  sub: string;
  email: string;
  name: string;
  institution: string | null;
  experiment: string | null;
  admin: boolean;
  pending: boolean;
  refreshToken: string | null;
}

export class UsersRepo {
  constructor(private readonly db: Database) {}

  async byId(id: number): Promise<UserRecord | null> {
    const rows = await this.db.sql.query<UserRecord>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  async byEmail(email: string): Promise<UserRecord | null> {
    const rows = await this.db.sql.query<UserRecord>(
      `SELECT ${COLUMNS} FROM users WHERE lower(email) = lower($1)`,
      [email],
    );
    return rows[0] ?? null;
  }

  async bySub(sub: string): Promise<UserRecord | null> {
    const rows = await this.db.sql.query<UserRecord>(`SELECT ${COLUMNS} FROM users WHERE sub = $1`, [sub]);
    return rows[0] ?? null;
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
    return this.db.sql.query<UserRecord>(
      `SELECT ${COLUMNS} FROM users ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id`,
      params,
    );
  }

  async countByState(): Promise<{ pending: number; approved: number }> {
    const rows = await this.db.sql.query<{ pending: number; approved: number }>(
      "SELECT count(*) FILTER (WHERE pending)::int AS pending, count(*) FILTER (WHERE NOT pending)::int AS approved FROM users",
    );
    return rows[0] ?? { pending: 0, approved: 0 };
  }

  async insert(u: NewUser): Promise<UserRecord> {
    const rows = await this.db.sql.query<UserRecord>(
      `INSERT INTO users (sub, email, name, institution, experiment, admin, pending, refresh_token, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')
       RETURNING ${COLUMNS}`,
      [u.sub, u.email, u.name, u.institution, u.experiment, u.admin, u.pending, u.refreshToken],
    );
    return rows[0]!;
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
    const rows = await this.db.sql.query<UserRecord>(
      `UPDATE users SET ${sets.join(", ")} WHERE id = $1 RETURNING ${COLUMNS}`,
      params,
    );
    return rows[0] ?? null;
  }

  async delete(id: number): Promise<boolean> {
    const rows = await this.db.sql.query<{ id: number }>("DELETE FROM users WHERE id = $1 RETURNING id", [
      id,
    ]);
    return rows.length > 0;
  }

  async deleteAll(opts: { pending?: boolean } = {}): Promise<number> {
    const rows = await this.db.sql.query<{ id: number }>(
      opts.pending === undefined
        ? "DELETE FROM users RETURNING id"
        : "DELETE FROM users WHERE pending = $1 RETURNING id",
      opts.pending === undefined ? [] : [opts.pending],
    );
    return rows.length;
  }
}
