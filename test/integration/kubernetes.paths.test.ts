// Every way a request ends leaves nothing behind on the cluster and the broker (contract A.3, Part B §5,
// §2.3.4, §2.3.7, §2.4.3, §2.4.4, §3.5): the App with the Kubernetes launcher configured through upstream's
// keys, against the fake Kubernetes API (which validates every created object against the official schemas),
// real Postgres and the real RabbitMQ, with an object store.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AppsV1Api,
  AutoscalingV1Api,
  CoreV1Api,
  type V1ConfigMap,
  type V1Deployment,
} from "@kubernetes/client-node";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryObjectStore } from "../../src/adapters/objectStore/memory.store.js";
import {
  type FakeKubernetesApi,
  kubeConfigYaml,
  startFakeKubernetesApi,
} from "../helpers/fakeKubernetesApi.js";
import { failLookup, reportFile, submit as submitRequest } from "../helpers/factories.js";
import { client } from "../helpers/http.js";
import { RABBIT_URL, type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

const NS = "servicex-paths";
let kube: FakeKubernetesApi;
let app: TestApp;
let conn: amqp.ChannelModel;
const store = new MemoryObjectStore();
/** Every request this file submitted (for the create-count check). */
const submitted: string[] = [];

beforeAll(async () => {
  kube = await startFakeKubernetesApi();
  const file = join(mkdtempSync(join(tmpdir(), "sx-kube-")), "config");
  writeFileSync(file, kubeConfigYaml(kube.url));
  process.env.KUBECONFIG = file;
  app = await startTestApp({
    backend: "postgres",
    broker: "amqp",
    launcher: "config",
    objectStore: store,
    env: {
      TRANSFORMER_MANAGER_ENABLED: "true",
      TRANSFORMER_MANAGER_MODE: "external-kubernetes",
      TRANSFORMER_NAMESPACE: NS,
      TRANSFORMER_MAX_REPLICAS: "5",
      TRANSFORMER_X509_SECRET: "x509-proxy",
      TRANSFORMER_RABBIT_MQ_URL: "amqp://user:pw@rabbit:5672/%2F?heartbeat=9000",
      OBJECT_STORE_ENABLED: "true",
      MINIO_URL: "minio.paths.invalid:9000",
      MINIO_ACCESS_KEY: "access",
      MINIO_SECRET_KEY: "secret",
    },
  });
  expect(app.deps.launcher.kind).toBe("kubernetes");
  conn = await amqp.connect(RABBIT_URL);
  conn.on("error", () => {});
});

afterAll(async () => {
  await app?.close();
  if (conn) {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    for (const id of submitted) await ch.deleteQueue(`transformer-${id}`).catch(() => {});
    if (app) {
      await ch.deleteQueue(`did_finder_${app.scheme}`).catch(() => {});
      await ch.deleteExchange(`did_finder_${app.scheme}`).catch(() => {});
    }
    await conn.close().catch(() => {});
  }
  await kube?.stop();
  delete process.env.KUBECONFIG;
});

/** Messages in the queue, or null when RabbitMQ has no such queue (checkQueue's 404 closes the channel). */
async function queueDepth(name: string): Promise<number | null> {
  const ch = await conn.createChannel();
  ch.on("error", () => {});
  try {
    return (await ch.checkQueue(name)).messageCount;
  } catch {
    return null;
  } finally {
    await ch.close().catch(() => {});
  }
}

const objectsOf = (id: string) => kube.launcherObjects.filter((o) => o.name.includes(id));

const api = client(() => app.url);

/** Submits and remembers the request (every request of this file is checked for leftovers at the end). */
async function submit(body: Record<string, unknown>): Promise<string> {
  const id = await submitRequest(app, body);
  submitted.push(id);
  return id;
}

const submitFiles = (n: number) =>
  submit({
    "file-list": Array.from(
      { length: n },
      (_, i) => `root://eos//paths/${randomBytes(4).toString("hex")}/${i}.root`,
    ),
  });

async function status(id: string): Promise<Record<string, unknown>> {
  const r = await api.get(`/servicex/transformation/${id}`);
  expect(r.status).toBe(200);
  return r.json as Record<string, unknown>;
}

async function fileIds(id: string): Promise<Array<{ id: number; paths: string }>> {
  const didId = (await status(id)).did_id as number;
  const r = await api.get(`/servicex/datasets/${didId}`);
  return (r.json as { files: Array<{ id: number; paths: string }> }).files;
}

/** Zero objects of the request on the cluster, no transform queue; checked again after a pause, so a late
 * re-create (a task published after the queue was deleted, a create racing the delete) is caught too. */
async function expectNothingLeft(id: string): Promise<void> {
  await app.deps.lifecycle.idle();
  await eventually(async () => objectsOf(id).length === 0, 10_000, `no Kubernetes objects of ${id}`);
  await eventually(
    async () => (await queueDepth(`transformer-${id}`)) === null,
    10_000,
    `queue transformer-${id} deleted`,
  );
  await new Promise((r) => setTimeout(r, 500));
  await app.deps.lifecycle.idle();
  expect(objectsOf(id)).toEqual([]);
  expect(kube.launcherObjects).toEqual([]);
  expect(await queueDepth(`transformer-${id}`)).toBeNull();
}

/** The request's three objects exist and its tasks are on RabbitMQ (so the cleanup has something to do). */
async function expectRunning(id: string, files: number): Promise<void> {
  expect(kube.get(NS, "configmaps", `${id}-generated-source`)).toBeDefined();
  expect(kube.get(NS, "deployments", `transformer-${id}`)).toBeDefined();
  expect(kube.get(NS, "horizontalpodautoscalers", `transformer-${id}`)).toBeDefined();
  await eventually(
    async () => (await queueDepth(`transformer-${id}`)) === files,
    10_000,
    `${files} tasks queued for ${id}`,
  );
}

describe("When a request ends, whatever the path", () => {
  it("When a running request is deleted, then DELETE is refused while it runs (nothing touched), and cancel + DELETE leave zero objects, no queue and no bucket", async () => {
    const id = await submitFiles(2);
    expect(await store.listBuckets()).toContain(id);
    await expectRunning(id, 2);

    // Contract §2.3.4: only finished requests can be deleted; a running one is left exactly as it was.
    const early = await api.delete(`/servicex/transformation/${id}`);
    expect(early.status).toBe(400);
    expect(early.json).toMatchObject({
      message: `Transform request with id ${id} is still in progress.`,
    });
    expect(objectsOf(id)).toHaveLength(3);
    expect(await store.listBuckets()).toContain(id);

    const c = await api.get(`/servicex/transformation/${id}/cancel`);
    expect(c.status).toBe(200);
    expect((await status(id)).status).toBe("Canceled");
    await expectNothingLeft(id);

    const del = await api.delete(`/servicex/transformation/${id}`);
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({ message: `Transform request with id ${id} has been archived.` });
    expect(await store.listBuckets()).not.toContain(id);
    expect((await api.get(`/servicex/transformation/${id}`)).status).toBe(404);
    await expectNothingLeft(id);
  });

  it("When the Kubernetes API refuses the Deployment (403), then the request is Fatal with the API's message in failure-info and zero objects are left", async () => {
    const message =
      'deployments.apps is forbidden: User "system:serviceaccount:servicex:servicex-app" cannot create ' +
      `resource "deployments" in API group "apps" in the namespace "${NS}"`;
    kube.inject({ method: "POST", resource: "deployments", status: 403, message, times: 1 });
    const id = await submitFiles(2);
    const st = await status(id);
    expect(st.status).toBe("Fatal");
    expect(String(st["failure-info"])).toContain(message);
    expect(st["finish-time"]).not.toBe("None");
    // The ConfigMap created before the refusal is removed again; no HPA was attempted.
    const creates = kube.requests.filter((r) => r.method === "POST" && r.path.startsWith(`/api`));
    expect(
      creates.filter((r) => (r.body as { metadata?: { name?: string } })?.metadata?.name?.includes(id)),
    ).toHaveLength(2);
    await expectNothingLeft(id);
  });

  it("When the DID finder reports a lookup error (§2.4.3), then the request ends as Bad Dataset and zero objects are left", async () => {
    const id = await submit({ did: `${app.scheme}://paths.${randomBytes(4).toString("hex")}` });
    const st = await status(id);
    expect(st.status).toBe("Lookup");
    // Transformers are started while the lookup runs (their HPA keeps the configured max: no file count yet).
    expect(objectsOf(id)).toHaveLength(3);
    const r = await failLookup(app, st.did_id as number, {
      message: "dataset does not exist",
      "error-type": "does_not_exist",
    });
    expect(r.status).toBe(200);
    const after = await status(id);
    expect(after.status).toBe("Bad Dataset");
    expect(after["finish-time"]).not.toBe("None");
    await expectNothingLeft(id);
  });

  it("When every file is reported complete, then the request is Complete and zero objects and no queue are left", async () => {
    const id = await submitFiles(3);
    await expectRunning(id, 3);
    const files = await fileIds(id);
    expect(files).toHaveLength(3);
    for (const f of files) {
      const r = await reportFile(app, id, f.id, "success", {
        requestId: id,
        "file-path": f.paths.split(",")[0],
        "file-id": f.id,
        status: "success",
        "total-time": 1.5,
        "total-events": 100,
        "total-bytes": 1000,
        "avg-rate": 66.6,
        place: { host_name: `transformer-${id}-pod-1`, site: "test" },
        "s3-object-name": `f${f.id}.parquet`,
      });
      expect(r.status).toBe(200);
    }
    const st = await status(id);
    expect(st.status).toBe("Complete");
    expect(st["files-completed"]).toBe(3);
    await expectNothingLeft(id);
    // Completion keeps the results: the bucket goes only with DELETE.
    expect(await store.listBuckets()).toContain(id);
  });

  it("When the App created objects on these paths, then every one passed the Kubernetes schema validation and each request got exactly one create per kind", async () => {
    expect(kube.invalidObjects).toEqual([]);
    const posts = kube.requests.filter((r) => r.method === "POST");
    expect(posts.filter((r) => r.status === 422)).toEqual([]);
    for (const id of submitted) {
      const mine = posts.filter((r) =>
        JSON.stringify((r.body as { metadata?: unknown })?.metadata ?? "").includes(id),
      );
      const kinds = mine.map((r) => (r.body as { kind: string }).kind).sort();
      // The 403 request stops at the Deployment: ConfigMap + Deployment, no HPA.
      const fatal = mine.some((r) => r.status === 403);
      expect(kinds).toEqual(
        fatal ? ["ConfigMap", "Deployment"] : ["ConfigMap", "Deployment", "HorizontalPodAutoscaler"],
      );
    }
    expect(kube.launcherObjects).toEqual([]);
  });
});

describe("When the fake Kubernetes API is used as the real one", () => {
  it("When an object breaks the official schema or the API server's validation, then it answers 422 Invalid with causes and records it", async () => {
    const api = await startFakeKubernetesApi();
    try {
      const core = api.kubeConfig().makeApiClient(CoreV1Api);
      const apps = api.kubeConfig().makeApiClient(AppsV1Api);
      const badCm = {
        metadata: { name: "Bad_Name" },
        binaryData: { "a/b": "AAAA" },
      } as unknown as V1ConfigMap;
      const e1 = await core
        .createNamespacedConfigMap({ namespace: "ns", body: badCm })
        .catch((e: unknown) => e);
      expect((e1 as { code: number }).code).toBe(422);
      const s1 = JSON.parse((e1 as { body: string }).body) as Record<string, unknown>;
      expect(s1).toMatchObject({ kind: "Status", status: "Failure", reason: "Invalid", code: 422 });
      expect(s1.details).toMatchObject({ name: "Bad_Name", kind: "ConfigMap" });
      expect(String(s1.message)).toMatch(/^ConfigMap "Bad_Name" is invalid: metadata\.name: Invalid value/);

      const badDep = {
        metadata: { name: "transformer-x" },
        spec: {
          replicas: "2",
          selector: { matchLabels: { app: "transformer-x" } },
          template: {
            metadata: { labels: { app: "other" } },
            spec: {
              containers: [
                { name: "sidecar", image: "i", volumeMounts: [{ name: "nope", mountPath: "/x" }] },
              ],
            },
          },
        },
      } as unknown as V1Deployment;
      const e2 = await apps
        .createNamespacedDeployment({ namespace: "ns", body: badDep })
        .catch((e: unknown) => e);
      expect((e2 as { code: number }).code).toBe(422);
      expect(api.size).toBe(0);
      expect(api.invalidObjects.map((o) => o.kind)).toEqual(["ConfigMap", "Deployment"]);
      const fields = api.invalidObjects[1]!.causes.map((c) => c.field);
      expect(fields).toEqual(
        expect.arrayContaining([
          "spec.replicas",
          "spec.template.metadata.labels",
          "spec.template.spec.containers[0].volumeMounts[0].name",
        ]),
      );
    } finally {
      await api.stop();
    }
  });

  it("When objects are listed without a selector or with a labelSelector, then the full or filtered list comes back with server-set metadata", async () => {
    const api = await startFakeKubernetesApi();
    try {
      const kc = api.kubeConfig();
      const apps = kc.makeApiClient(AppsV1Api);
      const core = kc.makeApiClient(CoreV1Api);
      const hpa = kc.makeApiClient(AutoscalingV1Api);
      const old = new Date("2020-01-02T03:04:05Z");
      api.inject(
        "ns",
        "deployments",
        {
          metadata: { name: "transformer-old", labels: { app: "transformer-old" } },
          spec: {
            selector: { matchLabels: { app: "transformer-old" } },
            template: { metadata: { labels: { app: "transformer-old" } }, spec: { containers: [] } },
          },
        },
        { creationTimestamp: old },
      );
      await apps.createNamespacedDeployment({
        namespace: "ns",
        body: {
          metadata: { name: "transformer-new", labels: { app: "transformer-new" } },
          spec: {
            selector: { matchLabels: { app: "transformer-new" } },
            template: {
              metadata: { labels: { app: "transformer-new" } },
              spec: { containers: [{ name: "c", image: "busybox" }] },
            },
          },
        },
      });
      await core.createNamespacedConfigMap({
        namespace: "ns",
        body: { metadata: { name: "x-generated-source" } },
      });
      await hpa.createNamespacedHorizontalPodAutoscaler({
        namespace: "ns",
        body: {
          metadata: { name: "transformer-new" },
          spec: { maxReplicas: 2, scaleTargetRef: { kind: "Deployment", name: "transformer-new" } },
        },
      });

      const all = await apps.listNamespacedDeployment({ namespace: "ns" });
      expect(all.items.map((d) => d.metadata?.name)).toEqual(["transformer-new", "transformer-old"]);
      const byName = new Map(all.items.map((d) => [d.metadata?.name, d.metadata]));
      expect(byName.get("transformer-old")?.creationTimestamp?.toISOString()).toBe(old.toISOString());
      const fresh = byName.get("transformer-new")!;
      expect(Date.now() - fresh.creationTimestamp!.getTime()).toBeLessThan(60_000);
      expect(fresh.uid).toMatch(/^[0-9a-f-]{36}$/);
      expect(
        (await apps.listNamespacedDeployment({ namespace: "ns", labelSelector: "app=transformer-old" }))
          .items,
      ).toHaveLength(1);
      expect(
        (
          await apps.listNamespacedDeployment({
            namespace: "ns",
            labelSelector: "app in (a,transformer-new)",
          })
        ).items,
      ).toHaveLength(1);
      expect(
        (await apps.listNamespacedDeployment({ namespace: "ns", labelSelector: "!app" })).items,
      ).toHaveLength(0);
      expect((await core.listNamespacedConfigMap({ namespace: "ns" })).items[0]?.metadata?.name).toBe(
        "x-generated-source",
      );
      expect((await hpa.listNamespacedHorizontalPodAutoscaler({ namespace: "ns" })).items).toHaveLength(1);
      expect((await apps.listNamespacedDeployment({ namespace: "other" })).items).toEqual([]);
      expect(api.invalidObjects).toEqual([]);
    } finally {
      await api.stop();
    }
  });

  it("When PVCs are injected Bound or Pending, then GET and list show their phase and a missing claim is 404", async () => {
    const api = await startFakeKubernetesApi();
    try {
      const core = api.kubeConfig().makeApiClient(CoreV1Api);
      api.injectPvc("ns", "results", "Bound");
      api.injectPvc("ns", "waiting", "Pending");
      const one = await core.readNamespacedPersistentVolumeClaim({ namespace: "ns", name: "results" });
      expect(one.status?.phase).toBe("Bound");
      const list = await core.listNamespacedPersistentVolumeClaim({ namespace: "ns" });
      expect(list.items.map((p) => [p.metadata?.name, p.status?.phase])).toEqual([
        ["results", "Bound"],
        ["waiting", "Pending"],
      ]);
      const missing = await core
        .readNamespacedPersistentVolumeClaim({ namespace: "ns", name: "nope" })
        .catch((e: unknown) => e);
      expect((missing as { code: number }).code).toBe(404);
      expect(api.launcherObjects).toEqual([]);
    } finally {
      await api.stop();
    }
  });
});
