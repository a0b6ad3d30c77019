// Accounts removed by an administrator (deleted, or rejected while pending), as the sign-in callback asks
// about them (docs/sign-in.md). The rows are written by the database trigger of migration
// 20261215090000_removed_accounts on every DELETE of a user, whichever path deleted it.
import type { Database } from "../db/database.js";
import { rowShape } from "../db/rowShape.js";

export interface RemovedAccount {
  removedAt: Date;
  /** The account was still waiting for approval: its sign-up was rejected (or deleted before approval). */
  wasPending: boolean;
}

export class RemovedAccountsRepo {
  constructor(private readonly db: Database) {}

  /** The latest removal of an account that one of `subjects` at `iss` signed in to (or a legacy row's sub). */
  async latest(iss: string, subjects: readonly string[]): Promise<RemovedAccount | null> {
    if (subjects.length === 0) return null;
    const row = await REMOVED.first(
      this.db.sql,
      `SELECT removed_at AS "removedAt", was_pending AS "wasPending" FROM removed_accounts
        WHERE sub = ANY($2::text[]) AND (iss = $1 OR iss IS NULL)
        ORDER BY removed_at DESC, id DESC LIMIT 1`,
      [iss, [...subjects]],
    );
    return row ?? null;
  }
}

// Result columns of the query above (src/adapters/db/rowShape.ts).
const REMOVED = rowShape({ removedAt: "timestamptz", wasPending: "bool" });
