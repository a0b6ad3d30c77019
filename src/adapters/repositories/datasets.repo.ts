// SQL about `datasets` and `files`. File rows are written set-based (INSERT … SELECT unnest), since
// DID finders stream tens of thousands of them.
import type { Dataset, DatasetFile } from "../../generated/prisma/client.js";
import type { Database, Sql } from "../db/database.js";
import type {
  LockedDataset,
  FileEntry,
  DatasetsRepo as DatasetsRepoPort,
} from "../../domain/repositories.js";
export type { LockedDataset, FileEntry } from "../../domain/repositories.js";

/** Paths inserted per statement when a file-list dataset is created. */
const FILE_LIST_SLICE = 20_000;

/**
 * items[from, to) as a Postgres text[] literal, escaped as pg escapes array elements (a backslash before
 * each `\\` and `"`) but made in one native step: pg's own conversion concatenates element by element,
 * leaving garbage several times the slice's size. JSON writes the same two escapes; text that JSON escapes
 * otherwise (control characters, lone surrogates) takes the element-by-element way.
 */
function textArrayLiteral(items: readonly string[], from: number, to: number): string {
  const slice = items.slice(from, to);
  const json = JSON.stringify(slice);
  if (!/\\[^"\\]/.test(json)) return `{${json.slice(1, -1)}}`;
  return `{${slice.map((s) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`).join(",")}}`;
}

export class DatasetsRepo implements DatasetsRepoPort {
  constructor(private readonly db: Database) {}

  /**
   * The live (non-stale) dataset of that name, created when missing, locked FOR UPDATE so that concurrent
   * submits of one DID serialise on it and share one lookup (docs/database.md).
   */
  async lockOrCreateForDid(tx: Sql, name: string, scheme: string): Promise<LockedDataset> {
    // The live row can go stale between the INSERT (which then does nothing) and the UPDATE (which then
    // finds nothing): a concurrent lookup error or dataset delete. Try again; the INSERT then creates it.
    for (let attempt = 0; ; attempt++) {
      const row = await this.tryLockOrCreateForDid(tx, name, scheme);
      if (row) return row;
      if (attempt >= 3) throw new Error(`dataset ${name} keeps going stale`);
      await this.freeNameOfStaleDatasets(tx, name);
    }
  }

  /**
   * A database adopted from upstream's App keeps upstream's plain UNIQUE (name) on `datasets`, so a stale
   * dataset would keep its name forever and a resubmit of its DID could never create a live one. The stale
   * rows give their name up instead (`<name> (stale #<id>)`); their requests and files stay with them.
   */
  private async freeNameOfStaleDatasets(tx: Sql, name: string): Promise<void> {
    await tx.query(
      `UPDATE datasets SET name = left(name, 990) || ' (stale #' || id || ')' WHERE name = $1 AND stale IS TRUE`,
      [name],
    );
  }

  private async tryLockOrCreateForDid(
    tx: Sql,
    name: string,
    scheme: string,
  ): Promise<LockedDataset | undefined> {
    await tx.query(
      `INSERT INTO datasets (name, last_used, last_updated, did_finder, n_files, size, events, lookup_status, stale)
       VALUES ($1, now(), now(), $2, 0, 0, 0, 'created', false)
       ON CONFLICT (name) WHERE stale IS FALSE DO NOTHING`,
      [name, scheme],
    );
    const rows = await tx.query<LockedDataset>(
      `UPDATE datasets SET last_used = now() WHERE name = $1 AND stale IS FALSE
       RETURNING id, name, lookup_status, did_finder, stale`,
      [name],
    );
    return rows[0];
  }

  /** A file-list dataset: complete from birth, one file row per path (docs/database.md from_file_list). */
  async lockOrCreateForFileList(tx: Sql, name: string, paths: readonly string[]): Promise<LockedDataset> {
    for (let attempt = 0; ; attempt++) {
      const row = await this.tryLockOrCreateForFileList(tx, name, paths);
      if (row) return row;
      if (attempt >= 3) throw new Error(`dataset ${name} keeps going stale`);
      await this.freeNameOfStaleDatasets(tx, name);
    }
  }

  private async tryLockOrCreateForFileList(
    tx: Sql,
    name: string,
    paths: readonly string[],
  ): Promise<LockedDataset | undefined> {
    const created = await tx.query<{ id: number }>(
      `INSERT INTO datasets (name, last_used, last_updated, did_finder, n_files, size, events, lookup_status, stale)
       VALUES ($1, now(), now(), 'user', $2, 0, 0, 'complete', false)
       ON CONFLICT (name) WHERE stale IS FALSE DO NOTHING RETURNING id`,
      [name, paths.length],
    );
    if (created[0]) {
      // In slices, in list order (file ids follow it): one statement with 1,000,000 paths would build its
      // 100 MB parameter as one string, and then again as the bytes sent.
      for (let i = 0; i < paths.length; i += FILE_LIST_SLICE) {
        await tx.query(
          `INSERT INTO files (dataset_id, adler32, file_size, file_events, paths)
           SELECT $1, 'xxx', 0, 0, p FROM unnest($2::text[]) WITH ORDINALITY AS t(p, ord) ORDER BY ord`,
          [created[0].id, textArrayLiteral(paths, i, i + FILE_LIST_SLICE)],
        );
      }
    }
    const rows = await tx.query<LockedDataset>(
      `UPDATE datasets SET last_used = now() WHERE name = $1 AND stale IS FALSE
       RETURNING id, name, lookup_status, did_finder, stale`,
      [name],
    );
    return rows[0];
  }

  /** The dataset row, locked; `lookup_attempts`: how many times its lookup was re-sent. */
  async lockById(tx: Sql, id: number): Promise<(LockedDataset & { lookup_attempts: number }) | null> {
    const rows = await tx.query<LockedDataset & { lookup_attempts: number }>(
      "SELECT id, name, lookup_status, did_finder, stale, lookup_attempts FROM datasets WHERE id = $1 FOR UPDATE",
      [id],
    );
    return rows[0] ?? null;
  }

  async markLooking(tx: Sql, id: number): Promise<void> {
    await tx.query(
      "UPDATE datasets SET lookup_status = 'looking', lookup_published_at = NULL, last_updated = now() WHERE id = $1",
      [id],
    );
  }

  async markLookupPublished(id: number): Promise<void> {
    await this.db.sql.query("UPDATE datasets SET lookup_published_at = now() WHERE id = $1", [id]);
  }

  /** Live datasets whose lookup was decided but never confirmed by the broker. */
  async unpublishedLookups(): Promise<Array<{ id: number; name: string; did_finder: string }>> {
    return this.db.sql.query(
      `SELECT id, name, did_finder FROM datasets
       WHERE lookup_status = 'looking' AND lookup_published_at IS NULL AND stale IS FALSE ORDER BY id`,
    );
  }

  async countFiles(tx: Sql, datasetId: number): Promise<number> {
    const rows = await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM files WHERE dataset_id = $1", [
      datasetId,
    ]);
    return rows[0]!.n;
  }

  /**
   * One statement (one round trip) for a DID finder's batch: lock the dataset while it is being looked up
   * (and note the time, at most every 10 s: the reconciler's "no news from the DID finder" clock), insert
   * the files whose path the dataset does not have yet, in order, and grow every request in Lookup on it by
   * that many. A path is added once whatever is repeated: within the batch, by a retried or re-sent batch,
   * or by batches arriving concurrently (the key in dataset_file_paths is unique, and the dataset lock
   * keeps file ids in commit order for the dispatcher's watermark). Returns null when the dataset is not
   * being looked up (or does not exist); then nothing was written.
   */
  async addFilesToLookup(
    datasetId: number,
    files: readonly FileEntry[],
  ): Promise<{ fedRequests: number[]; added: number } | null> {
    const rows = await this.db.sql.query<{ kind: string; id: number | null }>(
      `WITH ds AS (
         SELECT id, last_updated FROM datasets
         WHERE id = $1 AND lookup_status = 'looking' FOR UPDATE),
       touch AS (
         -- The reconciler's "news from the DID finder" clock, written at most every 10 s (not per batch).
         UPDATE datasets d SET last_updated = now() FROM ds
         WHERE d.id = ds.id AND (ds.last_updated IS NULL OR ds.last_updated < now() - interval '10 seconds')),
       b AS (
         SELECT DISTINCT ON (k) t.p, t.a, t.s, t.e, t.ord, md5(t.p)::uuid AS k
         FROM ds, unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[]) WITH ORDINALITY AS t(p, a, s, e, ord)
         ORDER BY k, t.ord),
       fresh AS (
         INSERT INTO dataset_file_paths (dataset_id, path_key)
         SELECT $1, b.k FROM b ORDER BY b.ord
         ON CONFLICT DO NOTHING
         RETURNING path_key),
       ins AS (
         INSERT INTO files (dataset_id, adler32, file_size, file_events, paths)
         SELECT $1, b.a, b.s, b.e, b.p FROM b JOIN fresh ON fresh.path_key = b.k
         ORDER BY b.ord
         RETURNING 1),
       n AS (SELECT count(*)::int AS n FROM ins),
       upd AS (
         UPDATE requests SET files = files + (SELECT n FROM n)
         WHERE did_id = $1 AND status = 'lookup' AND EXISTS (SELECT 1 FROM ds)
         RETURNING id)
       SELECT 'dataset' AS kind, (SELECT n FROM n) AS id FROM ds
       UNION ALL SELECT 'request', id FROM upd`,
      [
        datasetId,
        files.map((f) => f.paths),
        files.map((f) => f.adler32),
        files.map((f) => f.fileSize),
        files.map((f) => f.fileEvents),
      ],
    );
    const ds = rows.find((r) => r.kind === "dataset");
    if (!ds) return null;
    return { fedRequests: rows.filter((r) => r.kind === "request").map((r) => r.id!), added: ds.id ?? 0 };
  }

  async exists(datasetId: number): Promise<boolean> {
    return (await this.db.sql.query("SELECT 1 FROM datasets WHERE id = $1", [datasetId])).length === 1;
  }

  async hasFile(datasetId: number, fileId: number): Promise<boolean> {
    const rows = await this.db.sql.query("SELECT 1 FROM files WHERE id = $1 AND dataset_id = $2", [
      fileId,
      datasetId,
    ]);
    return rows.length === 1;
  }

  /** The DID finder's last /complete whose count differed from the files that had arrived, if any. */
  async lastShortfall(tx: Sql, datasetId: number): Promise<{ reported: number; arrived: number } | null> {
    const rows = await tx.query<{ reported: number; arrived: number }>(
      "SELECT reported, arrived FROM dataset_lookup_shortfalls WHERE dataset_id = $1",
      [datasetId],
    );
    return rows[0] ?? null;
  }

  async noteShortfall(tx: Sql, datasetId: number, reported: number, arrived: number): Promise<void> {
    await tx.query(
      `INSERT INTO dataset_lookup_shortfalls (dataset_id, reported, arrived) VALUES ($1, $2, $3)
       ON CONFLICT (dataset_id) DO UPDATE SET reported = EXCLUDED.reported, arrived = EXCLUDED.arrived`,
      [datasetId, reported, arrived],
    );
  }

  async markComplete(
    tx: Sql,
    id: number,
    s: { files: number; events: number; bytes: number },
  ): Promise<void> {
    await tx.query(
      `UPDATE datasets SET lookup_status = 'complete', n_files = $2, events = $3, size = $4, last_updated = now()
       WHERE id = $1`,
      [id, s.files, s.events, s.bytes],
    );
  }

  async markFailed(tx: Sql, id: number, errorType: string): Promise<void> {
    await tx.query(
      "UPDATE datasets SET lookup_status = $2, stale = true, last_updated = now() WHERE id = $1",
      [id, errorType],
    );
  }

  /**
   * Reads that page through a dataset's files in id order, planned as a walk of ix_files_dataset_id
   * (dataset_id, id) that stops after `limit` rows. Statistics taken while the table was small (or none:
   * autovacuum off or behind, as during a 1,000,000-file lookup) make the planner pick a bitmap scan of every
   * remaining file and a sort instead, about 1 s per 5,000-file page at 1,000,000 files, so the dispatcher
   * published 1,000 tasks/s (docs/decisions.md D37). The settings last until the end of the transaction.
   */
  private inIdOrder<T>(text: string, params: unknown[]): Promise<T[]> {
    return this.db.sql.transaction(async (tx) => {
      await tx.query("SET LOCAL enable_bitmapscan = off");
      await tx.query("SET LOCAL enable_sort = off");
      return tx.query<T>(text, params);
    });
  }

  /** Files of a dataset after a given id, in id order (the dispatcher's outbox read). */
  async filesAfter(
    datasetId: number,
    afterId: number,
    limit: number,
  ): Promise<Array<{ id: number; paths: string }>> {
    return this.inIdOrder(
      "SELECT id, paths FROM files WHERE dataset_id = $1 AND id > $2 ORDER BY id LIMIT $3",
      [datasetId, afterId, limit],
    );
  }

  /** Files up to a watermark that have no result for the request yet (re-published after a broker restart). */
  async filesWithoutResult(
    datasetId: number,
    requestId: string,
    afterId: number,
    throughId: number,
    limit: number,
  ): Promise<Array<{ id: number; paths: string }>> {
    return this.inIdOrder(
      `SELECT f.id, f.paths FROM files f
       WHERE f.dataset_id = $1 AND f.id > $3 AND f.id <= $4
         AND NOT EXISTS (SELECT 1 FROM transform_result r WHERE r.request_id = $2 AND r.file_id = f.id)
       ORDER BY f.id LIMIT $5`,
      [datasetId, requestId, afterId, throughId, limit],
    );
  }

  async list(opts: { didFinder?: string; showDeleted: boolean }): Promise<Dataset[]> {
    return this.db.prisma.dataset.findMany({
      where: {
        ...(opts.didFinder ? { didFinder: opts.didFinder } : {}),
        ...(opts.showDeleted ? {} : { stale: false }),
      },
      orderBy: { id: "asc" },
    });
  }

  async get(id: number): Promise<Dataset | null> {
    return this.db.prisma.dataset.findUnique({ where: { id } });
  }

  async files(id: number): Promise<DatasetFile[]> {
    return this.db.prisma.datasetFile.findMany({ where: { datasetId: id }, orderBy: { id: "asc" } });
  }

  /** Soft delete; false when the dataset was already stale. */
  async markStale(id: number): Promise<boolean> {
    const r = await this.db.prisma.dataset.updateMany({ where: { id, stale: false }, data: { stale: true } });
    return r.count === 1;
  }
  /** Data lifecycle (docs/api.md): live datasets not updated for more than `ageHours` become stale. */
  async markStaleOlderThan(ageHours: number): Promise<number> {
    const rows = await this.db.sql.query(
      `UPDATE datasets SET stale = true
       WHERE stale IS FALSE AND last_updated < now() - $1::float8 * interval '1 hour' RETURNING id`,
      [ageHours],
    );
    return rows.length;
  }

  /**
   * Deletes every dataset no request references, with its files (docs/api.md). Rows a concurrent
   * submit holds locked are skipped (that submit is about to reference them); returns the deleted names.
   */
  async deleteOrphans(tx: Sql): Promise<string[]> {
    const orphans = await tx.query<{ id: number; name: string }>(
      `SELECT id, name FROM datasets d
       WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.did_id = d.id)
       ORDER BY id FOR UPDATE SKIP LOCKED`,
    );
    if (orphans.length === 0) return [];
    const ids = orphans.map((o) => o.id);
    await tx.query("DELETE FROM files WHERE dataset_id = ANY($1::int[])", [ids]);
    await tx.query("DELETE FROM datasets WHERE id = ANY($1::int[])", [ids]);
    return orphans.map((o) => o.name);
  }

  /** Live (non-stale) datasets per lookup_status (the /metrics gauge). */
  async countByLookupStatus(): Promise<Record<string, number>> {
    const rows = await this.db.sql.query<{ lookup_status: string; n: number }>(
      "SELECT lookup_status, count(*)::int AS n FROM datasets WHERE stale IS FALSE GROUP BY lookup_status",
    );
    return Object.fromEntries(rows.map((r) => [r.lookup_status, r.n]));
  }
}
