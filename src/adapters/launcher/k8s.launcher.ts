// Kubernetes transformer launcher (docs/decisions.md D3, D30, docs/kubernetes.md): per request a ConfigMap
// `<id>-generated-source`, a Deployment `transformer-<id>` (containers `sidecar` then `transformer`) and,
// with autoscaling, an HPA `transformer-<id>` (autoscaling/v1), shaped exactly like upstream's objects
// (test/fixtures/golden-k8s-objects.json) so the upstream Helm chart's RBAC and the real sidecar image work.
//
// @kubernetes/client-node is pinned to 1.4.0: 2.x pulls undici 8, which does not load on Node 20.
import {
  ApiException,
  AppsV1Api,
  AutoscalingV1Api,
  type ConfigurationOptions,
  CoreV1Api,
  KubeConfig,
  Observable,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
  type V1ConfigMap,
  type V1Deployment,
  type V1DeploymentStatus,
  type V1EnvVar,
  type V1HorizontalPodAutoscaler,
  type V1Volume,
  type V1VolumeMount,
} from "@kubernetes/client-node";
import { unzipSync } from "fflate";
import type { LaunchedObject, LaunchSpec, TransformerLauncher } from "../../domain/ports.js";
import type { Logger } from "../../logger.js";

/** Kubernetes' limit on a ConfigMap's content (sum of key lengths and raw value bytes). */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;

const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;
const POSIX_VOLUME_MOUNT = "/posix_volume";

export interface KubernetesRetryOptions {
  /** Attempts per API call, first one included (default 4). */
  attempts: number;
  /** First backoff in ms, doubled each time with jitter (default 250). */
  baseDelayMs: number;
  /** Cap of one backoff in ms (default 5,000). */
  maxDelayMs: number;
}

export interface KubernetesLauncherOptions {
  /** TRANSFORMER_NAMESPACE */
  namespace: string;
  /**
   * TRANSFORMER_MANAGER_MODE: "internal" = in-cluster service account (`internal-kubernetes`), "external" =
   * kubeconfig (`external-kubernetes`; `KUBECONFIG` or ~/.kube/config). An injected `kubeConfig` wins (tests).
   */
  mode: "internal" | "external";
  kubeConfig?: KubeConfig;

  /** TRANSFORMER_AUTOSCALE_ENABLED (default true) */
  autoscaleEnabled?: boolean;
  /** TRANSFORMER_MIN_REPLICAS (default 1) */
  minReplicas?: number;
  /** TRANSFORMER_MAX_REPLICAS (default 20) */
  maxReplicas?: number;
  /** TRANSFORMER_CPU_SCALE_THRESHOLD: HPA target CPU % (default 70) */
  cpuScaleThreshold?: number;
  /** TRANSFORMER_CPU_LIMIT (default 1; sent as given, a number stays a JSON number as upstream does) */
  cpuLimit?: number | string;
  /** TRANSFORMER_MEMORY_LIMIT */
  memoryLimit?: string;
  /** TRANSFORMER_CPU_REQUEST */
  cpuRequest?: number | string;
  /** TRANSFORMER_MEMORY_REQUEST */
  memoryRequest?: string;

  /** TRANSFORMER_SIDECAR_IMAGE */
  sidecarImage: string;
  /** TRANSFORMER_SIDECAR_PULL_POLICY (default Always) */
  sidecarPullPolicy?: string;
  /** TRANSFORMER_SCIENCE_IMAGE_PULL_POLICY (default Always) */
  sciencePullPolicy?: string;
  /** TRANSFORMER_SIDECAR_VOLUME_PATH (default /servicex/output) */
  sidecarVolumePath?: string;
  /** TRANSFORMER_X509_SECRET (null/empty: no grid proxy mounted) */
  x509Secret?: string | null;
  /** TRANSFORMER_LOCAL_PATH: hostPath mounted at /data */
  localPath?: string | null;
  /** TRANSFORMER_PERSISTENCE_PROVIDED_CLAIM: PVC for result-destination `volume` (emptyDir when unset) */
  persistenceClaim?: string | null;
  /** TRANSFORMER_PERSISTENCE_SUBDIR (default "output/") */
  persistenceSubdir?: string;
  /** TRANSFORMER_PRIORITY_CLASS */
  priorityClass?: string | null;
  /** TRANSFORMER_CACHE_PREFIX → pod env CACHE_PREFIX */
  cachePrefix?: string | null;
  /** TRANSFORMER_CVMFS_VOLUME: a volume source in camelCase, e.g. {"hostPath": {"path": "/cvmfs"}} */
  cvmfsVolume?: Record<string, unknown> | null;
  /** TRANSFORMER_POD_ANNOTATIONS */
  podAnnotations?: Record<string, string> | null;
  /** TRANSFORMER_POD_LABELS: extra pod labels (the Helm chart's NetworkPolicy selects transformer pods by them) */
  podLabels?: Record<string, string> | null;
  /** TRANSFORMER_NODE_SELECTOR */
  nodeSelector?: Record<string, string> | null;
  /** TRANSFORMER_TOLERATIONS */
  tolerations?: Record<string, unknown>[] | null;
  /** TRANSFORMER_AFFINITY */
  affinity?: Record<string, unknown> | null;

  /** TRANSFORMER_RABBIT_MQ_URL: broker URL given to the sidecars */
  transformerRabbitUrl: string;
  /** MINIO_URL_TRANSFORMER → pod env MINIO_URL (object-store destination) */
  minioUrl?: string | null;
  /** MINIO_ACCESS_KEY */
  minioAccessKey?: string | null;
  /** MINIO_SECRET_KEY */
  minioSecretKey?: string | null;
  /** MINIO_ENCRYPT → "True"/"False" */
  minioEncrypt?: boolean;
  /** INSTANCE_NAME (env entry omitted when undefined) */
  instanceName?: string;
  /** process LOG_LEVEL given to pods, upper-cased (default INFO) */
  logLevel?: string;
  /** process LOGSTASH_HOST / LOGSTASH_PORT (unset: env entries with a name and no value, as upstream) */
  logstashHost?: string | null;
  logstashPort?: string | number | null;

  /** Per API call timeout in ms (default 15,000); a timeout is retried like a 5xx. */
  requestTimeoutMs?: number;
  retry?: Partial<KubernetesRetryOptions>;
  logger?: Logger;
}

/** Snake-case `V1DeploymentStatus.to_dict()` of the Python client (docs/api.md). */
export interface DeploymentStatusDict {
  available_replicas: number | null;
  collision_count: number | null;
  conditions: Array<{
    last_transition_time: string | null;
    last_update_time: string | null;
    message: string | null;
    reason: string | null;
    status: string;
    type: string;
  }> | null;
  observed_generation: number | null;
  ready_replicas: number | null;
  replicas: number | null;
  unavailable_replicas: number | null;
  updated_replicas: number | null;
}

type Kind = "ConfigMap" | "Deployment" | "HorizontalPodAutoscaler";

/** A refused or failed Kubernetes call, with the API's own message. */
export class KubernetesLaunchError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = "KubernetesLaunchError";
  }
}

export class KubernetesLauncher implements TransformerLauncher {
  readonly kind = "kubernetes";
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly autoscaling: AutoscalingV1Api;
  private readonly retry: KubernetesRetryOptions;
  private readonly callOptions: ConfigurationOptions;

  constructor(private readonly o: KubernetesLauncherOptions) {
    const kc = o.kubeConfig ?? loadKubeConfig(o.mode);
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.autoscaling = kc.makeApiClient(AutoscalingV1Api);
    this.retry = { attempts: 4, baseDelayMs: 250, maxDelayMs: 5_000, ...o.retry };
    const timeoutMs = o.requestTimeoutMs ?? 15_000;
    // Every call gets its own deadline (the object-parameter API takes observable middleware).
    const timeout: ObservableMiddleware = {
      pre: (ctx: RequestContext) => {
        ctx.setSignal(AbortSignal.timeout(timeoutMs));
        return new Observable(Promise.resolve(ctx));
      },
      post: (ctx: ResponseContext) => new Observable(Promise.resolve(ctx)),
    };
    this.callOptions = { middleware: [timeout], middlewareMergeStrategy: "append" };
  }

  get namespace(): string {
    return this.o.namespace;
  }

  async start(spec: LaunchSpec): Promise<void> {
    const id = spec.requestId;
    const ns = this.o.namespace;
    const configMap = spec.generatedCode ? this.configMapFor(id, spec.generatedCode.zip) : null;
    const created: Kind[] = [];
    try {
      if (configMap) {
        await this.create("ConfigMap", configMapName(id), () =>
          this.core.createNamespacedConfigMap({ namespace: ns, body: configMap }, this.callOptions),
        );
        created.push("ConfigMap");
      }
      const deployment = this.deploymentFor(spec, configMap !== null);
      await this.create("Deployment", transformerName(id), () =>
        this.apps.createNamespacedDeployment({ namespace: ns, body: deployment }, this.callOptions),
      );
      created.push("Deployment");
      if (this.autoscale) {
        const hpa = this.hpaFor(spec);
        await this.create("HorizontalPodAutoscaler", transformerName(id), () =>
          this.autoscaling.createNamespacedHorizontalPodAutoscaler(
            { namespace: ns, body: hpa },
            this.callOptions,
          ),
        );
        created.push("HorizontalPodAutoscaler");
      }
    } catch (err) {
      // Leave nothing behind: remove what this call created (or found already there), newest first.
      await this.deleteAll(id, created).catch((cleanupErr: unknown) => {
        this.o.logger?.error({ err: cleanupErr, requestId: id }, "cleanup after failed transformer start");
      });
      throw err;
    }
  }

  async shutdown(requestId: string): Promise<void> {
    const kinds: Kind[] = ["ConfigMap", "Deployment"];
    if (this.autoscale) kinds.push("HorizontalPodAutoscaler");
    await this.deleteAll(requestId, kinds);
  }

  /** The Deployment's status as the Python client's `to_dict()` (snake_case), or null when absent. */
  async deploymentStatus(requestId: string): Promise<DeploymentStatusDict | null> {
    const name = transformerName(requestId);
    const list = await this.call(`list Deployment ${name}`, () =>
      this.apps.listNamespacedDeployment(
        { namespace: this.o.namespace, fieldSelector: `metadata.name=${name}` },
        this.callOptions,
      ),
    );
    const dep = list.items[0];
    if (!dep) return null;
    return toStatusDict(dep.status);
  }

  /**
   * The request objects in the namespace, found by name (`transformer-<id>` Deployments and HPAs,
   * `<id>-generated-source` ConfigMaps), whatever created them: the reaper's view (docs/api.md).
   */
  async listObjects(): Promise<LaunchedObject[]> {
    const namespace = this.o.namespace;
    const [deps, hpas, cms] = await Promise.all([
      this.call("list Deployments", () =>
        this.apps.listNamespacedDeployment({ namespace }, this.callOptions),
      ),
      this.call("list HorizontalPodAutoscalers", () =>
        this.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace }, this.callOptions),
      ),
      this.call("list ConfigMaps", () => this.core.listNamespacedConfigMap({ namespace }, this.callOptions)),
    ]);
    const out: LaunchedObject[] = [];
    const add = (
      kind: Kind,
      items: Array<{ metadata?: { name?: string; creationTimestamp?: Date | string } }>,
      pattern: RegExp,
    ) => {
      for (const item of items) {
        const name = item.metadata?.name ?? "";
        const m = pattern.exec(name);
        if (!m?.[1]) continue;
        const ts = item.metadata?.creationTimestamp;
        out.push({ kind, name, requestId: m[1], createdAt: ts ? new Date(ts) : null });
      }
    };
    add("Deployment", deps.items, /^transformer-(.+)$/);
    add("HorizontalPodAutoscaler", hpas.items, /^transformer-(.+)$/);
    add("ConfigMap", cms.items, /^(.+)-generated-source$/);
    return out;
  }

  /** With TRANSFORMER_PERSISTENCE_PROVIDED_CLAIM set, the claim must exist and be Bound (docs/kubernetes.md). */
  async verifyStartup(): Promise<void> {
    const claim = this.o.persistenceClaim;
    if (!claim) return;
    const namespace = this.o.namespace;
    const list = await this.call("list PersistentVolumeClaims", () =>
      this.core.listNamespacedPersistentVolumeClaim({ namespace }, this.callOptions),
    );
    const pvc = list.items.find((p) => p.metadata?.name === claim);
    if (!pvc) {
      throw new KubernetesLaunchError(
        `TRANSFORMER_PERSISTENCE_PROVIDED_CLAIM: PersistentVolumeClaim '${claim}' does not exist in namespace '${namespace}'`,
        null,
      );
    }
    const phase = pvc.status?.phase ?? "unknown";
    if (phase !== "Bound") {
      throw new KubernetesLaunchError(
        `TRANSFORMER_PERSISTENCE_PROVIDED_CLAIM: PersistentVolumeClaim '${claim}' in namespace '${namespace}' is ${phase}, not Bound`,
        null,
      );
    }
  }

  private get autoscale(): boolean {
    return this.o.autoscaleEnabled ?? true;
  }

  /** Deletes in the order HPA → Deployment → ConfigMap (newer upstream; docs/kubernetes.md); every delete is tried even if one fails. */
  private async deleteAll(requestId: string, kinds: readonly Kind[]): Promise<void> {
    const order: Kind[] = ["HorizontalPodAutoscaler", "Deployment", "ConfigMap"];
    const errors: string[] = [];
    for (const kind of order) {
      if (!kinds.includes(kind)) continue;
      try {
        await this.delete(kind, requestId);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    if (errors.length > 0) throw new KubernetesLaunchError(errors.join("; "), null);
  }

  private async delete(kind: Kind, requestId: string): Promise<void> {
    const ns = this.o.namespace;
    const name = kind === "ConfigMap" ? configMapName(requestId) : transformerName(requestId);
    try {
      await this.call(`delete ${kind} ${name}`, async () => {
        if (kind === "ConfigMap")
          await this.core.deleteNamespacedConfigMap({ namespace: ns, name }, this.callOptions);
        else if (kind === "Deployment")
          await this.apps.deleteNamespacedDeployment({ namespace: ns, name }, this.callOptions);
        else
          await this.autoscaling.deleteNamespacedHorizontalPodAutoscaler(
            { namespace: ns, name },
            this.callOptions,
          );
      });
    } catch (err) {
      if (err instanceof KubernetesLaunchError && err.status === 404) return;
      throw err;
    }
  }

  /** Create; 409 AlreadyExists is success (a retry after a lost answer, or a resubmit of the same id). */
  private async create(kind: Kind, name: string, op: () => Promise<unknown>): Promise<void> {
    try {
      await this.call(`create ${kind} ${name}`, op);
    } catch (err) {
      if (err instanceof KubernetesLaunchError && err.status === 409) {
        this.o.logger?.info({ kind, name }, "kubernetes object already exists");
        return;
      }
      throw err;
    }
  }

  /**
   * One API call: 5xx, 429, timeouts and connection errors are retried with jittered exponential backoff
   * (bounded by `retry.attempts`); any other answer is final. Throws KubernetesLaunchError carrying the
   * API's Status message.
   */
  private async call<T>(what: string, op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        const { status, message, network } = describeError(err);
        const transient = network || (status !== null && (status >= 500 || status === 429));
        if (!transient || attempt >= this.retry.attempts) {
          const prefix =
            status === null
              ? network
                ? `Kubernetes API unreachable (${what})`
                : `Kubernetes client error (${what})`
              : transient
                ? `Kubernetes API error ${status} (${what})`
                : `Kubernetes refused to ${what}`;
          throw new KubernetesLaunchError(`${prefix}: ${message}`, status);
        }
        const cap = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
        const delay = cap / 2 + Math.random() * (cap / 2);
        this.o.logger?.warn({ what, status, message, attempt, delay }, "kubernetes call failed; retrying");
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private configMapFor(requestId: string, zip: Buffer): V1ConfigMap {
    let entries: Record<string, Uint8Array>;
    try {
      entries = unzipSync(new Uint8Array(zip.buffer, zip.byteOffset, zip.byteLength));
    } catch (err) {
      throw new KubernetesLaunchError(`Generated code is not a valid zip: ${(err as Error).message}`, null);
    }
    const binaryData: Record<string, string> = {};
    let size = 0;
    for (const [fileName, bytes] of Object.entries(entries)) {
      if (fileName.endsWith("/")) continue; // directory entry
      if (!CONFIGMAP_KEY.test(fileName)) {
        throw new KubernetesLaunchError(
          `Generated code contains a file name that cannot be a ConfigMap key: '${fileName}'`,
          null,
        );
      }
      size += fileName.length + bytes.byteLength;
      binaryData[fileName] = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
    }
    if (size > CONFIGMAP_MAX_BYTES) {
      throw new KubernetesLaunchError(
        `Generated code is too large for a Kubernetes ConfigMap: ${size} bytes (limit ${CONFIGMAP_MAX_BYTES} bytes)`,
        null,
      );
    }
    return {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: configMapName(requestId), namespace: this.o.namespace },
      binaryData,
    };
  }

  private env(resultDestination: string): V1EnvVar[] {
    const o = this.o;
    const env: V1EnvVar[] = [
      { name: "BASH_ENV", value: "/servicex/.bashrc" },
      { name: "LOG_LEVEL", value: (o.logLevel ?? "INFO").toUpperCase() },
      optionalEnv("LOGSTASH_HOST", o.logstashHost),
      optionalEnv("LOGSTASH_PORT", o.logstashPort),
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "HOST_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
    ];
    if (o.instanceName !== undefined) env.push({ name: "INSTANCE_NAME", value: o.instanceName });
    if (o.cachePrefix) env.push({ name: "CACHE_PREFIX", value: o.cachePrefix });
    if (resultDestination === "object-store") {
      env.push(
        optionalEnv("MINIO_URL", o.minioUrl),
        optionalEnv("MINIO_ACCESS_KEY", o.minioAccessKey),
        optionalEnv("MINIO_SECRET_KEY", o.minioSecretKey),
        { name: "MINIO_ENCRYPT", value: o.minioEncrypt ? "True" : "False" },
      );
    }
    return env;
  }

  private deploymentFor(spec: LaunchSpec, withGeneratedCode: boolean): V1Deployment {
    const o = this.o;
    const id = spec.requestId;
    const name = transformerName(id);
    const volumePath = o.sidecarVolumePath ?? "/servicex/output";
    const x509 = o.x509Secret || null;

    const volumes: V1Volume[] = [{ name: "sidecar-volume", emptyDir: {} }];
    const mounts: V1VolumeMount[] = [{ name: "sidecar-volume", mountPath: volumePath }];
    if (x509) {
      volumes.push({ name: "x509-secret", secret: { secretName: x509 } });
      mounts.push({ name: "x509-secret", mountPath: "/etc/grid-security-ro" });
    }
    if (withGeneratedCode) {
      volumes.push({ name: "generated-code", configMap: { name: configMapName(id) } });
      mounts.push({ name: "generated-code", mountPath: "/generated" });
    }
    if (o.localPath) {
      volumes.push({ name: "rootfiles", hostPath: { path: o.localPath } });
      mounts.push({ name: "rootfiles", mountPath: "/data" });
    }
    if (spec.resultDestination === "volume") {
      volumes.push(
        o.persistenceClaim
          ? { name: "posix-volume", persistentVolumeClaim: { claimName: o.persistenceClaim } }
          : { name: "posix-volume", emptyDir: {} },
      );
      mounts.push({ name: "posix-volume", mountPath: POSIX_VOLUME_MOUNT });
    }
    if (o.cvmfsVolume) {
      volumes.push({ ...(o.cvmfsVolume as Partial<V1Volume>), name: "cvmfs" });
      mounts.push({
        name: "cvmfs",
        mountPath: "/cvmfs",
        readOnly: true,
        ...("hostPath" in o.cvmfsVolume ? { mountPropagation: "HostToContainer" } : {}),
      });
    }

    // Quantities are sent as configured: upstream sends TRANSFORMER_CPU_LIMIT=1 as the JSON number 1.
    const limits: Record<string, number | string> = { cpu: o.cpuLimit ?? 1 };
    if (o.memoryLimit) limits.memory = o.memoryLimit;
    const requests: Record<string, number | string> = {};
    if (o.cpuRequest !== undefined && o.cpuRequest !== "") requests.cpu = o.cpuRequest;
    if (o.memoryRequest) requests.memory = o.memoryRequest;
    const resources = {
      limits: limits as Record<string, string>,
      ...(Object.keys(requests).length > 0 ? { requests: requests as Record<string, string> } : {}),
    };

    let sidecarCommand =
      "PYTHONPATH=/servicex/transformer_sidecar:$PYTHONPATH " +
      "python /servicex/transformer_sidecar/transformer.py " +
      " --shared-dir /servicex/output " +
      ` --request-id ${id}` +
      ` --rabbit-uri ${o.transformerRabbitUrl}` +
      ` --result-destination ${spec.resultDestination}` +
      ` --result-format ${spec.resultFormat}`;
    if (spec.resultDestination === "volume") {
      sidecarCommand += ` --output-dir ${osPathJoin(POSIX_VOLUME_MOUNT, o.persistenceSubdir ?? "output/")}`;
    }

    let scienceCommand = " ";
    if (x509) {
      scienceCommand =
        "until [ -f /servicex/output/scripts/proxy-exporter.sh ];do sleep 5;done &&" +
        " /servicex/output/scripts/proxy-exporter.sh & sleep 5 && ";
    }
    scienceCommand +=
      `cp /generated/transformer_capabilities.json ${volumePath} && ` +
      "PYTHONPATH=/generated:$PYTHONPATH " +
      `bash ${volumePath}/scripts/watch.sh ` +
      `${spec.transformerLanguage ?? ""} ` +
      `${spec.transformerCommand ?? ""} ` +
      osPathJoin(volumePath, id);

    const env = this.env(spec.resultDestination);
    const workers = Math.min(Math.max(1, spec.files), spec.workers);
    const podAnnotations =
      o.podAnnotations && Object.keys(o.podAnnotations).length > 0 ? o.podAnnotations : null;

    return {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name },
      spec: {
        replicas: this.autoscale ? (o.minReplicas ?? 1) : workers,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: {
            labels: { ...(o.podLabels ?? {}), app: name },
            ...(podAnnotations ? { annotations: podAnnotations } : {}),
          },
          spec: {
            containers: [
              {
                name: "sidecar",
                image: o.sidecarImage,
                imagePullPolicy: o.sidecarPullPolicy ?? "Always",
                command: ["bash", "-c"],
                args: [sidecarCommand],
                env,
                resources,
                volumeMounts: mounts,
              },
              {
                name: "transformer",
                image: spec.image,
                imagePullPolicy: o.sciencePullPolicy ?? "Always",
                command: ["bash", "-c"],
                args: [scienceCommand],
                env,
                resources,
                volumeMounts: mounts,
              },
            ],
            restartPolicy: "Always",
            terminationGracePeriodSeconds: 300,
            volumes,
            ...(o.priorityClass ? { priorityClassName: o.priorityClass } : {}),
            ...(o.nodeSelector && Object.keys(o.nodeSelector).length > 0
              ? { nodeSelector: o.nodeSelector }
              : {}),
            ...(o.tolerations && o.tolerations.length > 0 ? { tolerations: o.tolerations } : {}),
            ...(o.affinity && Object.keys(o.affinity).length > 0 ? { affinity: o.affinity } : {}),
          },
        },
      },
    };
  }

  private hpaFor(spec: LaunchSpec): V1HorizontalPodAutoscaler {
    const name = transformerName(spec.requestId);
    let min = this.o.minReplicas ?? 1;
    let max = this.o.maxReplicas ?? 20;
    // newer upstream; docs/decisions.md D30: once the file count is known, no more transformers than files (both bounds capped).
    if (spec.files > 0) {
      const cap = Math.max(1, spec.files);
      min = Math.min(min, cap);
      max = Math.min(max, cap);
    }
    return {
      apiVersion: "autoscaling/v1",
      kind: "HorizontalPodAutoscaler",
      metadata: { name },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name },
        targetCPUUtilizationPercentage: this.o.cpuScaleThreshold ?? 70,
        minReplicas: min,
        maxReplicas: max,
      },
    };
  }
}

function loadKubeConfig(mode: "internal" | "external"): KubeConfig {
  const kc = new KubeConfig();
  if (mode === "internal") kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

function configMapName(requestId: string): string {
  return `${requestId}-generated-source`;
}

function transformerName(requestId: string): string {
  return `transformer-${requestId}`;
}

/** Python's None value is dropped by its client: the entry keeps only its name. */
function optionalEnv(name: string, value: string | number | null | undefined): V1EnvVar {
  return value === null || value === undefined || value === "" ? { name } : { name, value: String(value) };
}

/** Python's os.path.join for two parts (no normalisation; an absolute second part wins). */
function osPathJoin(a: string, b: string): string {
  if (b.startsWith("/")) return b;
  return a.endsWith("/") ? a + b : `${a}/${b}`;
}

/**
 * A refused/reset connection or an aborted call: node-fetch's errors by name (client-node 1.x), or undici's
 * fetch (client-node 2), which throws TypeError "fetch failed" with the socket error as its cause.
 */
const NETWORK_ERRORS = new Set(["FetchError", "AbortError", "TimeoutError"]);
const isFetchFailure = (e: unknown): e is TypeError & { cause?: { code?: string; message?: string } } =>
  e instanceof TypeError && e.message === "fetch failed";

function describeError(err: unknown): { status: number | null; message: string; network: boolean } {
  if (err instanceof ApiException) {
    const status = err.code as number;
    let message = `HTTP ${status}`;
    const body: unknown = err.body;
    if (typeof body === "string" && body !== "") {
      try {
        const parsed = JSON.parse(body) as { message?: unknown };
        message = typeof parsed.message === "string" ? parsed.message : body.slice(0, 500);
      } catch {
        message = body.slice(0, 500);
      }
    }
    return { status, message, network: false };
  }
  const e = err as Error;
  if (isFetchFailure(err)) {
    const cause = err.cause;
    return { status: null, message: `fetch failed${cause?.code ? ` (${cause.code})` : ""}`, network: true };
  }
  const network = NETWORK_ERRORS.has(e?.name);
  if (e?.name === "AbortError" || e?.name === "TimeoutError") {
    return { status: null, message: "request timed out", network };
  }
  return { status: null, message: e?.message ?? String(err), network };
}

/** Dates as Flask's JSON encoder writes a Python datetime (RFC 1123, `http_date`). */
function dateOut(d: Date | string | undefined | null): string | null {
  if (d === undefined || d === null) return null;
  const date = d instanceof Date ? d : new Date(d);
  return Number.isNaN(date.getTime()) ? String(d) : date.toUTCString();
}

function toStatusDict(s: V1DeploymentStatus | undefined): DeploymentStatusDict {
  return {
    available_replicas: s?.availableReplicas ?? null,
    collision_count: s?.collisionCount ?? null,
    conditions:
      s?.conditions?.map((c) => ({
        last_transition_time: dateOut(c.lastTransitionTime),
        last_update_time: dateOut(c.lastUpdateTime),
        message: c.message ?? null,
        reason: c.reason ?? null,
        status: c.status,
        type: c.type,
      })) ?? null,
    observed_generation: s?.observedGeneration ?? null,
    ready_replicas: s?.readyReplicas ?? null,
    replicas: s?.replicas ?? null,
    unavailable_replicas: s?.unavailableReplicas ?? null,
    updated_replicas: s?.updatedReplicas ?? null,
  };
}
