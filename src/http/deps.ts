// Everything the HTTP layer needs, built once in main.ts (or by a test) and handed to buildApp().
import type { JwtService } from "../adapters/auth/jwt.js";
import type { OidcClient } from "../adapters/auth/oidc.js";
import type { ProviderTokens } from "../adapters/auth/providerToken.js";
import type { Database } from "../adapters/db/database.js";
import type { BackgroundNotifier } from "../adapters/notify/notifier.js";
import type { DatasetsRepo } from "../adapters/repositories/datasets.repo.js";
import type { RequestsRepo } from "../adapters/repositories/requests.repo.js";
import type { ResultsRepo } from "../adapters/repositories/results.repo.js";
import type { ObjectStore } from "../adapters/objectStore/objectStore.js";
import type { LocalS3 } from "./localS3.js";
import type { Config } from "../config.js";
import type { DataLifecycleService } from "../domain/dataLifecycle.service.js";
import type { Dispatcher } from "../domain/dispatcher.js";
import type { FileCompleteService } from "../domain/fileComplete.service.js";
import type { ProgressService } from "../domain/progress.service.js";
import type { KubernetesCleanupService } from "../domain/kubernetesCleanup.service.js";
import type { Lifecycle } from "../domain/lifecycle.js";
import type { LookupService } from "../domain/lookup.service.js";
import type { Scheduler } from "../domain/scheduler.js";
import type { Reconciler } from "../domain/reconciler.service.js";
import type { CodeGenerator, TaskBroker, TransformerLauncher } from "../domain/ports.js";
import type { TransformationService } from "../domain/transformation.service.js";
import type { RerunService } from "../domain/rerun.service.js";
import type { UserService } from "../domain/users.service.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { RequesterFn } from "./middleware/auth.js";
import type { SessionCodec } from "./middleware/session.js";

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Database;
  broker: TaskBroker;
  codegen: CodeGenerator;
  launcher: TransformerLauncher;
  /** The object store holding each request's bucket (OBJECT_STORE_ENABLED), or null. */
  objectStore: ObjectStore | null;
  /**
   * The read-only S3 endpoint over local results (src/http/localS3.ts), or null/absent when results are not
   * local (an object store is configured, or transformers run elsewhere) or LOCAL_S3_ENABLED=false.
   */
  localS3?: LocalS3 | null;
  repos: { requests: RequestsRepo; datasets: DatasetsRepo; results: ResultsRepo };
  dispatcher: Dispatcher;
  lifecycle: Lifecycle;
  transformations: TransformationService;
  /** Re-runs the failed files of a finished request (docs/decisions.md D35). */
  reruns: RerunService;
  lookups: LookupService;
  dataLifecycle: DataLifecycleService;
  kubernetesCleanup: KubernetesCleanupService;
  /** Runs the lifecycle jobs periodically when *_INTERVAL keys are set. */
  scheduler: Scheduler;
  /** Re-drives stalled requests (docs/decisions.md D18); run by the scheduler every RECONCILE_INTERVAL. */
  reconciler: Reconciler;
  fileComplete: FileCompleteService;
  /** Progress history of requests (snapshots while running; status changes come from the database). */
  progress: ProgressService;
  /** Users, approval and API tokens (also used with ENABLE_AUTH=false by the admin pages and the CLI). */
  users: UserService;
  /** API token signer/verifier; null without JWT_SECRET_KEY. */
  jwt: JwtService | null;
  /** Sign-in provider; null when no OIDC client is configured. */
  oidc: OidcClient | null;
  /**
   * Sign-in from a terminal (docs/sign-in.md): checks the provider's access tokens; null/absent unless
   * ENABLE_AUTH, OAUTH_METADATA_URL and OAUTH_DEVICE_FLOW_CLIENT_ID are set.
   */
  providerTokens?: ProviderTokens | null;
  /** Slack sign-up messages and welcome e-mails (never throws). */
  notifier: BackgroundNotifier;
  /** Browser session cookie codec (key: SECRET_KEY, or a per-process random key when unset). */
  sessions: SessionCodec;
  /**
   * Identifies the caller per docs/api.md (auth_required / admin_required); with ENABLE_AUTH=false every
   * caller is "no user". Routes do not call it: they declare an auth() guard built over it
   * (src/http/middleware/auth.ts) and read the caller with requester(res).
   */
  requester: RequesterFn;
  /** Prometheus series served at /metrics; null with ENABLE_METRICS=false. */
  metrics: Metrics | null;
}
