// Everything the HTTP layer needs, built once in main.ts (or by a test) and handed to buildApp().
import type { Database } from "../adapters/db/database.js";
import type { DatasetsRepo } from "../adapters/repositories/datasets.repo.js";
import type { RequestsRepo } from "../adapters/repositories/requests.repo.js";
import type { ResultsRepo } from "../adapters/repositories/results.repo.js";
import type { ObjectStore } from "../adapters/objectStore/objectStore.js";
import type { Config } from "../config.js";
import type { DataLifecycleService } from "../domain/dataLifecycle.service.js";
import type { Dispatcher } from "../domain/dispatcher.js";
import type { FileCompleteService } from "../domain/fileComplete.service.js";
import type { KubernetesCleanupService } from "../domain/kubernetesCleanup.service.js";
import type { Lifecycle } from "../domain/lifecycle.js";
import type { LookupService } from "../domain/lookup.service.js";
import type { Scheduler } from "../domain/scheduler.js";
import type { CodeGenerator, TaskBroker, TransformerLauncher } from "../domain/ports.js";
import type { Requester, TransformationService } from "../domain/transformation.service.js";
import type { Logger } from "../logger.js";
import type { Request } from "express";

export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Database;
  broker: TaskBroker;
  codegen: CodeGenerator;
  launcher: TransformerLauncher;
  /** The object store holding each request's bucket (OBJECT_STORE_ENABLED), or null. */
  objectStore: ObjectStore | null;
  repos: { requests: RequestsRepo; datasets: DatasetsRepo; results: ResultsRepo };
  dispatcher: Dispatcher;
  lifecycle: Lifecycle;
  transformations: TransformationService;
  lookups: LookupService;
  dataLifecycle: DataLifecycleService;
  kubernetesCleanup: KubernetesCleanupService;
  /** Runs the lifecycle jobs periodically when *_INTERVAL keys are set. */
  scheduler: Scheduler;
  fileComplete: FileCompleteService;
  /**
   * Identifies the caller. The core service runs with ENABLE_AUTH=false (anyone, no user); the identity
   * issue plugs bearer tokens and sessions in here.
   */
  requester: (req: Request) => Promise<Requester>;
}
