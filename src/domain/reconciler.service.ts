// The reconciler (docs/decisions.md D18): nothing else moves a request whose DID finder or transformers went silent.
// Every RECONCILE_INTERVAL it looks for
//   - requests in Lookup whose DID finder sent nothing for LOOKUP_TIMEOUT: the lookup is sent again (files the
//     finder sends a second time are not added twice);
//   - Running requests with files left and no file report for RUNNING_STALL_TIMEOUT: tasks are published
//     again for every file without a result (the queue may have vanished with its last consumer), and the
//     transformers are started again when their Deployment is gone;
// at most RECONCILE_MAX_ATTEMPTS times per request; after that the request ends Fatal with a failure-info
// that says what happened. Every action is logged and reported to `onAction` (metrics). With several App
// replicas one runs it at a time (a lease in Postgres).
import { hostname } from "node:os";
import type { Database } from "./repositories.js";
import type { ReconcileRepo } from "./repositories.js";
import type { DatasetsRepo } from "./repositories.js";
import type { RequestsRepo } from "./repositories.js";
import type { Logger } from "../logger.js";
import type { Dispatcher } from "./dispatcher.js";
import type { Lifecycle } from "./lifecycle.js";
import { RequestEnd } from "./requestEnd.js";
import type { TransformerLauncher } from "./ports.js";
import type { TransformationService } from "./transformation.service.js";

export type ReconcileAction =
  | "lookup_resent"
  | "lookup_failed"
  | "tasks_republished"
  | "transformers_restarted"
  | "run_failed";

export interface ReconcilerSettings {
  lookupTimeoutS: number;
  runningStallTimeoutS: number;
  maxAttempts: number;
  /** Observer for every action (metrics). */
  onAction?: (action: ReconcileAction, requestId: string) => void;
  /** Lease holder name (default host:pid). */
  holder?: string;
  /** Lease lifetime; another replica takes over this long after the holder died (default 3 × interval). */
  leaseMs?: number;
}

export interface ReconcileReport {
  ran: boolean;
  actions: Array<{ action: ReconcileAction; requestId: string; detail?: string }>;
}

export class Reconciler {
  private readonly holder: string;

  constructor(
    private readonly db: Database,
    private readonly repo: ReconcileRepo,
    private readonly requests: RequestsRepo,
    private readonly datasets: DatasetsRepo,
    private readonly dispatcher: Dispatcher,
    lifecycle: Lifecycle,
    private readonly launcher: TransformerLauncher,
    private readonly transformations: TransformationService,
    private readonly log: Logger,
    private readonly settings: ReconcilerSettings,
  ) {
    this.holder = settings.holder ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
    this.ends = new RequestEnd(db, requests, lifecycle);
  }

  /** Ends the requests the reconciler gives up on (requestEnd.ts). */
  private readonly ends: RequestEnd;

  /** One pass, if this replica holds (or takes) the reconciler lease. */
  async run(): Promise<ReconcileReport> {
    const report: ReconcileReport = { ran: false, actions: [] };
    if (!(await this.repo.lease("reconciler", this.holder, this.settings.leaseMs ?? 90_000))) return report;
    report.ran = true;
    const act = (action: ReconcileAction, requestId: string, detail?: string) => {
      report.actions.push({ action, requestId, ...(detail ? { detail } : {}) });
      this.settings.onAction?.(action, requestId);
      this.log.warn({ action, requestId, detail }, "reconciler");
    };

    const datasetsDone = new Set<number>();
    for (const l of await this.repo.stalledLookups(this.settings.lookupTimeoutS)) {
      // Several requests may wait on one dataset: one lookup (or one failure) per dataset and pass.
      if (datasetsDone.has(l.datasetId)) continue;
      datasetsDone.add(l.datasetId);
      if (l.attempts >= this.settings.maxAttempts) {
        await this.failLookup(l.datasetId, l.attempts);
        act("lookup_failed", l.requestId, `after ${l.attempts} attempts`);
        continue;
      }
      await this.repo.noteAttempt(l.id);
      await this.repo.reopenLookup(l.datasetId);
      try {
        await this.dispatcher.publishLookup({
          id: l.datasetId,
          name: l.datasetName,
          did_finder: l.didFinder,
        });
      } catch (err) {
        // Not confirmed: the dispatcher's unpublished-lookups pass sends it when the broker is back.
        this.log.warn({ err: String(err), requestId: l.requestId }, "re-sent lookup not confirmed yet");
      }
      act("lookup_resent", l.requestId, `attempt ${l.attempts + 1}`);
    }

    for (const r of await this.repo.stalledRuns(this.settings.runningStallTimeoutS)) {
      if (r.attempts >= this.settings.maxAttempts) {
        const reason =
          `No file was reported for ${this.settings.runningStallTimeoutS} s, ${r.attempts} times in a row ` +
          `(${r.done} of ${r.files} files done); the transformers appear to be gone or stuck.`;
        if (await this.ends.one(r.requestId, "fatal", reason, ["running"]))
          act("run_failed", r.requestId, reason);
        continue;
      }
      await this.repo.noteAttempt(r.id);
      this.dispatcher.redrive(r.id);
      act("tasks_republished", r.requestId, `attempt ${r.attempts + 1}`);
      if (this.launcher.deploymentStatus) {
        try {
          const status = await this.launcher.deploymentStatus(r.requestId);
          if (status === null) {
            const rec = await this.requests.find(r.requestId);
            if (rec) {
              await this.transformations.relaunch(rec);
              act("transformers_restarted", r.requestId, "the Deployment was missing");
            }
          }
        } catch (err) {
          this.log.warn(
            { err: String(err), requestId: r.requestId },
            "could not check or restart transformers",
          );
        }
      } else {
        // Launchers without a status (local) start again idempotently.
        const rec = await this.requests.find(r.requestId);
        if (rec) await this.transformations.relaunch(rec).catch(() => {});
      }
    }
    return report;
  }

  /** The DID finder never answered: the dataset is marked failed (stale) and its requests end Fatal. */
  private async failLookup(datasetId: number, attempts: number): Promise<void> {
    const reason =
      `The DID finder did not answer for ${this.settings.lookupTimeoutS} s, ${attempts + 1} times ` +
      `(the lookup was sent ${attempts + 1} times); the dataset lookup was abandoned.`;
    await this.ends.inTransaction(async (tx, end) => {
      const ds = await this.datasets.lockById(tx, datasetId);
      if (!ds) return;
      await this.datasets.markFailed(tx, datasetId, "internal_failure");
      for (const r of await this.requests.lockAwaitingDataset(tx, datasetId))
        await end(r.request_id, "fatal", reason);
    });
  }

  async close(): Promise<void> {
    await this.repo.releaseLease("reconciler", this.holder).catch(() => {});
  }
}
