// What happens after a request reached a terminal state: its transformers are shut down and its task
// queue removed. Called only by the code path whose conditional UPDATE made the transition, so exactly
// once per request (docs/database.md, docs/decisions.md D11).
import type { Logger } from "../logger.js";
import type { TaskBroker, TransformerLauncher } from "./ports.js";
import type { TransformStatusName } from "./status.js";

export class Lifecycle {
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly launcher: TransformerLauncher,
    private readonly broker: TaskBroker,
    private readonly log: Logger,
    /** Observers of every request that ended (progress history), given at construction; must not throw. */
    readonly listeners: Array<(requestId: string, status: TransformStatusName) => void> = [],
  ) {}

  terminated(requestId: string, status: TransformStatusName): void {
    for (const l of this.listeners) l(requestId, status);
    const p = this.shutdown(requestId).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  /** Shuts down now and reports errors to the caller (cancel propagates launcher errors, docs/api.md). */
  async shutdown(requestId: string): Promise<void> {
    try {
      await this.launcher.shutdown(requestId);
    } catch (err) {
      this.log.error({ err, requestId }, "transformer shutdown failed");
    }
    try {
      await this.broker.deleteTransformQueue(requestId);
    } catch (err) {
      this.log.warn({ err, requestId }, "could not delete transform queue");
    }
  }

  async idle(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }
}
