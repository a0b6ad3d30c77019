// The reaper and the start-up PVC check against the fake Kubernetes API (the production client code paths):
// POST /servicex/internal/kubernetes-cleanup removes old objects of finished and unknown requests and keeps
// those of running requests and young ones; TRANSFORMER_PERSISTENCE_PROVIDED_CLAIM must exist and be Bound.
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FakeKubernetesApi,
  kubeConfigYaml,
  startFakeKubernetesApi,
} from "../helpers/fakeKubernetesApi.js";
import { fileCompleteBody, putJson } from "../helpers/fakeWorkers.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

const NS = "servicex-reaper";
let kube: FakeKubernetesApi;
let previousKubeconfig: string | undefined;

const kubeEnv = (extra: Record<string, string> = {}) => ({
  TRANSFORMER_MANAGER_ENABLED: "true",
  TRANSFORMER_MANAGER_MODE: "external-kubernetes",
  TRANSFORMER_NAMESPACE: NS,
  TRANSFORMER_RABBIT_MQ_URL: "amqp://user:pw@rabbit:5672/%2F",
  ...extra,
});

beforeAll(async () => {
  kube = await startFakeKubernetesApi();
  const file = join(mkdtempSync(join(tmpdir(), "sx-reaper-")), "config");
  writeFileSync(file, kubeConfigYaml(kube.url));
  previousKubeconfig = process.env.KUBECONFIG;
  process.env.KUBECONFIG = file;
});
afterAll(async () => {
  await kube?.stop();
  if (previousKubeconfig === undefined) delete process.env.KUBECONFIG;
  else process.env.KUBECONFIG = previousKubeconfig;
});

/** A request's three objects as someone (an older App, a crash) left them, created `ageHours` ago. */
function leak(id: string, ageHours: number): void {
  const creationTimestamp = new Date(Date.now() - ageHours * 3_600_000);
  const labels = { app: `transformer-${id}` };
  kube.inject(
    NS,
    "configmaps",
    { metadata: { name: `${id}-generated-source` }, data: {} },
    { creationTimestamp },
  );
  kube.inject(
    NS,
    "deployments",
    {
      metadata: { name: `transformer-${id}` },
      spec: {
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: "transformer", image: "sslhep/servicex_func_adl_xaod_transformer" }] },
        },
      },
    },
    { creationTimestamp },
  );
  kube.inject(
    NS,
    "horizontalpodautoscalers",
    {
      metadata: { name: `transformer-${id}` },
      spec: {
        scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: `transformer-${id}` },
        maxReplicas: 2,
      },
    },
    { creationTimestamp },
  );
}

const objectsOf = (id: string) =>
  [
    kube.get(NS, "configmaps", `${id}-generated-source`),
    kube.get(NS, "deployments", `transformer-${id}`),
    kube.get(NS, "horizontalpodautoscalers", `transformer-${id}`),
  ].filter(Boolean).length;

describe("When POST /servicex/internal/kubernetes-cleanup runs against Kubernetes", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ backend: "postgres", broker: "memory", launcher: "config", env: kubeEnv() });
  });
  afterAll(async () => {
    await app?.close();
  });

  async function submit(): Promise<{ id: string; fileId: number; path: string }> {
    const path = `root://eos//${randomUUID()}.root`;
    const r = await putJson(
      `${app.url}/servicex/transformation`,
      { "file-list": [path], selection: "s", codegen: "passthrough", "result-destination": "object-store" },
      "POST",
    );
    expect(r.status).toBe(200);
    const id = (r.body as { request_id: string }).request_id;
    const f = await app.deps.db.sql.query<{ id: number }>(
      "SELECT f.id FROM files f JOIN requests r ON r.did_id = f.dataset_id WHERE r.request_id = $1",
      [id],
    );
    return { id, fileId: f[0]!.id, path };
  }

  it("then old objects of finished and unknown requests go, running and young ones stay", async () => {
    const running = await submit();
    expect(objectsOf(running.id)).toBe(3);
    const finished = await submit();
    const done = await putJson(
      `${app.url}/servicex/internal/transformation/${finished.id}/file-complete`,
      fileCompleteBody(
        { request_id: finished.id, file_id: finished.fileId, paths: [finished.path] },
        "success",
      ),
    );
    expect(done.status).toBe(200);
    await app.deps.lifecycle.idle();
    await eventually(async () => objectsOf(finished.id) === 0, 10_000, "completion removes the objects");

    // Leaks: the finished request's objects re-appear (say a crash mid-shutdown), an unknown request's, a young
    // unknown one; and the running request's objects are made old.
    leak(finished.id, 30);
    const unknown = randomUUID();
    leak(unknown, 48);
    const young = randomUUID();
    leak(young, 1);
    leak(running.id, 30);

    const deletesBefore = kube.requests.filter((r) => r.method === "DELETE").length;
    const res = await fetch(`${app.url}/servicex/internal/kubernetes-cleanup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ maxAge: 24 }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toBeNull();

    expect(objectsOf(finished.id)).toBe(0);
    expect(objectsOf(unknown)).toBe(0);
    expect(objectsOf(young)).toBe(3);
    expect(objectsOf(running.id)).toBe(3);
    // Three deletes per removed request (HPA → Deployment → ConfigMap), nothing else.
    expect(kube.requests.filter((r) => r.method === "DELETE").length - deletesBefore).toBe(6);
  });
});

describe("When TRANSFORMER_PERSISTENCE_PROVIDED_CLAIM is set", () => {
  const start = (claim: string) =>
    // On a cloned Postgres database: a claim check does not depend on the database, and PGlite would apply
    // every migration again at each start (seconds each, minutes on a loaded machine).
    startTestApp({
      backend: "postgres",
      broker: "memory",
      launcher: "config",
      env: kubeEnv({ TRANSFORMER_PERSISTENCE_PROVIDED_CLAIM: claim }),
    });

  it("then start-up fails when the claim does not exist", async () => {
    await expect(start("no-such-claim")).rejects.toThrow(
      /PersistentVolumeClaim 'no-such-claim' does not exist/,
    );
  });

  it("then start-up fails when the claim is not Bound", async () => {
    kube.injectPvc(NS, "pending-claim", "Pending");
    await expect(start("pending-claim")).rejects.toThrow(/'pending-claim' .* is Pending, not Bound/);
  });

  it("then the App starts when the claim is Bound", async () => {
    kube.injectPvc(NS, "results-claim", "Bound");
    const app = await start("results-claim");
    try {
      expect(app.deps.launcher.kind).toBe("kubernetes");
    } finally {
      await app.close();
    }
  });
});
