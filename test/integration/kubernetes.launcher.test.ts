import { readFileSync } from "node:fs";
import { zipSync } from "fflate";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CONFIGMAP_MAX_BYTES,
  KubernetesLauncher,
  type KubernetesLauncherOptions,
} from "../../src/adapters/launcher/kubernetes.launcher.js";
import type { LaunchSpec } from "../../src/domain/ports.js";
import { type FakeKubernetesApi, startFakeKubernetesApi } from "../helpers/fakeKubernetesApi.js";
import { eventually } from "../helpers/wait.js";

// The Kubernetes launcher through the real @kubernetes/client-node over HTTP against a local API server,
// compared with the objects upstream's Python client sent (test/fixtures/golden-kubernetes-objects.json).

interface GoldenRequest {
  method: string;
  path: string;
}
interface Golden {
  kubernetes_requests_in_order: GoldenRequest[];
  configmap: {
    body: { binaryData: Record<string, string>; metadata: { name: string } } & Record<string, unknown>;
  };
  deployment: { body: Record<string, unknown> };
  hpa: { body: { spec: Record<string, unknown> } & Record<string, unknown> };
  deletes: GoldenRequest[];
}

const golden = JSON.parse(
  readFileSync(new URL("../fixtures/golden-kubernetes-objects.json", import.meta.url), "utf8"),
) as Golden;

const NS = "servicex-example";
const ID = "fc52adf4-74ea-41bb-b67b-e0e4a8c6bb2a";

/** The golden file's config block as launcher options. */
function goldenOptions(
  api: FakeKubernetesApi,
  extra: Partial<KubernetesLauncherOptions> = {},
): KubernetesLauncherOptions {
  return {
    namespace: NS,
    mode: "external",
    kubeConfig: api.kubeConfig(),
    autoscaleEnabled: true,
    minReplicas: 1,
    maxReplicas: 5,
    cpuScaleThreshold: 30,
    cpuLimit: 1,
    sidecarImage: "sslhep/servicex_sidecar_transformer:example-k8s",
    sidecarPullPolicy: "IfNotPresent",
    sciencePullPolicy: "Always",
    sidecarVolumePath: "/servicex/output",
    x509Secret: "x509-proxy",
    transformerRabbitUrl: "amqp://sx:example@rabbitmq.example:5672/%2F?heartbeat=9000",
    instanceName: "example-k8s",
    minioUrl: "minio.example:9000",
    minioAccessKey: "example-access",
    minioSecretKey: "example-secret",
    minioEncrypt: false,
    // LOG_LEVEL unset -> INFO; LOGSTASH_HOST/PORT unset -> name-only env entries.
    retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 50 },
    requestTimeoutMs: 2_000,
    ...extra,
  };
}

/** The code generator's zip, rebuilt from the golden ConfigMap's binaryData. */
function goldenZip(): Buffer {
  const files: Record<string, Uint8Array> = {};
  for (const [name, b64] of Object.entries(golden.configmap.body.binaryData)) {
    files[name] = new Uint8Array(Buffer.from(b64, "base64"));
  }
  return Buffer.from(zipSync(files));
}

function goldenSpec(extra: Partial<LaunchSpec> = {}): LaunchSpec {
  return {
    requestId: ID,
    image: "sslhep/servicex_func_adl_uproot_transformer:uproot5",
    workers: 20,
    files: 3,
    resultDestination: "object-store",
    resultFormat: "parquet",
    transformerLanguage: "python",
    transformerCommand: "/generated/transform_single_file.py",
    generatedCode: {
      image: "sslhep/servicex_func_adl_uproot_transformer:uproot5",
      language: "python",
      command: "/generated/transform_single_file.py",
      zip: goldenZip(),
    },
    ...extra,
  };
}

let api: FakeKubernetesApi;

beforeEach(async () => {
  api = await startFakeKubernetesApi();
});

afterEach(async () => {
  await api.stop();
});

const calls = () => api.requests.map((r) => `${r.method} ${r.path}`);

describe("KubernetesLauncher", () => {
  it("creates the golden ConfigMap, Deployment and HPA in the golden order", async () => {
    const launcher = new KubernetesLauncher(goldenOptions(api));
    expect(launcher.kind).toBe("kubernetes");
    await launcher.start(goldenSpec());

    expect(calls()).toEqual(
      golden.kubernetes_requests_in_order.slice(0, 3).map((r) => `${r.method} ${r.path}`),
    );
    const [cm, dep, hpa] = api.requests;
    for (const r of [cm, dep, hpa]) expect(r?.contentType).toMatch(/^application\/json/);

    // ConfigMap: identical (apiVersion, kind, metadata {name, namespace}, binaryData of every zip entry).
    expect(cm!.body).toEqual(golden.configmap.body);

    // Deployment: identical field by field (metadata without namespace/labels, replicas = min replicas,
    // containers sidecar then transformer with the same args/env/mounts, cpu limit the JSON number 1).
    const d = dep!.body as Record<string, unknown>;
    const g = golden.deployment.body;
    for (const key of Object.keys(g)) expect(d[key], key).toEqual(g[key]);
    expect(d).toEqual(g);

    // HPA: identical except spec.maxReplicas. Intentional difference (contract A.3/A.30, newest upstream):
    // the max is capped by max(1, files) once the file count is known, so 3 files → 3 instead of the
    // configured TRANSFORMER_MAX_REPLICAS 5 the older upstream sent.
    const h = hpa!.body as { spec: Record<string, unknown> } & Record<string, unknown>;
    expect(h.spec.maxReplicas).toBe(3);
    expect(golden.hpa.body.spec.maxReplicas).toBe(5);
    expect({ ...h, spec: { ...h.spec, maxReplicas: 5 } }).toEqual(golden.hpa.body);

    expect(api.size).toBe(3);
  });

  it("When TRANSFORMER_POD_LABELS are given, then the pods carry them and the Deployment still selects by app", async () => {
    const labels = { "app.kubernetes.io/component": "transformer", "app.kubernetes.io/instance": "sx" };
    const launcher = new KubernetesLauncher({
      ...goldenOptions(api),
      podLabels: { ...labels, app: "other" },
    });
    await launcher.start(goldenSpec());
    const dep = api.get(NS, "deployments", `transformer-${ID}`) as unknown as {
      spec: {
        selector: { matchLabels: Record<string, string> };
        template: { metadata: { labels: Record<string, string> } };
      };
    };
    expect(dep.spec.selector.matchLabels).toEqual({ app: `transformer-${ID}` });
    expect(dep.spec.template.metadata.labels).toEqual({ ...labels, app: `transformer-${ID}` });
  });

  it("keeps the configured HPA max while the file count is unknown (lookup still running)", async () => {
    const launcher = new KubernetesLauncher(goldenOptions(api));
    await launcher.start(goldenSpec({ files: 0 }));
    const hpa = api.get(NS, "horizontalpodautoscalers", `transformer-${ID}`) as unknown as {
      spec: { maxReplicas: number; minReplicas: number };
    };
    expect(hpa.spec).toMatchObject({ maxReplicas: 5, minReplicas: 1 });
  });

  it("shutdown deletes HPA → Deployment → ConfigMap without bodies, and tolerates 404", async () => {
    const launcher = new KubernetesLauncher(goldenOptions(api));
    await launcher.start(goldenSpec());
    api.requests.length = 0;
    await launcher.shutdown(ID);
    // Intentional difference from the golden [B] delete order (HPA, ConfigMap, Deployment): contract §5.2 [L]
    // and A.30 delete the Deployment before the ConfigMap its pods mount.
    const byPath = new Map(golden.deletes.map((r) => [r.path, r]));
    expect(calls()).toEqual([
      `DELETE /apis/autoscaling/v1/namespaces/${NS}/horizontalpodautoscalers/transformer-${ID}`,
      `DELETE /apis/apps/v1/namespaces/${NS}/deployments/transformer-${ID}`,
      `DELETE /api/v1/namespaces/${NS}/configmaps/${ID}-generated-source`,
    ]);
    for (const r of api.requests) {
      expect(byPath.has(r.path)).toBe(true);
      expect(r.status).toBe(200);
      expect(r.body).toBeNull();
    }
    expect(api.size).toBe(0);

    // Idempotent: everything already gone → three 404s, no error.
    api.requests.length = 0;
    await launcher.shutdown(ID);
    expect(api.requests.map((r) => r.status)).toEqual([404, 404, 404]);
  });

  it("shutdown retries a 500 and still deletes everything", async () => {
    const launcher = new KubernetesLauncher(goldenOptions(api));
    await launcher.start(goldenSpec());
    api.inject({ method: "DELETE", resource: "deployments", status: 500, times: 2 });
    await launcher.shutdown(ID);
    expect(api.size).toBe(0);
    expect(api.requests.filter((r) => r.method === "DELETE").map((r) => r.status)).toEqual([
      200, 500, 500, 200, 200,
    ]);
  });

  it("shutdown that keeps failing still tries the other deletes, then reports", async () => {
    const launcher = new KubernetesLauncher(goldenOptions(api));
    await launcher.start(goldenSpec());
    api.inject({ method: "DELETE", resource: "deployments", status: 503, message: "etcd unavailable" });
    await expect(launcher.shutdown(ID)).rejects.toThrow(/etcd unavailable/);
    expect(api.get(NS, "configmaps", `${ID}-generated-source`)).toBeUndefined();
    expect(api.get(NS, "horizontalpodautoscalers", `transformer-${ID}`)).toBeUndefined();
    expect(api.get(NS, "deployments", `transformer-${ID}`)).toBeDefined();
    expect(api.requests.filter((r) => r.path.includes("/deployments/")).length).toBe(4); // bounded
  });

  it("treats 409 AlreadyExists on create as success", async () => {
    const launcher = new KubernetesLauncher(goldenOptions(api));
    await launcher.start(goldenSpec());
    api.requests.length = 0;
    await launcher.start(goldenSpec());
    expect(api.requests.map((r) => r.status)).toEqual([409, 409, 409]);
    expect(api.size).toBe(3);
  });

  it("403 on the Deployment: throws the API's message and removes the ConfigMap it created", async () => {
    const message =
      'deployments.apps is forbidden: User "system:serviceaccount:servicex-example:servicex" cannot create ' +
      'resource "deployments" in API group "apps" in the namespace "servicex-example"';
    api.inject({ method: "POST", resource: "deployments", status: 403, message });
    const launcher = new KubernetesLauncher(goldenOptions(api));
    const err = await launcher.start(goldenSpec()).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain(message);
    expect(calls()).toEqual([
      `POST /api/v1/namespaces/${NS}/configmaps`,
      `POST /apis/apps/v1/namespaces/${NS}/deployments`, // not retried: 403 is final
      `DELETE /api/v1/namespaces/${NS}/configmaps/${ID}-generated-source`,
    ]);
    expect(api.size).toBe(0);
  });

  it("422 on the HPA: removes the Deployment and the ConfigMap (newest first)", async () => {
    api.inject({
      method: "POST",
      resource: "horizontalpodautoscalers",
      status: 422,
      message: 'HorizontalPodAutoscaler.autoscaling "x" is invalid: spec.maxReplicas: Invalid value: 0',
    });
    const launcher = new KubernetesLauncher(goldenOptions(api));
    await expect(launcher.start(goldenSpec())).rejects.toThrow(/spec\.maxReplicas: Invalid value/);
    expect(calls().slice(3)).toEqual([
      `DELETE /apis/apps/v1/namespaces/${NS}/deployments/transformer-${ID}`,
      `DELETE /api/v1/namespaces/${NS}/configmaps/${ID}-generated-source`,
    ]);
    expect(api.size).toBe(0);
  });

  it("retries a 500 on create, then succeeds", async () => {
    api.inject({ method: "POST", resource: "deployments", status: 500, times: 2 });
    const launcher = new KubernetesLauncher(goldenOptions(api));
    await launcher.start(goldenSpec());
    expect(api.requests.map((r) => r.status)).toEqual([201, 500, 500, 201, 201]);
    expect(api.size).toBe(3);
  });

  it("gives up after a bounded number of 5xx, cleans up and throws", async () => {
    api.inject({ method: "POST", resource: "deployments", status: 503, message: "apiserver overloaded" });
    const launcher = new KubernetesLauncher(goldenOptions(api));
    await expect(launcher.start(goldenSpec())).rejects.toThrow(/503.*apiserver overloaded/);
    expect(api.requests.filter((r) => r.method === "POST" && r.path.endsWith("/deployments")).length).toBe(4);
    expect(api.size).toBe(0);
  });

  it("retries a call that times out", async () => {
    // The first POST is held 3 s, beyond the 1 s timeout; the retry is answered at once (well within it, also
    // on a loaded machine).
    api.inject({ method: "POST", resource: "configmaps", delayMs: 3_000, times: 1 });
    const launcher = new KubernetesLauncher(goldenOptions(api, { requestTimeoutMs: 1_000 }));
    await launcher.start(goldenSpec());
    expect(api.get(NS, "configmaps", `${ID}-generated-source`)).toBeDefined();
    expect(api.get(NS, "deployments", `transformer-${ID}`)).toBeDefined();
    // The slow first POST finishes on the server (it answers 409 to nobody) before the server stops.
    const configMapPosts = () => api.requests.filter((r) => r.path.endsWith("/configmaps"));
    await eventually(
      async () => (configMapPosts().every((r) => r.status !== 0) ? true : undefined),
      15_000,
      "the held ConfigMap POST to be answered",
    );
    expect(configMapPosts().length).toBe(2);
  });

  it("an unreachable API server is retried a bounded number of times, then reported", async () => {
    const launcher = new KubernetesLauncher(goldenOptions(api));
    await api.stop();
    await expect(launcher.start(goldenSpec())).rejects.toThrow(
      /Kubernetes API unreachable \(create ConfigMap/,
    );
    await expect(launcher.deploymentStatus(ID)).rejects.toThrow(/unreachable/);
  });

  it("refuses generated code over 1 MiB before calling the API", async () => {
    const big = new Uint8Array(CONFIGMAP_MAX_BYTES + 1);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251; // poorly compressible, deterministic
    const zip = Buffer.from(zipSync({ "generated_transformer.py": big }));
    const launcher = new KubernetesLauncher(goldenOptions(api));
    const spec = goldenSpec();
    await expect(launcher.start({ ...spec, generatedCode: { ...spec.generatedCode!, zip } })).rejects.toThrow(
      /too large for a Kubernetes ConfigMap.*1048576/,
    );
    expect(api.requests).toEqual([]);
  });

  it("deploymentStatus returns the Python client's snake_case dict, null when absent", async () => {
    const launcher = new KubernetesLauncher(goldenOptions(api));
    expect(await launcher.deploymentStatus(ID)).toBeNull();
    expect(api.requests.at(-1)).toMatchObject({
      method: "GET",
      path: `/apis/apps/v1/namespaces/${NS}/deployments`,
      query: { fieldSelector: `metadata.name=transformer-${ID}` },
    });

    await launcher.start(goldenSpec());
    api.setStatus(NS, "deployments", `transformer-${ID}`, {
      availableReplicas: 1,
      conditions: [
        {
          lastTransitionTime: "2026-11-23T01:00:00Z",
          lastUpdateTime: "2026-11-23T01:00:05Z",
          message: 'ReplicaSet "transformer-x" has successfully progressed.',
          reason: "NewReplicaSetAvailable",
          status: "True",
          type: "Progressing",
        },
      ],
      observedGeneration: 1,
      readyReplicas: 1,
      replicas: 1,
      updatedReplicas: 1,
    });
    expect(await launcher.deploymentStatus(ID)).toEqual({
      available_replicas: 1,
      collision_count: null,
      conditions: [
        {
          last_transition_time: "Mon, 23 Nov 2026 01:00:00 GMT",
          last_update_time: "Mon, 23 Nov 2026 01:00:05 GMT",
          message: 'ReplicaSet "transformer-x" has successfully progressed.',
          reason: "NewReplicaSetAvailable",
          status: "True",
          type: "Progressing",
        },
      ],
      observed_generation: 1,
      ready_replicas: 1,
      replicas: 1,
      unavailable_replicas: null,
      updated_replicas: 1,
    });
    // Another request's deployment is not mistaken for this one.
    expect(await launcher.deploymentStatus("00000000-0000-0000-0000-000000000000")).toBeNull();
  });

  it("builds the optional volumes, env, resources and scheduling fields of §5.1", async () => {
    const launcher = new KubernetesLauncher(
      goldenOptions(api, {
        autoscaleEnabled: false,
        x509Secret: null,
        localPath: "/data/root",
        persistenceClaim: "results-pvc",
        persistenceSubdir: "output/",
        cvmfsVolume: { hostPath: { path: "/cvmfs" } },
        cachePrefix: "root://xcache.example//",
        memoryLimit: "4Gi",
        cpuRequest: "500m",
        memoryRequest: "2Gi",
        priorityClass: "transformers",
        podAnnotations: { "example.org/a": "b" },
        nodeSelector: { pool: "transformers" },
        tolerations: [{ key: "dedicated", operator: "Equal", value: "sx", effect: "NoSchedule" }],
        affinity: { nodeAffinity: {} },
        logLevel: "debug",
        logstashHost: "logstash.example",
        logstashPort: 5959,
      }),
    );
    await launcher.start(
      goldenSpec({ resultDestination: "volume", workers: 2, files: 3, generatedCode: null }),
    );
    expect(calls()).toEqual([`POST /apis/apps/v1/namespaces/${NS}/deployments`]); // no ConfigMap, no HPA
    // biome-ignore lint/suspicious/noExplicitAny: shape checked below
    const d = api.requests[0]!.body as any;
    expect(d.spec.replicas).toBe(2);
    const pod = d.spec.template;
    expect(pod.metadata).toEqual({
      labels: { app: `transformer-${ID}` },
      annotations: { "example.org/a": "b" },
    });
    expect(pod.spec.volumes).toEqual([
      { name: "sidecar-volume", emptyDir: {} },
      { name: "rootfiles", hostPath: { path: "/data/root" } },
      { name: "posix-volume", persistentVolumeClaim: { claimName: "results-pvc" } },
      { name: "cvmfs", hostPath: { path: "/cvmfs" } },
    ]);
    expect(pod.spec.priorityClassName).toBe("transformers");
    expect(pod.spec.nodeSelector).toEqual({ pool: "transformers" });
    expect(pod.spec.tolerations).toHaveLength(1);
    expect(pod.spec.affinity).toEqual({ nodeAffinity: {} });
    const [sidecar, science] = pod.spec.containers;
    expect(sidecar.volumeMounts).toEqual([
      { name: "sidecar-volume", mountPath: "/servicex/output" },
      { name: "rootfiles", mountPath: "/data" },
      { name: "posix-volume", mountPath: "/posix_volume" },
      { name: "cvmfs", mountPath: "/cvmfs", readOnly: true, mountPropagation: "HostToContainer" },
    ]);
    expect(sidecar.resources).toEqual({
      limits: { cpu: 1, memory: "4Gi" },
      requests: { cpu: "500m", memory: "2Gi" },
    });
    expect(sidecar.args[0]).toMatch(
      /--result-destination volume --result-format parquet --output-dir \/posix_volume\/output\/$/,
    );
    expect(science.args[0]).toBe(
      " cp /generated/transformer_capabilities.json /servicex/output && PYTHONPATH=/generated:$PYTHONPATH " +
        `bash /servicex/output/scripts/watch.sh python /generated/transform_single_file.py /servicex/output/${ID}`,
    );
    const env = Object.fromEntries(
      (sidecar.env as Array<{ name: string; value?: string }>).map((e) => [e.name, e.value]),
    );
    expect(env).toMatchObject({
      LOG_LEVEL: "DEBUG",
      LOGSTASH_HOST: "logstash.example",
      LOGSTASH_PORT: "5959",
      CACHE_PREFIX: "root://xcache.example//",
    });
    expect(env).not.toHaveProperty("MINIO_URL"); // only for object-store
  });
});
