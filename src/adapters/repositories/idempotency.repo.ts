// `Idempotency-Key` records of submits (docs/decisions.md D17): per user (0 = no user), the key, a hash of the
// request body and, once the submit succeeded, the request it created.
import type { Database } from "../db/database.js";
import { rowShape } from "../db/rowShape.js";
import type { IdempotencyRepo as IdempotencyRepoPort } from "../../domain/repositories.js";

export class IdempotencyRepo implements IdempotencyRepoPort {
  constructor(private readonly db: Database) {}

  /** Claims the key for this body; false when it exists already (someone else has or had it). */
  async claim(userKey: number, key: string, bodyHash: string): Promise<boolean> {
    const rows = await ONE.all(
      this.db.sql,
      `INSERT INTO idempotency_keys (user_key, key, body_hash) VALUES ($1, $2, $3)
       ON CONFLICT (user_key, key) DO NOTHING RETURNING 1 AS one`,
      [userKey, key, bodyHash],
    );
    return rows.length === 1;
  }

  async get(userKey: number, key: string): Promise<{ bodyHash: string; requestId: string | null } | null> {
    const row = await KEY.first(
      this.db.sql,
      `SELECT body_hash AS "bodyHash", request_id AS "requestId" FROM idempotency_keys WHERE user_key = $1 AND key = $2`,
      [userKey, key],
    );
    return row ?? null;
  }

  async complete(userKey: number, key: string, requestId: string): Promise<void> {
    await this.db.sql.query("UPDATE idempotency_keys SET request_id = $3 WHERE user_key = $1 AND key = $2", [
      userKey,
      key,
      requestId,
    ]);
  }

  /** The submit failed: free the key so a retry can run it again. */
  async release(userKey: number, key: string): Promise<void> {
    await this.db.sql.query(
      "DELETE FROM idempotency_keys WHERE user_key = $1 AND key = $2 AND request_id IS NULL",
      [userKey, key],
    );
  }

  /** Keys older than `hours` are forgotten (the data-lifecycle job calls this). */
  async expire(hours: number): Promise<number> {
    const rows = await ONE.all(
      this.db.sql,
      "DELETE FROM idempotency_keys WHERE created_at < now() - $1::float8 * interval '1 hour' RETURNING 1 AS one",
      [hours],
    );
    return rows.length;
  }
}

// Result columns of the queries above, one declaration each (src/adapters/db/rowShape.ts).
const ONE = rowShape({ one: "int4" });
const KEY = rowShape({ bodyHash: "varchar", requestId: "varchar?" });
