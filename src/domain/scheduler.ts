// Built-in scheduler for the maintenance jobs, for sites without the Helm CronJobs: the work of the routes the
// CronJobs call (dataset-lifecycle, data-lifecycle, kubernetes-cleanup; docs/api.md) and the reconciler. Each
// job runs every `intervalMs`, never overlapping itself; a failing run is logged and retried at the next tick.
// With several replicas a lease in Postgres lets one run each job at a time (the jobs are idempotent anyway).
import type { Logger } from "../logger.js";

export interface ScheduledJob {
  name: string;
  /** Milliseconds between runs; 0 disables the job. */
  intervalMs: number;
  run(): Promise<unknown>;
  /** Whether a run's result did something; a run that did not is logged at debug (default: every run acted). */
  acted?(result: unknown): boolean;
}

export class Scheduler {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Map<string, Promise<void>>();
  private stopped = false;
  /** Completed runs per job (for tests and logs). */
  readonly runs = new Map<string, number>();

  constructor(
    private readonly jobs: readonly ScheduledJob[],
    private readonly logger: Logger,
    /**
     * With several replicas: takes or renews the scheduler's leadership (a short lease in Postgres), called
     * every `heartbeatMs`; only the leader runs jobs, and a replica takes over within one lease after the
     * leader died. Default: always the leader (one process).
     */
    private readonly leadership: {
      renew: () => Promise<boolean>;
      release: () => Promise<void>;
      heartbeatMs: number;
    } | null = null,
  ) {}

  private leader = false;
  private heartbeat: NodeJS.Timeout | null = null;

  /** Whether this replica runs the jobs now. */
  get isLeader(): boolean {
    return this.leadership === null || this.leader;
  }

  private async renew(): Promise<void> {
    if (!this.leadership || this.stopped) return;
    try {
      const was = this.leader;
      this.leader = await this.leadership.renew();
      if (this.leader !== was) this.logger.info({ leader: this.leader }, "scheduler leadership changed");
    } catch (err) {
      this.leader = false;
      this.logger.warn({ err: String(err) }, "scheduler could not renew its leadership");
    }
  }

  get active(): string[] {
    return this.jobs.filter((j) => j.intervalMs > 0).map((j) => j.name);
  }

  start(): void {
    if (this.leadership && this.active.length > 0) {
      void this.renew();
      this.heartbeat = setInterval(() => void this.renew(), this.leadership.heartbeatMs);
      this.heartbeat.unref();
    }
    for (const job of this.jobs) {
      if (job.intervalMs <= 0) continue;
      const t = setInterval(() => this.tick(job), job.intervalMs);
      t.unref();
      this.timers.push(t);
    }
    if (this.active.length > 0) this.logger.info({ jobs: this.active }, "lifecycle scheduler started");
  }

  /** Runs `job` now unless its previous run is still going. */
  tick(job: ScheduledJob): Promise<void> {
    const current = this.running.get(job.name);
    if (current || this.stopped) return current ?? Promise.resolve();
    if (!this.isLeader) return Promise.resolve();
    const p = (async () => {
      const t0 = Date.now();
      try {
        const result = await job.run();
        this.runs.set(job.name, (this.runs.get(job.name) ?? 0) + 1);
        // A periodic pass that found nothing to do is not news: debug, so info shows only what changed.
        const level = job.acted && !job.acted(result) ? "debug" : "info";
        this.logger[level]({ job: job.name, ms: Date.now() - t0, result }, "scheduled job finished");
      } catch (err) {
        this.logger.warn({ err, job: job.name }, "scheduled job failed; next try at the next interval");
      } finally {
        this.running.delete(job.name);
      }
    })();
    this.running.set(job.name, p);
    return p;
  }

  /** Stops the timers and waits for runs in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.heartbeat) clearInterval(this.heartbeat);
    await Promise.all(this.running.values());
    if (this.leadership && this.leader) await this.leadership.release().catch(() => {});
  }
}
