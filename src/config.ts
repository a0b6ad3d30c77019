// The one place that reads the environment. Keys keep upstream app.conf names (README.md (Configuration), docs/decisions.md D4).
// Values: env strings "true"/"false" become booleans, dict/list keys are JSON. An optional file named by
// APP_CONFIG_FILE (upstream's Python-syntax app.conf, dotenv or JSON; src/appConf.ts) supplies defaults; with a
// file, the environment overrides only the keys the file defines (upstream's rule, see ENV_ALWAYS for the
// exceptions). A process also reads ./.env as environment (loadProcessConfig). Every bad key is reported at once.
import { existsSync, readFileSync } from "node:fs";
import { parse as parseDotenv } from "dotenv";
import { z } from "zod";
import { parseAppConf } from "./appConf.js";
import { parseCacheSize } from "./domain/cacheSize.js";
import { TrustProxySetting } from "./http/trustProxy.js";

const bool = (def: boolean) =>
  z
    .union([z.boolean(), z.enum(["true", "false", "True", "False", "TRUE", "FALSE", "1", "0"])])
    .default(def)
    .transform((v) => (typeof v === "boolean" ? v : v.toLowerCase() === "true" || v === "1"));

const int = (def: number, min = 0, max = 2 ** 31 - 1) =>
  z.coerce.number().int().min(min).max(max).default(def);

/** A key holding JSON (dict or list); accepts an already-parsed value from a JSON config file. */
const json = <T extends z.ZodType>(schema: T, def: z.input<T>) =>
  z
    .unknown()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return def;
      if (typeof v !== "string") return v;
      try {
        return JSON.parse(v);
      } catch {
        ctx.addIssue({ code: "custom", message: "must be valid JSON" });
        return z.NEVER;
      }
    })
    .pipe(schema);

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === "" ? undefined : v));

const Env = z
  .object({
    PORT: int(5000, 0, 65535).describe("HTTP port."),
    BIND_ADDRESS: z.string().default("0.0.0.0").describe("Listen address."),
    INSTANCE_NAME: z
      .string()
      .default("servicex")
      .describe(
        "Instance label in logs and metrics, passed to transformers (upstream: the Helm release name).",
      ),
    LOG_LEVEL: z
      .string()
      .default("info")
      .transform((v) => v.toLowerCase())
      .pipe(z.enum(["fatal", "error", "warn", "warning", "info", "debug", "trace", "silent"]))
      .transform((v) => (v === "warning" ? "warn" : v))
      .describe(
        "fatal, error, warn (warning), info, debug (also logs every request), trace or silent; JSON logs.",
      ),

    DATABASE_URL: optionalString.describe(
      "Postgres URL (postgresql://…); unset: the embedded PGlite database in DATA_DIR/pglite.",
    ),
    SQLALCHEMY_DATABASE_URI: optionalString.describe(
      "Upstream's name; used when DATABASE_URL is unset and it is a postgresql[+driver]:// URL (sqlite: is ignored).",
    ),
    DATA_DIR: z
      .string()
      .default("./data")
      .describe(
        "Embedded database (DATA_DIR/pglite, one process at a time) and local results; memory:// keeps the database in memory.",
      ),
    DATABASE_POOL_SIZE: int(10, 1, 200).describe("Postgres connections of the App."),

    RABBIT_MQ_URL: optionalString.describe(
      "RabbitMQ amqp:// URL(s), comma-separated, tried in turn; unset: in-process broker (no DID finder or transformer outside the process).",
    ),
    TRANSFORMER_RABBIT_MQ_URL: optionalString.meta({
      description: "Broker URL given to transformer sidecars (upstream adds ?heartbeat=9000).",
      shownDefault: "the first RABBIT_MQ_URL",
    }),
    ADVERTISED_HOSTNAME: optionalString.meta({
      description: "host:port that DID finders and transformers use to call the App back (http:// implied).",
      shownDefault: "localhost:$PORT",
    }),
    /**
     * A second listener for the DID-finder, sidecar and lifecycle routes (/servicex/internal/*) and health;
     * the public port then answers 404 for them. Unset: one port serves everything, as upstream.
     */
    INTERNAL_PORT: z
      .preprocess((v) => (v === "" ? undefined : v), z.coerce.number().int().min(0).max(65535).optional())
      .describe(
        "second HTTP port serving only /servicex/internal/* and health (the public port then answers 404 for them); unset: one port, as upstream",
      ),
    /** host:port of the internal listener in callback URLs; default: ADVERTISED_HOSTNAME's host with INTERNAL_PORT. */
    INTERNAL_ADVERTISED_HOSTNAME: optionalString.meta({
      description:
        "host:port of the internal listener in the callback URLs given to DID finders and transformers (with INTERNAL_PORT).",
      shownDefault: "ADVERTISED_HOSTNAME's host with INTERNAL_PORT",
    }),

    ENABLE_AUTH: bool(false).describe(
      "false: every call allowed, no token needed; true: sign-in, API tokens and approval (needs JWT_SECRET_KEY and SECRET_KEY).",
    ),
    /** HS256 key of the API tokens (JWTs); required with ENABLE_AUTH. */
    JWT_SECRET_KEY: optionalString.describe(
      "HS256 key of the API tokens; keep upstream's value to keep your users' tokens.",
    ),
    /** E-mail of the first admin: whoever signs up with it is admin and approved. */
    JWT_ADMIN: optionalString.describe(
      "E-mail of the first admin: signing up with it (vouched by the identity provider) gives an approved admin.",
    ),
    /** Access-token lifetime in seconds (helm default 6 h). */
    JWT_ACCESS_TOKEN_EXPIRES: int(21_600, 1).describe("Access-token lifetime in seconds."),
    /** Refresh-token (API token) lifetime in seconds, or false = never expires (helm default). */
    JWT_REFRESH_TOKEN_EXPIRES: z
      .union([z.boolean(), z.string()])
      .default(false)
      .transform((v, ctx) => {
        if (typeof v === "boolean" || /^(false|0|)$/i.test(v)) return v === true ? 2_592_000 : false;
        if (/^\d+$/.test(v)) return Number(v);
        ctx.addIssue({ code: "custom", message: "must be a number of seconds or false" });
        return z.NEVER;
      })
      .describe("API (refresh) token lifetime in seconds, or false: never expires."),
    /** Key of the browser session cookie; required with ENABLE_AUTH. */
    SECRET_KEY: optionalString.describe(
      "Key of the encrypted browser session cookie; required with ENABLE_AUTH.",
    ),
    /** OIDC discovery document (any provider); default: Globus's, with GLOBUS_CLIENT_ID/SECRET. */
    OAUTH_METADATA_URL: optionalString.meta({
      description: "OIDC discovery document URL of the identity provider.",
      shownDefault: "Globus's",
    }),
    OAUTH_CLIENT_ID: optionalString.describe("OIDC client id (or GLOBUS_CLIENT_ID)."),
    OAUTH_CLIENT_SECRET: optionalString.describe("OIDC client secret (or GLOBUS_CLIENT_SECRET)."),
    GLOBUS_CLIENT_ID: optionalString.describe("Upstream's name of the client id, for Globus's issuer."),
    GLOBUS_CLIENT_SECRET: optionalString.describe(
      "Upstream's name of the client secret, for Globus's issuer.",
    ),
    /**
     * `globus`: Globus's `identity_set` (linked identities) keys accounts and vouches for their e-mails;
     * `generic`: only `email_verified === true` vouches for an e-mail. Default: `globus` for Globus's issuer.
     */
    OAUTH_PROVIDER: optionalString.pipe(z.enum(["globus", "generic"]).optional()).meta({
      description:
        "globus: Globus's linked identities (identity_set) match accounts and vouch for e-mails; generic: only email_verified=true vouches.",
      shownDefault: "globus for Globus's issuer, else generic",
    }),
    /** Approve every user who signs in (no pending state). */
    OAUTH_ALLOW_ALL_AFTER_AUTH: bool(false).describe("Approve everyone who signs up (no pending state)."),
    /**
     * Sign-in from a terminal (docs/sign-in.md): the public client (no secret) that terminals use for the
     * provider's device authorization grant. With OAUTH_METADATA_URL it turns on /device-flow-info and
     * /bearer-token-exchange (upstream's names).
     */
    OAUTH_DEVICE_FLOW_CLIENT_ID: optionalString.describe(
      "Public OIDC client id (no secret) registered at the provider for the device authorization grant; with OAUTH_METADATA_URL it enables sign-in from a terminal (/device-flow-info, /bearer-token-exchange).",
    ),
    /**
     * /bearer-token-exchange checks a provider token at the provider's userinfo endpoint; with this on it
     * first introspects it (as the App's confidential client) and accepts only tokens issued to the device
     * client or the App's own client (docs/decisions.md D34).
     */
    OAUTH_TOKEN_INTROSPECTION: bool(false).describe(
      "At /bearer-token-exchange also introspect the provider's access token with OAUTH_CLIENT_ID/SECRET and accept only tokens issued to OAUTH_DEVICE_FLOW_CLIENT_ID or OAUTH_CLIENT_ID (needs the provider's introspection endpoint).",
    ),
    /** Slack incoming webhook for sign-up messages, and the signing secret of the Slack app's buttons. */
    SIGNUP_WEBHOOK_URL: optionalString.describe(
      "Slack incoming webhook for sign-up messages with Approve/Reject buttons.",
    ),
    SLACK_SIGNING_SECRET: optionalString.describe("The Slack app's signing secret, checked on POST /slack."),
    /** Hosts (or origins) the unverified /slack error answers may be posted to (response_url comes from the body). */
    SLACK_RESPONSE_URL_HOSTS: json(z.array(z.string()), ["hooks.slack.com"]).describe(
      "JSON list of hosts (or origins) that /slack error answers may be posted to.",
    ),
    /** Welcome e-mail on approval (no-op without key and domain). */
    MAILGUN_API_KEY: optionalString.describe(
      "Mailgun key of the welcome e-mail on approval (no e-mail without key and domain).",
    ),
    MAILGUN_DOMAIN: optionalString.describe("Mailgun sending domain."),
    MAILGUN_URL: z
      .string()
      .default("https://api.mailgun.net")
      .describe("Mailgun API base URL (https://api.eu.mailgun.net in the EU)."),
    DOCS_BASE_URL: z
      .string()
      .default("https://servicex-frontend.readthedocs.io/en/stable/")
      .describe("Documentation linked from the welcome e-mail."),
    /** A submit identical to the same user's completed request returns that request (docs/decisions.md D17). */
    REUSE_RESULTS: bool(false).describe(
      "A submit identical to the same user's completed request (dataset version, selection, generator, format, tree) returns that request.",
    ),
    /** Most active (not finished) requests per user; 0 = no limit. Over it, submits answer 429. */
    MAX_ACTIVE_REQUESTS_PER_USER: int(0).describe(
      "Most active requests per user (0: no limit); over it a submit answers 429.",
    ),
    /**
     * Reconciler (docs/decisions.md D18): every RECONCILE_INTERVAL seconds (0 = off), requests in Lookup with no DID-finder
     * news for LOOKUP_TIMEOUT s and Running requests with no file report for RUNNING_STALL_TIMEOUT s are
     * re-driven, at most RECONCILE_MAX_ATTEMPTS times, then failed with a reason.
     */
    RECONCILE_INTERVAL: int(30).describe(
      "Seconds between reconciler passes, which re-drive stalled lookups and stalled running requests (0: off).",
    ),
    LOOKUP_TIMEOUT: int(1800, 1).describe(
      "Seconds without DID-finder news after which the reconciler re-sends a lookup.",
    ),
    RUNNING_STALL_TIMEOUT: int(1800, 1).describe(
      "Seconds without a file report after which the reconciler re-publishes a running request's missing tasks.",
    ),
    RECONCILE_MAX_ATTEMPTS: int(3).describe(
      "Reconciler attempts per request; after the last the request ends Fatal with the reason.",
    ),
    /**
     * Rate limits (requests per minute): token refresh, sign-in callback, Slack, accept, submit; per user for
     * a verified token, else per client address.
     */
    RATE_LIMIT_PER_MINUTE: int(120, 1).describe(
      "Calls per minute to /token/refresh, /auth-callback, /bearer-token-exchange, /slack and /accept, per user with a valid token, else per client address; over it 429.",
    ),
    SUBMIT_RATE_LIMIT_PER_MINUTE: int(600, 1).describe(
      "Submits per minute, per user with a valid token, else per client address.",
    ),
    /**
     * Express's `trust proxy`: the proxies in front of the App, as a hop count or a comma-separated list of
     * addresses/CIDRs (src/http/trustProxy.ts). Decides the client address of rate limits. Unset: none.
     */
    TRUST_PROXY: TrustProxySetting.meta({
      description:
        "Proxies in front of the App whose X-Forwarded-For gives the client address: a hop count (1 = one ingress) or addresses/CIDRs, comma-separated; true is refused.",
      shownDefault: "unset (socket address)",
    }),

    CODE_GEN_SERVICE_URLS: json(z.record(z.string(), z.string().url()), {}).describe(
      "JSON: code generator name → service URL (/multiple-codegen-list).",
    ),
    CODE_GEN_IMAGES: json(z.record(z.string(), z.string()), {}).describe(
      "JSON: code generator name → transformer image; its keys are the valid codegen values.",
    ),
    /** Offer the built-in `passthrough` generator (default: only when no code generator URL is configured). */
    BUILTIN_CODEGEN: bool(false).optional().meta({
      description:
        "Offer the built-in passthrough generator (a pipeline test: files are delivered unchanged).",
      shownDefault: "on only when CODE_GEN_SERVICE_URLS is empty",
    }),
    DID_FINDER_DEFAULT_SCHEME: z
      .string()
      .regex(/^\w+$/)
      .default("rucio")
      .describe("Scheme of a DID given without scheme://; must be in VALID_DID_SCHEMES."),
    VALID_DID_SCHEMES: json(z.array(z.string().regex(/^\w+$/)).min(1), [
      "rucio",
      "cernopendata",
      "xrootd",
    ]).describe("JSON list of accepted DID schemes (one DID-finder queue each)."),

    /** Default: on (local transformers) for the embedded default without RabbitMQ, off otherwise. */
    TRANSFORMER_MANAGER_ENABLED: bool(false).optional().meta({
      description:
        "Start transformers for each request (false: someone else runs them; the App only publishes their tasks).",
      shownDefault: "true without RABBIT_MQ_URL (local), else false",
    }),
    TRANSFORMER_MANAGER_MODE: z
      .enum(["internal-kubernetes", "external-kubernetes", "local", "disabled"])
      .default("internal-kubernetes")
      .describe(
        "internal-kubernetes (in-cluster service account), external-kubernetes (KUBECONFIG), local (in-process passthrough workers) or disabled.",
      ),
    TRANSFORMER_NAMESPACE: z
      .string()
      .default("default")
      .describe("Kubernetes namespace of the transformer objects."),
    // Transformer pods (docs/kubernetes.md, README.md (Configuration); upstream app.conf names and defaults).
    TRANSFORMER_AUTOSCALE_ENABLED: bool(true).describe(
      "Create a HorizontalPodAutoscaler per request (else a fixed number of workers).",
    ),
    TRANSFORMER_MIN_REPLICAS: int(1, 0, 10_000).describe("Transformer pods at start and the HPA minimum."),
    TRANSFORMER_MAX_REPLICAS: int(20, 1, 10_000).describe(
      "HPA maximum (capped by the request's file count).",
    ),
    TRANSFORMER_CPU_SCALE_THRESHOLD: int(70, 1, 100).describe("HPA target CPU utilisation, percent."),
    TRANSFORMER_CPU_LIMIT: z.string().default("1").describe("CPU limit of each transformer container."),
    TRANSFORMER_CPU_REQUEST: optionalString.describe("CPU request of each transformer container."),
    TRANSFORMER_MEMORY_LIMIT: optionalString.describe(
      "Memory limit of each transformer container (e.g. 2Gi).",
    ),
    TRANSFORMER_MEMORY_REQUEST: optionalString.describe("Memory request of each transformer container."),
    TRANSFORMER_SIDECAR_IMAGE: z
      .string()
      .default("sslhep/servicex_sidecar_transformer:develop")
      .describe("Image of the transformer sidecar container."),
    TRANSFORMER_SIDECAR_PULL_POLICY: z
      .enum(["Always", "IfNotPresent", "Never"])
      .default("Always")
      .describe("Pull policy of the sidecar image: Always, IfNotPresent or Never."),
    TRANSFORMER_SCIENCE_IMAGE_PULL_POLICY: z
      .enum(["Always", "IfNotPresent", "Never"])
      .default("Always")
      .describe("Pull policy of the science (transformer) image."),
    TRANSFORMER_SIDECAR_VOLUME_PATH: z
      .string()
      .default("/servicex/output")
      .describe("Mount path of the volume the sidecar and the science container share."),
    TRANSFORMER_X509_SECRET: optionalString.describe(
      "Secret with the grid proxy, mounted at /etc/grid-security-ro (unset: none).",
    ),
    TRANSFORMER_LOCAL_PATH: optionalString.describe("Host path mounted at /data in transformer pods."),
    TRANSFORMER_PERSISTENCE_PROVIDED_CLAIM: optionalString.describe(
      "PVC for result-destination volume (unset: an emptyDir).",
    ),
    TRANSFORMER_PERSISTENCE_SUBDIR: z
      .string()
      .default("output/")
      .describe("Sub-directory of /posix_volume the volume results are written to."),
    TRANSFORMER_PRIORITY_CLASS: optionalString.describe("priorityClassName of transformer pods."),
    TRANSFORMER_CACHE_PREFIX: optionalString.describe(
      "Comma-separated XCache hosts, passed to transformers as CACHE_PREFIX.",
    ),
    TRANSFORMER_CVMFS_VOLUME: json(z.record(z.string(), z.unknown()).nullable(), null).describe(
      "JSON volume mounted read-only at /cvmfs in transformer pods.",
    ),
    TRANSFORMER_POD_ANNOTATIONS: json(z.record(z.string(), z.string()).nullable(), null).describe(
      "JSON annotations of transformer pods.",
    ),
    /** Extra labels of transformer pods (e.g. for a NetworkPolicy); `app` stays the Deployment's selector. */
    TRANSFORMER_POD_LABELS: json(z.record(z.string(), z.string()).nullable(), null).describe(
      "JSON: extra labels of transformer pods (e.g. for a NetworkPolicy); `app` stays the Deployment's selector",
    ),
    TRANSFORMER_NODE_SELECTOR: json(z.record(z.string(), z.string()).nullable(), null).describe(
      "JSON nodeSelector of transformer pods.",
    ),
    TRANSFORMER_TOLERATIONS: json(z.array(z.record(z.string(), z.unknown())).nullable(), null).describe(
      "JSON list of tolerations of transformer pods.",
    ),
    TRANSFORMER_AFFINITY: json(z.record(z.string(), z.unknown()).nullable(), null).describe(
      "JSON affinity of transformer pods.",
    ),
    MINIO_URL_TRANSFORMER: optionalString.meta({
      description: "Object store host:port given to transformer pods as MINIO_URL.",
      shownDefault: "MINIO_URL",
    }),
    MINIO_ENCRYPT: bool(false).describe(
      "https to MINIO_URL, for the App and the transformers (MINIO_ENCRYPT in their pods).",
    ),
    LOGSTASH_HOST: optionalString.describe("Logstash host passed to transformer pods."),
    LOGSTASH_PORT: optionalString.describe("Logstash port passed to transformer pods."),
    /** Local transformers: where outputs are written (default DATA_DIR/results) and how many run per request. */
    RESULTS_DIR: optionalString.meta({
      description: "Where local transformers write their outputs.",
      shownDefault: "DATA_DIR/results",
    }),
    LOCAL_TRANSFORMER_WORKERS: int(2, 1, 64).describe("Local transformer workers per request."),
    /** Local transformers as worker processes (default) or inside the App's process ("false"). */
    LOCAL_TRANSFORMER_PROCESSES: bool(true).describe(
      "Local transformers as worker processes (a crashed one gives its task back); false: inside the App's process.",
    ),
    LOCAL_S3_ENABLED: z
      .union([z.boolean(), z.enum(["true", "false", "True", "False", "TRUE", "FALSE", "1", "0"])])
      .optional()
      .transform((v) =>
        v === undefined || typeof v === "boolean" ? v : v.toLowerCase() === "true" || v === "1",
      )
      .meta({
        description:
          "The read-only S3 endpoint over RESULTS_DIR at /s3 (what the Python client downloads local results through; docs/local-results.md).",
        shownDefault: "on when transformers are local and OBJECT_STORE_ENABLED is off",
      }),
    LOCAL_S3_SECRET: optionalString
      .pipe(z.string().min(32, "must be at least 32 characters").optional())
      .meta({
        description:
          "Installation secret the per-request keys of the local S3 endpoint derive from (at least 32 characters).",
        shownDefault: "random, kept in DATA_DIR/local-s3.secret",
      }),
    LOCAL_S3_PUBLIC_URL: optionalString.meta({
      description:
        "[http(s)://]host[:port][/path] of the local S3 endpoint given to clients as minio-endpoint.",
      shownDefault: "the host the client called, + /s3",
    }),

    OBJECT_STORE_ENABLED: bool(false).describe(
      "With MINIO_URL: a bucket per object-store request, created at submit and removed with the request; object-store access in request answers.",
    ),
    MINIO_URL: optionalString.describe(
      "The object store (MinIO/S3) host:port the App and, by default, transformers and clients use.",
    ),
    MINIO_PUBLIC_URL: optionalString.meta({
      description: "Object store host:port given to clients (minio-endpoint, presigned URLs).",
      shownDefault: "MINIO_URL",
    }),
    MINIO_ENCRYPT_PUBLIC: bool(true).meta({
      description: "minio-secured given to clients (https to MINIO_PUBLIC_URL).",
      shownDefault: "true; MINIO_ENCRYPT when MINIO_PUBLIC_URL is unset",
    }),
    MINIO_ACCESS_KEY: optionalString.describe(
      "Object store access key (App and transformers; given to clients unless the public pair is set).",
    ),
    MINIO_SECRET_KEY: optionalString.describe("Object store secret key."),
    /** Read-only keys handed to clients in `minio-access-key`/`minio-secret-key` instead of the root keys. */
    MINIO_PUBLIC_ACCESS_KEY: optionalString.describe(
      "Read-only access key handed to clients instead of the root key (set both or neither).",
    ),
    MINIO_PUBLIC_SECRET_KEY: optionalString.describe(
      "Read-only secret key handed to clients instead of the root key.",
    ),
    /** Lifetime of presigned URLs from file-urls; S3 caps it at 7 days, so longer values are cut to that. */
    FILE_URL_EXPIRY_SECONDS: int(31_536_000, 1, 2 ** 31 - 1).describe(
      "Lifetime of file-urls presigned URLs in seconds (capped at S3's 7 days).",
    ),
    LOGS_URL: optionalString.describe("Returned to clients as log-url (e.g. a Kibana dashboard)."),
    /** data-lifecycle cache budget, e.g. "500gb" (units mb/gb/tb/pb, or bytes); unset: no budget. */
    MAX_DESIRED_TRANSFORM_CACHE_SIZE: z
      .string()
      .optional()
      .transform((v, ctx) => {
        try {
          return parseCacheSize(v ?? "");
        } catch (e) {
          ctx.addIssue({ code: "custom", message: (e as Error).message });
          return z.NEVER;
        }
      })
      .describe("data-lifecycle cache budget: 500gb, 10TB or bytes (unset: no budget)."),
    /**
     * Built-in scheduler for the lifecycle jobs (for sites without the Helm CronJobs): each runs every
     * *_INTERVAL seconds; 0 = off (default). Ages are in hours, as the cron endpoints take them, and at most
     * 1,000,000 (about 114 years; the endpoints' bound, MAX_LIFECYCLE_HOURS).
     */
    KUBERNETES_CLEANUP_INTERVAL: int(0).describe(
      "Seconds between built-in kubernetes-cleanup runs, for sites without the Helm CronJobs (0: off).",
    ),
    KUBERNETES_CLEANUP_MAX_AGE: int(24, 0, 1_000_000).describe(
      "Hours: transformer objects of requests finished longer ago are removed.",
    ),
    DATASET_LIFECYCLE_INTERVAL: int(0).describe("Seconds between built-in dataset-lifecycle runs (0: off)."),
    DATASET_LIFECYCLE_AGE: int(24, 0, 1_000_000).describe(
      "Hours: datasets not updated for this long are marked stale.",
    ),
    DATA_LIFECYCLE_INTERVAL: int(0).describe("Seconds between built-in data-lifecycle runs (0: off)."),
    /** data-lifecycle run by the scheduler deletes finished requests submitted more than this many hours ago. */
    DATA_LIFECYCLE_RETENTION: int(24 * 30, 0, 1_000_000).describe(
      "Hours: finished requests submitted longer ago are deleted by the built-in data-lifecycle.",
    ),

    APP_VERSION: optionalString.meta({
      description: "app-version of GET /servicex and request records.",
      shownDefault: "version of package.json",
    }),
    /** Prometheus `GET /metrics` and the HTTP timing middleware (upstream's ENABLE_METRICS); false → 404. */
    ENABLE_METRICS: bool(true).describe(
      "Prometheus GET /metrics and the HTTP timing it reports; false: /metrics is 404.",
    ),
    /** Largest accepted request body of every route but the submit (MAX_SUBMIT_BODY). */
    MAX_REQUEST_BODY: z
      .string()
      .default("64mb")
      .describe("Largest accepted request body, except the submit's (MAX_SUBMIT_BODY)."),
    /**
     * Largest accepted body of POST /servicex/transformation, parsed as it arrives once the caller is
     * identified (docs/decisions.md D37): memory grows by about the file list's size, not three times it.
     */
    MAX_SUBMIT_BODY: z
      .string()
      .default("256mb")
      .describe(
        "Largest accepted submit body, parsed as it streams in (1,000,000 paths of 100 characters are about 100 MB).",
      ),
    /** Most reports written in one file-complete group commit. */
    FILE_COMPLETE_MAX_BATCH: int(128, 1, 100_000).describe(
      "Most file-complete reports written in one group commit (larger: a little more throughput, longer stalls for others).",
    ),
    /** Progress history: at most one snapshot per running request per this many ms (0 = status changes only). */
    PROGRESS_INTERVAL_MS: int(5000, 0, 3_600_000).describe(
      "Progress history: at most one snapshot per running request per this many ms (0: status changes only).",
    ),
    /** Transform tasks read and published per dispatcher step. */
    DISPATCH_CHUNK: int(5000, 1, 100_000).describe("Transform tasks read and published per dispatcher step."),
    SHUTDOWN_GRACE_MS: int(25_000, 0, 600_000).describe(
      "Milliseconds after SIGTERM/SIGINT to finish in-flight requests and queued writes before exiting anyway.",
    ),
  })
  .superRefine((c, ctx) => {
    if (!c.VALID_DID_SCHEMES.includes(c.DID_FINDER_DEFAULT_SCHEME)) {
      ctx.addIssue({
        code: "custom",
        path: ["DID_FINDER_DEFAULT_SCHEME"],
        message: `must be one of VALID_DID_SCHEMES (${c.VALID_DID_SCHEMES.join(", ")})`,
      });
    }
    const dbUrl = c.DATABASE_URL;
    if (dbUrl && !/^postgres(ql)?:\/\//.test(dbUrl)) {
      ctx.addIssue({ code: "custom", path: ["DATABASE_URL"], message: "must be a postgresql:// URL" });
    }
    if (c.TRANSFORMER_MANAGER_ENABLED && c.TRANSFORMER_MANAGER_MODE === "local" && c.RABBIT_MQ_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["TRANSFORMER_MANAGER_MODE"],
        message: "local transformers take their tasks from the in-process broker: unset RABBIT_MQ_URL",
      });
    }
    if (c.INTERNAL_PORT !== undefined && c.INTERNAL_PORT !== 0 && c.INTERNAL_PORT === c.PORT) {
      ctx.addIssue({ code: "custom", path: ["INTERNAL_PORT"], message: "must differ from PORT" });
    }
    if (c.ENABLE_AUTH) {
      for (const key of ["JWT_SECRET_KEY", "SECRET_KEY"] as const) {
        if (!c[key]) {
          ctx.addIssue({ code: "custom", path: [key], message: "is required when ENABLE_AUTH is true" });
        }
      }
    }
    if (c.OAUTH_TOKEN_INTROSPECTION) {
      const id = c.OAUTH_CLIENT_ID ?? c.GLOBUS_CLIENT_ID;
      const secret = c.OAUTH_CLIENT_SECRET ?? c.GLOBUS_CLIENT_SECRET;
      if (!id || !secret) {
        ctx.addIssue({
          code: "custom",
          path: ["OAUTH_TOKEN_INTROSPECTION"],
          message: "needs the App's confidential client (OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET)",
        });
      }
    }
    if (Boolean(c.MINIO_PUBLIC_ACCESS_KEY) !== Boolean(c.MINIO_PUBLIC_SECRET_KEY)) {
      ctx.addIssue({
        code: "custom",
        path: [c.MINIO_PUBLIC_ACCESS_KEY ? "MINIO_PUBLIC_SECRET_KEY" : "MINIO_PUBLIC_ACCESS_KEY"],
        message: "MINIO_PUBLIC_ACCESS_KEY and MINIO_PUBLIC_SECRET_KEY must be set together",
      });
    }
    if (c.RABBIT_MQ_URL && !c.RABBIT_MQ_URL.split(",").every((u) => /^amqps?:\/\//.test(u.trim()))) {
      ctx.addIssue({
        code: "custom",
        path: ["RABBIT_MQ_URL"],
        message: "must be amqp:// URL(s), comma-separated",
      });
    }
  });

/**
 * The schema itself: every key with its default and `.describe()`d one-line meaning, from which
 * `npm run config:example` writes .env.example and the README's configuration table (src/configDocs.ts).
 */
export const ConfigSchema = Env;

/** Shown as the `passthrough` code-generator image (the built-in generator runs inside the App). */
export const BUILTIN_PASSTHROUGH_IMAGE = "servicex/builtin-codegen-passthrough:builtin";

export type RawConfig = z.output<typeof Env>;

export interface Config extends RawConfig {
  /** Postgres URL, or undefined for the embedded PGlite database under DATA_DIR. */
  databaseUrl: string | undefined;
  rabbitUrls: string[];
  advertisedHostname: string;
  /** host:port in the callback URLs given to DID finders and transformers (the internal listener's). */
  internalAdvertisedHostname: string;
  appVersion: string;
  /** Which launcher starts transformers: none, local in-process workers, or Kubernetes. */
  launcherMode: "disabled" | "local" | "internal-kubernetes" | "external-kubernetes";
  resultsDir: string;
  /** CODE_GEN_IMAGES plus the built-in generators when enabled: the valid `codegen` names. */
  codeGenImages: Record<string, string>;
  /**
   * The object store as clients reach it (`minio-endpoint`, `minio-secured`, presigned URLs): MINIO_PUBLIC_URL,
   * else MINIO_URL as upstream (the client cannot download without an endpoint); `secure` is
   * MINIO_ENCRYPT_PUBLIC, or MINIO_ENCRYPT for MINIO_URL unless MINIO_ENCRYPT_PUBLIC is set. Null without
   * OBJECT_STORE_ENABLED or an endpoint.
   */
  objectStorePublic: { endpoint: string; secure: boolean } | null;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `- ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError([`APP_CONFIG_FILE: cannot read ${path}: ${(e as Error).message}`]);
  }
  if (/^\s*\{/.test(text)) {
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError([`APP_CONFIG_FILE: ${path} is not valid JSON: ${(e as Error).message}`]);
    }
  }
  try {
    return parseAppConf(text);
  } catch (e) {
    throw new ConfigError([`APP_CONFIG_FILE: ${path}: ${(e as Error).message}`]);
  }
}

/**
 * Keys the environment sets even when the APP_CONFIG_FILE file does not define them: upstream reads
 * LOG_LEVEL, INSTANCE_NAME and LOGSTASH_* from the environment itself, and fixes its port and address in its
 * start command rather than in app.conf.
 */
const ENV_ALWAYS = new Set([
  "LOG_LEVEL",
  "INSTANCE_NAME",
  "LOGSTASH_HOST",
  "LOGSTASH_PORT",
  "PORT",
  "BIND_ADDRESS",
]);

const PACKAGE_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "develop";
  } catch {
    return "develop";
  }
})();

function launcherMode(c: RawConfig, enabledGiven: boolean): Config["launcherMode"] {
  const enabled = enabledGiven ? Boolean(c.TRANSFORMER_MANAGER_ENABLED) : !c.RABBIT_MQ_URL;
  if (!enabled || c.TRANSFORMER_MANAGER_MODE === "disabled") return "disabled";
  if (!enabledGiven) return "local";
  return c.TRANSFORMER_MANAGER_MODE;
}

/**
 * The callback host:port: INTERNAL_ADVERTISED_HOSTNAME; else, with INTERNAL_PORT, ADVERTISED_HOSTNAME's host
 * (or localhost) with INTERNAL_PORT; else ADVERTISED_HOSTNAME (one port, as upstream).
 */
function internalAdvertised(c: RawConfig): string {
  if (c.INTERNAL_ADVERTISED_HOSTNAME) return c.INTERNAL_ADVERTISED_HOSTNAME;
  if (c.INTERNAL_PORT === undefined) return c.ADVERTISED_HOSTNAME ?? `localhost:${c.PORT}`;
  const host = c.ADVERTISED_HOSTNAME?.replace(/:\d+$/, "") || "localhost";
  return `${host}:${c.INTERNAL_PORT}`;
}

/** The variables of a dotenv file (`./.env` by default); none when it does not exist. */
export function readDotenvFile(path = ".env"): Record<string, string> {
  if (!existsSync(path)) return {};
  try {
    return parseDotenv(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ConfigError([`${path}: cannot read: ${(e as Error).message}`]);
  }
}

/**
 * The configuration of a process (npm start, npm run db:migrate, npm run user): ./.env, when present, is read
 * as if its variables were in the environment (the environment wins over it), then loadConfig applies
 * APP_CONFIG_FILE (which ./.env may name) as always.
 */
export function loadProcessConfig(
  env: Record<string, string | undefined> = process.env,
  dotenvPath = ".env",
): Config {
  const merged: Record<string, string | undefined> = { ...readDotenvFile(dotenvPath) };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) merged[k] = v;
  return loadConfig(merged);
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const fromFile = env.APP_CONFIG_FILE ? readConfigFile(env.APP_CONFIG_FILE) : {};
  const merged: Record<string, unknown> = { ...fromFile };
  // Upstream's rule, which its Helm chart relies on (the ConfigMap defines placeholders that the Secret's
  // variables override): with a config file, an environment variable overrides only a key the file defines.
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (!env.APP_CONFIG_FILE || Object.hasOwn(fromFile, k) || ENV_ALWAYS.has(k)) merged[k] = v;
  }
  const r = Env.safeParse(merged);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => `${i.path.join(".") || "(config)"}: ${i.message}`));
  }
  const c = r.data;
  const sqlaPg =
    c.SQLALCHEMY_DATABASE_URI && /^postgres(ql)?(\+\w+)?:\/\//.test(c.SQLALCHEMY_DATABASE_URI)
      ? c.SQLALCHEMY_DATABASE_URI.replace(/^postgres(ql)?\+\w+:/, "postgresql:")
      : undefined;
  return Object.freeze({
    ...c,
    databaseUrl: c.DATABASE_URL ?? sqlaPg,
    rabbitUrls: c.RABBIT_MQ_URL ? c.RABBIT_MQ_URL.split(",").map((u) => u.trim()) : [],
    advertisedHostname: c.ADVERTISED_HOSTNAME ?? `localhost:${c.PORT}`,
    internalAdvertisedHostname: internalAdvertised(c),
    appVersion: c.APP_VERSION ?? PACKAGE_VERSION,
    launcherMode: launcherMode(c, merged.TRANSFORMER_MANAGER_ENABLED !== undefined),
    resultsDir: c.RESULTS_DIR ?? `${c.DATA_DIR === "memory://" ? "./data" : c.DATA_DIR}/results`,
    codeGenImages: (
      merged.BUILTIN_CODEGEN === undefined
        ? Object.keys(c.CODE_GEN_SERVICE_URLS).length === 0
        : c.BUILTIN_CODEGEN
    )
      ? { ...c.CODE_GEN_IMAGES, passthrough: c.CODE_GEN_IMAGES.passthrough ?? BUILTIN_PASSTHROUGH_IMAGE }
      : c.CODE_GEN_IMAGES,
    objectStorePublic: !c.OBJECT_STORE_ENABLED
      ? null
      : c.MINIO_PUBLIC_URL
        ? { endpoint: c.MINIO_PUBLIC_URL, secure: c.MINIO_ENCRYPT_PUBLIC }
        : c.MINIO_URL
          ? {
              endpoint: c.MINIO_URL,
              secure: merged.MINIO_ENCRYPT_PUBLIC !== undefined ? c.MINIO_ENCRYPT_PUBLIC : c.MINIO_ENCRYPT,
            }
          : null,
  });
}
