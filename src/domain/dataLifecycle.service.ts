// Data lifecycle (docs/api.md): the cron-driven clean-up behind POST /servicex/internal/dataset-lifecycle
// (old datasets become stale) and POST /servicex/internal/data-lifecycle (old finished requests, their
// results, file events and orphaned datasets are deleted; optionally down to a cache-size budget).
import type { Database } from "./repositories.js";
import type { DatasetsRepo } from "./repositories.js";
import type { RequestsRepo } from "./repositories.js";
import type { Logger } from "../logger.js";
import { appError, badRequest } from "./errors.js";
import { normaliseIsoTime } from "./isoTime.js";
import { isTerminal } from "./status.js";

export interface PurgeSummary {
  total_bytes_before: number;
  total_bytes_after: number;
  /** The cutoff actually applied (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), or null when nothing was due. */
  cutoff_timestamp: string | null;
  deleted_transforms: string[];
  deleted_datasets: string[];
}

export interface DataLifecycleOptions {
  db: Database;
  requests: RequestsRepo;
  datasets: DatasetsRepo;
  logger: Logger;
  /** Removes a request's results bucket before its row goes (the object-store adapter plugs in here). */
  removeBucket?: (requestId: string) => Promise<void>;
}

/**
 * The largest age the lifecycle routes take, in hours (about 114 years): `now() - age` must stay a
 * timestamp Postgres can hold, and nothing is older than that anyway.
 */
export const MAX_LIFECYCLE_HOURS = 1_000_000;

/** Kept here for callers of the old place; the parser lives in ./cacheSize.ts (config.ts uses it too). */
export { parseCacheSize } from "./cacheSize.js";

/** `2024-01-02T03:04:05.12+00:00` (normaliseIsoTime's UTC form) → `2024-01-02T03:04:05.120000Z`. */
function displayUtc(normalised: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00:00$/.exec(normalised);
  if (!m) return normalised;
  return `${m[1]}.${(m[2] ?? "").padEnd(6, "0")}Z`;
}

export class DataLifecycleService {
  constructor(private readonly o: DataLifecycleOptions) {}

  /** Every live dataset with `now - last_updated > ageHours` becomes stale; returns how many. */
  async markStaleDatasets(ageHours: number): Promise<number> {
    if (!Number.isFinite(ageHours) || ageHours < 0 || ageHours > MAX_LIFECYCLE_HOURS) {
      throw appError("invalid_age", {}, { body: "message" });
    }
    const n = await this.o.datasets.markStaleOlderThan(ageHours);
    this.o.logger.info({ ageHours, datasets: n }, "dataset lifecycle: marked datasets stale");
    return n;
  }

  async purge(opts: { cutoff: string | null; maxCacheBytes: number | null }): Promise<PurgeSummary> {
    let cutoff: string | null = null;
    if (opts.cutoff !== null) {
      cutoff = normaliseIsoTime(opts.cutoff);
      if (cutoff === null) throw badRequest(`Invalid cutoff_timestamp: ${opts.cutoff}`, "invalid_cutoff");
    }
    const before = await this.o.requests.cacheBytes();
    if (opts.maxCacheBytes !== null && before > opts.maxCacheBytes) {
      const excess = before - opts.maxCacheBytes;
      const freeing = await this.o.requests.submitTimeFreeing(excess);
      // Everything submitted up to `freeing` must go to get under budget: when the given cutoff is older
      // than that, the cutoff moves to it (so more is deleted); a newer cutoff already frees enough.
      if (freeing !== null && (cutoff === null || Date.parse(freeing) > Date.parse(cutoff))) {
        this.o.logger.info(
          { totalBytes: before, maxCacheBytes: opts.maxCacheBytes, from: cutoff, to: freeing },
          "data lifecycle: cache over budget, cutoff moved",
        );
        cutoff = freeing;
      }
    }
    const deleted: string[] = [];
    if (cutoff !== null) {
      for (const r of await this.o.requests.submittedThrough(cutoff)) {
        if (!isTerminal(r.status)) {
          this.o.logger.info(
            { requestId: r.requestId, status: r.status },
            "data lifecycle: request still in progress, not deleted",
          );
          continue;
        }
        if (this.o.removeBucket) await this.o.removeBucket(r.requestId);
        // The repository's delete locks the request row first, as every writer does, and re-checks it is
        // terminal (it cannot have become active again, but a concurrent delete may have removed it).
        const ok = await this.o.db.sql.transaction((tx) => this.o.requests.delete(tx, r.id, r.requestId));
        if (ok) deleted.push(r.requestId);
      }
    }
    const deletedDatasets = await this.o.db.sql.transaction((tx) => this.o.datasets.deleteOrphans(tx));
    const after = await this.o.requests.cacheBytes();
    const summary: PurgeSummary = {
      total_bytes_before: before,
      total_bytes_after: after,
      cutoff_timestamp: cutoff === null ? null : displayUtc(cutoff),
      deleted_transforms: deleted,
      deleted_datasets: deletedDatasets,
    };
    this.o.logger.info(
      {
        totalBytesBefore: before,
        totalBytesAfter: after,
        cutoff: summary.cutoff_timestamp,
        requests: deleted.length,
        datasets: deletedDatasets.length,
      },
      "data lifecycle: purge done",
    );
    return summary;
  }
}
