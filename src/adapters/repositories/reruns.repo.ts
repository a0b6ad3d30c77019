// SQL of re-running the failed files of a finished request (docs/database.md, docs/decisions.md D35): the
// one transaction that puts a Complete request back to Running, and the audit rows in `request_reruns`.
import type { Database, Sql } from "../db/database.js";
import type { TransformStatusName } from "../../domain/status.js";
import type { RerunStarted, RerunRecord, RerunsRepo as RerunsRepoPort } from "../../domain/repositories.js";
export type { RerunRefusal, RerunStarted, RerunRecord } from "../../domain/repositories.js";

export class RerunsRepo implements RerunsRepoPort {
  constructor(private readonly db: Database) {}

  /** Whether the dataset is stale (a missing dataset counts as stale): the check before the locked one. */
  async datasetStale(datasetId: number): Promise<boolean> {
    const rows = await this.db.sql.query<{ stale: boolean }>("SELECT stale FROM datasets WHERE id = $1", [
      datasetId,
    ]);
    return rows[0]?.stale ?? true;
  }

  /**
   * The state of the request a re-run is checked against. The dataset row is locked first and the request
   * row second, the order every writer uses (sx_apply_file_reports, lookups), so a late file report cannot
   * deadlock with this; a second re-run of the same request waits here and then sees it Running.
   */
  async lock(
    tx: Sql,
    requestDbId: number,
  ): Promise<{ status: TransformStatusName; filesFailed: number; stale: boolean } | null> {
    const ds = await tx.query<{ stale: boolean }>(
      `SELECT d.stale FROM datasets d WHERE d.id = (SELECT did_id FROM requests WHERE id = $1) FOR SHARE`,
      [requestDbId],
    );
    const rq = await tx.query<{ status: TransformStatusName; files_failed: number }>(
      "SELECT status::text AS status, files_failed FROM requests WHERE id = $1 FOR UPDATE",
      [requestDbId],
    );
    if (!rq[0]) return null;
    return { status: rq[0].status, filesFailed: rq[0].files_failed, stale: ds[0]?.stale ?? true };
  }

  /**
   * Clears the failed results and moves the request back to Running, in the caller's transaction (after
   * lock()). Counters stay exact: each cleared file leaves `files_failed` (and its bytes and events leave
   * the sums), so `files - files_completed - files_failed` is exactly the files being re-run, and the next
   * report of each counts once through sx_apply_file_reports as for a first run. Returns null when no
   * failed result was found (nothing changed).
   */
  async start(
    tx: Sql,
    r: { id: number; requestId: string; userId: number | null },
  ): Promise<RerunStarted | null> {
    const cleared = await tx.query<{ n: number; bytes: string | null; events: string | null }>(
      `WITH gone AS (
         DELETE FROM transform_result
         WHERE request_id = $1 AND transform_status <> 'success' AND file_id IS NOT NULL
         RETURNING COALESCE(total_bytes, 0) AS b, COALESCE(total_events, 0) AS e)
       SELECT count(*)::int AS n, sum(b)::text AS bytes, sum(e)::text AS events FROM gone`,
      [r.requestId],
    );
    const n = cleared[0]?.n ?? 0;
    if (n === 0) return null;
    // The stall clock of the reconciler restarts now (reconciled_at), with no attempts used; the watermark
    // covers every file of the dataset, so only the re-run's own tasks are published (by the re-drive).
    await tx.query(
      `UPDATE requests SET status = 'running'::transformstatus, finish_time = NULL,
         files_failed = GREATEST(files_failed - $2, 0),
         total_bytes = sx_saturated_bigint(COALESCE(total_bytes, 0)::numeric - $3::numeric),
         total_events = sx_saturated_bigint(COALESCE(total_events, 0)::numeric - $4::numeric),
         reconcile_attempts = 0, reconciled_at = now(),
         tasks_published_through = GREATEST(tasks_published_through,
           (SELECT COALESCE(max(f.id), 0) FROM files f WHERE f.dataset_id = requests.did_id))
       WHERE id = $1`,
      [r.id, n, cleared[0]!.bytes ?? "0", cleared[0]!.events ?? "0"],
    );
    const audit = await tx.query<{ rerun: number; ms: string | number }>(
      `WITH ins AS (
         INSERT INTO request_reruns (request_id, user_id, user_email, files)
         VALUES ($1, $2, (SELECT email FROM users WHERE id = $2), $3)
         RETURNING created_at)
       SELECT (SELECT count(*)::int FROM request_reruns WHERE request_id = $1) + 1 AS rerun,
              extract(epoch FROM ins.created_at) * 1000 AS ms FROM ins`,
      [r.requestId, r.userId, n],
    );
    return { files: n, rerun: audit[0]!.rerun, at: new Date(Number(audit[0]!.ms)) };
  }

  /**
   * The re-runs of a request (its UUID, or its integer id as a numeric string), newest first: the request
   * page and its confirmation page.
   */
  async list(idOrUuid: string, limit = 20): Promise<RerunRecord[]> {
    const requestId = /^\d{1,9}$/.test(idOrUuid)
      ? "(SELECT request_id FROM requests WHERE id = $1::int)"
      : "$1";
    const rows = await this.db.sql.query<{
      id: number;
      user_id: number | null;
      user_email: string | null;
      files: number;
      ms: string | number;
    }>(
      `SELECT id, user_id, user_email, files, extract(epoch FROM created_at) * 1000 AS ms
       FROM request_reruns WHERE request_id = ${requestId} ORDER BY id DESC LIMIT $2`,
      [idOrUuid, limit],
    );
    return rows.map((x) => ({
      id: x.id,
      userId: x.user_id,
      userEmail: x.user_email,
      files: x.files,
      at: new Date(Number(x.ms)),
    }));
  }
}
