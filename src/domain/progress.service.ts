// Progress history: a time series per request of (time, status, files completed/failed, bytes,
// events). Status changes are recorded by the database (a trigger on `requests`, so every path that moves
// a status is covered in the same transaction). While a request runs, this recorder adds at most one
// snapshot per PROGRESS_INTERVAL_MS, whatever the file rate: the file-complete path only notes the
// request ids of each committed batch in memory (no DB round trip per report), and a timer writes the due
// snapshots of all noted requests in one statement, read from their `requests` rows.
import type { ProgressPoint, ProgressRepo } from "./repositories.js";
import type { Logger } from "../logger.js";

interface Entry {
  /** When this process last wrote (or tried to write) a snapshot for the request. */
  last: number;
  dirty: boolean;
}

export class ProgressService {
  private readonly entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private flushing: Promise<void> | null = null;
  private stopped = false;
  /** Snapshot rows written by this process (tests, bench). */
  snapshots = 0;

  constructor(
    private readonly repo: ProgressRepo,
    private readonly log: Logger,
    private readonly intervalMs: number,
  ) {}

  get enabled(): boolean {
    return this.intervalMs > 0 && !this.stopped;
  }

  /** Called after a file-complete batch committed: the requests whose counters may have moved. */
  noteProgress(requestIds: Iterable<string>): void {
    if (!this.enabled) return;
    const now = Date.now();
    let earliest = Number.POSITIVE_INFINITY;
    for (const id of requestIds) {
      let e = this.entries.get(id);
      if (!e) {
        // The first report of a request is not snapshotted at once: its status change to Running is
        // already in the history; the first snapshot follows one interval later.
        e = { last: now, dirty: true };
        this.entries.set(id, e);
      } else if (e.dirty) {
        continue;
      }
      e.dirty = true;
      earliest = Math.min(earliest, e.last + this.intervalMs);
    }
    if (earliest !== Number.POSITIVE_INFINITY) this.schedule(Math.max(earliest, now));
  }

  /** A request reached a terminal state (its final row came from the trigger): stop tracking it. */
  forget(requestId: string): void {
    this.entries.delete(requestId);
  }

  history(requestId: string): Promise<ProgressPoint[]> {
    return this.repo.history(requestId);
  }

  private schedule(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        if (!this.flushing) this.flushing = this.flush().finally(() => (this.flushing = null));
      },
      Math.max(0, at - Date.now()),
    );
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    const now = Date.now();
    const due: string[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const [id, e] of this.entries) {
      if (!e.dirty) {
        // Idle for a whole interval: forget it (a later report starts it again).
        if (now - e.last > this.intervalMs * 4) this.entries.delete(id);
        continue;
      }
      if (e.last + this.intervalMs <= now) {
        due.push(id);
        e.last = now;
        e.dirty = false;
      } else {
        next = Math.min(next, e.last + this.intervalMs);
      }
    }
    if (due.length > 0) {
      try {
        // A little below the interval, so timer jitter never skips a due snapshot.
        this.snapshots += await this.repo.snapshotRunning(due, this.intervalMs * 0.8);
      } catch (err) {
        this.log.warn({ err: String(err), requests: due.length }, "progress snapshot failed");
      }
    }
    if (next !== Number.POSITIVE_INFINITY && !this.stopped) this.schedule(next);
  }

  /** Stops the timer; pending snapshots are dropped (terminal states are recorded by the database). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flushing;
  }
}
