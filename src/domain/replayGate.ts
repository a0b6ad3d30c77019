// With several App replicas, each reconnects to RabbitMQ after a broker restart and would re-publish the
// tasks of every active request: N copies of each task. The gate lets one replica do it: whoever takes the
// "republisher" lease replays; the others skip once they see the lease was taken after their own reconnect
// (someone is replaying for the restart they saw). A lease held from before — by a replica that may have
// died — is waited out, then taken, so a replay is never lost (at worst repeated, within at-least-once).
import type { ReconcileRepo } from "./repositories.js";
import type { Logger } from "../logger.js";

export interface ReplayGateOptions {
  holder: string;
  ttlMs?: number;
  pollMs?: number;
  /**
   * Replicas notice a broker restart a little apart: a lease taken up to this long before this replica's
   * reconnect counts as taken for the same restart (default 15 s).
   */
  slackMs?: number;
}

export function replayGate(repo: ReconcileRepo, log: Logger, o: ReplayGateOptions): () => Promise<boolean> {
  const ttl = o.ttlMs ?? 30_000;
  const poll = o.pollMs ?? 1_000;
  return async () => {
    const since = (await repo.dbNow()) - (o.slackMs ?? 15_000);
    const deadline = Date.now() + ttl + 5 * poll;
    for (;;) {
      if (await repo.lease("republisher", o.holder, ttl)) return true;
      const acquired = await repo.leaseAcquiredAt("republisher", ttl);
      if (acquired !== null && acquired >= since) {
        log.info("another replica is re-publishing after the broker restart; skipping");
        return false;
      }
      if (Date.now() > deadline) return true; // the lease never freed up: replay rather than risk a loss
      await new Promise((r) => setTimeout(r, poll));
    }
  };
}
