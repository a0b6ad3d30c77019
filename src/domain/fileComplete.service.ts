// File-complete reports from transformer sidecars, group-committed: every report queued while a flush is
// running goes into the next flush, one transaction for the whole batch, and each HTTP answer is released
// once its batch has committed. One flusher per process; the request rows are locked inside the
// transaction, so replicas stay exact too (docs/api.md, docs/decisions.md D11).
import type { ApplyResult, FileReport, ReportOutcome, ResultsRepo } from "./repositories.js";
import type { Logger } from "../logger.js";
import { isDatabaseUnavailable, isRetryableDbError, whileDatabaseRestarts } from "./databaseWait.js";
import { appError } from "./errors.js";
import type { Lifecycle } from "./lifecycle.js";
import { objectNameFor } from "./objectName.js";

interface Pending {
  report: FileReport;
  resolve: (o: ReportOutcome) => void;
  reject: (e: unknown) => void;
}

export interface FileCompleteStats {
  batches: number;
  /** Batch attempts repeated because the database was unavailable (or a deadlock). */
  retries: number;
  reports: number;
  lastBatchSize: number;
}

export class FileCompleteService {
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  readonly stats: FileCompleteStats = { batches: 0, retries: 0, reports: 0, lastBatchSize: 0 };

  constructor(
    private readonly results: ResultsRepo,
    private readonly lifecycle: Lifecycle,
    private readonly log: Logger,
    private readonly lookupFormat: (requestId: string) => Promise<string | null>,
    private readonly opts: { maxBatch: number; retryForMs?: number; retryDelayMs?: number } = {
      maxBatch: 128,
    },
    /** Observer of batch sizes (metrics), given at construction. */
    private readonly onBatch: ((size: number) => void) | null = null,
    /** Observers of the request ids each committed batch touched (progress history); must not throw. */
    private readonly touchedListeners: ReadonlyArray<(requestIds: Set<string>) => void> = [],
  ) {}

  /** result_format by request_id, for deriving object names; formats never change, so this only grows. */
  private readonly formats = new Map<string, string>();

  /**
   * Queues a report for the next batch. A success without an object name (sidecars before 1.7) gets the
   * name the sidecar used (objectName.ts) when its batch is written: that needs the request's result
   * format, which is read inside the batch's wait for a restarting database.
   */
  report(report: FileReport): Promise<ReportOutcome> {
    return this.enqueue(report);
  }

  /**
   * PUT …/<request_id>/file-complete (docs/api.md): the report, recorded once its batch has committed; a
   * report that was not recorded is the catalogue's error (404 unknown request, 400 a file of another
   * request, 409 a request whose lookup has not completed: no task was published, so nothing is lost).
   */
  async record(report: FileReport): Promise<void> {
    const outcome = await this.enqueue(report);
    if (outcome === "request_not_found") throw appError("request_not_found");
    if (outcome === "file_not_in_request") {
      throw appError("file_not_in_request", { file: report.fileId, request: report.requestId });
    }
    if (outcome === "request_not_running") throw appError("request_not_running", { id: report.requestId });
  }

  private async withObjectNames(reports: FileReport[]): Promise<FileReport[]> {
    const out: FileReport[] = [];
    for (const r of reports) {
      if (r.s3ObjectName !== null || !r.success) {
        out.push(r);
        continue;
      }
      const format = await this.resultFormat(r.requestId);
      out.push(format ? { ...r, s3ObjectName: objectNameFor(r.filePath, format) } : r);
    }
    return out;
  }

  private async resultFormat(requestId: string): Promise<string | null> {
    const known = this.formats.get(requestId);
    if (known) return known;
    const format = await this.lookupFormat(requestId);
    if (format) {
      if (this.formats.size > 50_000) this.formats.clear();
      this.formats.set(requestId, format);
    }
    return format;
  }

  private enqueue(report: FileReport): Promise<ReportOutcome> {
    return new Promise<ReportOutcome>((resolve, reject) => {
      this.queue.push({ report, resolve, reject });
      if (!this.flushing) this.flushing = this.drain();
    });
  }

  /** Resolves when everything queued so far has been written (graceful shutdown). */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.opts.maxBatch);
        await this.flush(batch);
      }
    } finally {
      this.flushing = null;
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    // Sidecars ignore HTTP status codes (docs/decisions.md D26): a report we answer with 503 is lost. So a database
    // that is restarting is waited for (writing a batch twice is harmless: duplicates change nothing), for
    // up to `retryForMs`, before giving up; serialization failures and deadlocks are retried the same way.
    const started = performance.now();
    let result: ApplyResult;
    try {
      result = await whileDatabaseRestarts(
        async () => this.results.applyReports(await this.withObjectNames(batch.map((p) => p.report))),
        {
          retryForMs: this.opts.retryForMs,
          retryDelayMs: this.opts.retryDelayMs,
          onRetry: (e, attempt) => {
            this.stats.retries += 1;
            if (attempt === 0)
              this.log.warn({ err: String(e), batch: batch.length }, "file-complete batch: retrying");
          },
        },
      );
    } catch (e) {
      // Anything but an unavailable database is a bug in one report and must not poison the others: fall
      // back to one transaction per report.
      const gaveUp = isRetryableDbError(e) || isDatabaseUnavailable(e);
      if (!gaveUp && batch.length > 1) return this.flushOneByOne(batch);
      this.log.error({ err: e, batch: batch.length }, "file-complete batch failed");
      for (const p of batch) p.reject(e);
      return;
    }
    this.log.debug(
      { batch: batch.length, ms: Math.round(performance.now() - started) },
      "file-complete batch written",
    );
    this.stats.batches += 1;
    this.stats.reports += batch.length;
    this.stats.lastBatchSize = batch.length;
    this.onBatch?.(batch.length);
    if (this.touchedListeners.length > 0) {
      const touched = new Set<string>();
      for (const p of batch) touched.add(p.report.requestId);
      for (const l of this.touchedListeners) l(touched);
    }
    // Answers are released in slices with a turn of the event loop between them: writing a few hundred
    // responses in one go would hold up other requests (status polls) for milliseconds.
    for (let i = 0; i < batch.length; i++) {
      batch[i]!.resolve(result.outcomes[i]!);
      if (i % 16 === 15) await new Promise<void>((r) => setImmediate(r));
    }
    for (const id of result.completed) {
      this.log.info({ requestId: id, from: "Running", to: "Complete" }, "transform request complete");
      this.lifecycle.terminated(id, "complete");
    }
  }

  private async flushOneByOne(batch: Pending[]): Promise<void> {
    for (const p of batch) await this.flush([p]);
  }
}
