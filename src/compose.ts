// The composition root shared by main.ts and the tests, in two steps:
//  - compose() builds every object from the configuration. It opens the database (the migrations run there:
//    nothing may use a schema older than the code) and starts nothing else: no broker connection, timer,
//    lease or consumer. Observers (metrics, progress history) are handed to the objects they observe when
//    those are constructed, so no object is changed after it was built.
//  - startDeps() connects the broker, checks the launcher and starts the background work (publishing, the
//    scheduled jobs); shutdownDeps() stops it and closes the connections.
import { AmqpBroker } from "./adapters/broker/amqp.broker.js";
import { MemoryBroker } from "./adapters/broker/memory.broker.js";
import { BuiltinCodeGenerator, CompositeCodeGenerator } from "./adapters/codegen/builtin.codegen.js";
import { HttpCodeGenerator } from "./adapters/codegen/http.codegen.js";
import { type Database, openDatabase } from "./adapters/db/database.js";
import { DisabledLauncher } from "./adapters/launcher/disabled.launcher.js";
import { LocalLauncher } from "./adapters/launcher/local.launcher.js";
import type { ObjectStore } from "./adapters/objectStore/objectStore.js";
import { LocalS3Keys, loadInstallationSecret } from "./adapters/localS3/keys.js";
import { LocalResultFiles } from "./adapters/localS3/resultFiles.js";
import type { LocalS3 } from "./http/localS3.js";
import { DatasetsRepo } from "./adapters/repositories/datasets.repo.js";
import { RequestsRepo } from "./adapters/repositories/requests.repo.js";
import { ResultsRepo } from "./adapters/repositories/results.repo.js";
import { ProgressRepo } from "./adapters/repositories/progress.repo.js";
import { ProgressService } from "./domain/progress.service.js";
import type { Config } from "./config.js";
import { DataLifecycleService } from "./domain/dataLifecycle.service.js";
import { Dispatcher } from "./domain/dispatcher.js";
import { FileCompleteService } from "./domain/fileComplete.service.js";
import { KubernetesCleanupService } from "./domain/kubernetesCleanup.service.js";
import { Lifecycle } from "./domain/lifecycle.js";
import { LookupService } from "./domain/lookup.service.js";
import { Scheduler } from "./domain/scheduler.js";
import { Reconciler } from "./domain/reconciler.service.js";
import { replayGate } from "./domain/replayGate.js";
import { ReconcileRepo } from "./adapters/repositories/reconcile.repo.js";
import { IdempotencyRepo } from "./adapters/repositories/idempotency.repo.js";
import { hostname } from "node:os";
import type { CodeGenerator, TaskBroker, TransformerLauncher } from "./domain/ports.js";
import { TransformationService } from "./domain/transformation.service.js";
import { RerunService } from "./domain/rerun.service.js";
import { RerunsRepo } from "./adapters/repositories/reruns.repo.js";
import type { AppDeps } from "./http/deps.js";
import { buildRequester } from "./http/middleware/auth.js";
import { SessionCodec } from "./http/middleware/session.js";
import { JwtService } from "./adapters/auth/jwt.js";
import { GLOBUS_ISSUER, OidcClient } from "./adapters/auth/oidc.js";
import { ProviderTokens } from "./adapters/auth/providerToken.js";
import { MailgunMailer } from "./adapters/notify/mailgun.js";
import { type BackgroundNotifier, buildNotifier } from "./adapters/notify/notifier.js";
import { SlackClient } from "./adapters/notify/slack.js";
import { UsersRepo } from "./adapters/repositories/users.repo.js";
import { UserService } from "./domain/users.service.js";
import { randomBytes } from "node:crypto";
import type { Logger } from "./logger.js";
import { Metrics } from "./observability/metrics.js";
import { observeBroker } from "./observability/observedBroker.js";

/** Objects to use instead of those the configuration selects (tests, the embedded default's own launcher). */
export interface Overrides {
  notifier?: BackgroundNotifier;
  db?: Database;
  broker?: TaskBroker;
  codegen?: CodeGenerator;
  launcher?: TransformerLauncher;
  objectStore?: ObjectStore | null;
}

/** Builds the App's dependencies; nothing runs until startDeps(). */
export async function compose(config: Config, logger: Logger, overrides: Overrides = {}): Promise<AppDeps> {
  const db =
    overrides.db ??
    (await openDatabase({
      url: config.databaseUrl,
      dataDir: config.DATA_DIR === "memory://" ? "memory://" : `${config.DATA_DIR}/pglite`,
      poolSize: config.DATABASE_POOL_SIZE,
      log: (m) => logger.info(m),
      onPoolError: (err) => logger.warn({ err: err.message }, "database connection lost"),
    }));
  const broker = overrides.broker ?? buildBroker(config, logger);
  const codegen =
    overrides.codegen ??
    new CompositeCodeGenerator([
      ...(Object.keys(config.CODE_GEN_SERVICE_URLS).length > 0
        ? [new HttpCodeGenerator({ serviceUrls: config.CODE_GEN_SERVICE_URLS, logger })]
        : []),
      new BuiltinCodeGenerator(),
    ]);
  const objectStore =
    overrides.objectStore !== undefined ? overrides.objectStore : await buildObjectStore(config, logger);
  const localS3 = buildLocalS3(config, objectStore);
  const launcher = overrides.launcher ?? (await buildLauncher(config, broker, objectStore, logger));
  const repos = {
    requests: new RequestsRepo(db),
    datasets: new DatasetsRepo(db),
    results: new ResultsRepo(db),
  };
  const metrics = config.ENABLE_METRICS ? buildMetrics(config, db, repos, logger) : null;
  const progress = new ProgressService(
    new ProgressRepo(db),
    logger.child({ module: "progress" }),
    config.PROGRESS_INTERVAL_MS,
  );
  const lifecycle = new Lifecycle(launcher, broker, logger, [(id) => progress.forget(id)]);
  const reconcileRepo = new ReconcileRepo(db);
  const holder = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const dispatcher = new Dispatcher(
    repos.requests,
    repos.datasets,
    metrics ? observeBroker(broker, metrics.brokerObserver()) : broker,
    logger.child({ module: "dispatcher" }),
    {
      advertisedHostname: config.internalAdvertisedHostname,
      defaultScheme: config.DID_FINDER_DEFAULT_SCHEME,
      chunk: config.DISPATCH_CHUNK,
      mayReplay: replayGate(reconcileRepo, logger.child({ module: "dispatcher" }), { holder }),
      // A 4 s claim renewed every second while publishing; free claims with work left are looked for every
      // 2 s, so the requests of a replica that died mid-publish are taken over within ~6 s.
      claim: (id) => reconcileRepo.lease(`dispatch:${id}`, holder, 4_000),
      release: (id) => reconcileRepo.releaseLease(`dispatch:${id}`, holder),
      leaseTtlMs: 4_000,
      leaseHeartbeatMs: 1_000,
      unclaimed: () => reconcileRepo.unclaimedDispatches(),
      sweepMs: 2_000,
    },
  );
  const transformations = new TransformationService(
    db,
    repos.requests,
    repos.datasets,
    codegen,
    launcher,
    dispatcher,
    lifecycle,
    logger,
    objectStore,
    {
      defaultScheme: config.DID_FINDER_DEFAULT_SCHEME,
      validSchemes: config.VALID_DID_SCHEMES,
      codeGenImages: config.codeGenImages,
      appVersion: config.appVersion,
      reuseResults: config.REUSE_RESULTS,
      maxActivePerUser: config.MAX_ACTIVE_REQUESTS_PER_USER,
    },
    new IdempotencyRepo(db),
  );
  const reruns = new RerunService(
    db,
    repos.requests,
    new RerunsRepo(db),
    codegen,
    launcher,
    dispatcher,
    lifecycle,
    objectStore,
    logger,
    { codeGenImages: config.codeGenImages },
  );
  const dataLifecycle = new DataLifecycleService({
    db,
    requests: repos.requests,
    datasets: repos.datasets,
    logger,
    removeBucket: objectStore
      ? async (requestId: string) => {
          await objectStore.deleteBucketAndContents(requestId);
        }
      : undefined,
  });
  const kubernetesCleanup = new KubernetesCleanupService(
    launcher,
    repos.requests,
    logger.child({ module: "kubernetes-cleanup" }),
  );
  const reconciler = new Reconciler(
    db,
    reconcileRepo,
    repos.requests,
    repos.datasets,
    dispatcher,
    lifecycle,
    launcher,
    transformations,
    logger.child({ module: "reconciler" }),
    {
      lookupTimeoutS: config.LOOKUP_TIMEOUT,
      runningStallTimeoutS: config.RUNNING_STALL_TIMEOUT,
      maxAttempts: config.RECONCILE_MAX_ATTEMPTS,
      holder,
      // The scheduler's leader runs it; this lease only keeps concurrent manual passes apart.
      leaseMs: 10_000,
      onAction: (action) => metrics?.reconcilerAction(action),
    },
  );
  const scheduler = new Scheduler(
    [
      {
        name: "reconciler",
        intervalMs: config.RECONCILE_INTERVAL * 1000,
        run: () => reconciler.run(),
        acted: (r) => (r as { actions: unknown[] }).actions.length > 0,
      },
      {
        name: "kubernetes-cleanup",
        intervalMs: kubernetesCleanup.applicable ? config.KUBERNETES_CLEANUP_INTERVAL * 1000 : 0,
        run: () => kubernetesCleanup.run(config.KUBERNETES_CLEANUP_MAX_AGE),
      },
      {
        name: "dataset-lifecycle",
        intervalMs: config.DATASET_LIFECYCLE_INTERVAL * 1000,
        run: () => dataLifecycle.markStaleDatasets(config.DATASET_LIFECYCLE_AGE),
        acted: (n) => n !== 0,
      },
      {
        name: "data-lifecycle",
        intervalMs: config.DATA_LIFECYCLE_INTERVAL * 1000,
        run: () =>
          dataLifecycle.purge({
            cutoff: new Date(Date.now() - config.DATA_LIFECYCLE_RETENTION * 3_600_000).toISOString(),
            maxCacheBytes: config.MAX_DESIRED_TRANSFORM_CACHE_SIZE ?? null,
          }),
      },
    ],
    logger.child({ module: "scheduler" }),
    // With several replicas one runs the jobs: a 10 s lease renewed every 3 s (takeover within ~10 s).
    {
      renew: () => reconcileRepo.lease("scheduler", holder, 10_000),
      release: () => reconcileRepo.releaseLease("scheduler", holder),
      heartbeatMs: 3_000,
    },
  );
  const lookups = new LookupService(db, repos.datasets, repos.requests, dispatcher, lifecycle, logger, {
    reopenLookup: (id) => reconcileRepo.reopenLookup(id),
    maxAttempts: config.RECONCILE_MAX_ATTEMPTS,
  });
  const fileComplete = new FileCompleteService(
    repos.results,
    lifecycle,
    logger,
    (id) => repos.requests.resultFormat(id),
    { maxBatch: config.FILE_COMPLETE_MAX_BATCH },
    metrics ? (size) => metrics.observeFileCompleteBatch(size) : null,
    [(ids) => progress.noteProgress(ids)],
  );
  const notifier = overrides.notifier ?? notifierFor(config, logger);
  const { users, jwt } = userServiceFor(config, db, notifier, logger);
  return {
    config,
    logger,
    db,
    broker,
    codegen,
    launcher,
    objectStore,
    localS3,
    repos,
    dispatcher,
    lifecycle,
    transformations,
    reruns,
    lookups,
    dataLifecycle,
    kubernetesCleanup,
    scheduler,
    reconciler,
    fileComplete,
    progress,
    users,
    jwt,
    oidc: buildOidc(config, logger),
    providerTokens: buildProviderTokens(config, logger),
    notifier,
    sessions: new SessionCodec(config.SECRET_KEY ?? randomBytes(32).toString("hex")),
    requester: buildRequester(config, users),
    metrics,
  };
}

/**
 * Starts what compose() built: connects to RabbitMQ (start-up does not wait for a broker that is down: its
 * first attempt is made, later ones go on in the background), checks the launcher's prerequisites (a
 * Kubernetes launcher: its namespace and claim), then starts publishing and the scheduled jobs. Rejects only
 * when the launcher check fails, before any job started; the caller then calls shutdownDeps().
 */
export async function startDeps(deps: AppDeps): Promise<void> {
  if (deps.broker instanceof AmqpBroker) await deps.broker.start();
  await deps.launcher.verifyStartup?.();
  deps.dispatcher.start();
  deps.scheduler.start();
}

/** The /metrics series; the database gauges read the repositories at each scrape. */
function buildMetrics(
  config: Config,
  db: Database,
  repos: { requests: RequestsRepo; datasets: DatasetsRepo },
  logger: Logger,
): Metrics {
  const users = new UsersRepo(db);
  return new Metrics({
    version: config.appVersion,
    instance: config.INSTANCE_NAME,
    logger: logger.child({ module: "metrics" }),
    source: {
      requests: () => repos.requests.countByStatus(),
      datasets: () => repos.datasets.countByLookupStatus(),
      users: () => users.countByState(),
    },
  });
}

/** The users service and token signer as configured (shared by the App and the user CLI). */
export function userServiceFor(
  config: Config,
  db: Database,
  notifier: BackgroundNotifier,
  logger: Logger,
): { users: UserService; jwt: JwtService | null } {
  const jwt = config.JWT_SECRET_KEY
    ? new JwtService({
        secret: config.JWT_SECRET_KEY,
        accessExpiresSeconds: config.JWT_ACCESS_TOKEN_EXPIRES,
        refreshExpiresSeconds: config.JWT_REFRESH_TOKEN_EXPIRES,
      })
    : null;
  const users = new UserService(new UsersRepo(db), jwt, notifier, logger.child({ module: "users" }), {
    adminEmail: config.JWT_ADMIN,
    allowAllAfterAuth: config.OAUTH_ALLOW_ALL_AFTER_AUTH,
  });
  return { users, jwt };
}

export function notifierFor(config: Config, logger: Logger): BackgroundNotifier {
  const log = logger.child({ module: "notify" });
  return buildNotifier({
    logger: log,
    ...(config.SIGNUP_WEBHOOK_URL
      ? { slack: new SlackClient({ webhookUrl: config.SIGNUP_WEBHOOK_URL, logger: log }) }
      : {}),
    mailer: new MailgunMailer({
      apiKey: config.MAILGUN_API_KEY,
      domain: config.MAILGUN_DOMAIN,
      url: config.MAILGUN_URL,
      docsBaseUrl: config.DOCS_BASE_URL,
      logger: log,
    }),
  });
}

/** OAUTH_* (any OIDC provider) or GLOBUS_* (Globus's issuer); null when neither is configured. */
function buildOidc(config: Config, logger: Logger): OidcClient | null {
  const clientId = config.OAUTH_CLIENT_ID ?? config.GLOBUS_CLIENT_ID;
  const clientSecret = config.OAUTH_CLIENT_SECRET ?? config.GLOBUS_CLIENT_SECRET;
  if (!clientId || !clientSecret) return null;
  return new OidcClient({
    metadataUrl: config.OAUTH_METADATA_URL ?? GLOBUS_ISSUER,
    ...(config.OAUTH_PROVIDER ? { provider: config.OAUTH_PROVIDER } : {}),
    clientId,
    clientSecret,
    logger: logger.child({ module: "oidc" }),
  });
}

/**
 * Sign-in from a terminal (docs/sign-in.md): on with ENABLE_AUTH, OAUTH_METADATA_URL and
 * OAUTH_DEVICE_FLOW_CLIENT_ID (upstream's condition for /device-flow-info); null otherwise.
 */
function buildProviderTokens(config: Config, logger: Logger): ProviderTokens | null {
  if (!config.ENABLE_AUTH || !config.OAUTH_METADATA_URL || !config.OAUTH_DEVICE_FLOW_CLIENT_ID) return null;
  const clientId = config.OAUTH_CLIENT_ID ?? config.GLOBUS_CLIENT_ID;
  const clientSecret = config.OAUTH_CLIENT_SECRET ?? config.GLOBUS_CLIENT_SECRET;
  return new ProviderTokens({
    metadataUrl: config.OAUTH_METADATA_URL,
    ...(config.OAUTH_PROVIDER ? { provider: config.OAUTH_PROVIDER } : {}),
    deviceClientId: config.OAUTH_DEVICE_FLOW_CLIENT_ID,
    ...(config.OAUTH_TOKEN_INTROSPECTION && clientId && clientSecret
      ? {
          introspection: {
            clientId,
            clientSecret,
            allowedClients: [config.OAUTH_DEVICE_FLOW_CLIENT_ID, clientId],
          },
        }
      : {}),
    logger: logger.child({ module: "provider-tokens" }),
  });
}

/**
 * The read-only S3 endpoint over RESULTS_DIR (docs/local-results.md): by default exactly when results are
 * local files, i.e. transformers run locally and no object store is configured (OBJECT_STORE_ENABLED says
 * the site has one, even when the App itself does not manage its buckets: clients are sent there).
 */
function buildLocalS3(config: Config, objectStore: ObjectStore | null): LocalS3 | null {
  const enabled =
    config.LOCAL_S3_ENABLED ??
    (objectStore === null && !config.OBJECT_STORE_ENABLED && config.launcherMode === "local");
  if (!enabled) return null;
  return {
    keys: new LocalS3Keys(loadInstallationSecret(config.LOCAL_S3_SECRET, config.DATA_DIR)),
    files: new LocalResultFiles(config.resultsDir),
    publicUrl: config.LOCAL_S3_PUBLIC_URL,
  };
}

// The S3 and Kubernetes clients are loaded only when configured: together they are about 0.7 s of start-up
// and 120 MB of memory that an App without an object store or without Kubernetes would carry for nothing.
async function buildObjectStore(config: Config, logger: Logger): Promise<ObjectStore | null> {
  if (!config.OBJECT_STORE_ENABLED || !config.MINIO_URL) return null;
  const { S3ObjectStore } = await import("./adapters/objectStore/s3.store.js");
  return new S3ObjectStore({
    endpoint: config.MINIO_URL,
    secure: config.MINIO_ENCRYPT,
    accessKey: config.MINIO_ACCESS_KEY ?? "",
    secretKey: config.MINIO_SECRET_KEY ?? "",
    publicEndpoint: config.MINIO_PUBLIC_URL,
    publicSecure: config.MINIO_ENCRYPT_PUBLIC,
    logger: logger.child({ module: "object-store" }),
  });
}

async function buildLauncher(
  config: Config,
  broker: TaskBroker,
  objectStore: ObjectStore | null,
  logger: Logger,
): Promise<TransformerLauncher> {
  switch (config.launcherMode) {
    case "disabled":
      return new DisabledLauncher();
    case "local":
      if (!(broker instanceof MemoryBroker)) throw new Error("local transformers need the in-process broker");
      return new LocalLauncher({
        broker,
        resultsDir: config.resultsDir,
        workers: config.LOCAL_TRANSFORMER_WORKERS,
        processes: config.LOCAL_TRANSFORMER_PROCESSES,
        objectStore,
        objectStoreSettings:
          objectStore && config.MINIO_URL
            ? {
                url: config.MINIO_URL_TRANSFORMER ?? config.MINIO_URL,
                accessKey: config.MINIO_ACCESS_KEY ?? "",
                secretKey: config.MINIO_SECRET_KEY ?? "",
                secure: config.MINIO_ENCRYPT,
              }
            : null,
        logLevel: config.LOG_LEVEL,
        instanceName: config.INSTANCE_NAME,
        cachePrefix: config.TRANSFORMER_CACHE_PREFIX ?? null,
        logger: logger.child({ module: "local-transformer" }),
      });
    case "internal-kubernetes":
    case "external-kubernetes": {
      // @kubernetes/client-node 2 (undici 8) does not load before Node 22.19; say so instead of its crash.
      const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
      if (major < 22 || (major === 22 && minor < 19)) {
        throw new Error(
          `TRANSFORMER_MANAGER_MODE=${config.launcherMode} needs Node 22.19 or later (this is Node ${process.versions.node}); the image has Node 24`,
        );
      }
      const { KubernetesLauncher } = await import("./adapters/launcher/kubernetes.launcher.js");
      return new KubernetesLauncher({
        namespace: config.TRANSFORMER_NAMESPACE,
        mode: config.launcherMode === "internal-kubernetes" ? "internal" : "external",
        autoscaleEnabled: config.TRANSFORMER_AUTOSCALE_ENABLED,
        minReplicas: config.TRANSFORMER_MIN_REPLICAS,
        maxReplicas: config.TRANSFORMER_MAX_REPLICAS,
        cpuScaleThreshold: config.TRANSFORMER_CPU_SCALE_THRESHOLD,
        cpuLimit: /^\d+$/.test(config.TRANSFORMER_CPU_LIMIT)
          ? Number(config.TRANSFORMER_CPU_LIMIT)
          : config.TRANSFORMER_CPU_LIMIT,
        cpuRequest: config.TRANSFORMER_CPU_REQUEST,
        memoryLimit: config.TRANSFORMER_MEMORY_LIMIT,
        memoryRequest: config.TRANSFORMER_MEMORY_REQUEST,
        sidecarImage: config.TRANSFORMER_SIDECAR_IMAGE,
        sidecarPullPolicy: config.TRANSFORMER_SIDECAR_PULL_POLICY,
        sciencePullPolicy: config.TRANSFORMER_SCIENCE_IMAGE_PULL_POLICY,
        sidecarVolumePath: config.TRANSFORMER_SIDECAR_VOLUME_PATH,
        x509Secret: config.TRANSFORMER_X509_SECRET ?? null,
        localPath: config.TRANSFORMER_LOCAL_PATH ?? null,
        persistenceClaim: config.TRANSFORMER_PERSISTENCE_PROVIDED_CLAIM ?? null,
        persistenceSubdir: config.TRANSFORMER_PERSISTENCE_SUBDIR,
        priorityClass: config.TRANSFORMER_PRIORITY_CLASS ?? null,
        cachePrefix: config.TRANSFORMER_CACHE_PREFIX ?? null,
        cvmfsVolume: config.TRANSFORMER_CVMFS_VOLUME,
        podAnnotations: config.TRANSFORMER_POD_ANNOTATIONS,
        podLabels: config.TRANSFORMER_POD_LABELS,
        nodeSelector: config.TRANSFORMER_NODE_SELECTOR,
        tolerations: config.TRANSFORMER_TOLERATIONS,
        affinity: config.TRANSFORMER_AFFINITY,
        transformerRabbitUrl: config.TRANSFORMER_RABBIT_MQ_URL ?? config.rabbitUrls[0] ?? "",
        // Object-store requests' pods get the endpoint whether or not the App manages the buckets
        // (OBJECT_STORE_ENABLED): the sidecar uploads with it either way.
        minioUrl: config.MINIO_URL_TRANSFORMER ?? config.MINIO_URL ?? null,
        minioAccessKey: config.MINIO_ACCESS_KEY ?? null,
        minioSecretKey: config.MINIO_SECRET_KEY ?? null,
        minioEncrypt: config.MINIO_ENCRYPT,
        instanceName: config.INSTANCE_NAME,
        logLevel: config.LOG_LEVEL.toUpperCase(),
        logstashHost: config.LOGSTASH_HOST ?? null,
        logstashPort: config.LOGSTASH_PORT ?? null,
        logger: logger.child({ module: "kubernetes" }),
      });
    }
  }
}

/** RabbitMQ when RABBIT_MQ_URL is set (connected by startDeps), else the in-process broker. */
function buildBroker(config: Config, logger: Logger): TaskBroker {
  if (config.rabbitUrls.length === 0) return new MemoryBroker();
  return new AmqpBroker({ urls: config.rabbitUrls, logger: logger.child({ module: "broker" }) });
}

/** Stops background work, waits for in-flight writes and confirms, then closes connections. */
export async function shutdownDeps(deps: AppDeps): Promise<void> {
  await deps.scheduler.stop();
  await deps.reconciler.close();
  await deps.notifier.drain();
  await deps.fileComplete.idle();
  await deps.progress.stop();
  await Promise.race([deps.dispatcher.idle(), new Promise((r) => setTimeout(r, 5000).unref())]);
  deps.dispatcher.stop();
  await deps.lifecycle.idle();
  if (deps.launcher instanceof LocalLauncher) await deps.launcher.close();
  deps.objectStore?.close();
  await deps.broker.close();
  await deps.db.close();
}
