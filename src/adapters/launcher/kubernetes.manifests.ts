// The Kubernetes objects of one transformer request, as pure functions of the launcher's settings and the request
// (no API calls; the launcher, kubernetes.launcher.ts, sends them): a ConfigMap `<id>-generated-source`, a Deployment
// `transformer-<id>` (containers `sidecar` then `transformer`) and, with autoscaling, an HPA `transformer-<id>`
// (autoscaling/v1), shaped exactly like upstream's objects (test/fixtures/golden-kubernetes-objects.json) so the
// upstream Helm chart's RBAC and the real sidecar image work. docs/kubernetes.md lists every field.
import type {
  V1ConfigMap,
  V1Deployment,
  V1EnvVar,
  V1HorizontalPodAutoscaler,
  V1Volume,
  V1VolumeMount,
} from "@kubernetes/client-node";
import { unzipSync } from "fflate";
import type { LaunchSpec } from "../../domain/ports.js";

/** Kubernetes' limit on a ConfigMap's content (sum of key lengths and raw value bytes). */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;

const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;
const POSIX_VOLUME_MOUNT = "/posix_volume";

/** The launcher settings that shape the objects (TRANSFORMER_* and related configuration). */
export interface TransformerManifestOptions {
  /** TRANSFORMER_NAMESPACE */
  namespace: string;

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
}

/** A refused or failed Kubernetes call, with the API's own message; also generated code no ConfigMap can hold. */
export class KubernetesLaunchError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = "KubernetesLaunchError";
  }
}

/** TRANSFORMER_AUTOSCALE_ENABLED, true unless set false. */
export function autoscales(o: TransformerManifestOptions): boolean {
  return o.autoscaleEnabled ?? true;
}

/**
 * The ConfigMap `<id>-generated-source`: one binaryData entry (base64) per file of the code generator's zip.
 * Throws KubernetesLaunchError when the zip is unreadable, a file name cannot be a ConfigMap key, or the content
 * is over Kubernetes' 1 MiB limit.
 */
export function configMapManifest(
  o: TransformerManifestOptions,
  requestId: string,
  zip: Buffer,
): V1ConfigMap {
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
    metadata: { name: configMapName(requestId), namespace: o.namespace },
    binaryData,
  };
}

/**
 * The Deployment `transformer-<id>`: containers `sidecar` then `transformer`, sharing env, resources and mounts;
 * `withGeneratedCode` mounts the request's ConfigMap at /generated.
 */
export function deploymentManifest(
  o: TransformerManifestOptions,
  spec: LaunchSpec,
  withGeneratedCode: boolean,
): V1Deployment {
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

  const env = podEnv(o, spec.resultDestination);
  // Both containers share env, resources and mounts; each runs one `bash -c` script.
  const container = (name: string, image: string, pullPolicy: string | undefined, script: string) => ({
    name,
    image,
    imagePullPolicy: pullPolicy ?? "Always",
    command: ["bash", "-c"],
    args: [script],
    env,
    resources,
    volumeMounts: mounts,
  });
  const workers = Math.min(Math.max(1, spec.files), spec.workers);
  const podAnnotations =
    o.podAnnotations && Object.keys(o.podAnnotations).length > 0 ? o.podAnnotations : null;

  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas: autoscales(o) ? (o.minReplicas ?? 1) : workers,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: {
          labels: { ...(o.podLabels ?? {}), app: name },
          ...(podAnnotations ? { annotations: podAnnotations } : {}),
        },
        spec: {
          containers: [
            container("sidecar", o.sidecarImage, o.sidecarPullPolicy, sidecarCommand),
            container("transformer", spec.image, o.sciencePullPolicy, scienceCommand),
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

/** The env of both containers (object-store credentials only for object-store results). */
function podEnv(o: TransformerManifestOptions, resultDestination: string): V1EnvVar[] {
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

/** The HorizontalPodAutoscaler `transformer-<id>` (autoscaling/v1) over the request's Deployment. */
export function hpaManifest(o: TransformerManifestOptions, spec: LaunchSpec): V1HorizontalPodAutoscaler {
  const name = transformerName(spec.requestId);
  let min = o.minReplicas ?? 1;
  let max = o.maxReplicas ?? 20;
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
      targetCPUUtilizationPercentage: o.cpuScaleThreshold ?? 70,
      minReplicas: min,
      maxReplicas: max,
    },
  };
}

export function configMapName(requestId: string): string {
  return `${requestId}-generated-source`;
}

export function transformerName(requestId: string): string {
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
