// All SQL about `request_progress`, the per-request progress history. Rows at status changes are written
// by a trigger on `requests` (prisma/migrations/*_progress_history_trigger); this repository writes the
// throttled snapshots of running requests and reads the series back.
import type { Database, Sql } from "../db/database.js";
import { rowShape } from "../db/rowShape.js";
import type { ProgressPoint, ProgressRepo as ProgressRepoPort } from "../../domain/repositories.js";
export type { ProgressPoint } from "../../domain/repositories.js";

export class ProgressRepo implements ProgressRepoPort {
  constructor(private readonly db: Database) {}

  /**
   * One snapshot row per given request that is still running, read from its `requests` row, in one
   * statement. A request that already has a row newer than `minGapMs` is skipped, so replicas sharing a
   * database still write at most one snapshot per interval. Returns how many rows were written.
   */
  async snapshotRunning(requestIds: readonly string[], minGapMs: number): Promise<number> {
    if (requestIds.length === 0) return 0;
    const row = await COUNT.first(
      this.db.sql,
      // A request whose row another transaction is changing is skipped (SKIP LOCKED): that transaction may be
      // the one ending it, whose status row (written by the trigger, docs/database.md) would otherwise be
      // followed by a snapshot of the state before it, and the history would end on Running. A row locked
      // here makes the other transaction wait, so its status row comes after this snapshot.
      `WITH due AS (
         SELECT r.request_id, r.status, r.files_completed, r.files_failed, r.total_bytes, r.total_events
         FROM requests r
         WHERE r.request_id = ANY($1::text[]) AND r.status = 'running'
           AND NOT EXISTS (
             SELECT 1 FROM request_progress p
             WHERE p.request_id = r.request_id
               AND p.recorded_at > (clock_timestamp() AT TIME ZONE 'UTC') - $2::float8 * interval '1 millisecond')
         FOR UPDATE OF r SKIP LOCKED),
       ins AS (
         INSERT INTO request_progress (request_id, recorded_at, status, files_completed, files_failed,
                                       total_bytes, total_events)
         SELECT d.request_id, (clock_timestamp() AT TIME ZONE 'UTC'), d.status::text, d.files_completed,
                d.files_failed, COALESCE(d.total_bytes, 0), COALESCE(d.total_events, 0)
         FROM due d
         RETURNING 1)
       SELECT count(*)::int AS n FROM ins`,
      [requestIds, minGapMs],
    );
    return row?.n ?? 0;
  }

  /** The series of one request, oldest first (capped; the chart needs no more). */
  async history(requestId: string, limit = 5000): Promise<ProgressPoint[]> {
    const rows = await POINT.all(
      this.db.sql,
      `SELECT * FROM (
         SELECT id, extract(epoch FROM recorded_at) * 1000 AS ms, status, files_completed, files_failed,
                total_bytes::float8 AS bytes, total_events::float8 AS events
         FROM request_progress WHERE request_id = $1 ORDER BY recorded_at DESC, id DESC LIMIT $2) t
       ORDER BY ms, id`,
      [requestId, limit],
    );
    return rows.map((r) => ({
      time: new Date(Number(r.ms)),
      status: r.status,
      filesCompleted: r.files_completed,
      filesFailed: r.files_failed,
      bytes: r.bytes,
      events: r.events,
    }));
  }

  /** Removes a request's history (with the request: RequestsRepo.delete). */
  async deleteFor(tx: Sql, requestId: string): Promise<void> {
    await tx.query("DELETE FROM request_progress WHERE request_id = $1", [requestId]);
  }
}

// Result columns of the queries above, one declaration each (src/adapters/db/rowShape.ts).
const COUNT = rowShape({ n: "int4" });
const POINT = rowShape({
  id: "int8",
  ms: "numeric",
  status: "varchar",
  files_completed: "int4",
  files_failed: "int4",
  bytes: "float8",
  events: "float8",
});
