// Readiness (docs/api.md "Pages, health and metrics"): `/readyz` is ready when the database answers within
// two seconds, the broker connection is usable and the process is not shutting down. Each check is named
// with its state, so an operator sees which one failed.

export interface ReadinessProbes {
  /** A trivial database round trip. */
  ping(): Promise<unknown>;
  /** True while the broker connection is usable. */
  brokerConnected(): boolean;
  /** True once shutdown began (the listener drains). */
  draining(): boolean;
}

export interface Readiness {
  ready: boolean;
  /** "ok", or why not, per check: database, broker, and server while draining. */
  checks: Record<string, string>;
}

const PING_TIMEOUT_MS = 2_000;

export class ReadinessService {
  constructor(private readonly probes: ReadinessProbes) {}

  async check(): Promise<Readiness> {
    const checks: Record<string, string> = {};
    try {
      await Promise.race([
        this.probes.ping(),
        new Promise((_, rej) => setTimeout(() => rej(new Error("timeout")), PING_TIMEOUT_MS).unref()),
      ]);
      checks.database = "ok";
    } catch (e) {
      checks.database = `unavailable: ${(e as Error).message}`;
    }
    checks.broker = this.probes.brokerConnected() ? "ok" : "unavailable";
    if (this.probes.draining()) checks.server = "shutting down";
    return { ready: Object.values(checks).every((v) => v === "ok"), checks };
  }
}
