// Kubernetes transformer launcher (docs/decisions.md D3, D30, docs/kubernetes.md): sends the request's objects
// (ConfigMap, Deployment, HPA, built by kubernetes.manifests.ts) to the API, removes them at shutdown, lists them for the
// reaper, and reads the Deployment's status; every call has a deadline and is retried on 5xx, 429, timeouts and
// connection errors.
//
// @kubernetes/client-node 2 (undici 8) needs Node 22.19 or later: compose.ts loads this module only in a Kubernetes
// mode. kubernetes.manifests.ts uses its types only, so building the objects loads nothing of it.
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
  type V1DeploymentStatus,
} from "@kubernetes/client-node";
import type { LaunchedObject, LaunchSpec, TransformerLauncher } from "../../domain/ports.js";
import type { Logger } from "../../logger.js";
import {
  KubernetesLaunchError,
  type TransformerManifestOptions,
  autoscales,
  configMapManifest,
  configMapName,
  deploymentManifest,
  hpaManifest,
  transformerName,
} from "./kubernetes.manifests.js";

export { CONFIGMAP_MAX_BYTES, KubernetesLaunchError } from "./kubernetes.manifests.js";

export interface KubernetesRetryOptions {
  /** Attempts per API call, first one included (default 4). */
  attempts: number;
  /** First backoff in ms, doubled each time with jitter (default 250). */
  baseDelayMs: number;
  /** Cap of one backoff in ms (default 5,000). */
  maxDelayMs: number;
}

export interface KubernetesLauncherOptions extends TransformerManifestOptions {
  /**
   * TRANSFORMER_MANAGER_MODE: "internal" = in-cluster service account (`internal-kubernetes`), "external" =
   * kubeconfig (`external-kubernetes`; `KUBECONFIG` or ~/.kube/config). An injected `kubeConfig` wins (tests).
   */
  mode: "internal" | "external";
  kubeConfig?: KubeConfig;

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
    const configMap = spec.generatedCode ? configMapManifest(this.o, id, spec.generatedCode.zip) : null;
    const created: Kind[] = [];
    try {
      if (configMap) {
        await this.create("ConfigMap", configMapName(id), () =>
          this.core.createNamespacedConfigMap({ namespace: ns, body: configMap }, this.callOptions),
        );
        created.push("ConfigMap");
      }
      const deployment = deploymentManifest(this.o, spec, configMap !== null);
      await this.create("Deployment", transformerName(id), () =>
        this.apps.createNamespacedDeployment({ namespace: ns, body: deployment }, this.callOptions),
      );
      created.push("Deployment");
      if (autoscales(this.o)) {
        const hpa = hpaManifest(this.o, spec);
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
    if (autoscales(this.o)) kinds.push("HorizontalPodAutoscaler");
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
}

function loadKubeConfig(mode: "internal" | "external"): KubeConfig {
  const kc = new KubeConfig();
  if (mode === "internal") kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
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
