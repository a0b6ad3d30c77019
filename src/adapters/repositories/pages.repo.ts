// Read models of the web pages: one SQL statement per table on a page, paginated with
// ORDER BY … LIMIT … OFFSET in the database, so a page costs the same with 100 or 100,000 rows.
import type { Database } from "../db/database.js";
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
}

export interface Paged<T> {
  rows: T[];
  total: number;
}

export interface FileErrorRow {
  fileId: number;
  podName: string | null;
  paths: string | null;
  info: string | null;
  time: Date;
}

export interface ResultRow {
  id: number;
  fileId: number | null;
  filePath: string;
  status: string;
  transformTime: number | null;
  totalEvents: number | null;
  totalBytes: number | null;
  s3ObjectName: string | null;
  createdAt: Date;
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

/**
 * ORDER BY clauses of the dashboards (docs/api.md: start | finish | status). Requests get their id at
 * submit, in submit order, so "start" orders by the primary key (an index scan, not a sort of every row).
 */
const REQUEST_ORDER = {
  start: (o: SortOrder) => `r.id ${dir(o)}`,
  finish: (o: SortOrder) =>
    `r.finish_time ${dir(o)} NULLS ${o === "desc" ? "FIRST" : "LAST"}, r.id ${dir(o)}`,
  status: (o: SortOrder) => `r.status ${dir(o)}, r.id ${dir(o)}`,
} as const;
export type RequestSort = keyof typeof REQUEST_ORDER;

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

const ms = (v: unknown) => new Date(Number(v));

export class PagesRepo {
  constructor(private readonly db: Database) {}

  async requests(o: {
    submittedBy?: number;
    sort: RequestSort;
    order: SortOrder;
    limit: number;
    offset: number;
  }): Promise<Paged<DashboardRow>> {
    const params: unknown[] = [o.limit, o.offset];
    let where = "";
    if (o.submittedBy !== undefined) {
      params.push(o.submittedBy);
      where = "WHERE r.submitted_by = $3";
    }
    const order = REQUEST_ORDER[o.sort](o.order);
    // The page's rows first (LIMIT in the inner query), then the submitter names of those 15 only.
    const [rows, count] = await Promise.all([
      this.db.sql.query<Record<string, unknown>>(
        `SELECT p.*, u.name AS submitter_name FROM (
           SELECT r.id, r.request_id, r.title, r.status::text AS status,
                  extract(epoch FROM r.submit_time) * 1000 AS submit_ms,
                  extract(epoch FROM r.finish_time) * 1000 AS finish_ms,
                  r.did, r.did_id, r.files, r.files_completed, r.files_failed, r.submitted_by,
                  row_number() OVER () AS ord
           FROM (SELECT r.id, r.request_id, r.title, r.status, r.submit_time, r.finish_time, r.did, r.did_id,
                         r.files, r.files_completed, r.files_failed, r.submitted_by
                  FROM requests r ${where} ORDER BY ${order} LIMIT $1 OFFSET $2) r) p
         LEFT JOIN users u ON u.id = p.submitted_by
         ORDER BY p.ord`,
        params,
      ),
      this.db.sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM requests r ${where.replace("$3", "$1")}`,
        o.submittedBy !== undefined ? [o.submittedBy] : [],
      ),
    ]);
    return {
      total: count[0]?.n ?? 0,
      rows: rows.map((r) => ({
        id: r.id as number,
        requestId: r.request_id as string,
        title: r.title as string | null,
        status: r.status as TransformStatusName,
        submitTime: ms(r.submit_ms),
        finishTime: r.finish_ms === null ? null : ms(r.finish_ms),
        did: r.did as string,
        didId: r.did_id as number,
        files: r.files as number,
        filesCompleted: r.files_completed as number,
        filesFailed: r.files_failed as number,
        submittedBy: r.submitted_by as number | null,
        submitterName: r.submitter_name as string | null,
      })),
    };
  }

  /** Per-file failures (docs/decisions.md D12: file_status rows with status 'failure'), newest last. */
  async fileErrors(requestId: string, limit: number): Promise<Paged<FileErrorRow>> {
    const [rows, count] = await Promise.all([
      this.db.sql.query<Record<string, unknown>>(
        `SELECT s.file_id, s.pod_name, f.paths, s.info, extract(epoch FROM s.timestamp) * 1000 AS t
         FROM (SELECT * FROM file_status WHERE request_id = $1 AND status = 'failure' ORDER BY id LIMIT $2) s
         LEFT JOIN files f ON f.id = s.file_id ORDER BY s.id`,
        [requestId, limit],
      ),
      this.db.sql.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM file_status WHERE request_id = $1 AND status = 'failure'",
        [requestId],
      ),
    ]);
    return {
      total: count[0]?.n ?? 0,
      rows: rows.map((r) => ({
        fileId: r.file_id as number,
        podName: r.pod_name as string | null,
        paths: r.paths as string | null,
        info: r.info as string | null,
        time: ms(r.t),
      })),
    };
  }

  /** transform_result rows of a request, ordered by file_id (docs/api.md), optionally one status. */
  async results(o: {
    requestId: string;
    status?: string;
    limit: number;
    offset: number;
  }): Promise<Paged<ResultRow>> {
    const params: unknown[] = [o.requestId];
    let filter = "";
    if (o.status) {
      params.push(o.status);
      filter = "AND transform_status = $2";
    }
    const n = params.length;
    const [rows, count] = await Promise.all([
      this.db.sql.query<Record<string, unknown>>(
        `SELECT id, file_id, file_path, transform_status, transform_time, total_events::float8 AS total_events,
                total_bytes::float8 AS total_bytes, s3_object_name, extract(epoch FROM created_at) * 1000 AS c
         FROM transform_result WHERE request_id = $1 ${filter}
         ORDER BY file_id NULLS LAST, id LIMIT $${n + 1} OFFSET $${n + 2}`,
        [...params, o.limit, o.offset],
      ),
      this.db.sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM transform_result WHERE request_id = $1 ${filter}`,
        params,
      ),
    ]);
    return {
      total: count[0]?.n ?? 0,
      rows: rows.map((r) => ({
        id: r.id as number,
        fileId: r.file_id as number | null,
        filePath: r.file_path as string,
        status: r.transform_status as string,
        transformTime: r.transform_time as number | null,
        totalEvents: r.total_events as number | null,
        totalBytes: r.total_bytes as number | null,
        s3ObjectName: r.s3_object_name as string | null,
        createdAt: ms(r.c),
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
      this.db.sql.query<Record<string, unknown>>(
        `SELECT ${DATASET_COLUMNS} FROM datasets ${where}
         ORDER BY ${col} ${dir(o.order)} ${nulls}, id ${dir(o.order)} LIMIT $1 OFFSET $2`,
        [o.limit, o.offset],
      ),
      this.db.sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM datasets ${where}`),
    ]);
    return { total: count[0]?.n ?? 0, rows: rows.map(toDataset) };
  }

  async dataset(id: number): Promise<DatasetRow | null> {
    const rows = await this.db.sql.query<Record<string, unknown>>(
      `SELECT ${DATASET_COLUMNS} FROM datasets WHERE id = $1`,
      [id],
    );
    return rows[0] ? toDataset(rows[0]) : null;
  }

  async datasetFiles(id: number, limit: number, offset: number): Promise<Paged<DatasetFileRow>> {
    const [rows, count] = await Promise.all([
      this.db.sql.query<Record<string, unknown>>(
        `SELECT id, paths, file_size::float8 AS file_size, file_events::float8 AS file_events FROM files
         WHERE dataset_id = $1 ORDER BY id LIMIT $2 OFFSET $3`,
        [id, limit, offset],
      ),
      this.db.sql.query<{ n: number }>("SELECT count(*)::int AS n FROM files WHERE dataset_id = $1", [id]),
    ]);
    return {
      total: count[0]?.n ?? 0,
      rows: rows.map((r) => ({
        id: r.id as number,
        paths: r.paths as string,
        fileSize: r.file_size as number | null,
        fileEvents: r.file_events as number | null,
      })),
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
    const rows = await this.db.sql.query<Record<string, unknown>>(
      `SELECT request_id, title, status::text AS status, extract(epoch FROM submit_time) * 1000 AS s
       FROM requests WHERE did_id = $1 ${mine} ORDER BY id DESC LIMIT $2`,
      submittedBy === undefined ? [datasetId, limit] : [datasetId, limit, submittedBy],
    );
    return rows.map((r) => ({
      requestId: r.request_id as string,
      title: r.title as string | null,
      status: r.status as TransformStatusName,
      submitTime: ms(r.s),
    }));
  }
}

const DATASET_COLUMNS = `id, name, did_finder, n_files, size::float8 AS size, events::float8 AS events,
  extract(epoch FROM last_used) * 1000 AS last_used_ms, extract(epoch FROM last_updated) * 1000 AS last_updated_ms,
  lookup_status::text AS lookup_status, stale`;

function toDataset(r: Record<string, unknown>): DatasetRow {
  return {
    id: r.id as number,
    name: r.name as string,
    didFinder: r.did_finder as string,
    nFiles: Number(r.n_files ?? 0),
    size: Number(r.size ?? 0),
    events: Number(r.events ?? 0),
    lastUsed: ms(r.last_used_ms),
    lastUpdated: r.last_updated_ms === null ? null : ms(r.last_updated_ms),
    lookupStatus: r.lookup_status as string,
    stale: Boolean(r.stale),
  };
}
