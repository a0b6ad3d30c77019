// Built-in scheduler for the lifecycle jobs (contract §2.4.6), for sites without the Helm CronJobs: each job
// runs every `intervalMs`, never overlapping itself; a failing run is logged and retried at the next tick.
// With several replicas a lease in Postgres lets one run each job at a time (the jobs are idempotent anyway).
import type { Logger } from "../logger.js";

export interface ScheduledJob {
  name: string;
  /** Milliseconds between runs; 0 disables the job. */
  intervalMs: number;
  run(): Promise<unknown>;
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
    /** With several replicas: true when this one may run the job now (a lease); default always. */
    private readonly mayRun: (job: ScheduledJob) => Promise<boolean> = async () => true,
  ) {}

  get active(): string[] {
    return this.jobs.filter((j) => j.intervalMs > 0).map((j) => j.name);
  }

  start(): void {
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
    const p = (async () => {
      const t0 = Date.now();
      try {
        if (!(await this.mayRun(job))) return;
        const result = await job.run();
        this.runs.set(job.name, (this.runs.get(job.name) ?? 0) + 1);
        this.logger.info({ job: job.name, ms: Date.now() - t0, result }, "scheduled job finished");
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
    await Promise.all(this.running.values());
  }
}
