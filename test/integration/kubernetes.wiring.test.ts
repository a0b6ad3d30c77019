// The Kubernetes launcher as configured through upstream's keys (TRANSFORMER_MANAGER_ENABLED/MODE and the
// TRANSFORMER_* settings), driven through the API against the fake Kubernetes API server.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type FakeKubernetesApi,
  kubeConfigYaml,
  startFakeKubernetesApi,
} from "../helpers/fakeKubernetesApi.js";
import { putJson } from "../helpers/fakeWorkers.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

let kube: FakeKubernetesApi;
let app: TestApp;
const NS = "servicex-test";

beforeAll(async () => {
  kube = await startFakeKubernetesApi();
  const dir = mkdtempSync(join(tmpdir(), "sx-kube-"));
  const file = join(dir, "config");
  writeFileSync(file, kubeConfigYaml(kube.url));

  process.env.KUBECONFIG = file;
  app = await startTestApp({
    backend: "postgres",
    broker: "memory",
    launcher: "config",
    env: {
      TRANSFORMER_MANAGER_ENABLED: "true",
      TRANSFORMER_MANAGER_MODE: "external-kubernetes",
      TRANSFORMER_NAMESPACE: NS,
      TRANSFORMER_MAX_REPLICAS: "5",
      TRANSFORMER_X509_SECRET: "x509-proxy",
      TRANSFORMER_RABBIT_MQ_URL: "amqp://user:pw@rabbit:5672/%2F?heartbeat=9000",
    },
  });
});
afterAll(async () => {
  await app?.close();
  await kube?.stop();
  delete process.env.KUBECONFIG;
});

describe("When TRANSFORMER_MANAGER_MODE=external-kubernetes", () => {
  it("then a submit creates the request's ConfigMap, Deployment and HPA, deployment-status answers, and cancel removes them all", async () => {
    expect(app.deps.launcher.kind).toBe("kubernetes");
    const sub = await putJson(
      `${app.url}/servicex/transformation`,
      {
        "file-list": ["root://a//1.root", "root://a//2.root"],
        selection: "s",
        codegen: "passthrough",
        "result-destination": "object-store",
      },
      "POST",
    );
    expect(sub.status).toBe(200);
    const id = (sub.body as { request_id: string }).request_id;
    expect(kube.get(NS, "configmaps", `${id}-generated-source`)).toBeDefined();
    const dep = kube.get(NS, "deployments", `transformer-${id}`) as unknown as {
      spec: { template: { spec: { containers: Array<{ name: string; args: string[] }> } } };
    };
    expect(dep.spec.template.spec.containers.map((c) => c.name)).toEqual(["sidecar", "transformer"]);
    expect(dep.spec.template.spec.containers[0]!.args[0]).toContain(
      "--rabbit-uri amqp://user:pw@rabbit:5672/%2F?heartbeat=9000",
    );
    const hpa = kube.get(NS, "horizontalpodautoscalers", `transformer-${id}`) as unknown as {
      spec: { maxReplicas: number };
    };
    expect(hpa.spec.maxReplicas).toBe(2); // capped by the file count (contract A.3)

    const st = await fetch(`${app.url}/servicex/transformation/${id}/deployment-status`);
    expect(st.status).toBe(200);
    const missing = await fetch(
      `${app.url}/servicex/transformation/00000000-0000-4000-8000-000000000000/deployment-status`,
    );
    expect(missing.status).toBe(404);

    const c = await fetch(`${app.url}/servicex/transformation/${id}/cancel`);
    expect(c.status).toBe(200);
    await app.deps.lifecycle.idle();
    await eventually(async () => kube.size === 0, 10_000, "all objects deleted");
  });
});
