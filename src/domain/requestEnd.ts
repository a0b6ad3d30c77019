// Ending a transform request: the one operation every path that finishes a request goes through (cancel,
// a fatal report, the last file, a failed or abandoned lookup, a stalled run, transformers that cannot
// start). The conditional UPDATE (RequestsRepo.finish) runs in a transaction; only when it made the
// transition, and only after that transaction committed, are the request's transformers shut down and its
// queue removed (Lifecycle.terminated). So the shutdown happens exactly once per request, never for a
// transaction that rolled back (docs/database.md, docs/decisions.md D11). One path ends requests without
// it: a file-complete batch (ResultsRepo.applyReports) completes a request in the same statement that counts
// its last file, in the repository's own transaction, and FileCompleteService calls Lifecycle.terminated for
// the requests the committed batch completed.
import type { Lifecycle } from "./lifecycle.js";
import type { Database, RequestsRepo, Tx } from "./repositories.js";
import type { TransformStatusName } from "./status.js";

/** The statuses a request ends in. */
export type EndStatus = Extract<TransformStatusName, "complete" | "canceled" | "fatal" | "bad_dataset">;

/**
 * Ends one request inside the caller's transaction: true when this call made the transition (the request
 * was in `onlyFrom`, or in any non-terminal status when it is not given). `reason` is the failure text.
 */
export type EndInTransaction = (
  requestId: string,
  status: EndStatus,
  reason?: string | null,
  onlyFrom?: readonly TransformStatusName[] | null,
) => Promise<boolean>;

export class RequestEnd {
  constructor(
    private readonly db: Database,
    private readonly requests: Pick<RequestsRepo, "finish">,
    private readonly lifecycle: Pick<Lifecycle, "terminated">,
  ) {}

  /** Ends one request in a transaction of its own, then shuts it down; true when this call ended it. */
  one(
    requestId: string,
    status: EndStatus,
    reason: string | null = null,
    onlyFrom: readonly TransformStatusName[] | null = null,
  ): Promise<boolean> {
    return this.inTransaction((_tx, end) => end(requestId, status, reason, onlyFrom));
  }

  /**
   * Runs `work` in one transaction; every request it ends with `end` is shut down once the transaction has
   * committed. A transaction the database re-runs (a deadlock) starts its list afresh.
   */
  async inTransaction<R>(work: (tx: Tx, end: EndInTransaction) => Promise<R>): Promise<R> {
    let ended: Array<[string, EndStatus]> = [];
    const out = await this.db.sql.transaction(async (tx) => {
      ended = [];
      return work(tx, async (requestId, status, reason = null, onlyFrom = null) => {
        const done = await this.requests.finish(tx, requestId, status, reason, onlyFrom);
        if (done) ended.push([requestId, status]);
        return done;
      });
    });
    for (const [id, status] of ended) this.lifecycle.terminated(id, status);
    return out;
  }
}
