// The Kubernetes objects of a request (src/adapters/launcher/kubernetes.manifests.ts) as pure functions, against golden
// JSON (test/fixtures/golden-kubernetes-objects.json): upstream's captured objects, and the App's own objects for the
// settings the capture does not exercise (its `app_objects` section). No API server: the launcher's calls, retries
// and cleanup are tested in test/integration/kubernetes.launcher.test.ts.
import { readFileSync } from "node:fs";
import { zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import {
  CONFIGMAP_MAX_BYTES,
  KubernetesLaunchError,
  type TransformerManifestOptions,
  autoscales,
  configMapManifest,
  configMapName,
  deploymentManifest,
  hpaManifest,
  transformerName,
} from "../../src/adapters/launcher/kubernetes.manifests.js";
import type { LaunchSpec } from "../../src/domain/ports.js";

type Json = Record<string, unknown>;
interface Golden {
  config: Json;
  configmap: { body: { binaryData: Record<string, string>; metadata: { name: string } } & Json };
  deployment: { body: Json };
  hpa: { body: { spec: Json } & Json };
  app_objects: {
    request: Omit<LaunchSpec, "generatedCode">;
    cases: Array<{
      name: string;
      config: Json;
      request: Partial<LaunchSpec>;
      deployment: Json;
      hpa: Json | null;
    }>;
  };
}

const golden = JSON.parse(
  readFileSync(new URL("../fixtures/golden-kubernetes-objects.json", import.meta.url), "utf8"),
) as Golden;

/** The fixture names settings as the App's configuration does; these are the options they become. */
const OPTION_OF_SETTING: Record<string, keyof TransformerManifestOptions> = {
  TRANSFORMER_NAMESPACE: "namespace",
  TRANSFORMER_AUTOSCALE_ENABLED: "autoscaleEnabled",
  TRANSFORMER_MIN_REPLICAS: "minReplicas",
  TRANSFORMER_MAX_REPLICAS: "maxReplicas",
  TRANSFORMER_CPU_SCALE_THRESHOLD: "cpuScaleThreshold",
  TRANSFORMER_CPU_LIMIT: "cpuLimit",
  TRANSFORMER_MEMORY_LIMIT: "memoryLimit",
  TRANSFORMER_CPU_REQUEST: "cpuRequest",
  TRANSFORMER_MEMORY_REQUEST: "memoryRequest",
  TRANSFORMER_SIDECAR_IMAGE: "sidecarImage",
  TRANSFORMER_SIDECAR_PULL_POLICY: "sidecarPullPolicy",
  TRANSFORMER_SCIENCE_IMAGE_PULL_POLICY: "sciencePullPolicy",
  TRANSFORMER_SIDECAR_VOLUME_PATH: "sidecarVolumePath",
  TRANSFORMER_X509_SECRET: "x509Secret",
  TRANSFORMER_LOCAL_PATH: "localPath",
  TRANSFORMER_PERSISTENCE_PROVIDED_CLAIM: "persistenceClaim",
  TRANSFORMER_PERSISTENCE_SUBDIR: "persistenceSubdir",
  TRANSFORMER_PRIORITY_CLASS: "priorityClass",
  TRANSFORMER_CACHE_PREFIX: "cachePrefix",
  TRANSFORMER_CVMFS_VOLUME: "cvmfsVolume",
  TRANSFORMER_POD_ANNOTATIONS: "podAnnotations",
  TRANSFORMER_POD_LABELS: "podLabels",
  TRANSFORMER_NODE_SELECTOR: "nodeSelector",
  TRANSFORMER_TOLERATIONS: "tolerations",
  TRANSFORMER_AFFINITY: "affinity",
  TRANSFORMER_RABBIT_MQ_URL: "transformerRabbitUrl",
  MINIO_URL_TRANSFORMER: "minioUrl",
  MINIO_ACCESS_KEY: "minioAccessKey",
  MINIO_SECRET_KEY: "minioSecretKey",
  MINIO_ENCRYPT: "minioEncrypt",
  INSTANCE_NAME: "instanceName",
  LOG_LEVEL: "logLevel",
  LOGSTASH_HOST: "logstashHost",
  LOGSTASH_PORT: "logstashPort",
};

/** Settings → options; keys with a space are the capture's notes ("LOG_LEVEL (process env)": unset). */
function optionsFrom(...settings: Json[]): TransformerManifestOptions {
  const options: Json = {};
  for (const [setting, value] of settings.flatMap((s) => Object.entries(s))) {
    if (setting.includes(" ")) continue;
    const option = OPTION_OF_SETTING[setting];
    if (!option) throw new Error(`the fixture names a setting this test does not map: ${setting}`);
    options[option] = value;
  }
  return options as unknown as TransformerManifestOptions;
}

/** The code generator's zip, rebuilt from the captured ConfigMap's binaryData. */
function capturedZip(): Buffer {
  const files: Record<string, Uint8Array> = {};
  for (const [name, b64] of Object.entries(golden.configmap.body.binaryData)) {
    files[name] = new Uint8Array(Buffer.from(b64, "base64"));
  }
  return Buffer.from(zipSync(files));
}

const OPTIONS = optionsFrom(golden.config);
const REQUEST = golden.app_objects.request;
const ID = REQUEST.requestId;

/** The captured 3-file request, with its generated code, and the given changes. */
function request(changes: Partial<LaunchSpec> = {}): LaunchSpec {
  const generatedCode = {
    image: REQUEST.image,
    language: REQUEST.transformerLanguage ?? "python",
    command: REQUEST.transformerCommand ?? "",
    zip: capturedZip(),
  };
  return { ...REQUEST, generatedCode, ...changes };
}

/** What the launcher sends for `spec`, in the order it sends it (null: not sent). */
function objectsFor(o: TransformerManifestOptions, spec: LaunchSpec) {
  const configMap = spec.generatedCode ? configMapManifest(o, spec.requestId, spec.generatedCode.zip) : null;
  return {
    configMap,
    deployment: deploymentManifest(o, spec, configMap !== null),
    hpa: autoscales(o) ? hpaManifest(o, spec) : null,
  };
}

describe("When the captured settings and request are given, then the objects are upstream's", () => {
  it("the ConfigMap, the Deployment and the HPA field by field (the HPA maximum capped by the 3 files)", () => {
    const { configMap, deployment, hpa } = objectsFor(OPTIONS, request());
    expect(configMap).toEqual(golden.configmap.body);
    const g = golden.deployment.body;
    for (const key of Object.keys(g)) expect((deployment as Json)[key], key).toEqual(g[key]);
    expect(deployment).toEqual(g);
    // Kept difference (docs/decisions.md D30): the capture's older upstream sent the configured maximum, 5.
    expect(golden.hpa.body.spec.maxReplicas).toBe(5);
    expect(hpa).toEqual({ ...golden.hpa.body, spec: { ...golden.hpa.body.spec, maxReplicas: 3 } });
  });

  it("the HPA is exactly upstream's while the file count is not known yet", () => {
    expect(hpaManifest(OPTIONS, request({ files: 0 }))).toEqual(golden.hpa.body);
  });

  it("the names are the ones upstream's RBAC and reaper expect", () => {
    const named = (o: Json) => (o.metadata as { name: string }).name;
    expect(transformerName(ID)).toBe(named(golden.deployment.body));
    expect(transformerName(ID)).toBe(named(golden.hpa.body));
    expect(configMapName(ID)).toBe(named(golden.configmap.body));
  });
});

describe("When settings differ from the capture, then the objects are the App's recorded ones", () => {
  for (const c of golden.app_objects.cases) {
    it(c.name, () => {
      const spec = request(c.request);
      const { configMap, deployment, hpa } = objectsFor(optionsFrom(golden.config, c.config), spec);
      expect(configMap === null).toBe(c.request.generatedCode === null);
      expect(deployment).toEqual(c.deployment);
      expect(hpa).toEqual(c.hpa);
    });
  }
});

describe("When the request's size varies, then replicas and HPA bounds follow it", () => {
  const hpaBounds = (o: Partial<TransformerManifestOptions>, files: number) => {
    const { spec } = hpaManifest({ ...OPTIONS, ...o }, request({ files }));
    return [spec?.minReplicas, spec?.maxReplicas];
  };

  it("the HPA bounds are capped by the file count once known, never below one", () => {
    expect(hpaBounds({ minReplicas: 1, maxReplicas: 5 }, 0)).toEqual([1, 5]);
    expect(hpaBounds({ minReplicas: 1, maxReplicas: 5 }, 1)).toEqual([1, 1]);
    expect(hpaBounds({ minReplicas: 2, maxReplicas: 5 }, 3)).toEqual([2, 3]);
    expect(hpaBounds({ minReplicas: 4, maxReplicas: 5 }, 3)).toEqual([3, 3]);
    expect(hpaBounds({ minReplicas: 1, maxReplicas: 5 }, 100)).toEqual([1, 5]);
    expect(hpaBounds({ minReplicas: undefined, maxReplicas: undefined }, 0)).toEqual([1, 20]);
  });

  it("without autoscaling the Deployment runs min(max(1, files), workers) replicas; with it, the minimum", () => {
    const replicas = (o: Partial<TransformerManifestOptions>, files: number, workers: number) =>
      deploymentManifest({ ...OPTIONS, ...o }, request({ files, workers }), true).spec?.replicas;
    expect(replicas({ autoscaleEnabled: false }, 7, 2)).toBe(2);
    expect(replicas({ autoscaleEnabled: false }, 3, 20)).toBe(3);
    expect(replicas({ autoscaleEnabled: false }, 0, 20)).toBe(1);
    expect(replicas({ autoscaleEnabled: true, minReplicas: 4 }, 3, 20)).toBe(4);
    expect(replicas({ autoscaleEnabled: undefined, minReplicas: undefined }, 3, 20)).toBe(1);
    expect(autoscales({ ...OPTIONS, autoscaleEnabled: undefined })).toBe(true);
  });
});

describe("When the generated code cannot be a ConfigMap, then it is refused before any API call", () => {
  const refused = (zip: Buffer) => {
    try {
      configMapManifest(OPTIONS, ID, zip);
    } catch (err) {
      expect(err).toBeInstanceOf(KubernetesLaunchError);
      expect((err as KubernetesLaunchError).status).toBeNull();
      return (err as Error).message;
    }
    throw new Error("accepted");
  };

  it("a zip that is not one", () => {
    expect(refused(Buffer.from("not a zip"))).toMatch(/^Generated code is not a valid zip: /);
  });

  it("a file name that cannot be a ConfigMap key", () => {
    const zip = Buffer.from(zipSync({ "sub/dir.py": new Uint8Array([1]) }));
    expect(refused(zip)).toBe(
      "Generated code contains a file name that cannot be a ConfigMap key: 'sub/dir.py'",
    );
  });

  it("content over 1 MiB (key lengths plus raw bytes), while exactly 1 MiB is accepted", () => {
    const name = "generated_transformer.py";
    const bytes = (n: number) => new Uint8Array(n).map((_, i) => (i * 7919) % 251);
    const exact = Buffer.from(zipSync({ [name]: bytes(CONFIGMAP_MAX_BYTES - name.length) }));
    expect(Object.keys(configMapManifest(OPTIONS, ID, exact).binaryData ?? {})).toEqual([name]);
    const over = Buffer.from(zipSync({ [name]: bytes(CONFIGMAP_MAX_BYTES - name.length + 1) }));
    expect(refused(over)).toBe(
      `Generated code is too large for a Kubernetes ConfigMap: ${CONFIGMAP_MAX_BYTES + 1} bytes (limit ${CONFIGMAP_MAX_BYTES} bytes)`,
    );
  });

  it("directory entries are skipped, every file becomes one base64 entry", () => {
    const zip = Buffer.from(zipSync({ "dir/": new Uint8Array(0), "a.py": new Uint8Array([104, 105]) }));
    expect(configMapManifest(OPTIONS, ID, zip)).toEqual({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `${ID}-generated-source`, namespace: OPTIONS.namespace },
      binaryData: { "a.py": "aGk=" },
    });
  });
});
