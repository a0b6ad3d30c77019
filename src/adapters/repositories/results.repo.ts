// `transform_result` and `file_status`: per-file outcomes. applyReports() is the group-commit write of the
// file-complete hot path: one transaction for a whole batch of reports, a handful of round trips.
import type { Sql, SqlDb } from "../db/database.js";
import type { Database } from "../db/database.js";
import type { TransformStatusName } from "../../domain/status.js";

export interface FileReport {
  requestId: string;
  fileId: number;
  success: boolean;
  /** The status string as reported (stored verbatim in transform_status / file_status). */
  status: string;
  filePath: string;
  transformTime: number;
  totalEvents: number;
  totalBytes: number;
  avgRate: number;
  s3ObjectName: string | null;
  podName: string | null;
  info: string | null;
}

export type ReportOutcome = "ok" | "request_not_found" | "file_not_in_request";

export interface ApplyResult {
  outcomes: ReportOutcome[];
  /** request_ids that this batch moved to Complete (the caller shuts them down, exactly once). */
  completed: string[];
  /**
   * Dataset event/size totals grown by back-filled file stats. Applied after the commit, in their own
   * statement: taking the dataset row lock inside the batch would invert the lock order of the DID-finder
   * callbacks (dataset, then requests) and deadlock with them.
   */
  datasetDeltas: Array<{ datasetId: number; events: number; bytes: number }>;
}

interface LockedReq {
  id: number;
  request_id: string;
  did_id: number;
  status: TransformStatusName;
}

interface ResultRow {
  request_id: string;
  file_id: number;
  transform_status: string;
  total_bytes: string | number | null;
  total_events: string | number | null;
}

export interface ResultJsonRow {
  id: number;
  file_id: number | null;
  file_path: string;
  request_id: string;
  transform_status: string;
  transform_time: number | null;
  total_events: string | number | null;
  total_bytes: string | number | null;
  avg_rate: number | null;
  s3_object_name: string | null;
  created_at: string | null;
}

const RESULT_COLUMNS = `id, file_id, file_path, request_id, transform_status, transform_time,
  total_events::float8 AS total_events, total_bytes::float8 AS total_bytes, avg_rate, s3_object_name,
  to_char(created_at, 'YYYY-MM-DD"T"HH24:MI:SS.US') AS created_at`;

export class ResultsRepo {
  constructor(private readonly db: Database) {}

  /**
   * Applies a batch of file-complete reports atomically (contract §2.4.4, A.11):
   * the request rows are locked first (in id order, so concurrent batches and replicas cannot deadlock),
   * then existing results are read and the batch is reduced per (request, file) so that the outcome does
   * not depend on arrival order: a success is final, a success replaces an earlier failure, duplicates
   * change no counter. A request becomes Complete only from Running, in the same statement that moves
   * its counters.
   */
  async applyReports(reports: readonly FileReport[]): Promise<ApplyResult> {
    return (this.db.sql as SqlDb).transaction((tx) => applyInTx(tx, reports));
  }

  async addDatasetTotals(deltas: ApplyResult["datasetDeltas"]): Promise<void> {
    if (deltas.length === 0) return;
    await this.db.sql.query(
      `UPDATE datasets d SET events = COALESCE(d.events, 0) + x.ev, size = COALESCE(d.size, 0) + x.by
       FROM unnest($1::int[], $2::bigint[], $3::bigint[]) AS x(id, ev, by) WHERE d.id = x.id`,
      [deltas.map((d) => d.datasetId), deltas.map((d) => d.events), deltas.map((d) => d.bytes)],
    );
  }

  async listForRequest(requestId: string, laterThanUtc: string | null): Promise<ResultJsonRow[]> {
    if (laterThanUtc === null) {
      return this.db.sql.query(
        `SELECT ${RESULT_COLUMNS} FROM transform_result WHERE request_id = $1 ORDER BY created_at, id`,
        [requestId],
      );
    }
    return this.db.sql.query(
      `SELECT ${RESULT_COLUMNS} FROM transform_result
       WHERE request_id = $1 AND created_at > ($2::timestamptz AT TIME ZONE 'UTC') ORDER BY created_at, id`,
      [requestId, laterThanUtc],
    );
  }

  async failures(
    requestId: string,
  ): Promise<
    Array<{ pod_name: string | null; paths: string | null; file_events: number | null; info: string | null }>
  > {
    return this.db.sql.query(
      `SELECT s.pod_name, f.paths, f.file_events::float8 AS file_events, s.info
       FROM file_status s LEFT JOIN files f ON f.id = s.file_id
       WHERE s.request_id = $1 AND s.status = 'failure' ORDER BY s.id`,
      [requestId],
    );
  }

  async addFileStatus(
    tx: Sql,
    row: {
      requestId: string;
      fileId: number;
      status: string;
      timestamp: string;
      podName: string | null;
      info: string | null;
    },
  ): Promise<void> {
    await tx.query(
      `INSERT INTO file_status (file_id, request_id, status, timestamp, pod_name, info)
       VALUES ($1, $2, $3, ($4::timestamptz AT TIME ZONE 'UTC'), $5, $6)`,
      [row.fileId, row.requestId, row.status, row.timestamp, row.podName, row.info],
    );
  }
}

const num = (v: string | number | null | undefined) => (v === null || v === undefined ? 0 : Number(v));

async function applyInTx(tx: Sql, reports: readonly FileReport[]): Promise<ApplyResult> {
  const requestIds = [...new Set(reports.map((r) => r.requestId))];
  const locked = await tx.query<LockedReq>(
    "SELECT id, request_id, did_id, status FROM requests WHERE request_id = ANY($1::text[]) ORDER BY id FOR UPDATE",
    [requestIds],
  );
  const reqByUuid = new Map(locked.map((r) => [r.request_id, r]));
  const fileIds = [...new Set(reports.map((r) => r.fileId))];
  const [files, existing] = await Promise.all([
    tx.query<{ id: number; dataset_id: number; file_size: string | null; file_events: string | null }>(
      "SELECT id, dataset_id, file_size, file_events FROM files WHERE id = ANY($1::int[])",
      [fileIds],
    ),
    tx.query<ResultRow>(
      `SELECT request_id, file_id, transform_status, total_bytes, total_events FROM transform_result
       WHERE request_id = ANY($1::text[]) AND file_id = ANY($2::int[])`,
      [requestIds, fileIds],
    ),
  ]);
  const fileById = new Map(files.map((f) => [f.id, f]));
  const prior = new Map(existing.map((r) => [`${r.request_id}\u0000${r.file_id}`, r]));

  const outcomes: ReportOutcome[] = [];
  const accepted: FileReport[] = [];
  // Reduce per (request, file): the first success wins the result row, otherwise the first failure;
  // for a file that already has a success, a later success only refreshes bytes/events (sidecar re-upload).
  const chosen = new Map<string, FileReport>();
  for (const r of reports) {
    const req = reqByUuid.get(r.requestId);
    if (!req) {
      outcomes.push("request_not_found");
      continue;
    }
    const file = fileById.get(r.fileId);
    if (!file || file.dataset_id !== req.did_id) {
      outcomes.push("file_not_in_request");
      continue;
    }
    outcomes.push("ok");
    accepted.push(r);
    const key = `${r.requestId}\u0000${r.fileId}`;
    const cur = chosen.get(key);
    if (!cur || (!cur.success && r.success)) chosen.set(key, r);
    else if (cur.success && r.success)
      chosen.set(key, { ...cur, totalBytes: r.totalBytes, totalEvents: r.totalEvents });
  }

  const deltas = new Map<number, { dc: number; df: number; db: number; de: number }>();
  const writes: FileReport[] = [];
  const backfill = new Map<number, { events: number; bytes: number }>();
  for (const [key, r] of chosen) {
    const req = reqByUuid.get(r.requestId)!;
    const d = deltas.get(req.id) ?? { dc: 0, df: 0, db: 0, de: 0 };
    const old = prior.get(key);
    if (!old) {
      if (r.success) d.dc += 1;
      else d.df += 1;
      d.db += r.totalBytes;
      d.de += r.totalEvents;
      writes.push(r);
    } else if (old.transform_status !== "success" && r.success) {
      d.df -= 1;
      d.dc += 1;
      d.db += r.totalBytes - num(old.total_bytes);
      d.de += r.totalEvents - num(old.total_events);
      writes.push(r);
    } else if (old.transform_status === "success" && r.success) {
      const dbytes = r.totalBytes - num(old.total_bytes);
      const devents = r.totalEvents - num(old.total_events);
      if (dbytes !== 0 || devents !== 0) {
        d.db += dbytes;
        d.de += devents;
        writes.push(r);
      }
    }
    // old success + new failure, or duplicate failure: kept in file_status only.
    if (r.success && (r.totalEvents > 0 || r.totalBytes > 0)) {
      const f = fileById.get(r.fileId)!;
      if (num(f.file_events) === 0 || num(f.file_size) === 0) {
        backfill.set(r.fileId, { events: r.totalEvents, bytes: r.totalBytes });
      }
    }
    deltas.set(req.id, d);
  }

  const dIds = [...deltas.keys()];
  const dv = [...deltas.values()];
  const out = await tx.query<{
    kind: "r" | "d";
    request_id: string;
    status: TransformStatusName;
    dataset_id: number;
    ev: number;
    by: number;
  }>(
    `WITH up AS (
       INSERT INTO transform_result (file_id, request_id, file_path, transform_status, transform_time,
                                     total_events, total_bytes, avg_rate, s3_object_name, created_at)
       SELECT w.file_id, w.request_id, w.file_path, w.status, w.ttime, w.events, w.bytes, w.rate, w.s3,
              clock_timestamp() AT TIME ZONE 'UTC'
       FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::bigint[],
                   $8::float8[], $9::text[]) AS w(file_id, request_id, file_path, status, ttime, events, bytes, rate, s3)
       ON CONFLICT (file_id, request_id) DO UPDATE SET
         file_path = EXCLUDED.file_path, transform_status = EXCLUDED.transform_status,
         transform_time = EXCLUDED.transform_time, total_events = EXCLUDED.total_events,
         total_bytes = EXCLUDED.total_bytes, avg_rate = EXCLUDED.avg_rate,
         s3_object_name = COALESCE(EXCLUDED.s3_object_name, transform_result.s3_object_name),
         created_at = EXCLUDED.created_at
       RETURNING 1),
     st AS (
       INSERT INTO file_status (file_id, request_id, status, timestamp, pod_name, info)
       SELECT s.file_id, s.request_id, s.status, now() AT TIME ZONE 'UTC', s.pod, s.info
       FROM unnest($10::int[], $11::text[], $12::text[], $13::text[], $14::text[])
         AS s(file_id, request_id, status, pod, info)
       RETURNING 1),
     bf AS (
       UPDATE files f SET
         file_events = CASE WHEN o.ev = 0 THEN b.events ELSE f.file_events END,
         file_size = CASE WHEN o.sz = 0 THEN b.bytes ELSE f.file_size END
       FROM unnest($15::int[], $16::bigint[], $17::bigint[]) AS b(id, events, bytes)
       JOIN (SELECT id, COALESCE(file_events, 0) AS ev, COALESCE(file_size, 0) AS sz FROM files
             WHERE id = ANY($15::int[]) FOR UPDATE) o ON o.id = b.id
       WHERE f.id = b.id AND (o.ev = 0 OR o.sz = 0)
       RETURNING f.dataset_id, CASE WHEN o.ev = 0 THEN b.events ELSE 0 END AS ev,
                 CASE WHEN o.sz = 0 THEN b.bytes ELSE 0 END AS by),
     rq AS (
       UPDATE requests r SET
         files_completed = r.files_completed + d.dc,
         files_failed = r.files_failed + d.df,
         total_bytes = COALESCE(r.total_bytes, 0) + d.db,
         total_events = COALESCE(r.total_events, 0) + d.de,
         status = CASE WHEN r.status = 'running' AND r.files > 0
                        AND r.files_completed + d.dc + r.files_failed + d.df >= r.files
                       THEN 'complete'::transformstatus ELSE r.status END,
         finish_time = CASE WHEN r.status = 'running' AND r.files > 0
                        AND r.files_completed + d.dc + r.files_failed + d.df >= r.files
                       THEN now() AT TIME ZONE 'UTC' ELSE r.finish_time END
       FROM unnest($18::int[], $19::int[], $20::int[], $21::bigint[], $22::bigint[]) AS d(id, dc, df, db, de)
       WHERE r.id = d.id
       RETURNING r.request_id, r.status),
     dsum AS (SELECT dataset_id, sum(ev)::float8 AS ev, sum(by)::float8 AS by FROM bf GROUP BY dataset_id)
     SELECT 'r' AS kind, rq.request_id, rq.status::text AS status, NULL::int AS dataset_id, NULL::float8 AS ev,
            NULL::float8 AS by, (SELECT count(*) FROM up) + (SELECT count(*) FROM st) AS touched
     FROM rq
     UNION ALL
     SELECT 'd', NULL, NULL, dataset_id, ev, by, 0 FROM dsum`,
    [
      writes.map((w) => w.fileId),
      writes.map((w) => w.requestId),
      writes.map((w) => w.filePath),
      writes.map((w) => w.status),
      writes.map((w) => w.transformTime),
      writes.map((w) => w.totalEvents),
      writes.map((w) => w.totalBytes),
      writes.map((w) => w.avgRate),
      writes.map((w) => w.s3ObjectName),
      accepted.map((r) => r.fileId),
      accepted.map((r) => r.requestId),
      accepted.map((r) => (r.success ? "success" : "failure")),
      accepted.map((r) => r.podName),
      accepted.map((r) => r.info),
      [...backfill.keys()],
      [...backfill.values()].map((b) => b.events),
      [...backfill.values()].map((b) => b.bytes),
      dIds,
      dv.map((d) => d.dc),
      dv.map((d) => d.df),
      dv.map((d) => d.db),
      dv.map((d) => d.de),
    ],
  );
  const rows = out.filter((o) => o.kind === "r");
  const datasetDeltas = out
    .filter((o) => o.kind === "d")
    .map((o) => ({ datasetId: o.dataset_id, events: Number(o.ev), bytes: Number(o.by) }));
  // Exact because the rows stayed locked since the batch began: Running then, Complete now.
  const completed = rows
    .filter((r) => r.status === "complete" && reqByUuid.get(r.request_id)?.status === "running")
    .map((r) => r.request_id);
  return { outcomes, completed, datasetDeltas };
}
