// Read models of the web pages: one SQL statement per table on a page, paginated with
// ORDER BY … LIMIT … OFFSET in the database, so a page costs the same with 100 or 100,000 rows.
import type { Database } from "../db/database.js";
import { rowShape, type RowOf } from "../db/rowShape.js";
import type { TransformStatusName } from "../../domain/status.js";

export type SortOrder = "asc" | "desc";

export interface DashboardRow {
  id: number;
  requestId: string;
  title: string | null;
  status: TransformStatusName;
  submitTime: Date;
  finishTime: Date | null;
  did: string;
  didId: number;
  files: number;
  filesCompleted: number;
  filesFailed: number;
  submittedBy: number | null;
  submitterName: string | null;
  /** The first 200 characters of failure_description (Fatal, Bad Dataset), else null. */
  failure: string | null;
}

/**
 * The dashboards' status filters (docs/api.md "Pages", docs/decisions.md D38). They split the requests
 * without overlap: `failed` is Fatal, Bad Dataset and Complete with failed files; `complete` is Complete
 * with every file done.
 */
export const DASHBOARD_FILTERS = ["active", "failed", "complete", "canceled", "all"] as const;
export type DashboardFilter = (typeof DASHBOARD_FILTERS)[number];
export type DashboardCounts = Record<DashboardFilter, number>;

/** What a dashboard search looks for: one request by its id, or requests whose words start with these. */
export type DashboardSearch = { requestId: string } | { words: string[] };

/**
 * How a word search finds its rows (docs/decisions.md D38): "walk" the requests in the page's order and
 * check each one's words (a few rows per match when most requests match), or "index": read the matches
 * from the GIN index first (when few match, so a walk would visit every request).
 */
export type SearchPlan = "walk" | "index";

/** Requests of one status, and for Complete whether any file failed, with how many there are. */
export interface DashboardGroup {
  status: TransformStatusName;
  failed: boolean;
  n: number;
}

/** A run of one status group in the dashboards' status order: `take` rows after the first `skip`. */
export interface StatusSlice {
  status: TransformStatusName;
  /** Complete only: with (true) or without (false) failed files. */
  failed?: boolean;
  skip: number;
  take: number;
}

export interface Paged<T> {
  rows: T[];
  total: number;
}

export interface ResultRow {
  id: number;
  fileId: number | null;
  filePath: string;
  status: string;
  /** Seconds, with their fraction when the report was stored with it (transform_seconds), else whole. */
  transformTime: number | null;
  totalEvents: number | null;
  totalBytes: number | null;
  /** Events per second as the transformer reported it. */
  avgRate: number | null;
  s3ObjectName: string | null;
  createdAt: Date;
  /** A failed file's last error message and pod (file_status), null for a success. */
  error: string | null;
  errorPod: string | null;
}

/** Failures of a request that share one message (the request page groups them). */
export interface ErrorGroup {
  message: string | null;
  /** Failure reports with this message (a file that failed twice counts twice). */
  reports: number;
  /** Pods that reported it, and the first and last of their names in sort order. */
  pods: number;
  podFirst: string | null;
  podLast: string | null;
  /** One file with this failure: its id and first replica path. */
  sampleFileId: number;
  samplePath: string | null;
  last: Date;
}

export interface DatasetRow {
  id: number;
  name: string;
  didFinder: string;
  nFiles: number;
  size: number;
  events: number;
  lastUsed: Date;
  lastUpdated: Date | null;
  lookupStatus: string;
  stale: boolean;
}

export interface DatasetFileRow {
  id: number;
  paths: string;
  fileSize: number | null;
  fileEvents: number | null;
}

const dir = (o: SortOrder) => (o === "asc" ? "ASC" : "DESC");

/** The Active filter; the same predicate as the partial index ix_requests_active, so the planner uses it. */
const ACTIVE_SQL = "r.status IN ('submitted', 'pending_lookup', 'lookup', 'running')";
const FILTER_SQL: Record<DashboardFilter, string> = {
  active: ACTIVE_SQL,
  failed: "(r.status IN ('fatal', 'bad_dataset') OR (r.status = 'complete' AND r.files_failed > 0))",
  complete: "(r.status = 'complete' AND r.files_failed = 0)",
  canceled: "r.status = 'canceled'",
  all: "TRUE",
};

/**
 * Status order of the dashboards (docs/decisions.md D38), not the enum's: what is moving (Running, Lookup,
 * Pending Lookup, Submitted), then what went wrong (Fatal, Bad Dataset, Complete with failures), then
 * Complete, then Canceled.
 */
const STATUS_RANK = `CASE r.status WHEN 'running' THEN 1 WHEN 'lookup' THEN 2 WHEN 'pending_lookup' THEN 3
  WHEN 'submitted' THEN 4 WHEN 'fatal' THEN 5 WHEN 'bad_dataset' THEN 6
  WHEN 'complete' THEN CASE WHEN r.files_failed > 0 THEN 7 ELSE 8 END ELSE 9 END`;

/**
 * ORDER BY clauses of the dashboards (docs/api.md: start | finish | status). Requests get their id at
 * submit, in submit order, so "start" orders by the primary key (an index scan, not a sort of every row).
 * Within one status the newest comes first in both directions.
 */
const REQUEST_ORDER = {
  start: (o: SortOrder) => `r.id ${dir(o)}`,
  finish: (o: SortOrder) =>
    `r.finish_time ${dir(o)} NULLS ${o === "desc" ? "FIRST" : "LAST"}, r.id ${dir(o)}`,
  status: (o: SortOrder) => `${STATUS_RANK} ${dir(o)}, r.id DESC`,
} as const;
export type RequestSort = keyof typeof REQUEST_ORDER;

/** Columns of a dashboard row (from `requests r`). */
const DASHBOARD_COLUMNS = `r.id, r.request_id, r.title, r.status,
  extract(epoch FROM r.submit_time) * 1000 AS submit_ms, extract(epoch FROM r.finish_time) * 1000 AS finish_ms,
  r.did, r.did_id, r.files, r.files_completed, r.files_failed, r.submitted_by,
  left(r.failure_description, 200) AS failure`;

/** A searched word as the search table stores words: letters and digits only (no tsquery syntax). */
const WORD = /^[\p{L}\p{N}]{1,64}$/u;

/**
 * WHERE conditions of a dashboard (owner and search), with their parameters numbered from `first`, and the
 * WITH clause of a search read from the index first.
 */
function dashboardWhere(
  o: { submittedBy?: number; search?: DashboardSearch; plan?: SearchPlan },
  first: number,
): { sql: string[]; params: unknown[]; with: string } {
  const sql: string[] = [];
  const params: unknown[] = [];
  let withSql = "";
  const param = (v: unknown) => {
    params.push(v);
    return `$${first + params.length - 1}`;
  };
  if (o.submittedBy !== undefined) sql.push(`r.submitted_by = ${param(o.submittedBy)}`);
  if (o.search && "requestId" in o.search) sql.push(`r.request_id = ${param(o.search.requestId)}`);
  else if (o.search) {
    const words = o.search.words.filter((w) => WORD.test(w));
    // Each word as a prefix, all of them required: 'ttbar':* & '601229':* (docs/decisions.md D38).
    const query = words.map((w) => `'${w}':*`).join(" & ");
    const matches = query
      ? `SELECT s.id FROM request_search s WHERE s.words @@ to_tsquery('simple', ${param(query)})`
      : "";
    if (!query) sql.push("FALSE");
    else if (o.plan === "index") {
      // MATERIALIZED: the planner may not fold it into a walk (its estimates of word matches are rough).
      withSql = `WITH m AS MATERIALIZED (${matches})`;
      sql.push("r.id IN (SELECT m.id FROM m)");
    } else sql.push(`r.id IN (${matches})`);
  }
  return { sql, params, with: withSql };
}

/** A dashboard row as read: DASHBOARD_COLUMNS and the submitter's name. */
const DASHBOARD = rowShape({
  id: "int4",
  request_id: "varchar",
  title: "varchar?",
  status: "transformstatus",
  submit_ms: "numeric",
  finish_ms: "numeric?",
  did: "varchar",
  did_id: "int4",
  files: "int4",
  files_completed: "int4",
  files_failed: "int4",
  submitted_by: "int4?",
  failure: "text?",
  submitter_name: "varchar?",
});

function toDashboardRow(r: RowOf<typeof DASHBOARD.columns>): DashboardRow {
  return {
    id: r.id,
    requestId: r.request_id,
    title: r.title,
    status: r.status,
    submitTime: ms(r.submit_ms),
    finishTime: r.finish_ms === null ? null : ms(r.finish_ms),
    did: r.did,
    didId: r.did_id,
    files: r.files,
    filesCompleted: r.files_completed,
    filesFailed: r.files_failed,
    submittedBy: r.submitted_by,
    submitterName: r.submitter_name,
    failure: r.failure,
  };
}

/** Dataset sort keys of the newer upstream dataset list (docs/api.md). */
const DATASET_ORDER = {
  last_used: "last_used",
  last_updated: "last_updated",
  name: "name",
  size: "size",
  events: "events",
  files: "n_files",
} as const;
export type DatasetSort = keyof typeof DATASET_ORDER;

const ms = (v: string | number) => new Date(Number(v));

export class PagesRepo {
  constructor(private readonly db: Database) {}

  /**
   * One page of a dashboard's rows (docs/api.md "Pages"): first the page's ids, in order (the ORDER BY reads
   * an index for start and finish, ix_requests_active for the Active filter, and a deep OFFSET skips index
   * entries only), then those rows and their submitters' names.
   */
  async requests(o: {
    submittedBy?: number;
    filter: DashboardFilter;
    search?: DashboardSearch;
    plan?: SearchPlan;
    sort: RequestSort;
    order: SortOrder;
    limit: number;
    offset: number;
  }): Promise<DashboardRow[]> {
    const w = dashboardWhere(o, 3);
    const filter = FILTER_SQL[o.filter];
    const conditions = filter === "TRUE" ? w.sql : [...w.sql, filter];
    const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
    const rows = await DASHBOARD.all(
      this.db.sql,
      `${w.with}
       SELECT ${DASHBOARD_COLUMNS}, u.name AS submitter_name FROM (
         SELECT p.id, row_number() OVER () AS ord FROM (
           SELECT r.id FROM requests r ${where} ORDER BY ${REQUEST_ORDER[o.sort](o.order)} LIMIT $1 OFFSET $2) p) p
       JOIN requests r ON r.id = p.id
       LEFT JOIN users u ON u.id = r.submitted_by
       ORDER BY p.ord`,
      [o.limit, o.offset, ...w.params],
    );
    return rows.map(toDashboardRow);
  }

  /**
   * A page of a dashboard in status order, without a search (docs/decisions.md D38): the route cuts the
   * page from the status groups' counts, each slice is read newest first from ix_requests_status_id
   * (status, id), so no page sorts every request.
   */
  async requestsByStatus(o: { submittedBy?: number; slices: StatusSlice[] }): Promise<DashboardRow[]> {
    if (o.slices.length === 0) return [];
    const params: unknown[] = [];
    const param = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    const owner = o.submittedBy === undefined ? "" : `AND r.submitted_by = ${param(o.submittedBy)}`;
    const parts = o.slices.map((s, i) => {
      const failed =
        s.failed === undefined ? "" : s.failed ? "AND r.files_failed > 0" : "AND r.files_failed = 0";
      return `(SELECT r.id, ${i} AS b FROM requests r
               WHERE r.status = ${param(s.status)}::transformstatus ${failed} ${owner}
               ORDER BY r.id DESC LIMIT ${param(s.take)} OFFSET ${param(s.skip)})`;
    });
    const rows = await DASHBOARD.all(
      this.db.sql,
      `SELECT ${DASHBOARD_COLUMNS}, u.name AS submitter_name FROM (${parts.join(" UNION ALL ")}) p
       JOIN requests r ON r.id = p.id
       LEFT JOIN users u ON u.id = r.submitted_by
       ORDER BY p.b, r.id DESC`,
      params,
    );
    return rows.map(toDashboardRow);
  }

  /**
   * How many requests each status filter of a dashboard holds, under the same owner and search: one pass
   * over ix_requests_owner_status (or over the search's matches), grouped by status and whether any file
   * failed, folded into the filters here.
   */
  async dashboardCounts(o: {
    submittedBy?: number;
    search?: DashboardSearch;
  }): Promise<{ counts: DashboardCounts; groups: DashboardGroup[] }> {
    const w = dashboardWhere(o, 1);
    const groups = await GROUP.all(
      this.db.sql,
      `SELECT r.status, r.files_failed > 0 AS failed, count(*)::int AS n FROM requests r
       ${w.sql.length ? `WHERE ${w.sql.join(" AND ")}` : ""} GROUP BY 1, 2`,
      w.params,
    );
    const c: DashboardCounts = { active: 0, failed: 0, complete: 0, canceled: 0, all: 0 };
    for (const r of groups) {
      c.all += r.n;
      if (r.status === "canceled") c.canceled += r.n;
      else if (r.status === "fatal" || r.status === "bad_dataset") c.failed += r.n;
      else if (r.status === "complete") c[r.failed ? "failed" : "complete"] += r.n;
      else c.active += r.n; // submitted, pending_lookup, lookup, running: FILTER_SQL.active
    }
    return { counts: c, groups };
  }

  /**
   * The current state of some dashboard rows (their live updates, docs/api.md "Pages"), by primary key;
   * with `submittedBy`, only that user's.
   */
  async dashboardRows(ids: number[], submittedBy?: number): Promise<DashboardRow[]> {
    if (ids.length === 0) return [];
    const mine = submittedBy === undefined ? "" : "AND r.submitted_by = $2";
    const rows = await DASHBOARD.all(
      this.db.sql,
      `SELECT ${DASHBOARD_COLUMNS}, u.name AS submitter_name FROM requests r
       LEFT JOIN users u ON u.id = r.submitted_by
       WHERE r.id = ANY($1::int[]) ${mine}`,
      submittedBy === undefined ? [ids] : [ids, submittedBy],
    );
    return rows.map(toDashboardRow);
  }

  /**
   * One page of a request's transform_result rows, ordered by file_id (docs/api.md), optionally only the
   * successes or only the failures, each failure with its last error. Not counted here: the request's
   * counters are the totals (files_completed successes, files_failed the rest; docs/decisions.md D11).
   */
  async results(o: {
    requestId: string;
    status?: "success" | "failure";
    limit: number;
    offset: number;
  }): Promise<ResultRow[]> {
    // A file counts as failed when its report was not "success" (the counters count it so: D11).
    const filter =
      o.status === "success"
        ? "AND transform_status = 'success'"
        : o.status === "failure"
          ? "AND transform_status <> 'success'"
          : "";
    // The page's ids from ix_transform_result_request_file alone (an index-only scan skips a deep offset
    // quickly), then their rows, then the last failure report of each failed one (ix_file_status_request_file).
    const rows = await RESULT.all(
      this.db.sql,
      `SELECT t.*, e.info AS error, e.pod_name AS error_pod FROM (
         SELECT r.id, r.file_id, r.file_path, r.request_id, r.transform_status,
                COALESCE(r.transform_seconds, r.transform_time::float8) AS seconds,
                r.total_events::float8 AS total_events, r.total_bytes::float8 AS total_bytes, r.avg_rate,
                r.s3_object_name, extract(epoch FROM r.created_at) * 1000 AS c
         FROM (SELECT id FROM transform_result WHERE request_id = $1 ${filter}
               ORDER BY file_id NULLS LAST, id LIMIT $2 OFFSET $3) page
         JOIN transform_result r ON r.id = page.id) t
       LEFT JOIN LATERAL (
         SELECT s.info, s.pod_name FROM file_status s
         WHERE s.request_id = t.request_id AND s.file_id = t.file_id AND s.status = 'failure'
         ORDER BY s.id DESC LIMIT 1) e ON t.transform_status <> 'success'
       ORDER BY t.file_id NULLS LAST, t.id`,
      [o.requestId, o.limit, o.offset],
    );
    return rows.map((r) => ({
      id: r.id,
      fileId: r.file_id,
      filePath: r.file_path,
      status: r.transform_status,
      transformTime: r.seconds,
      totalEvents: r.total_events,
      totalBytes: r.total_bytes,
      avgRate: r.avg_rate,
      s3ObjectName: r.s3_object_name,
      createdAt: ms(r.c),
      error: r.error,
      errorPod: r.error_pod,
    }));
  }

  /**
   * A request's failure reports grouped by message, most frequent first, at most `limit` groups (docs/api.md,
   * "Pages"; docs/decisions.md D39). Grouped in SQL over the `sample` most recent reports (an index range of
   * ix_file_status_request_status_id, so the page costs the same with 40,000 failures as with 5,000), by a
   * 64-bit hash of the message (hash aggregation on a small key); the text, the pods and an example file
   * are looked up for the groups shown only. `reports`: the reports grouped (`sample` at most).
   */
  async errorGroups(
    requestId: string,
    limit: number,
    sample = 5_000,
  ): Promise<{ groups: ErrorGroup[]; messages: number; reports: number }> {
    const rows = await ERROR_GROUP.all(
      this.db.sql,
      `WITH f AS MATERIALIZED (
           SELECT id, file_id, pod_name, info, timestamp, hashtextextended(COALESCE(info, ''), 0) AS h
           FROM file_status WHERE request_id = $1 AND status = 'failure' ORDER BY id DESC LIMIT $3),
         g AS (
           SELECT h, count(*)::int AS reports, min(id) AS sid, min(file_id) AS file_id, max(timestamp) AS last
           FROM f GROUP BY h),
         top AS (
           SELECT g.*, count(*) OVER () AS n_groups, sum(g.reports) OVER () AS n_reports
           FROM g ORDER BY g.reports DESC, g.sid LIMIT $2),
         pods AS (
           SELECT h, count(*)::int AS pods, min(pod) AS pod_first, max(pod) AS pod_last
           FROM (SELECT h, pod_name COLLATE "C" AS pod FROM f
                 WHERE pod_name IS NOT NULL AND h IN (SELECT h FROM top) GROUP BY 1, 2) p
           GROUP BY h)
         SELECT top.reports, top.file_id, top.n_groups, top.n_reports,
                extract(epoch FROM top.last) * 1000 AS last_ms, s.info, fl.paths,
                COALESCE(pods.pods, 0) AS pods, pods.pod_first, pods.pod_last
         FROM top JOIN f s ON s.id = top.sid
         LEFT JOIN pods ON pods.h = top.h
         LEFT JOIN files fl ON fl.id = top.file_id
         ORDER BY top.reports DESC, top.sid`,
      [requestId, limit, sample],
    );
    return {
      messages: Number(rows[0]?.n_groups ?? 0),
      reports: Number(rows[0]?.n_reports ?? 0),
      groups: rows.map((r) => ({
        message: r.info,
        reports: r.reports,
        pods: r.pods,
        podFirst: r.pod_first,
        podLast: r.pod_last,
        sampleFileId: r.file_id,
        samplePath: r.paths === null ? null : r.paths.split(",")[0]!,
        last: ms(r.last_ms),
      })),
    };
  }

  async datasets(o: {
    sort: DatasetSort;
    order: SortOrder;
    showDeleted: boolean;
    limit: number;
    offset: number;
  }): Promise<Paged<DatasetRow>> {
    const where = o.showDeleted ? "" : "WHERE stale IS FALSE";
    const col = DATASET_ORDER[o.sort];
    const nulls = o.order === "desc" ? "NULLS LAST" : "NULLS FIRST";
    const [rows, count] = await Promise.all([
      DATASET.all(
        this.db.sql,
        `SELECT ${DATASET_COLUMNS} FROM datasets ${where}
         ORDER BY ${col} ${dir(o.order)} ${nulls}, id ${dir(o.order)} LIMIT $1 OFFSET $2`,
        [o.limit, o.offset],
      ),
      COUNT.all(this.db.sql, `SELECT count(*)::int AS n FROM datasets ${where}`),
    ]);
    return { total: count[0]?.n ?? 0, rows: rows.map(toDataset) };
  }

  async dataset(id: number): Promise<DatasetRow | null> {
    const row = await DATASET.first(this.db.sql, `SELECT ${DATASET_COLUMNS} FROM datasets WHERE id = $1`, [
      id,
    ]);
    return row ? toDataset(row) : null;
  }

  async datasetFiles(id: number, limit: number, offset: number): Promise<Paged<DatasetFileRow>> {
    const [rows, count] = await Promise.all([
      DATASET_FILE.all(
        this.db.sql,
        `SELECT id, paths, file_size::float8 AS file_size, file_events::float8 AS file_events FROM files
         WHERE dataset_id = $1 ORDER BY id LIMIT $2 OFFSET $3`,
        [id, limit, offset],
      ),
      COUNT.all(this.db.sql, "SELECT count(*)::int AS n FROM files WHERE dataset_id = $1", [id]),
    ]);
    return {
      total: count[0]?.n ?? 0,
      rows: rows.map((r) => ({ id: r.id, paths: r.paths, fileSize: r.file_size, fileEvents: r.file_events })),
    };
  }

  /**
   * The most recent requests of a dataset (the dataset page lists them); with `submittedBy`, only that
   * user's (a non-admin must not see other users' titles and statuses).
   */
  async datasetRequests(
    datasetId: number,
    limit: number,
    submittedBy?: number,
  ): Promise<
    Array<{ requestId: string; title: string | null; status: TransformStatusName; submitTime: Date }>
  > {
    const mine = submittedBy === undefined ? "" : "AND submitted_by = $3";
    const rows = await DATASET_REQUEST.all(
      this.db.sql,
      `SELECT request_id, title, status, extract(epoch FROM submit_time) * 1000 AS s
       FROM requests WHERE did_id = $1 ${mine} ORDER BY id DESC LIMIT $2`,
      submittedBy === undefined ? [datasetId, limit] : [datasetId, limit, submittedBy],
    );
    return rows.map((r) => ({
      requestId: r.request_id,
      title: r.title,
      status: r.status,
      submitTime: ms(r.s),
    }));
  }
}

const DATASET_COLUMNS = `id, name, did_finder, n_files, size::float8 AS size, events::float8 AS events,
  extract(epoch FROM last_used) * 1000 AS last_used_ms, extract(epoch FROM last_updated) * 1000 AS last_updated_ms,
  lookup_status::text AS lookup_status, stale`;

function toDataset(r: RowOf<typeof DATASET.columns>): DatasetRow {
  return {
    id: r.id,
    name: r.name,
    didFinder: r.did_finder,
    nFiles: Number(r.n_files ?? 0),
    size: Number(r.size ?? 0),
    events: Number(r.events ?? 0),
    lastUsed: ms(r.last_used_ms),
    lastUpdated: r.last_updated_ms === null ? null : ms(r.last_updated_ms),
    lookupStatus: r.lookup_status,
    stale: Boolean(r.stale),
  };
}

// Result columns of the queries above, one declaration each (src/adapters/db/rowShape.ts).
const COUNT = rowShape({ n: "int4" });
const GROUP = rowShape({ status: "transformstatus", failed: "bool", n: "int4" });
const RESULT = rowShape({
  id: "int4",
  file_id: "int4?",
  file_path: "varchar",
  request_id: "varchar",
  transform_status: "varchar",
  seconds: "float8?",
  total_events: "float8?",
  total_bytes: "float8?",
  avg_rate: "float8?",
  s3_object_name: "varchar?",
  c: "numeric",
  error: "varchar?",
  error_pod: "varchar?",
});
const ERROR_GROUP = rowShape({
  reports: "int4",
  file_id: "int4",
  n_groups: "int8",
  n_reports: "int8",
  last_ms: "numeric",
  info: "varchar?",
  paths: "text?",
  pods: "int4",
  pod_first: "text?",
  pod_last: "text?",
});
const DATASET = rowShape({
  id: "int4",
  name: "varchar",
  did_finder: "varchar",
  n_files: "int4?",
  size: "float8?",
  events: "float8?",
  last_used_ms: "numeric",
  last_updated_ms: "numeric?",
  lookup_status: "text",
  stale: "bool",
});
const DATASET_FILE = rowShape({ id: "int4", paths: "text", file_size: "float8?", file_events: "float8?" });
const DATASET_REQUEST = rowShape({
  request_id: "varchar",
  title: "varchar?",
  status: "transformstatus",
  s: "numeric",
});
