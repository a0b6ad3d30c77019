// DID-finder callbacks (docs/api.md). The path id here is a *dataset* id.
// DID finders ignore HTTP status codes (docs/decisions.md D26), so each callback waits out a restarting database
// (databaseWait.ts) and is safe to receive twice: a path is stored once, a repeated /complete or /error
// changes nothing, and the first of /complete and /error to arrive decides how the lookup ended.
import type { Database } from "./repositories.js";
import type { DatasetsRepo, FileEntry } from "./repositories.js";
import type { RequestsRepo } from "./repositories.js";
import type { Logger } from "../logger.js";
import { type DatabaseWaitOptions, whileDatabaseRestarts } from "./databaseWait.js";
import type { Dispatcher } from "./dispatcher.js";
import { appError, conflict, notFound } from "./errors.js";
import type { Lifecycle } from "./lifecycle.js";
import { RequestEnd } from "./requestEnd.js";
import type { DatasetLookupError } from "./status.js";

export interface LookupOptions {
  /** Re-opens a lookup so that it is sent again (the reconciler's ReconcileRepo.reopenLookup). */
  reopenLookup: (datasetId: number) => Promise<void>;
  /** Re-sends of one lookup before it is abandoned (RECONCILE_MAX_ATTEMPTS). */
  maxAttempts: number;
  wait?: DatabaseWaitOptions;
}

type CompleteOutcome =
  | { kind: "completed"; nFiles: number; running: number[]; finished: string[] }
  | { kind: "repeated"; running: number[] }
  | { kind: "already_failed"; status: string }
  | { kind: "short"; nFiles: number; dataset: { id: number; name: string; did_finder: string } }
  | { kind: "abandoned"; nFiles: number; failed: string[] };

export class LookupService {
  private readonly ends: RequestEnd;

  constructor(
    db: Database,
    private readonly datasets: DatasetsRepo,
    private readonly requests: RequestsRepo,
    private readonly dispatcher: Dispatcher,
    lifecycle: Lifecycle,
    private readonly log: Logger,
    private readonly opts: LookupOptions,
  ) {
    this.ends = new RequestEnd(db, requests, lifecycle);
  }

  private waiting<R>(what: string, datasetId: number, fn: () => Promise<R>): Promise<R> {
    return whileDatabaseRestarts(fn, {
      ...this.opts.wait,
      onRetry: (err, attempt) => {
        if (attempt === 0)
          this.log.warn({ err: String(err), datasetId }, `${what}: the database is unavailable; waiting`);
      },
    });
  }

  /**
   * Stores a batch of files (each path once per dataset) and grows every request that is in Lookup on the
   * dataset; their tasks are published by the dispatcher. Pending-Lookup requests get the whole list at
   * /complete instead.
   */
  async addFiles(datasetId: number, files: FileEntry[]): Promise<void> {
    const out = await this.waiting("DID-finder files", datasetId, async () => {
      const added = await this.datasets.addFilesToLookup(datasetId, files);
      return added ?? { exists: await this.datasets.exists(datasetId) };
    });
    if ("exists" in out) {
      if (!out.exists) throw notFound(`Dataset ${datasetId} not found`, "dataset_not_found");
      // A redelivered lookup task, or a finder still streaming after the lookup ended.
      this.log.warn({ datasetId }, "ignoring files for a dataset that is not being looked up");
      return;
    }
    if (out.added < files.length) {
      this.log.info(
        { datasetId, sent: files.length, added: out.added },
        "files the dataset already has were not added again",
      );
    }
    for (const id of out.fedRequests) this.dispatcher.kick(id);
  }

  /**
   * newer upstream; docs/api.md: locks the waiting requests; completes those whose counters already add up. The
   * lookup completes only when the DID finder's file count is the number of files that arrived: otherwise
   * batches were lost on the way, the requests stay in Lookup and the lookup is sent again (files the finder
   * sends a second time are not added twice), at most `maxAttempts` times; then the lookup is abandoned and
   * its requests end Fatal. A dataset is never complete (and never served to later submits) with files
   * missing. One exception: a re-run that reports the same count as the previous run and adds no file
   * completes the lookup, since the finder's count then includes paths it listed twice.
   */
  async complete(
    datasetId: number,
    summary: { files: number; totalEvents: number; totalBytes: number },
  ): Promise<void> {
    const out = await this.waiting("DID-finder complete", datasetId, () =>
      this.ends.inTransaction(async (tx, end): Promise<CompleteOutcome> => {
        const ds = await this.datasets.lockById(tx, datasetId);
        if (!ds) throw appError("unknown_dataset", { id: datasetId });
        if (ds.lookup_status === "complete") {
          // Sent twice (e.g. our first answer was lost): the requests it started may need their tasks.
          return { kind: "repeated", running: await this.requests.runningOnDataset(tx, datasetId) };
        }
        if (ds.lookup_status !== "looking") return { kind: "already_failed", status: ds.lookup_status };
        const nFiles = await this.datasets.countFiles(tx, datasetId);
        const prev = nFiles === summary.files ? null : await this.datasets.lastShortfall(tx, datasetId);
        // A re-run that reports the same count as the last one and added nothing: the finder counts some
        // path twice (e.g. a file in two datasets of a container), and what arrived is its whole list.
        const stable = prev !== null && prev.reported === summary.files && prev.arrived === nFiles;
        if (nFiles !== summary.files && stable) {
          this.log.warn(
            { datasetId, reported: summary.files, arrived: nFiles },
            "the DID finder's count includes repeated paths: the lookup completes with the distinct files",
          );
        }
        if (nFiles !== summary.files && !stable) {
          if (ds.lookup_attempts < this.opts.maxAttempts) {
            await this.datasets.noteShortfall(tx, datasetId, summary.files, nFiles);
            return { kind: "short", nFiles, dataset: ds };
          }
          const reason =
            `The DID finder reported ${summary.files} files but ${nFiles} arrived, ` +
            `${ds.lookup_attempts + 1} times (the lookup was sent ${ds.lookup_attempts + 1} times); ` +
            "the dataset lookup was abandoned.";
          await this.datasets.markFailed(tx, datasetId, "internal_failure");
          const failed: string[] = [];
          for (const r of await this.requests.lockAwaitingDataset(tx, datasetId)) {
            if (await end(r.request_id, "fatal", reason)) failed.push(r.request_id);
          }
          return { kind: "abandoned", nFiles, failed };
        }
        await this.datasets.markComplete(tx, datasetId, {
          files: nFiles,
          events: summary.totalEvents,
          bytes: summary.totalBytes,
        });
        const waiting = await this.requests.lockAwaitingDataset(tx, datasetId);
        const running: number[] = [];
        const finished: string[] = [];
        for (const r of waiting) {
          if (nFiles === 0 || (r.status === "lookup" && r.files > 0 && r.done >= nFiles)) {
            await end(r.request_id, "complete", null, ["lookup", "pending_lookup"]);
            if (nFiles === 0) await this.requests.setFiles(tx, r.id, 0);
            finished.push(r.request_id);
          } else {
            await this.requests.startRunning(tx, r.id, nFiles);
            running.push(r.id);
          }
        }
        return { kind: "completed", nFiles, running, finished };
      }),
    );

    switch (out.kind) {
      case "completed":
        this.log.info(
          { datasetId, files: out.nFiles, running: out.running.length, completed: out.finished.length },
          "dataset lookup complete",
        );
        for (const id of out.running) this.dispatcher.kick(id);
        return;
      case "repeated":
        this.log.info({ datasetId }, "dataset lookup complete again: nothing to do");
        for (const id of out.running) this.dispatcher.kick(id);
        return;
      case "already_failed":
        throw conflict(
          `The lookup of dataset ${datasetId} already ended with ${out.status}; this report was ignored`,
          "lookup_already_ended",
        );
      case "short":
        await this.resendLookup(out.dataset, summary.files, out.nFiles);
        return;
      case "abandoned":
        this.log.error(
          { datasetId, reported: summary.files, arrived: out.nFiles, requests: out.failed.length },
          "dataset lookup abandoned: files kept going missing",
        );
        return;
    }
  }

  /** The reconciler's re-send: re-open the lookup (counted in lookup_attempts) and publish it again. */
  private async resendLookup(
    ds: { id: number; name: string; did_finder: string },
    reported: number,
    arrived: number,
  ): Promise<void> {
    this.log.warn(
      { datasetId: ds.id, reported, arrived },
      "the DID finder reported more or fewer files than arrived: the lookup is sent again",
    );
    await this.waiting("re-sending a lookup", ds.id, () => this.opts.reopenLookup(ds.id));
    try {
      await this.dispatcher.publishLookup(ds);
    } catch (err) {
      // Not confirmed: the dispatcher's unpublished-lookups pass sends it when the broker is back.
      this.log.warn({ err: String(err), datasetId: ds.id }, "re-sent lookup not confirmed yet");
    }
  }

  /**
   * docs/api.md: the dataset goes stale with the error type; waiting requests end as Bad Dataset. A
   * lookup that already ended is left as it is: a repeated /error changes nothing, and an /error after
   * /complete is refused (409).
   */
  async error(datasetId: number, report: { errorType: DatasetLookupError; message: string }): Promise<void> {
    const out = await this.waiting("DID-finder error", datasetId, () =>
      this.ends.inTransaction(async (tx, end) => {
        const ds = await this.datasets.lockById(tx, datasetId);
        if (!ds) throw appError("unknown_dataset", { id: datasetId });
        if (ds.lookup_status === "complete") return { kind: "already_complete" as const };
        if (ds.lookup_status !== "looking" && ds.lookup_status !== "created") {
          return { kind: "repeated" as const };
        }
        await this.datasets.markFailed(tx, datasetId, report.errorType);
        const failed: string[] = [];
        for (const r of await this.requests.lockAwaitingDataset(tx, datasetId)) {
          const reason = `DID lookup failed (${report.errorType}): ${report.message}`;
          if (await end(r.request_id, "bad_dataset", reason)) failed.push(r.request_id);
        }
        return { kind: "failed" as const, failed };
      }),
    );
    if (out.kind === "already_complete") {
      throw conflict(
        `The lookup of dataset ${datasetId} already completed; this error report was ignored`,
        "lookup_already_ended",
      );
    }
    if (out.kind === "repeated") {
      this.log.info({ datasetId }, "dataset lookup failed again: nothing to do");
      return;
    }
    this.log.warn(
      { datasetId, errorType: report.errorType, requests: out.failed.length },
      "dataset lookup failed",
    );
  }
}
