// Queries of the reconciler (docs/decisions.md D18): requests that stopped making progress, and the leases that let
// one replica at a time run a background job.
import type { Database } from "../db/database.js";
import { rowShape } from "../db/rowShape.js";
import type {
  StalledLookup,
  StalledRun,
  ReconcileRepo as ReconcileRepoPort,
} from "../../domain/repositories.js";
export type { StalledLookup, StalledRun } from "../../domain/repositories.js";

export class ReconcileRepo implements ReconcileRepoPort {
  constructor(private readonly db: Database) {}

  /** Requests in Lookup whose DID finder sent nothing (no /files, no /complete) for `seconds`. */
  async stalledLookups(seconds: number): Promise<StalledLookup[]> {
    return STALLED_LOOKUP.all(
      this.db.sql,
      `SELECT r.id, r.request_id AS "requestId", r.reconcile_attempts AS attempts, d.id AS "datasetId",
              d.name AS "datasetName", d.did_finder AS "didFinder"
       FROM requests r JOIN datasets d ON d.id = r.did_id
       WHERE r.status = 'lookup' AND d.lookup_status = 'looking'
         AND greatest(r.submit_time, coalesce(d.last_updated, r.submit_time),
                      coalesce(d.lookup_published_at, r.submit_time)) < now() - $1::float8 * interval '1 second'
       ORDER BY r.id`,
      [seconds],
    );
  }

  /**
   * Running requests with files still to do and no file-complete report (no file_status row) for `seconds`
   * since the later of their last report and their last re-drive.
   */
  async stalledRuns(seconds: number): Promise<StalledRun[]> {
    return STALLED_RUN.all(
      this.db.sql,
      `SELECT r.id, r.request_id AS "requestId", r.reconcile_attempts AS attempts, r.files,
              r.files_completed + r.files_failed AS done
       FROM requests r
       WHERE r.status = 'running' AND r.files_completed + r.files_failed < r.files
         AND greatest(r.submit_time,
               coalesce((SELECT max(fs.timestamp) FROM file_status fs WHERE fs.request_id = r.request_id), r.submit_time),
               coalesce(r.reconciled_at, r.submit_time)) < now() - $1::float8 * interval '1 second'
       ORDER BY r.id`,
      [seconds],
    );
  }

  /** Counts a re-drive; returns the new attempt count. */
  async noteAttempt(requestDbId: number): Promise<number> {
    const row = await COUNT.first(
      this.db.sql,
      "UPDATE requests SET reconcile_attempts = reconcile_attempts + 1, reconciled_at = now() WHERE id = $1 RETURNING reconcile_attempts AS n",
      [requestDbId],
    );
    return row?.n ?? 0;
  }

  /** Re-opens a lookup for re-sending: the dispatcher's unpublished-lookups pass sends it again. */
  async reopenLookup(datasetId: number): Promise<void> {
    await this.db.sql.query(
      `UPDATE datasets SET lookup_published_at = NULL, lookup_attempts = lookup_attempts + 1, last_updated = now()
       WHERE id = $1 AND lookup_status = 'looking'`,
      [datasetId],
    );
  }

  /**
   * Takes or renews the lease `name` for `holder` for `ttlMs`; true when this holder has it. A lease whose
   * holder died is free once expired, so another replica takes over within one TTL.
   */
  async lease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const rows = await HOLDER.all(
      this.db.control,
      `INSERT INTO app_leases (name, holder, expires_at) VALUES ($1, $2, now() + $3::float8 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE app_leases.holder = EXCLUDED.holder OR app_leases.expires_at < now()
       RETURNING holder`,
      [name, holder, ttlMs],
    );
    return rows.length === 1;
  }

  /** When the current holder took (or last renewed) the lease, in database time; null when free. */
  async leaseAcquiredAt(name: string, ttlMs: number): Promise<number | null> {
    const row = await MS.first(
      this.db.control,
      `SELECT extract(epoch FROM expires_at - $2::float8 * interval '1 millisecond') * 1000 AS ms
       FROM app_leases WHERE name = $1 AND expires_at > now()`,
      [name, ttlMs],
    );
    return row ? Number(row.ms) : null;
  }

  /** The database's clock (ms), so lease times compare on one clock across replicas. */
  async dbNow(): Promise<number> {
    const row = await MS.first(this.db.control, "SELECT extract(epoch FROM now()) * 1000 AS ms");
    return Number(row!.ms);
  }

  /**
   * Active requests with files beyond their watermark (tasks never confirmed) whose `dispatch:<id>` claim
   * is free: nobody is publishing them, e.g. because the replica that was died.
   */
  async unclaimedDispatches(): Promise<number[]> {
    const rows = await ID.all(
      this.db.sql,
      `SELECT r.id FROM requests r
       WHERE r.status IN ('lookup','running')
         AND EXISTS (SELECT 1 FROM files f WHERE f.dataset_id = r.did_id AND f.id > r.tasks_published_through)
         AND NOT EXISTS (SELECT 1 FROM app_leases l WHERE l.name = 'dispatch:' || r.id AND l.expires_at > now())
       ORDER BY r.id`,
    );
    return rows.map((r) => r.id);
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.db.control.query("DELETE FROM app_leases WHERE name = $1 AND holder = $2", [name, holder]);
  }
}

// Result columns of the queries above, one declaration each (src/adapters/db/rowShape.ts).
const ID = rowShape({ id: "int4" });
const COUNT = rowShape({ n: "int4" });
const MS = rowShape({ ms: "numeric" });
const HOLDER = rowShape({ holder: "varchar" });
const STALLED_LOOKUP = rowShape({
  id: "int4",
  requestId: "varchar",
  attempts: "int4",
  datasetId: "int4",
  datasetName: "varchar",
  didFinder: "varchar",
});
const STALLED_RUN = rowShape({
  id: "int4",
  requestId: "varchar",
  attempts: "int4",
  files: "int4",
  done: "int4",
});
