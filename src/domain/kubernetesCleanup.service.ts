// The reaper behind POST /servicex/internal/kubernetes-cleanup (docs/api.md): transformer objects older
// than maxAge hours whose request is terminal or unknown to this database are shut down, once per request.
// Objects of requests still running are left alone, however old (a long transform is not a leak).
import type { RequestsRepo } from "./repositories.js";
import type { Logger } from "../logger.js";
import { MAX_LIFECYCLE_HOURS } from "./dataLifecycle.service.js";
import { appError } from "./errors.js";
import type { TransformerLauncher } from "./ports.js";
import { isTerminal } from "./status.js";

export interface KubernetesCleanupReport {
  /** Request ids whose objects were removed. */
  removed: string[];
  /** Request ids whose removal failed (retried on the next run). */
  failed: string[];
  /** Request ids with old objects that were kept because the request is still active. */
  keptActive: string[];
}

export class KubernetesCleanupService {
  constructor(
    private readonly launcher: TransformerLauncher,
    private readonly requests: RequestsRepo,
    private readonly logger: Logger,
  ) {}

  /** Whether the launcher creates objects that can leak (Kubernetes); local and disabled launchers do not. */
  get applicable(): boolean {
    return typeof this.launcher.listObjects === "function";
  }

  async run(maxAgeHours: number, now: Date = new Date()): Promise<KubernetesCleanupReport> {
    if (!Number.isFinite(maxAgeHours) || maxAgeHours < 0 || maxAgeHours > MAX_LIFECYCLE_HOURS) {
      throw appError("invalid_max_age", {}, { body: "message" });
    }
    const report: KubernetesCleanupReport = { removed: [], failed: [], keptActive: [] };
    if (!this.launcher.listObjects) return report;
    const cutoff = now.getTime() - maxAgeHours * 3_600_000;
    const objects = await this.launcher.listObjects();
    const old = new Set(
      objects.filter((o) => o.createdAt === null || o.createdAt.getTime() <= cutoff).map((o) => o.requestId),
    );
    const ids = [...old].sort();
    const statuses = await this.requests.statuses(ids);
    for (const id of ids) {
      const status = statuses.get(id);
      if (status !== undefined && !isTerminal(status)) {
        report.keptActive.push(id);
        continue;
      }
      try {
        await this.launcher.shutdown(id);
        report.removed.push(id);
      } catch (err) {
        report.failed.push(id);
        this.logger.warn({ err, requestId: id }, "kubernetes-cleanup: shutdown failed");
      }
    }
    this.logger.info({ maxAgeHours, ...report }, "kubernetes-cleanup finished");
    return report;
  }
}
