// All SQL about `requests` rows. Counters and status change only through conditional statements, so
// concurrent callers (and replicas) cannot complete a request twice (docs/decisions.md D11).
import type { Sql } from "../db/database.js";
import type { Database } from "../db/database.js";
import { rowShape, type RowOf } from "../db/rowShape.js";
import type { TransformStatusName } from "../../domain/status.js";
import type {
  RequestRecord,
  ReusableQuery,
  NewRequest,
  DispatchRow,
  RequestsRepo as RequestsRepoPort,
} from "../../domain/repositories.js";
export type { RequestRecord, NewRequest, DispatchRow } from "../../domain/repositories.js";

const RECORD_COLUMNS = `id, request_id AS "requestId", title,
  extract(epoch FROM submit_time) * 1000 AS "submitMs", extract(epoch FROM finish_time) * 1000 AS "finishMs",
  did, did_id AS "didId", selection, tree_name AS "treeName", image, workers,
  result_destination AS "resultDestination", result_format AS "resultFormat", submitted_by AS "submittedBy",
  files, files_completed AS "filesCompleted", files_failed AS "filesFailed",
  total_events::float8 AS "totalEvents", total_bytes::float8 AS "totalBytes",
  generated_code_cm AS "generatedCodeCm", status, failure_description AS "failureDescription",
  app_version AS "appVersion", code_gen_image AS "codeGenImage",
  transformer_language AS "transformerLanguage", transformer_command AS "transformerCommand"`;

const RECORD = rowShape({
  id: "int4",
  requestId: "varchar",
  title: "varchar?",
  submitMs: "numeric",
  finishMs: "numeric?",
  did: "varchar",
  didId: "int4",
  selection: "text?",
  treeName: "varchar?",
  image: "varchar?",
  workers: "int4?",
  resultDestination: "varchar",
  resultFormat: "varchar",
  submittedBy: "int4?",
  files: "int4",
  filesCompleted: "int4",
  filesFailed: "int4",
  totalEvents: "float8?",
  totalBytes: "float8?",
  generatedCodeCm: "varchar?",
  status: "transformstatus",
  failureDescription: "text?",
  appVersion: "varchar?",
  codeGenImage: "varchar?",
  transformerLanguage: "varchar?",
  transformerCommand: "varchar?",
});

function toRecord(r: RowOf<typeof RECORD.columns>): RequestRecord {
  const { submitMs, finishMs, ...rest } = r;
  return {
    ...rest,
    submitTime: new Date(Number(submitMs)),
    finishTime: finishMs === null ? null : new Date(Number(finishMs)),
  };
}

const NON_TERMINAL = "('submitted','pending_lookup','lookup','running')";

export class RequestsRepo implements RequestsRepoPort {
  constructor(private readonly db: Database) {}

  /** By UUID, or by integer primary key given as a numeric string (docs/api.md). */
  async find(idOrUuid: string): Promise<RequestRecord | null> {
    const byId = /^\d{1,9}$/.test(idOrUuid);
    const rows = await RECORD.all(
      this.db.sql,
      `SELECT ${RECORD_COLUMNS} FROM requests WHERE ${byId ? "id = $1::int" : "request_id = $1"}`,
      [idOrUuid],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async list(opts: { submittedBy?: number; skip?: number; take?: number }): Promise<RequestRecord[]> {
    const params: unknown[] = [];
    let where = "";
    if (opts.submittedBy !== undefined) {
      params.push(opts.submittedBy);
      where = `WHERE submitted_by = $${params.length}`;
    }
    let page = "";
    if (opts.take !== undefined) {
      params.push(opts.take, opts.skip ?? 0);
      page = `LIMIT $${params.length - 1} OFFSET $${params.length}`;
    }
    const rows = await RECORD.all(
      this.db.sql,
      `SELECT ${RECORD_COLUMNS} FROM requests ${where} ORDER BY id ${page}`,
      params,
    );
    return rows.map(toRecord);
  }

  /** Status by UUID for the given ids; ids without a row are absent from the map. */
  async statuses(requestIds: readonly string[]): Promise<Map<string, TransformStatusName>> {
    if (requestIds.length === 0) return new Map();
    const rows = await STATUS_BY_UUID.all(
      this.db.sql,
      "SELECT request_id, status FROM requests WHERE request_id = ANY($1::text[])",
      [requestIds],
    );
    return new Map(rows.map((r) => [r.request_id, r.status]));
  }

  async resultFormat(requestId: string): Promise<string | null> {
    const row = await RESULT_FORMAT.first(
      this.db.sql,
      "SELECT result_format FROM requests WHERE request_id = $1",
      [requestId],
    );
    return row?.result_format ?? null;
  }

  /** The user's requests that are not finished yet (submitted, pending_lookup, lookup, running). */
  async countActive(userId: number): Promise<number> {
    const row = await COUNT.first(
      this.db.sql,
      `SELECT count(*)::int AS n FROM requests
       WHERE submitted_by = $1 AND status IN ('submitted','pending_lookup','lookup','running')`,
      [userId],
    );
    return row?.n ?? 0;
  }

  /**
   * The newest completed request, without failed files, of that dataset (live, looked up) with the same
   * selection, generator image, format, destination, tree and submitter: the one a submit may reuse.
   */
  async findReusable(q: ReusableQuery): Promise<string | null> {
    const row = await REQUEST_UUID.first(
      this.db.sql,
      `SELECT r.request_id FROM requests r JOIN datasets d ON d.id = r.did_id
       WHERE d.name = $1 AND d.stale IS FALSE AND d.lookup_status = 'complete'
         AND r.status = 'complete' AND r.files_failed = 0
         AND r.selection = $2 AND r.code_gen_image = $3 AND r.result_format = $4
         AND r.result_destination = $5 AND r.tree_name IS NOT DISTINCT FROM $6
         AND r.submitted_by IS NOT DISTINCT FROM $7
       ORDER BY r.id DESC LIMIT 1`,
      [
        q.datasetName,
        q.selection,
        q.codeGenImage,
        q.resultFormat,
        q.resultDestination,
        q.treeName,
        q.submittedBy,
      ],
    );
    return row?.request_id ?? null;
  }

  async count(opts: { submittedBy?: number }): Promise<number> {
    return this.db.prisma.transformRequest.count({
      where: opts.submittedBy === undefined ? {} : { submittedBy: opts.submittedBy },
    });
  }

  async insert(tx: Sql, r: NewRequest): Promise<number> {
    const rows = await ID.all(
      tx,
      `INSERT INTO requests (request_id, title, submit_time, did, did_id, selection, tree_name, image, workers,
         result_destination, result_format, submitted_by, files, generated_code_cm, status, app_version,
         code_gen_image, transformer_language, transformer_command)
       VALUES ($1,$2, now(), $3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14::transformstatus,$15,$16,$17,$18)
       RETURNING id`,
      [
        r.requestId,
        r.title,
        r.did,
        r.didId,
        r.selection,
        r.treeName,
        r.image,
        r.workers,
        r.resultDestination,
        r.resultFormat,
        r.submittedBy,
        r.files,
        r.generatedCodeCm,
        r.status,
        r.appVersion,
        r.codeGenImage,
        r.transformerLanguage,
        r.transformerCommand,
      ],
    );
    return rows[0]!.id;
  }

  /**
   * Moves a request to a terminal status if it is not terminal yet. Returns true only for the caller that
   * made the transition, which therefore owns the shutdown (exactly once).
   */
  async finish(
    tx: Sql,
    requestId: string,
    status: TransformStatusName,
    failure: string | null = null,
    onlyFrom: readonly TransformStatusName[] | null = null,
  ): Promise<boolean> {
    const from = onlyFrom ? `(${onlyFrom.map((s) => `'${s}'`).join(",")})` : NON_TERMINAL;
    const rows = await ID.all(
      tx,
      `UPDATE requests SET status = $2::transformstatus, finish_time = now(),
         failure_description = COALESCE($3, failure_description)
       WHERE request_id = $1 AND status IN ${from} RETURNING id`,
      [requestId, status, failure],
    );
    return rows.length === 1;
  }

  /** Requests waiting on a dataset's lookup, locked in id order (docs/api.md lock_awaiting_dataset). */
  async lockAwaitingDataset(
    tx: Sql,
    datasetId: number,
  ): Promise<
    Array<{ id: number; request_id: string; status: TransformStatusName; files: number; done: number }>
  > {
    return AWAITING.all(
      tx,
      `SELECT id, request_id, status, files, files_completed + files_failed AS done FROM requests
       WHERE did_id = $1 AND status IN ('lookup','pending_lookup') ORDER BY id FOR UPDATE`,
      [datasetId],
    );
  }

  /** The running requests on a dataset, in id order (a repeated DID-finder complete re-dispatches them). */
  async runningOnDataset(tx: Sql, datasetId: number): Promise<number[]> {
    const rows = await ID.all(
      tx,
      "SELECT id FROM requests WHERE did_id = $1 AND status = 'running' ORDER BY id",
      [datasetId],
    );
    return rows.map((r) => r.id);
  }

  /** Sets the request's file count (a lookup that completed with no files). */
  async setFiles(tx: Sql, id: number, files: number): Promise<void> {
    await tx.query("UPDATE requests SET files = $2 WHERE id = $1", [id, files]);
  }

  /** A request waiting on its dataset's lookup starts running with the dataset's file count. */
  async startRunning(tx: Sql, id: number, files: number): Promise<void> {
    await tx.query("UPDATE requests SET status = 'running', files = $2 WHERE id = $1", [id, files]);
  }

  async dispatchRow(id: number): Promise<DispatchRow | null> {
    const row = await DISPATCH.first(
      this.db.sql,
      `SELECT id, request_id, did_id, status, tasks_published_through, result_destination, result_format
       FROM requests WHERE id = $1`,
      [id],
    );
    return row ?? null;
  }

  /** Requests whose transform tasks the dispatcher must keep published. */
  async activeDispatchIds(): Promise<number[]> {
    const rows = await ID.all(
      this.db.sql,
      "SELECT id FROM requests WHERE status IN ('lookup','running') ORDER BY id",
    );
    return rows.map((r) => r.id);
  }

  async advanceWatermark(id: number, through: number): Promise<void> {
    await this.db.sql.query(
      "UPDATE requests SET tasks_published_through = GREATEST(tasks_published_through, $2) WHERE id = $1",
      [id, through],
    );
  }

  /**
   * Deletes a finished request with its results. The request row is locked first (the order every writer
   * uses), so a late file-complete batch cannot interleave; false when it is not terminal (any more).
   */
  async delete(tx: Sql, id: number, requestId: string): Promise<boolean> {
    const locked = await STATUS.first(tx, "SELECT status FROM requests WHERE id = $1 FOR UPDATE", [id]);
    if (!locked || !["complete", "fatal", "canceled", "bad_dataset"].includes(locked.status)) return false;
    await tx.query("DELETE FROM transform_result WHERE request_id = $1", [requestId]);
    await tx.query("DELETE FROM file_status WHERE request_id = $1", [requestId]);
    await tx.query("DELETE FROM request_progress WHERE request_id = $1", [requestId]);
    await tx.query("DELETE FROM requests WHERE id = $1", [id]);
    return true;
  }

  /**
   * Aggregates over the request's results (docs/api.md `stats`); null when there are none. The average
   * rate is taken in numeric: every avg_rate fits a float8, but a float8 sum of two of 1e308 overflows.
   */
  async stats(requestId: string): Promise<{
    minTime: number;
    maxTime: number;
    avgTime: number;
    totalTime: number;
    avgRate: number;
    totalBytes: number;
    totalEvents: number;
  } | null> {
    const r = await STATS.first(
      this.db.sql,
      `SELECT count(*)::int AS n, min(transform_time) AS min_t, max(transform_time) AS max_t,
              avg(transform_time)::float8 AS avg_t, sum(transform_time)::float8 AS total_t,
              avg(avg_rate::numeric)::float8 AS avg_rate, sum(total_bytes)::float8 AS bytes, sum(total_events)::float8 AS events
       FROM transform_result WHERE request_id = $1`,
      [requestId],
    );
    if (!r || r.n === 0) return null;
    const n = (v: number | null) => v ?? 0;
    return {
      minTime: n(r.min_t),
      maxTime: n(r.max_t),
      avgTime: n(r.avg_t),
      totalTime: n(r.total_t),
      avgRate: n(r.avg_rate),
      totalBytes: n(r.bytes),
      totalEvents: n(r.events),
    };
  }
  /** Cache size for the data lifecycle: SUM(transform_result.total_bytes) (docs/api.md). */
  async cacheBytes(): Promise<number> {
    const row = await BYTES.first(
      this.db.sql,
      "SELECT COALESCE(SUM(total_bytes), 0)::float8 AS bytes FROM transform_result",
    );
    return row?.bytes ?? 0;
  }

  /**
   * The earliest submit_time at which SUM(requests.total_bytes) ORDER BY submit_time reaches `bytes`
   * (null when it never does): deleting everything up to it frees at least that much (docs/api.md).
   */
  async submitTimeFreeing(bytes: number): Promise<string | null> {
    const row = await TEXT_T.first(
      this.db.sql,
      `SELECT to_char(submit_time, 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') AS t FROM (
         SELECT submit_time,
                SUM(COALESCE(total_bytes, 0)) OVER (ORDER BY submit_time, id) AS running
         FROM requests) s
       WHERE running >= $1 ORDER BY submit_time LIMIT 1`,
      [bytes],
    );
    return row?.t ?? null;
  }

  /** Requests submitted at or before `cutoff` (naive UTC ISO), oldest first, with their status. */
  async submittedThrough(
    cutoff: string,
  ): Promise<Array<{ id: number; requestId: string; status: TransformStatusName }>> {
    return SUBMITTED.all(
      this.db.sql,
      `SELECT id, request_id AS "requestId", status FROM requests
       WHERE submit_time <= ($1::timestamptz AT TIME ZONE 'UTC') ORDER BY submit_time, id`,
      [cutoff],
    );
  }

  /** Requests per status name, and the sums of their file counters (the /metrics gauges). */
  async countByStatus(): Promise<{
    byStatus: Record<string, number>;
    filesCompleted: number;
    filesFailed: number;
  }> {
    const rows = await BY_STATUS.all(
      this.db.sql,
      `SELECT status::text AS status, count(*)::int AS n,
              COALESCE(sum(files_completed), 0)::float8 AS completed,
              COALESCE(sum(files_failed), 0)::float8 AS failed
       FROM requests GROUP BY status`,
    );
    const byStatus: Record<string, number> = {};
    let filesCompleted = 0;
    let filesFailed = 0;
    for (const r of rows) {
      byStatus[r.status] = r.n;
      filesCompleted += r.completed;
      filesFailed += r.failed;
    }
    return { byStatus, filesCompleted, filesFailed };
  }
}

// Result columns of the queries above, one declaration each (src/adapters/db/rowShape.ts).
const ID = rowShape({ id: "int4" });
const COUNT = rowShape({ n: "int4" });
const STATUS = rowShape({ status: "transformstatus" });
const STATUS_BY_UUID = rowShape({ request_id: "varchar", status: "transformstatus" });
const RESULT_FORMAT = rowShape({ result_format: "varchar" });
const REQUEST_UUID = rowShape({ request_id: "varchar" });
const TEXT_T = rowShape({ t: "text" });
const BYTES = rowShape({ bytes: "float8" });
const AWAITING = rowShape({
  id: "int4",
  request_id: "varchar",
  status: "transformstatus",
  files: "int4",
  done: "int4",
});
const DISPATCH = rowShape({
  id: "int4",
  request_id: "varchar",
  did_id: "int4",
  status: "transformstatus",
  tasks_published_through: "int4",
  result_destination: "varchar",
  result_format: "varchar",
});
const STATS = rowShape({
  n: "int4",
  min_t: "int4?",
  max_t: "int4?",
  avg_t: "float8?",
  total_t: "float8?",
  avg_rate: "float8?",
  bytes: "float8?",
  events: "float8?",
});
const SUBMITTED = rowShape({ id: "int4", requestId: "varchar", status: "transformstatus" });
const BY_STATUS = rowShape({ status: "text", n: "int4", completed: "float8", failed: "float8" });
