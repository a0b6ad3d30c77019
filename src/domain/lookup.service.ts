// DID-finder callbacks (contract §2.4.1–§2.4.3). The path id here is a *dataset* id.
import type { Database } from "../adapters/db/database.js";
import type { DatasetsRepo, FileEntry } from "../adapters/repositories/datasets.repo.js";
import type { RequestsRepo } from "../adapters/repositories/requests.repo.js";
import type { Logger } from "../logger.js";
import type { Dispatcher } from "./dispatcher.js";
import { notFound, unprocessable } from "./errors.js";
import type { Lifecycle } from "./lifecycle.js";
import type { DatasetLookupError, TransformStatusName } from "./status.js";

export class LookupService {
  constructor(
    private readonly db: Database,
    private readonly datasets: DatasetsRepo,
    private readonly requests: RequestsRepo,
    private readonly dispatcher: Dispatcher,
    private readonly lifecycle: Lifecycle,
    private readonly log: Logger,
  ) {}

  /**
   * Stores a batch of files and grows every request that is in Lookup on the dataset; their tasks are
   * published by the dispatcher. Pending-Lookup requests get the whole list at /complete instead.
   */
  async addFiles(datasetId: number, files: FileEntry[]): Promise<void> {
    const out = await this.datasets.addFilesToLookup(datasetId, files);
    if (!out) {
      if (!(await this.datasets.exists(datasetId)))
        throw notFound(`Dataset ${datasetId} not found`, "dataset_not_found");
      // A redelivered lookup task must not add the dataset's files twice.
      this.log.warn({ datasetId }, "ignoring files for a dataset that is not being looked up");
      return;
    }
    for (const id of out.fedRequests) this.dispatcher.kick(id);
  }

  /** Contract §2.4.2 [L]: locks the waiting requests; completes those whose counters already add up. */
  async complete(
    datasetId: number,
    summary: { files: number; totalEvents: number; totalBytes: number },
  ): Promise<void> {
    const { running, finished } = await this.db.sql.transaction(async (tx) => {
      const ds = await this.datasets.lockById(tx, datasetId);
      if (!ds) throw unprocessable(`Dataset ${datasetId} not found`, "dataset_not_found");
      const nFiles = await this.datasets.countFiles(tx, datasetId);
      await this.datasets.markComplete(tx, datasetId, {
        files: nFiles,
        events: summary.totalEvents,
        bytes: summary.totalBytes,
      });
      const waiting = await this.requests.lockAwaitingDataset(tx, datasetId);
      const running: number[] = [];
      const finished: Array<{ requestId: string; status: TransformStatusName }> = [];
      for (const r of waiting) {
        if (nFiles === 0 || (r.status === "lookup" && r.files > 0 && r.done >= nFiles)) {
          await this.requests.finish(tx, r.request_id, "complete", null, ["lookup", "pending_lookup"]);
          if (nFiles === 0) await tx.query("UPDATE requests SET files = 0 WHERE id = $1", [r.id]);
          finished.push({ requestId: r.request_id, status: "complete" });
        } else {
          await tx.query("UPDATE requests SET status = 'running', files = $2 WHERE id = $1", [r.id, nFiles]);
          running.push(r.id);
        }
      }
      return { running, finished };
    });
    this.log.info(
      { datasetId, running: running.length, completed: finished.length },
      "dataset lookup complete",
    );
    for (const id of running) this.dispatcher.kick(id);
    for (const f of finished) this.lifecycle.terminated(f.requestId, f.status);
  }

  /** Contract §2.4.3: the dataset goes stale with the error type; waiting requests end as Bad Dataset. */
  async error(datasetId: number, report: { errorType: DatasetLookupError; message: string }): Promise<void> {
    const failed = await this.db.sql.transaction(async (tx) => {
      const ds = await this.datasets.lockById(tx, datasetId);
      if (!ds) throw unprocessable(`Dataset ${datasetId} not found`, "dataset_not_found");
      await this.datasets.markFailed(tx, datasetId, report.errorType);
      const waiting = await this.requests.lockAwaitingDataset(tx, datasetId);
      const out: string[] = [];
      for (const r of waiting) {
        const reason = `DID lookup failed (${report.errorType}): ${report.message}`;
        if (await this.requests.finish(tx, r.request_id, "bad_dataset", reason)) out.push(r.request_id);
      }
      return out;
    });
    this.log.warn(
      { datasetId, errorType: report.errorType, requests: failed.length },
      "dataset lookup failed",
    );
    for (const id of failed) this.lifecycle.terminated(id, "bad_dataset");
  }
}
