// `transform_result` and `file_status`: per-file outcomes. applyReports() is the group-commit write of the
// file-complete hot path: one transaction for a whole batch of reports, a handful of round trips.
import type { Sql } from "../db/database.js";
import type { Database } from "../db/database.js";
import { rowShape } from "../db/rowShape.js";
import type {
  FileReport,
  ReportOutcome,
  ApplyResult,
  ResultJsonRow,
  ResultsRepo as ResultsRepoPort,
} from "../../domain/repositories.js";
export type { FileReport, ReportOutcome, ApplyResult, ResultJsonRow } from "../../domain/repositories.js";

const RESULT_COLUMNS = `id, file_id, file_path, request_id, transform_status, transform_time,
  total_events::float8 AS total_events, total_bytes::float8 AS total_bytes, avg_rate, s3_object_name,
  to_char(created_at, 'YYYY-MM-DD"T"HH24:MI:SS.US') AS created_at`;

export class ResultsRepo implements ResultsRepoPort {
  constructor(private readonly db: Database) {}

  /**
   * Applies a batch of file-complete reports atomically (docs/api.md, docs/decisions.md D11): dataset and request rows
   * are locked (datasets first, then requests, in id order: no deadlock with lookups or other replicas),
   * the batch is reduced per (request, file) so the outcome does not depend on arrival order (a success is
   * final, a success replaces an earlier failure, duplicates change no counter), and a request becomes
   * Complete only from Running, in the same statement that moves its counters.
   */
  async applyReports(reports: readonly FileReport[]): Promise<ApplyResult> {
    return applyBatch(this.db.sql, reports);
  }

  async listForRequest(requestId: string, laterThanUtc: string | null): Promise<ResultJsonRow[]> {
    if (laterThanUtc === null) {
      return RESULT.all(
        this.db.sql,
        `SELECT ${RESULT_COLUMNS} FROM transform_result WHERE request_id = $1 ORDER BY created_at, id`,
        [requestId],
      );
    }
    return RESULT.all(
      this.db.sql,
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
    return FAILURE.all(
      this.db.sql,
      `SELECT s.pod_name, f.paths, f.file_events::float8 AS file_events, s.info
       FROM file_status s LEFT JOIN files f ON f.id = s.file_id
       WHERE s.request_id = $1 AND s.status = 'failure' ORDER BY s.id`,
      [requestId],
    );
  }

  /** One event of a transformer's file-status log (a single INSERT: it needs no transaction of its own). */
  async addFileStatus(row: {
    requestId: string;
    fileId: number;
    status: string;
    timestamp: string;
    podName: string | null;
    info: string | null;
  }): Promise<void> {
    await this.db.sql.query(
      `INSERT INTO file_status (file_id, request_id, status, timestamp, pod_name, info)
       VALUES ($1, $2, $3, ($4::timestamptz AT TIME ZONE 'UTC'), $5, $6)`,
      [row.fileId, row.requestId, row.status, row.timestamp, row.podName, row.info],
    );
  }
}

/**
 * One round trip per batch: the database function sx_apply_file_reports (prisma/migrations/*_apply_file_reports)
 * locks, reads, reduces and writes. Each extra round trip costs a trip through a busy event loop, which
 * dominated the batch time under load.
 */
async function applyBatch(db: Sql, reports: readonly FileReport[]): Promise<ApplyResult> {
  const rows = await APPLIED.all(
    db,
    `SELECT o_kind, o_ord, o_rid FROM sx_apply_file_reports($1::text[], $2::int[], $3::boolean[], $4::text[],
       $5::text[], $6::float8[], $7::bigint[], $8::bigint[], $9::float8[], $10::text[], $11::text[], $12::text[])`,
    [
      reports.map((r) => r.requestId),
      reports.map((r) => r.fileId),
      reports.map((r) => r.success),
      reports.map((r) => r.status),
      reports.map((r) => r.filePath),
      reports.map((r) => r.transformTime),
      reports.map((r) => r.totalEvents),
      reports.map((r) => r.totalBytes),
      reports.map((r) => r.avgRate),
      reports.map((r) => r.s3ObjectName),
      reports.map((r) => r.podName),
      reports.map((r) => r.info),
    ],
  );
  const outcomes = new Array<ReportOutcome>(reports.length).fill("ok");
  const completed: string[] = [];
  for (const r of rows) {
    if (r.o_kind === "o") outcomes[Number(r.o_ord) - 1] = outcome(r.o_rid);
    else completed.push(r.o_rid);
  }
  return { outcomes, completed };
}

const OUTCOMES: ReadonlySet<string> = new Set<ReportOutcome>([
  "ok",
  "request_not_found",
  "file_not_in_request",
  "request_not_running",
]);
const isOutcome = (s: string): s is ReportOutcome => OUTCOMES.has(s);

/** A report's outcome as sx_apply_file_reports names it (one of ReportOutcome). */
function outcome(s: string): ReportOutcome {
  if (!isOutcome(s)) throw new Error(`sx_apply_file_reports returned an unknown outcome: ${s}`);
  return s;
}

// Result columns of the queries above, one declaration each (src/adapters/db/rowShape.ts).
const RESULT = rowShape({
  id: "int4",
  file_id: "int4?",
  file_path: "varchar",
  request_id: "varchar",
  transform_status: "varchar",
  transform_time: "int4?",
  total_events: "float8?",
  total_bytes: "float8?",
  avg_rate: "float8?",
  s3_object_name: "varchar?",
  created_at: "text",
});
const FAILURE = rowShape({ pod_name: "varchar?", paths: "text?", file_events: "float8?", info: "varchar?" });
/** sx_apply_file_reports: per report its outcome ("o", 1-based ordinal), per completed request a "c" row. */
const APPLIED = rowShape({ o_kind: "text", o_ord: "int8?", o_rid: "text" });
