// The Helm chart (helm/servicex-app) rendered without helm (test/helpers/helmRender.ts), every manifest
// validated against the Kubernetes schemas (kubernetes-models), and its behaviour checked against the App's
// own sources: the config keys src/config.ts reads, the Kubernetes calls the launcher makes, the routes the
// CronJobs call.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import {
  HelmRenderError,
  loadValues,
  type RenderedChart,
  type RenderedManifest,
  renderChart,
  renderString,
  type Values,
} from "../helpers/helmRender.js";

const ROOT = resolve(import.meta.dirname, "../..");
const CHART = join(ROOT, "helm/servicex-app");
const RELEASE = { name: "sx", namespace: "servicex-ns" };
const APP = `${RELEASE.name}-servicex-app`;
const INTERNAL_SVC = `${APP}-internal`;

// ---- what the App's sources say -----------------------------------------------------------------------

/** Keys of the zod object in src/config.ts (the module exports no list, so the file is parsed). */
function configKeys(): Set<string> {
  const text = readFileSync(join(ROOT, "src/config.ts"), "utf8");
  const start = text.indexOf("const Env = z");
  const end = text.indexOf(".superRefine(", start);
  if (start === -1 || end === -1) throw new Error("src/config.ts: the Env schema was not found");
  const keys = new Set(
    [...text.slice(start, end).matchAll(/^ {4}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1] as string),
  );
  for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)) keys.add(m[1] as string);
  return keys;
}

/** Upstream auth keys the chart sets with app.auth that src/config.ts may not read yet (identity work). */
const AUTH_KEYS = new Set([
  "JWT_ADMIN",
  "JWT_SECRET_KEY",
  "JWT_ACCESS_TOKEN_EXPIRES",
  "JWT_REFRESH_TOKEN_EXPIRES",
  "GLOBUS_CLIENT_ID",
  "GLOBUS_CLIENT_SECRET",
]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === "generated" ? [] : sourceFiles(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

const KIND_RESOURCE: Record<string, [group: string, resource: string]> = {
  ConfigMap: ["", "configmaps"],
  Deployment: ["apps", "deployments"],
  HorizontalPodAutoscaler: ["autoscaling", "horizontalpodautoscalers"],
  PersistentVolumeClaim: ["", "persistentvolumeclaims"],
  Pod: ["", "pods"],
  Secret: ["", "secrets"],
  Service: ["", "services"],
};
const METHOD_VERB: Record<string, string> = {
  create: "create",
  read: "get",
  list: "list",
  delete: "delete",
  deleteCollection: "deletecollection",
  patch: "patch",
  replace: "update",
};

/** Every (apiGroup, resource, verb) the App's Kubernetes client calls in src/ (client-node method names). */
function kubernetesPermissionsUsed(): { group: string; resource: string; verb: string; call: string }[] {
  const used = new Map<string, { group: string; resource: string; verb: string; call: string }>();
  for (const file of sourceFiles(join(ROOT, "src"))) {
    const text = readFileSync(file, "utf8");
    if (/\bnew Watch\(/.test(text)) throw new Error(`${file} uses a Watch: map it to the 'watch' verb here`);
    for (const m of text.matchAll(
      /\b(create|read|list|deleteCollection|delete|patch|replace)Namespaced([A-Z][A-Za-z]*?)(Status|Scale)?\(/g,
    )) {
      const [call, method, kind, sub] = m as unknown as [string, string, string, string | undefined];
      const target = KIND_RESOURCE[kind];
      if (!target) throw new Error(`${file}: ${call} on a kind this test does not map yet (${kind})`);
      const resource = sub ? `${target[1]}/${sub.toLowerCase()}` : target[1];
      const verb = METHOD_VERB[method] as string;
      used.set(`${target[0]}/${resource}/${verb}`, { group: target[0], resource, verb, call });
    }
  }
  return [...used.values()];
}

/** POST routes of the App (internal routes file), for the CronJobs' targets. */
function appPostRoutes(): Set<string> {
  const text = readFileSync(join(ROOT, "src/http/routes/internal.routes.ts"), "utf8");
  return new Set([...text.matchAll(/method: "post",\s*path: "([^"]+)"/g)].map((m) => m[1] as string));
}

// ---- manifests ------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;
type KubernetesModel = new (data: never) => { validate(): void };

const MODELS: Record<string, KubernetesModel> = {
  "apps/v1/Deployment": Deployment as unknown as KubernetesModel,
  "batch/v1/CronJob": CronJob as unknown as KubernetesModel,
  "networking.k8s.io/v1/Ingress": Ingress as unknown as KubernetesModel,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy as unknown as KubernetesModel,
  "rbac.authorization.k8s.io/v1/Role": Role as unknown as KubernetesModel,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding as unknown as KubernetesModel,
  "v1/ConfigMap": ConfigMap as unknown as KubernetesModel,
  "v1/Secret": Secret as unknown as KubernetesModel,
  "v1/Service": Service as unknown as KubernetesModel,
  "v1/ServiceAccount": ServiceAccount as unknown as KubernetesModel,
};
const TOP_LEVEL = new Set([
  "apiVersion",
  "kind",
  "metadata",
  "spec",
  "data",
  "type",
  "rules",
  "roleRef",
  "subjects",
  "automountServiceAccountToken",
]);
const DNS_1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Schema (kubernetes-models) plus the API server's name, label and env-name rules the schema lacks. */
function validate(m: RenderedManifest): void {
  const o = m.object;
  const model = MODELS[`${o.apiVersion}/${o.kind}`];
  if (!model) throw new Error(`${m.template}: no schema for ${o.apiVersion} ${o.kind}`);
  new model(o as never).validate();
  for (const key of Object.keys(o)) {
    if (!TOP_LEVEL.has(key)) throw new Error(`${m.template}: unknown top-level field ${key}`);
  }
  const meta = o.metadata as { name: string; labels?: Record<string, string> };
  const nameRule = o.kind === "Service" ? DNS_1035_LABEL : DNS_1123_SUBDOMAIN;
  if (!nameRule.test(meta.name) || meta.name.length > (o.kind === "CronJob" ? 52 : 63)) {
    throw new Error(`${m.template}: invalid name ${meta.name}`);
  }
  for (const labels of allLabelMaps(o)) {
    for (const v of Object.values(labels)) {
      if (!LABEL_VALUE.test(v) || v.length > 63) throw new Error(`${m.template}: invalid label value ${v}`);
    }
  }
  for (const c of containersOf(o)) {
    const names = (c.env ?? []).map((e) => e.name);
    for (const n of names) if (!ENV_NAME.test(n)) throw new Error(`${m.template}: invalid env name ${n}`);
    if (new Set(names).size !== names.length)
      throw new Error(`${m.template}: duplicate env names in ${c.name}`);
  }
}

function allLabelMaps(o: Obj): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  const visit = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if ((k === "labels" || k === "matchLabels" || k === "selector") && x && typeof x === "object") {
          const flat = Object.values(x).every((y) => typeof y === "string");
          if (flat) out.push(x as Record<string, string>);
        }
        visit(x);
      }
    }
  };
  visit(o);
  return out;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports?: { name: string; containerPort: number }[];
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  startupProbe?: { httpGet?: { path: string; port: string | number } };
}
interface PodSpec {
  containers: Container[];
  serviceAccountName?: string;
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: PodSpec;
}

function podTemplateOf(o: Obj): PodTemplate | null {
  const spec = (o.spec ?? {}) as Obj;
  if (o.kind === "Deployment") return spec.template as PodTemplate;
  if (o.kind === "CronJob") return ((spec.jobTemplate as Obj).spec as Obj).template as PodTemplate;
  return null;
}

function containersOf(o: Obj): Container[] {
  return podTemplateOf(o)?.spec.containers ?? [];
}

function find(r: RenderedChart, kind: string, name?: string): Obj | undefined {
  return r.manifests.find(
    (m) => m.object.kind === kind && (name === undefined || (m.object.metadata as Obj).name === name),
  )?.object;
}

function get(r: RenderedChart, kind: string, name?: string): Obj {
  const o = find(r, kind, name);
  if (!o) throw new Error(`no ${kind} ${name ?? ""} rendered`);
  return o;
}

function appContainer(r: RenderedChart): Container {
  return containersOf(get(r, "Deployment", APP))[0] as Container;
}

function envOf(c: Container): Map<string, EnvVar> {
  return new Map((c.env ?? []).map((e) => [e.name, e]));
}

/** The App container's environment as Kubernetes would give it (Secret and ConfigMap resolved). */
function resolvedEnv(r: RenderedChart, existing: Record<string, string> = {}): Record<string, string> {
  const c = appContainer(r);
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const cm = get(r, "ConfigMap", from.configMapRef?.name);
    Object.assign(env, cm.data);
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    const ref = e.valueFrom?.secretKeyRef;
    if (ref) {
      const secret = find(r, "Secret", ref.name);
      const data = (secret?.data ?? {}) as Record<string, string>;
      const v =
        data[ref.key] !== undefined
          ? Buffer.from(data[ref.key] as string, "base64").toString()
          : existing[ref.key];
      if (v !== undefined) env[e.name] = v;
      else if (!ref.optional) throw new Error(`env ${e.name}: Secret ${ref.name} has no key ${ref.key}`);
    }
  }
  return env;
}

const render = (overrides: Values = {}) => renderChart(CHART, RELEASE, overrides);

const SECRETS = {
  db: "postgresql://servicex:db-s3cret-pw@sx-postgresql:5432/servicex",
  rabbit: "amqp://user:rmq-s3cret-pw@sx-rabbitmq:5672/%2F",
  rabbitTransformer: "amqp://user:rmq-s3cret-pw@sx-rabbitmq:5672/%2F?heartbeat=9000",
  minioAccess: "minio-access-s3cret",
  minioSecret: "minio-secret-s3cret",
  jwt: "jwt-signing-s3cret",
  session: "session-cookie-s3cret",
  globus: "globus-client-s3cret",
};

/** Auth on, object store on, every CronJob off, most optional settings set. */
const FULL: Values = {
  app: {
    tag: "1.2.3",
    auth: true,
    adminEmail: "boss@example.org",
    globusClientID: "globus-client-id",
    globusClientSecret: SECRETS.globus,
    jwtSecretKey: SECRETS.jwt,
    secretKey: SECRETS.session,
    codeGenServiceURLs: { uproot: "http://sx-code-gen-uproot:8000" },
    codeGenImages: { uproot: "sslhep/servicex_code_gen_raw_uproot:develop" },
    extraConfig: { MAX_REQUEST_BODY: "128mb", FILE_COMPLETE_MAX_BATCH: 256 },
    extraEnv: [{ name: "DISPATCH_CHUNK", value: "2000" }],
    resources: { requests: { cpu: "500m", memory: "512Mi" } },
    nodeSelector: { pool: "services" },
  },
  database: { url: SECRETS.db },
  rabbitmq: { url: SECRETS.rabbit, transformerURL: SECRETS.rabbitTransformer },
  objectStore: {
    enabled: true,
    publicURL: "minio.example.org",
    useTLS: true,
    accessKey: SECRETS.minioAccess,
    secretKey: SECRETS.minioSecret,
  },
  transformer: {
    x509Secret: "sx-x509-proxy",
    cpuRequest: "500m",
    memoryLimit: "2Gi",
    nodeSelector: { pool: "transformers" },
    tolerations: [{ key: "dedicated", operator: "Equal", value: "transformers", effect: "NoSchedule" }],
    cvmfsVolume: { hostPath: { path: "/cvmfs" } },
  },
  logging: { logstashHost: "logstash.example.org", logstashPort: 5959 },
  dataLifecycle: { enabled: false, maxDesiredCacheSize: "500gb" },
  scheduledTasks: { datasetLifecycle: { enabled: false }, kubernetesCleanup: { enabled: false } },
};

const VARIANTS: [string, Values][] = [
  ["default values", {}],
  ["auth, object store and every optional setting on, CronJobs off", FULL],
  ["every CronJob on", { dataLifecycle: { enabled: true } }],
  [
    "an existing Secret, no RBAC, no ServiceAccount",
    {
      secrets: { existingSecret: "my-creds" },
      rbacEnabled: false,
      serviceAccount: { create: false, name: "custom-sa" },
    },
  ],
];

// ---- tests -----------------------------------------------------------------------------------------------

describe("Helm chart helm/servicex-app", () => {
  describe.each(VARIANTS)("with %s", (_label, overrides) => {
    const r = render(overrides);

    it("When rendered, then every manifest passes the Kubernetes schema and name/label/env rules", () => {
      expect(r.manifests.length).toBeGreaterThanOrEqual(3);
      for (const m of r.manifests) expect(() => validate(m), m.template).not.toThrow();
    });

    it("When rendered, then the App's environment is accepted by src/config.ts and selects the in-cluster launcher", () => {
      const env = resolvedEnv(r, { DATABASE_URL: SECRETS.db, RABBIT_MQ_URL: SECRETS.rabbit });
      const config = loadConfig(env);
      expect(config.launcherMode).toBe("internal-kubernetes");
      expect(config.TRANSFORMER_NAMESPACE).toBe(RELEASE.namespace);
      expect(config.PORT).toBe(5000);
      expect(config.advertisedHostname).toBe(`${APP}:8000`);
      expect(config.INTERNAL_PORT).toBe(5001);
      expect(config.internalAdvertisedHostname).toBe(`${INTERNAL_SVC}:8001`);
    });

    it("When rendered, then every env name of the App is a key src/config.ts reads (auth keys: upstream names)", () => {
      const keys = configKeys();
      const c = appContainer(r);
      const names = [...(c.env ?? []).map((e) => e.name)];
      for (const from of c.envFrom ?? []) {
        names.push(...Object.keys(get(r, "ConfigMap", from.configMapRef?.name).data as Obj));
      }
      const unknown = names.filter((n) => !keys.has(n) && !AUTH_KEYS.has(n));
      expect(unknown).toEqual([]);
    });

    it("When rendered, then credentials reach the App only through secretKeyRef", () => {
      const sensitive = /(^|_)(URL|URI)$|SECRET|PASSWORD|ACCESS_KEY|_KEY$/;
      const plainOk = new Set([
        "ADVERTISED_HOSTNAME",
        "INTERNAL_ADVERTISED_HOSTNAME",
        "MINIO_URL",
        "MINIO_URL_TRANSFORMER",
        "MINIO_PUBLIC_URL",
        "CODE_GEN_SERVICE_URLS",
        "LOGS_URL",
        "TRANSFORMER_X509_SECRET", // the name of a Secret, not its content
      ]);
      for (const e of appContainer(r).env ?? []) {
        if (sensitive.test(e.name) && !plainOk.has(e.name)) {
          expect(e.value, e.name).toBeUndefined();
          expect(e.valueFrom?.secretKeyRef, e.name).toBeDefined();
        }
      }
      // No credential given in values appears outside the Secret (base64 there).
      for (const [file, text] of r.files) {
        if (file.endsWith("secret.yaml")) continue;
        for (const s of Object.values(SECRETS)) expect(text, file).not.toContain(s.split("@")[0]);
      }
    });
  });

  describe("with default values", () => {
    const r = render();
    const env = envOf(appContainer(r));

    it("When rendered, then the App listens on 5000 behind a Service on 8000 named <release>-servicex-app", () => {
      const c = appContainer(r);
      expect(c.ports).toEqual([
        { name: "http", containerPort: 5000, protocol: "TCP" },
        { name: "internal", containerPort: 5001, protocol: "TCP" },
      ]);
      const svc = get(r, "Service", APP).spec as { ports: Obj[]; selector: Record<string, string> };
      expect(svc.ports).toEqual([{ name: "http", port: 8000, targetPort: "http", protocol: "TCP" }]);
      const podLabels = podTemplateOf(get(r, "Deployment", APP))?.metadata.labels ?? {};
      for (const [k, v] of Object.entries(svc.selector)) expect(podLabels[k]).toBe(v);
    });

    it("When rendered, then liveness probes /healthz and readiness probes /readyz, routes the App serves", () => {
      const c = appContainer(r);
      expect(c.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "http" });
      expect(c.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "http" });
      expect(c.startupProbe?.httpGet).toEqual({ path: "/healthz", port: "http" });
      const ops = readFileSync(join(ROOT, "src/http/routes/ops.routes.ts"), "utf8");
      // Declared with op() (method "get", the path) in the routes file.
      expect(ops).toMatch(/method: "get",\s+path: "\/healthz"/);
      expect(ops).toMatch(/method: "get",\s+path: "\/readyz"/);
    });

    it("When rendered, then the transformer manager is on, in-cluster, in the release namespace, with upstream's helm defaults", () => {
      expect(env.get("TRANSFORMER_MANAGER_ENABLED")?.value).toBe("true");
      expect(env.get("TRANSFORMER_MANAGER_MODE")?.value).toBe("internal-kubernetes");
      expect(env.get("TRANSFORMER_NAMESPACE")?.value).toBe(RELEASE.namespace);
      expect(env.get("TRANSFORMER_AUTOSCALE_ENABLED")?.value).toBe("true");
      expect(env.get("TRANSFORMER_CPU_SCALE_THRESHOLD")?.value).toBe("30");
      expect(env.get("TRANSFORMER_SIDECAR_IMAGE")?.value).toBe("sslhep/servicex_sidecar_transformer:develop");
      expect(env.get("ENABLE_AUTH")?.value).toBe("false");
      expect(env.get("OBJECT_STORE_ENABLED")?.value).toBe("false");
      expect(env.has("MINIO_URL")).toBe(false);
      expect(env.has("JWT_SECRET_KEY")).toBe(false);
      expect(find(r, "ConfigMap")).toBeUndefined();
    });

    it("When rendered, then the Deployment runs as the ServiceAccount the RoleBinding binds to the Role", () => {
      const pod = podTemplateOf(get(r, "Deployment", APP)) as PodTemplate;
      const sa = get(r, "ServiceAccount").metadata as Obj;
      expect(pod.spec.serviceAccountName).toBe(sa.name);
      const binding = get(r, "RoleBinding");
      expect(binding.subjects).toEqual([
        { kind: "ServiceAccount", name: sa.name, namespace: RELEASE.namespace },
      ]);
      const role = get(r, "Role");
      expect(binding.roleRef).toEqual({
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: (role.metadata as Obj).name,
      });
      expect((role.metadata as Obj).namespace).toBe(RELEASE.namespace);
    });

    it("When the Role is rendered, then it covers every Kubernetes call the App's launcher and reaper make", () => {
      const used = kubernetesPermissionsUsed();
      // The launcher creates, lists and deletes its three kinds and checks the PVC (sanity of the derivation).
      expect(used.map((u) => `${u.verb} ${u.resource}`)).toEqual(
        expect.arrayContaining([
          "create configmaps",
          "create deployments",
          "create horizontalpodautoscalers",
          "delete deployments",
          "list deployments",
          "list persistentvolumeclaims",
        ]),
      );
      const rules = get(r, "Role").rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
      for (const u of used) {
        const granted = rules.some(
          (rule) =>
            rule.apiGroups.includes(u.group) &&
            rule.resources.includes(u.resource) &&
            rule.verbs.includes(u.verb),
        );
        expect(granted, `${u.call} needs ${u.verb} on ${u.group || "core"}/${u.resource}`).toBe(true);
      }
    });

    it("When the Role is rendered, then it grants exactly the transformer manager's needs (no wildcards, no secrets)", () => {
      const rules = get(r, "Role").rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
      const granted = rules.flatMap((rule) =>
        rule.apiGroups.flatMap((g) =>
          rule.resources.flatMap((res) => rule.verbs.map((v) => `${g}/${res}:${v}`)),
        ),
      );
      expect(granted.sort()).toEqual(
        [
          "apps/deployments:create",
          "apps/deployments:get",
          "apps/deployments:list",
          "apps/deployments:delete",
          "apps/deployments:watch",
          "autoscaling/horizontalpodautoscalers:create",
          "autoscaling/horizontalpodautoscalers:get",
          "autoscaling/horizontalpodautoscalers:list",
          "autoscaling/horizontalpodautoscalers:delete",
          "/configmaps:create",
          "/configmaps:get",
          "/configmaps:list",
          "/configmaps:delete",
          "/persistentvolumeclaims:get",
          "/persistentvolumeclaims:list",
          "/pods:get",
          "/pods:list",
        ].sort(),
      );
    });

    it("When rendered, then dataset-lifecycle (hourly) and kubernetes-cleanup (daily) CronJobs run and data-lifecycle does not", () => {
      const crons = r.manifests.filter((m) => m.object.kind === "CronJob").map((m) => m.object);
      expect(crons.map((c) => (c.metadata as Obj).name).sort()).toEqual([
        `${APP}-dataset-lifecycle`,
        `${APP}-kubernetes-cleanup`,
      ]);
      expect((get(r, "CronJob", `${APP}-dataset-lifecycle`).spec as Obj).schedule).toBe("0 * * * *");
      expect((get(r, "CronJob", `${APP}-kubernetes-cleanup`).spec as Obj).schedule).toBe("0 0 * * *");
    });

    it("When the CronJobs run, then each POSTs to an App route on the App's internal Service, and their pods are not Service endpoints", () => {
      const routes = appPostRoutes();
      const svc = get(r, "Service", APP).spec as { selector: Record<string, string> };
      const cronR = render({ dataLifecycle: { enabled: true } });
      const expected: Record<string, string> = {
        [`${APP}-data-lifecycle`]: "/servicex/internal/data-lifecycle",
        [`${APP}-dataset-lifecycle`]: "/servicex/internal/dataset-lifecycle",
        [`${APP}-kubernetes-cleanup`]: "/servicex/internal/kubernetes-cleanup",
      };
      for (const [name, path] of Object.entries(expected)) {
        expect(routes.has(path), `${path} is a POST route of the App`).toBe(true);
        const cron = get(cronR, "CronJob", name);
        const c = containersOf(cron)[0] as Container;
        const text = [...(c.command ?? []), ...(c.env ?? []).map((e) => e.value ?? "")].join(" ");
        expect(text).toMatch(/-X POST/);
        expect(text).toContain(path);
        expect(text).toContain(`http://${INTERNAL_SVC}:8001`);
        const labels = podTemplateOf(cron)?.metadata.labels ?? {};
        const selected = Object.entries(svc.selector).every(([k, v]) => labels[k] === v);
        expect(selected, `${name} pods selected by the App Service`).toBe(false);
        expect((cron.spec as Obj).concurrencyPolicy).toBe("Forbid");
      }
      const cleanup = containersOf(get(cronR, "CronJob", `${APP}-kubernetes-cleanup`))[0] as Container;
      const cmd = cleanup.command ?? [];
      expect(JSON.parse(cmd[cmd.indexOf("--data") + 1] as string)).toEqual({ maxAge: 24 });
      expect(cmd).toContain("Content-Type: application/json");
      const dataset = containersOf(get(cronR, "CronJob", `${APP}-dataset-lifecycle`))[0] as Container;
      expect(dataset.command?.at(-1)).toBe(
        `http://${INTERNAL_SVC}:8001/servicex/internal/dataset-lifecycle?age=24`,
      );
    });
  });

  describe("internal port, NetworkPolicy and Ingress", () => {
    type Selector = {
      matchLabels?: Record<string, string>;
      matchExpressions?: { key: string; operator: string; values?: string[] }[];
    };
    type Peer = { podSelector?: Selector; namespaceSelector?: Selector };
    type Rule = { ports: { port: string | number; protocol: string }[]; from?: Peer[] };

    /** Whether a label selector selects these labels (the operators a NetworkPolicy may use). */
    function selects(sel: Selector, labels: Record<string, string>): boolean {
      for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
      for (const e of sel.matchExpressions ?? []) {
        const has = e.key in labels;
        const inValues = has && (e.values ?? []).includes(labels[e.key] as string);
        const ok =
          e.operator === "In"
            ? inValues
            : e.operator === "NotIn"
              ? !inValues
              : e.operator === "Exists"
                ? has
                : !has;
        if (!ok) return false;
      }
      return true;
    }

    /** Whether a pod of the release namespace with these labels may reach the App's port `port`. */
    function admitted(policy: Obj, port: string, labels: Record<string, string>): boolean {
      const rules = (policy.spec as { ingress: Rule[] }).ingress;
      return rules.some(
        (rule) =>
          rule.ports.some((p) => p.port === port) &&
          (rule.from === undefined ||
            rule.from.some(
              (peer) => !peer.namespaceSelector && peer.podSelector && selects(peer.podSelector, labels),
            )),
      );
    }

    const r = render({ dataLifecycle: { enabled: true } });
    const policy = get(r, "NetworkPolicy", APP);
    const appLabels = podTemplateOf(get(r, "Deployment", APP))?.metadata.labels ?? {};

    it("When rendered, then the public Service exposes only the public port and a second ClusterIP Service only the internal port", () => {
      const pub = get(r, "Service", APP).spec as { ports: Obj[]; selector: Record<string, string> };
      const internal = get(r, "Service", INTERNAL_SVC).spec as {
        type: string;
        ports: Obj[];
        selector: Record<string, string>;
      };
      expect(pub.ports).toEqual([{ name: "http", port: 8000, targetPort: "http", protocol: "TCP" }]);
      expect(internal.type).toBe("ClusterIP");
      expect(internal.ports).toEqual([
        { name: "internal", port: 8001, targetPort: "internal", protocol: "TCP" },
      ]);
      expect(internal.selector).toEqual(pub.selector);
      const env = resolvedEnv(r, { DATABASE_URL: SECRETS.db, RABBIT_MQ_URL: SECRETS.rabbit });
      const config = loadConfig(env);
      expect(appContainer(r).ports?.find((p) => p.name === "internal")?.containerPort).toBe(
        config.INTERNAL_PORT,
      );
    });

    it("When rendered, then the NetworkPolicy applies to the App's pods and leaves the public port open to everyone", () => {
      const spec = policy.spec as { podSelector: Selector; policyTypes: string[] };
      expect(selects(spec.podSelector, appLabels)).toBe(true);
      expect(spec.policyTypes).toEqual(["Ingress"]);
      expect(admitted(policy, "http", {})).toBe(true);
      expect(admitted(policy, "http", { app: "anything" })).toBe(true);
    });

    it("When rendered, then the internal port admits the App's transformer pods, upstream's DID finders and the CronJobs, and nobody else", () => {
      const config = loadConfig(resolvedEnv(r, { DATABASE_URL: SECRETS.db, RABBIT_MQ_URL: SECRETS.rabbit }));
      // The labels the launcher puts on transformer pods: TRANSFORMER_POD_LABELS plus app=transformer-<id>.
      const transformer = { ...config.TRANSFORMER_POD_LABELS, app: "transformer-0b1c2d3e" };
      expect(config.TRANSFORMER_POD_LABELS).toEqual({
        "app.kubernetes.io/component": "transformer",
        "app.kubernetes.io/instance": RELEASE.name,
      });
      expect(admitted(policy, "internal", transformer)).toBe(true);
      for (const scheme of ["rucio", "cernopendata", "xrootd"]) {
        expect(admitted(policy, "internal", { app: `${RELEASE.name}-did-finder-${scheme}` }), scheme).toBe(
          true,
        );
      }
      for (const m of r.manifests.filter((x) => x.object.kind === "CronJob")) {
        const labels = podTemplateOf(m.object)?.metadata.labels ?? {};
        expect(admitted(policy, "internal", labels), m.template).toBe(true);
      }
      expect(admitted(policy, "internal", {})).toBe(false);
      expect(admitted(policy, "internal", appLabels)).toBe(false);
      expect(admitted(policy, "internal", { app: "transformer-0b1c2d3e" })).toBe(false);
      expect(admitted(policy, "internal", { ...transformer, "app.kubernetes.io/instance": "other" })).toBe(
        false,
      );
      expect(admitted(policy, "internal", { app: "other-did-finder-rucio" })).toBe(false);
    });

    it("When DID-finder pod labels are given, then the internal port admits those instead of upstream's", () => {
      const custom = render({
        networkPolicy: {
          didFinderPodLabels: [{ "app.kubernetes.io/name": "did-finder-rucio", tier: "finder" }],
        },
      });
      const p = get(custom, "NetworkPolicy", APP);
      expect(() => validate(custom.manifests.find((m) => m.object.kind === "NetworkPolicy")!)).not.toThrow();
      expect(admitted(p, "internal", { "app.kubernetes.io/name": "did-finder-rucio", tier: "finder" })).toBe(
        true,
      );
      expect(admitted(p, "internal", { app: `${RELEASE.name}-did-finder-rucio` })).toBe(false);
    });

    it("When the Ingress is enabled, then it routes only to the public Service's http port", () => {
      const withIngress = render({
        app: {
          ingress: { enabled: true, className: "nginx", tlsSecretName: "sx-tls", host: "sx.example.org" },
        },
      });
      for (const m of withIngress.manifests) expect(() => validate(m), m.template).not.toThrow();
      const ing = get(withIngress, "Ingress", APP).spec as {
        ingressClassName: string;
        rules: { host: string; http: { paths: { backend: { service: { name: string; port: Obj } } }[] } }[];
      };
      expect(ing.ingressClassName).toBe("nginx");
      const backends = ing.rules.flatMap((rule) => rule.http.paths.map((p) => p.backend.service));
      expect(backends).toEqual([{ name: APP, port: { name: "http" } }]);
      expect(find(r, "Ingress")).toBeUndefined();
    });

    it("When app.internal.enabled is false, then one port serves everything as upstream: no internal Service, no NetworkPolicy, callbacks on the public Service", () => {
      const one = render({ app: { internal: { enabled: false } }, dataLifecycle: { enabled: true } });
      for (const m of one.manifests) expect(() => validate(m), m.template).not.toThrow();
      expect(find(one, "Service", INTERNAL_SVC)).toBeUndefined();
      expect(find(one, "NetworkPolicy")).toBeUndefined();
      const config = loadConfig(
        resolvedEnv(one, { DATABASE_URL: SECRETS.db, RABBIT_MQ_URL: SECRETS.rabbit }),
      );
      expect(config.INTERNAL_PORT).toBeUndefined();
      expect(config.internalAdvertisedHostname).toBe(`${APP}:8000`);
      const cron = containersOf(get(one, "CronJob", `${APP}-data-lifecycle`))[0] as Container;
      expect(cron.env?.find((e) => e.name === "APP_URL")?.value).toBe(`http://${APP}:8000`);
    });
  });

  describe("data-lifecycle CronJob", () => {
    const r = render({ dataLifecycle: { enabled: true, retention: "2h" } });
    const cron = get(r, "CronJob", `${APP}-data-lifecycle`);
    const c = containersOf(cron)[0] as Container;
    const script = c.command?.[2] as string;
    const containerEnv = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value as string]));

    /** Runs the job's script with a stand-in curl that prints its arguments. */
    function runScript(retention: string): { status: number; out: string; err: string } {
      const dir = mkdtempSync(join(tmpdir(), "helm-cron-"));
      const fakeCurl = join(dir, "curl");
      writeFileSync(fakeCurl, '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n');
      chmodSync(fakeCurl, 0o755);
      try {
        const out = execFileSync("/bin/sh", ["-c", script], {
          env: { ...containerEnv, RETENTION: retention, PATH: `${dir}:${process.env.PATH}` },
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        });
        return { status: 0, out, err: "" };
      } catch (e) {
        const x = e as { status: number; stdout: string; stderr: string };
        return { status: x.status, out: x.stdout, err: x.stderr };
      }
    }

    it("When enabled, then it runs on upstream's default schedule with the retention from values", () => {
      expect((cron.spec as Obj).schedule).toBe("* */8 * * *");
      expect(containerEnv.RETENTION).toBe("2h");
      expect(containerEnv.APP_URL).toBe(`http://${INTERNAL_SVC}:8001`);
      expect(c.command?.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
    });

    it("When the job runs, then it POSTs data-lifecycle with cutoff_timestamp = now - retention (UTC, no zone)", () => {
      const before = Date.now();
      const { status, out } = runScript("2h");
      expect(status).toBe(0);
      const url = out
        .trim()
        .split("\n")
        .find((l) => l.startsWith("http://")) as string;
      const m =
        /^http:\/\/sx-servicex-app-internal:8001\/servicex\/internal\/data-lifecycle\?cutoff_timestamp=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)$/.exec(
          url,
        );
      expect(m, url).not.toBeNull();
      const cutoff = Date.parse(`${m?.[1]}Z`);
      expect(Math.abs(cutoff - (before - 2 * 3600_000))).toBeLessThan(60_000);
      expect(out).toContain("POST");
      const days = runScript("30d").out.match(/cutoff_timestamp=(\S+)/)?.[1];
      expect(Math.abs(Date.parse(`${days}Z`) - (before - 30 * 86400_000))).toBeLessThan(60_000);
    });

    it("When the retention has no unit, then the job fails without calling the App", () => {
      const { status, out, err } = runScript("7 days ago");
      expect(status).toBe(2);
      expect(out).not.toContain("http://");
      expect(err).toMatch(/retention must be a number with unit/);
    });
  });

  describe("with auth, object store and optional settings on, CronJobs off", () => {
    const r = render(FULL);
    const env = envOf(appContainer(r));
    const secretData = (get(r, "Secret", APP).data ?? {}) as Record<string, string>;
    const decoded = Object.fromEntries(
      Object.entries(secretData).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
    );

    it("When rendered, then no CronJob is rendered", () => {
      expect(r.manifests.filter((m) => m.object.kind === "CronJob")).toEqual([]);
    });

    it("When rendered, then the chart's Secret holds the credentials and the env refers to it", () => {
      expect(decoded).toEqual({
        DATABASE_URL: SECRETS.db,
        RABBIT_MQ_URL: SECRETS.rabbit,
        TRANSFORMER_RABBIT_MQ_URL: SECRETS.rabbitTransformer,
        MINIO_ACCESS_KEY: SECRETS.minioAccess,
        MINIO_SECRET_KEY: SECRETS.minioSecret,
        JWT_SECRET_KEY: SECRETS.jwt,
        SECRET_KEY: SECRETS.session,
        GLOBUS_CLIENT_SECRET: SECRETS.globus,
      });
      for (const name of [
        "DATABASE_URL",
        "RABBIT_MQ_URL",
        "MINIO_SECRET_KEY",
        "JWT_SECRET_KEY",
        "SECRET_KEY",
      ]) {
        expect(env.get(name)?.valueFrom?.secretKeyRef?.name, name).toBe(APP);
      }
      // The signing key is not optional: without it an auth-enabled App must not start.
      expect(env.get("JWT_SECRET_KEY")?.valueFrom?.secretKeyRef?.optional).toBeUndefined();
    });

    it("When rendered, then auth and object store settings reach the App as upstream's keys", () => {
      const config = loadConfig(resolvedEnv(r));
      expect(config.ENABLE_AUTH).toBe(true);
      expect(config.OBJECT_STORE_ENABLED).toBe(true);
      expect(config.MINIO_URL).toBe("sx-minio:9000");
      expect(config.MINIO_PUBLIC_URL).toBe("minio.example.org");
      expect(config.MINIO_ENCRYPT).toBe(true);
      expect(config.MINIO_ACCESS_KEY).toBe(SECRETS.minioAccess);
      expect(config.databaseUrl).toBe(SECRETS.db);
      expect(config.rabbitUrls).toEqual([SECRETS.rabbit]);
      expect(config.TRANSFORMER_RABBIT_MQ_URL).toBe(SECRETS.rabbitTransformer);
      expect(config.CODE_GEN_SERVICE_URLS).toEqual({ uproot: "http://sx-code-gen-uproot:8000" });
      expect(config.TRANSFORMER_NODE_SELECTOR).toEqual({ pool: "transformers" });
      expect(config.TRANSFORMER_TOLERATIONS).toEqual([
        { key: "dedicated", operator: "Equal", value: "transformers", effect: "NoSchedule" },
      ]);
      expect(config.TRANSFORMER_CVMFS_VOLUME).toEqual({ hostPath: { path: "/cvmfs" } });
      expect(config.TRANSFORMER_X509_SECRET).toBe("sx-x509-proxy");
      expect(config.MAX_DESIRED_TRANSFORM_CACHE_SIZE).toBe(500e9);
      expect(config.MAX_REQUEST_BODY).toBe("128mb");
      expect(config.FILE_COMPLETE_MAX_BATCH).toBe(256);
      expect(config.DISPATCH_CHUNK).toBe(2000);
      expect(env.get("JWT_ADMIN")?.value).toBe("boss@example.org");
      expect(env.get("GLOBUS_CLIENT_ID")?.value).toBe("globus-client-id");
      expect(appContainer(r).image).toBe("servicex-app-ts:1.2.3");
    });

    it("When auth is on without a JWT signing key or an existing Secret, then rendering fails naming the value", () => {
      expect(() => render({ app: { auth: true } })).toThrow(/app\.jwtSecretKey is required/);
      expect(() => render({ app: { auth: true, jwtSecretKey: "k" } })).toThrow(/app\.secretKey is required/);
      expect(() => render({ app: { auth: true }, secrets: { existingSecret: "creds" } })).not.toThrow();
    });
  });

  describe("with an existing Secret and upstream's database variable", () => {
    const r = render({
      secrets: { existingSecret: "my-creds" },
      database: { envName: "SQLALCHEMY_DATABASE_URI" },
    });

    it("When rendered, then no Secret is created and every secretKeyRef names the existing one", () => {
      expect(find(r, "Secret")).toBeUndefined();
      const refs = (appContainer(r).env ?? []).flatMap((e) =>
        e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [],
      );
      expect(refs.length).toBeGreaterThan(0);
      for (const ref of refs) expect(ref.name).toBe("my-creds");
    });

    it("When database.envName is SQLALCHEMY_DATABASE_URI, then the URL is given under that name and the App uses it", () => {
      const env = envOf(appContainer(r));
      expect(env.has("DATABASE_URL")).toBe(false);
      expect(env.get("SQLALCHEMY_DATABASE_URI")?.valueFrom?.secretKeyRef?.key).toBe("DATABASE_URL");
      const config = loadConfig(resolvedEnv(r, { DATABASE_URL: "postgresql+psycopg2://u:p@db:5432/sx" }));
      expect(config.databaseUrl).toBe("postgresql://u:p@db:5432/sx");
    });

    it("When database.envName is anything else, then rendering fails", () => {
      expect(() => render({ database: { envName: "DB" } })).toThrow(HelmRenderError);
    });
  });

  it("When templates refer to .Values paths, then each exists in values.yaml (no silently empty value)", () => {
    const values = loadValues(CHART);
    const dir = join(CHART, "templates");
    const missing: string[] = [];
    for (const file of readdirSync(dir)) {
      const text = readFileSync(join(dir, file), "utf8");
      for (const m of text.matchAll(/\.Values((?:\.[A-Za-z0-9_]+)+)/g)) {
        let cur: unknown = values;
        for (const key of (m[1] as string).slice(1).split(".")) {
          if (cur === null || typeof cur !== "object" || !(key in cur)) {
            missing.push(`${file}: .Values${m[1]}`);
            break;
          }
          cur = (cur as Obj)[key];
        }
      }
    }
    expect(missing).toEqual([]);
  });

  describe("renderer (test/helpers/helmRender.ts)", () => {
    it("When given trim markers, if/else if, range over maps and include, then it renders as Helm does", () => {
      const src = [
        '{{- define "x" -}}[{{ . }}]{{- end -}}',
        "a:",
        "{{- range $k, $v := .m }}",
        "  {{ $k }}: {{ $v | quote }}",
        "{{- end }}",
        '{{ if eq .n "one" }}1{{ else if eq .n "two" }}2{{ else }}?{{ end }}',
        '{{ include "x" .n | nindent 2 }}',
        '{{ .missing | default "dflt" }} {{ printf "%s:%v" "p" 8000 }} {{ toJson .m }} {{ "s" | b64enc }}',
      ].join("\n");
      expect(renderString(src, { m: { b: 2, a: true }, n: "two" })).toBe(
        'a:\n  a: "true"\n  b: "2"\n2\n\n  [two]\ndflt p:8000 {"a":true,"b":2} cw==',
      );
    });

    it("When a template uses something outside the subset or Helm would mis-render it, then rendering throws", () => {
      expect(() => renderString("{{ .a | upper }}", { a: "x" })).toThrow(/unsupported function 'upper'/);
      expect(() => renderString('{{ template "x" . }}', {})).toThrow(/unsupported 'template'/);
      expect(() => renderString("{{ .missing }}", {})).toThrow(/missing value/);
      expect(() => renderString("{{ .a.b }}", {})).toThrow(/nil pointer/);
      expect(() => renderString("{{ .n }}", { n: 1000000 })).toThrow(/exponent form/);
      expect(() => renderString('{{ printf "%s" .n }}', { n: 5 })).toThrow(/%s of a number/);
      expect(() => renderString("{{ .m }}", { m: { a: 1 } })).toThrow(/toYaml or toJson/);
      expect(() => renderString('{{ eq .n "1" }}', { n: 1 })).toThrow(/incompatible types/);
      expect(() => renderString("{{ if .a }}x", { a: 1 })).toThrow(/missing \{\{ end \}\}/);
    });
  });
});
