// Publishes transform tasks with Postgres as the outbox. Each request keeps a watermark
// (`tasks_published_through`): files of its dataset up to that id have a broker-confirmed task. The
// dispatcher reads the next files in id order, publishes them on the confirm channel and advances the
// watermark only after the broker confirmed. Nothing is lost when the broker or the App restarts:
//  - after an App restart, publishing resumes after the watermark;
//  - after a broker reconnect, a request whose queue vanished (transform queues are non-durable) gets
//    every file without a result re-published (docs/decisions.md D2; upstream #229/#272).
// Lookups work the same way: `datasets.lookup_published_at` stays NULL until the broker confirmed.
import type { DatasetsRepo } from "./repositories.js";
import type { DispatchRow, RequestsRepo } from "./repositories.js";
import type { Logger } from "../logger.js";
import { whileDatabaseRestarts } from "./databaseWait.js";
import { parseDid } from "./did.js";
import type { TaskBroker, TransformTask } from "./ports.js";

/** Another replica holds the request's publishing claim (or took it over from us). */
class RequestBusy extends Error {}

/** The publishing claim of one request while this replica holds it, renewed by a heartbeat. */
interface HeldLease {
  /** Set when a renewal failed or found the claim taken: stop publishing (another replica may be). */
  lost: boolean;
  stop(): void;
}

export interface DispatcherSettings {
  /**
   * Several replicas: take (or renew) the right to publish this request now (false: someone else has it);
   * and give it back. The claim is a short lease renewed every `leaseHeartbeatMs` while publishing, so a
   * replica that died mid-request is taken over within about `leaseTtlMs`.
   */
  claim?: (requestDbId: number) => Promise<boolean>;
  release?: (requestDbId: number) => Promise<void>;
  leaseTtlMs?: number;
  leaseHeartbeatMs?: number;
  /**
   * Requests with files beyond their watermark that nobody is publishing (no live claim), e.g. because the
   * replica publishing them died; looked for every `sweepMs` and published here.
   */
  unclaimed?: () => Promise<number[]>;
  sweepMs?: number;
  /** After a reconnect: may this replica re-publish every unfinished task? (default yes) */
  mayReplay?: () => Promise<boolean>;
  advertisedHostname: string;
  defaultScheme: string;
  chunk: number;
  /** Requests published concurrently. */
  concurrency?: number;
  /**
   * A chunk is published as this many slices, each recorded (watermark) as soon as the broker confirmed it
   * and every slice before it; at most one chunk of tasks is ever published but not yet recorded, which
   * bounds the tasks a replica taking over after a crash publishes again.
   */
  window?: number;
  retryDelayMs?: number;
}

type QueueDepth = (queue: string) => Promise<number | null>;

export class Dispatcher {
  private readonly pending = new Set<number>();
  /**
   * Requests whose queue may have lost tasks, with the reconnect generation that asked for the replay: a
   * replay only clears the mark it started with, so a reconnect during a replay is never forgotten.
   */
  private readonly replay = new Map<number, number>();
  private generation = 0;
  /** Set while a resume() failed and must be run again. */
  private resumeNeeded: { afterReconnect: boolean } | null = null;
  private running = 0;
  /** Requests being published right now: at most one publisher per request. */
  private readonly active = new Set<number>();
  private stopped = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private idleWaiters: Array<() => void> = [];
  private lookupsRunning: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private firstConnect = true;
  readonly counters = { published: 0, confirmedBatches: 0, failedBatches: 0, lookups: 0, replays: 0 };

  constructor(
    private readonly requests: RequestsRepo,
    private readonly datasets: DatasetsRepo,
    private readonly broker: TaskBroker & { queueDepth?: QueueDepth },
    private readonly log: Logger,
    private readonly settings: DispatcherSettings,
  ) {}

  /** Subscribes to broker (re)connections and resumes whatever the database says is unfinished. */
  start(): void {
    this.unsubscribe = this.broker.onConnected(() => {
      const first = this.firstConnect;
      this.firstConnect = false;
      void this.resume(!first);
    });
    if (this.broker.isConnected()) {
      this.firstConnect = false;
      void this.resume(false);
    }
    if (this.settings.unclaimed) this.scheduleSweep();
  }

  /** Looks for requests nobody is publishing (their publisher died) and publishes them. */
  private scheduleSweep(): void {
    if (this.stopped) return;
    this.sweepTimer = setTimeout(async () => {
      try {
        if (this.broker.isConnected()) {
          const ids = await this.settings.unclaimed!();
          const fresh = ids.filter((id) => !this.active.has(id) && !this.pending.has(id));
          if (fresh.length > 0) {
            this.log.info({ requestDbIds: fresh }, "publishing requests whose publisher stopped");
            for (const id of fresh) this.kick(id);
          }
        }
      } catch (err) {
        this.log.warn({ err: String(err) }, "looking for unpublished requests failed");
      }
      this.scheduleSweep();
    }, this.settings.sweepMs ?? 3000);
    this.sweepTimer.unref?.();
  }

  /** Publishes the outstanding tasks of this request (cheap to call often). */
  kick(requestDbId: number): void {
    if (this.stopped) return;
    this.pending.add(requestDbId);
    this.pump();
  }

  /** Publishes again every file of the request without a result (the reconciler, for a stalled request). */
  redrive(requestDbId: number): void {
    if (this.stopped) return;
    this.replay.set(requestDbId, ++this.generation);
    this.kick(requestDbId);
  }

  /** Re-sends lookups the broker never confirmed. */
  kickLookups(): void {
    if (this.stopped || this.lookupsRunning) return;
    this.lookupsRunning = this.publishLookups().finally(() => {
      this.lookupsRunning = null;
    });
  }

  /** Resolves when nothing is queued or in flight. */
  async idle(): Promise<void> {
    if (this.pending.size === 0 && this.running === 0) return;
    await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
  }

  private async resume(afterReconnect: boolean): Promise<void> {
    try {
      const gen = ++this.generation;
      // With several replicas one re-publishes after a broker restart (replayGate.ts); the others only
      // carry on publishing from their watermarks.
      const replayAll = afterReconnect && (this.settings.mayReplay ? await this.settings.mayReplay() : true);
      const ids = await this.requests.activeDispatchIds();
      for (const id of ids) {
        if (replayAll) this.replay.set(id, gen);
        else if (!afterReconnect) await this.markReplayIfQueueMissing(id, gen);
        this.pending.add(id);
      }
      this.pump();
      this.kickLookups();
      this.resumeNeeded = null;
    } catch (err) {
      // e.g. the database is restarting together with the broker: resume again until it works, keeping
      // the stronger "after a reconnect" (replay everything) if any failed attempt asked for it.
      this.log.error({ err: String(err) }, "dispatcher could not resume; retrying");
      this.resumeNeeded = { afterReconnect: afterReconnect || (this.resumeNeeded?.afterReconnect ?? false) };
      this.scheduleRetry();
    }
  }

  /** At start-up the broker may have lost queues while we were down: replay those whose queue is gone. */
  private async markReplayIfQueueMissing(id: number, gen: number): Promise<void> {
    if (!this.broker.queueDepth) return;
    const row = await this.requests.dispatchRow(id);
    if (!row || row.tasks_published_through === 0) return;
    const depth = await this.broker.queueDepth(`transformer-${row.request_id}`).catch(() => 0);
    if (depth === null) this.replay.set(id, gen);
  }

  private pump(): void {
    const limit = this.settings.concurrency ?? 4;
    while (this.running < limit && this.pending.size > 0 && !this.stopped) {
      let id: number | undefined;
      for (const p of this.pending) {
        if (!this.active.has(p)) {
          id = p;
          break;
        }
      }
      if (id === undefined) return;
      this.pending.delete(id);
      this.active.add(id);
      this.running += 1;
      void this.publishRequest(id)
        .catch((err) => {
          if (err instanceof RequestBusy) {
            this.log.debug({ requestDbId: id }, "another replica is publishing this request; retrying later");
          } else {
            this.counters.failedBatches += 1;
            this.log.warn(
              { err: String(err), requestDbId: id },
              "publishing transform tasks failed; will retry",
            );
          }
          this.pending.add(id);
          this.scheduleRetry();
        })
        .finally(() => {
          this.active.delete(id);
          this.running -= 1;
          if (this.running === 0 && (this.pending.size === 0 || this.retryTimer)) this.notifyIdle();
          if (!this.retryTimer) this.pump();
        });
    }
  }

  private notifyIdle(): void {
    if (this.pending.size > 0 && !this.retryTimer) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.resumeNeeded) void this.resume(this.resumeNeeded.afterReconnect);
      else if (this.broker.isConnected()) this.pump();
    }, this.settings.retryDelayMs ?? 1000);
    this.retryTimer.unref?.();
  }

  private task(row: DispatchRow, f: { id: number; paths: string }): TransformTask {
    return {
      request_id: row.request_id,
      file_id: f.id,
      paths: f.paths.split(","),
      service_endpoint: `http://${this.settings.advertisedHostname}/servicex/internal/transformation/${row.request_id}`,
      result_destination: row.result_destination,
      result_format: row.result_format,
    };
  }

  private async publishRequest(id: number): Promise<void> {
    // With several replicas, one publishes a request at a time (both would read the same watermark and
    // publish the same files); the other tries again shortly and publishes whatever is left.
    if (this.settings.claim && !(await this.settings.claim(id))) throw new RequestBusy();
    const lease = this.settings.claim ? this.holdLease(id, this.settings.claim) : null;
    try {
      await this.publishClaimed(id, lease);
    } finally {
      lease?.stop();
      if (this.settings.release && !lease?.lost) await this.settings.release(id).catch(() => {});
    }
  }

  /**
   * Renews the claim every heartbeat. The claim is lost when a renewal finds it taken, or when no renewal
   * succeeded for most of its lifetime (the database is unreachable: another replica may take it soon).
   */
  private holdLease(id: number, renew: (id: number) => Promise<boolean>): HeldLease {
    const ttl = this.settings.leaseTtlMs ?? 6000;
    const every = this.settings.leaseHeartbeatMs ?? Math.max(100, Math.floor(ttl / 3));
    let renewedAt = Date.now();
    let timer: NodeJS.Timeout | null = null;
    const held: HeldLease = {
      lost: false,
      stop: () => {
        if (timer) clearTimeout(timer);
        timer = null;
      },
    };
    const beat = async () => {
      try {
        if (await renew(id)) renewedAt = Date.now();
        else held.lost = true;
      } catch (err) {
        this.log.warn({ err: String(err), requestDbId: id }, "renewing the publishing claim failed");
      }
      if (Date.now() - renewedAt > ttl - every) held.lost = true;
      if (held.lost) {
        this.log.warn({ requestDbId: id }, "lost the publishing claim; another replica may take over");
        return;
      }
      if (timer) {
        timer = setTimeout(() => void beat(), every);
        timer.unref?.();
      }
    };
    timer = setTimeout(() => void beat(), every);
    timer.unref?.();
    return held;
  }

  private async publishClaimed(id: number, lease: HeldLease | null): Promise<void> {
    const checkLease = () => {
      if (lease?.lost) throw new RequestBusy();
    };
    const row = await this.requests.dispatchRow(id);
    if (!row || (row.status !== "lookup" && row.status !== "running")) {
      this.replay.delete(id);
      return;
    }
    const replayGen = this.replay.get(id);
    if (replayGen !== undefined) {
      let after = 0;
      for (;;) {
        const files = await this.datasets.filesWithoutResult(
          row.did_id,
          row.request_id,
          after,
          row.tasks_published_through,
          this.settings.chunk,
        );
        if (files.length === 0) break;
        checkLease();
        const r = row;
        await this.broker.publishTransformTasks(
          r.request_id,
          files.map((f) => this.task(r, f)),
        );
        this.counters.published += files.length;
        this.counters.replays += files.length;
        after = files[files.length - 1]!.id;
      }
      if (this.replay.get(id) === replayGen) this.replay.delete(id);
    }
    // A chunk is read at once and published in `window` slices; slices are in flight together (the broker
    // confirms one while the next is sent), and the watermark advances strictly in file-id order, over each
    // slice once it and every slice before it were confirmed. At most one chunk of tasks is published and
    // not yet recorded at any time: a replica that takes over after this one died publishes at most that
    // many again.
    const chunk = this.settings.chunk;
    const window = Math.max(1, this.settings.window ?? 3);
    const inflight: Array<{ through: number; n: number; confirmed: Promise<void> }> = [];
    let unrecorded = 0;
    const settleOldest = async () => {
      const c = inflight.shift()!;
      await c.confirmed;
      // The broker has these tasks: recording that waits out a restarting database rather than giving up
      // and publishing them all again.
      await whileDatabaseRestarts(() => this.requests.advanceWatermark(id, c.through));
      unrecorded -= c.n;
      this.counters.published += c.n;
      this.counters.confirmedBatches += 1;
    };
    let cursor = row.tasks_published_through;
    try {
      for (;;) {
        const files = await this.datasets.filesAfter(row.did_id, cursor, chunk);
        if (files.length === 0) {
          if (inflight.length === 0) return;
          await settleOldest();
          continue;
        }
        const r = row;
        const parts = Math.min(window, files.length);
        for (let k = 0; k < parts; k++) {
          const slice = files.slice(
            Math.floor((k * files.length) / parts),
            Math.floor(((k + 1) * files.length) / parts),
          );
          while (inflight.length > 0 && unrecorded + slice.length > chunk) await settleOldest();
          checkLease();
          const confirmed = this.broker.publishTransformTasks(
            r.request_id,
            slice.map((f) => this.task(r, f)),
          );
          confirmed.catch(() => {}); // observed in settleOldest; never an unhandled rejection
          inflight.push({ through: slice[slice.length - 1]!.id, n: slice.length, confirmed });
          unrecorded += slice.length;
        }
        cursor = files[files.length - 1]!.id;
        if (files.length < chunk) {
          // Caught up. Files added meanwhile came with a kick(), which runs this request again afterwards
          // (and re-reads its status, so a request that became terminal gets no more tasks).
          while (inflight.length > 0) await settleOldest();
          await this.dropQueueIfTerminal(id);
          return;
        }
      }
    } finally {
      // On an error the remaining chunks are abandoned (their confirmations are not waited for): the
      // watermark stays behind them and the retry publishes them again (at-least-once).
      inflight.length = 0;
    }
  }

  /**
   * A request canceled while we were publishing had its queue deleted by the lifecycle, and our next
   * publish declared it again: with no consumer it would never auto-delete. Remove it.
   */
  private async dropQueueIfTerminal(id: number): Promise<void> {
    const fresh = await this.requests.dispatchRow(id);
    if (
      fresh &&
      fresh.status !== "lookup" &&
      fresh.status !== "running" &&
      fresh.status !== "pending_lookup"
    ) {
      await this.broker.deleteTransformQueue(fresh.request_id);
    }
  }

  private async publishLookups(): Promise<void> {
    try {
      const rows = await this.datasets.unpublishedLookups();
      for (const d of rows) await this.publishLookup(d);
    } catch (err) {
      this.log.warn({ err: String(err) }, "re-sending lookups failed; will retry on reconnect");
    }
  }

  /** Sends the DID-finder lookup for a dataset and records the broker's confirmation. */
  async publishLookup(d: { id: number; name: string; did_finder: string }): Promise<void> {
    const parsed = parseDid(d.name, this.settings.defaultScheme);
    await this.broker.publishLookup({
      scheme: d.did_finder,
      did: parsed.did,
      datasetId: d.id,
      endpoint: `http://${this.settings.advertisedHostname}/servicex/internal/transformation/`,
    });
    await this.datasets.markLookupPublished(d.id);
    this.counters.lookups += 1;
  }
}
