// SQL of re-running the failed files of a finished request (docs/database.md, docs/decisions.md D35): the
// one transaction that puts a Complete request back to Running, and the audit rows in `request_reruns`.
import type { Database, Sql } from "../db/database.js";
import { rowShape } from "../db/rowShape.js";
import type { TransformStatusName } from "../../domain/status.js";
import type { RerunStarted, RerunRecord, RerunsRepo as RerunsRepoPort } from "../../domain/repositories.js";
export type { RerunRefusal, RerunStarted, RerunRecord } from "../../domain/repositories.js";

export class RerunsRepo implements RerunsRepoPort {
  constructor(private readonly db: Database) {}

  /** Whether the dataset is stale (a missing dataset counts as stale): the check before the locked one. */
  async datasetStale(datasetId: number): Promise<boolean> {
    const row = await STALE.first(this.db.sql, "SELECT stale FROM datasets WHERE id = $1", [datasetId]);
    return row?.stale ?? true;
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
    const ds = await STALE.first(
      tx,
      `SELECT d.stale FROM datasets d WHERE d.id = (SELECT did_id FROM requests WHERE id = $1) FOR SHARE`,
      [requestDbId],
    );
    const rq = await LOCKED.first(tx, "SELECT status, files_failed FROM requests WHERE id = $1 FOR UPDATE", [
      requestDbId,
    ]);
    if (!rq) return null;
    return { status: rq.status, filesFailed: rq.files_failed, stale: ds?.stale ?? true };
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
    const cleared = await CLEARED.first(
      tx,
      `WITH gone AS (
         DELETE FROM transform_result
         WHERE request_id = $1 AND transform_status <> 'success' AND file_id IS NOT NULL
         RETURNING COALESCE(total_bytes, 0) AS b, COALESCE(total_events, 0) AS e)
       SELECT count(*)::int AS n, sum(b)::text AS bytes, sum(e)::text AS events FROM gone`,
      [r.requestId],
    );
    const n = cleared?.n ?? 0;
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
      [r.id, n, cleared?.bytes ?? "0", cleared?.events ?? "0"],
    );
    const audit = await AUDIT.first(
      tx,
      `WITH ins AS (
         INSERT INTO request_reruns (request_id, user_id, user_email, files)
         VALUES ($1, $2, (SELECT email FROM users WHERE id = $2), $3)
         RETURNING created_at)
       SELECT (SELECT count(*)::int FROM request_reruns WHERE request_id = $1) + 1 AS rerun,
              extract(epoch FROM ins.created_at) * 1000 AS ms FROM ins`,
      [r.requestId, r.userId, n],
    );
    return { files: n, rerun: audit!.rerun, at: new Date(Number(audit!.ms)) };
  }

  /**
   * The re-runs of a request (its UUID, or its integer id as a numeric string), newest first: the request
   * page and its confirmation page.
   */
  async list(idOrUuid: string, limit = 20): Promise<RerunRecord[]> {
    const requestId = /^\d{1,9}$/.test(idOrUuid)
      ? "(SELECT request_id FROM requests WHERE id = $1::int)"
      : "$1";
    const rows = await RERUN.all(
      this.db.sql,
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

// Result columns of the queries above, one declaration each (src/adapters/db/rowShape.ts).
const STALE = rowShape({ stale: "bool" });
const LOCKED = rowShape({ status: "transformstatus", files_failed: "int4" });
const CLEARED = rowShape({ n: "int4", bytes: "text?", events: "text?" });
const AUDIT = rowShape({ rerun: "int4", ms: "numeric" });
const RERUN = rowShape({
  id: "int4",
  user_id: "int4?",
  user_email: "varchar?",
  files: "int4",
  ms: "numeric",
});
