// The object store's endpoint as clients and transformer pods get it. Without MINIO_PUBLIC_URL the answers
// used to omit `minio-endpoint` (the Python client's deliver() then fails with a TypeError), and transformer
// pods of an object-store request got no MINIO_URL when the App did not manage the buckets itself.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryObjectStore } from "../../src/adapters/objectStore/memory.store.js";
import { loadConfig } from "../../src/config.js";
import {
  type FakeKubernetesApi,
  kubeConfigYaml,
  startFakeKubernetesApi,
} from "../helpers/fakeKubernetesApi.js";
import { submit } from "../helpers/factories.js";
import { httpCall } from "../helpers/http.js";
import { startTestApp } from "../helpers/testApp.js";

/** One file on the object store (SUBMIT_DEFAULTS for the rest). */
const BODY = { "file-list": ["root://a//1.root"] };

describe("Object store endpoint given to clients", () => {
  it("When OBJECT_STORE_ENABLED=true and MINIO_PUBLIC_URL is unset, then a request's answer gives MINIO_URL as minio-endpoint (secured as the App connects to it)", async () => {
    const app = await startTestApp({
      broker: "memory",
      objectStore: new MemoryObjectStore(),
      env: {
        OBJECT_STORE_ENABLED: "true",
        MINIO_URL: "minio.internal:9000",
        MINIO_ACCESS_KEY: "root-access",
        MINIO_SECRET_KEY: "root-secret",
      },
    });
    try {
      const id = await submit(app, BODY);
      // Both the Express route and the fast path answer GET …/<id>; the client polls it.
      const r = await httpCall(`${app.url}/servicex/transformation/${id}`, "GET");
      expect(r.status).toBe(200);
      const body = r.json as Record<string, unknown>;
      expect(body["minio-endpoint"]).toBe("minio.internal:9000");
      expect(body["minio-secured"]).toBe(false);
      expect(body["minio-access-key"]).toBe("root-access");
      expect(body["minio-secret-key"]).toBe("root-secret");
    } finally {
      await app.close();
    }
  });

  it("When MINIO_PUBLIC_URL and MINIO_ENCRYPT_PUBLIC are set or not, then the client's endpoint and minio-secured follow them", () => {
    const base = { OBJECT_STORE_ENABLED: "true", MINIO_URL: "minio:9000" };
    expect(loadConfig(base).objectStorePublic).toEqual({ endpoint: "minio:9000", secure: false });
    expect(loadConfig({ ...base, MINIO_ENCRYPT: "true" }).objectStorePublic).toEqual({
      endpoint: "minio:9000",
      secure: true,
    });
    expect(loadConfig({ ...base, MINIO_ENCRYPT_PUBLIC: "true" }).objectStorePublic?.secure).toBe(true);
    expect(loadConfig({ ...base, MINIO_PUBLIC_URL: "s3.example.org" }).objectStorePublic).toEqual({
      endpoint: "s3.example.org",
      secure: true,
    });
    expect(loadConfig({ MINIO_URL: "minio:9000" }).objectStorePublic).toBeNull();
  });
});

describe("Object store settings of transformer pods", () => {
  let kube: FakeKubernetesApi;
  const NS = "sx-minio-env";
  beforeAll(async () => {
    kube = await startFakeKubernetesApi();
    const file = join(mkdtempSync(join(tmpdir(), "sx-kube-")), "config");
    writeFileSync(file, kubeConfigYaml(kube.url));
    process.env.KUBECONFIG = file;
  });
  afterAll(async () => {
    await kube?.stop();
    delete process.env.KUBECONFIG;
  });

  async function podEnv(env: Record<string, string>): Promise<Map<string, string | undefined>> {
    const app = await startTestApp({
      broker: "memory",
      launcher: "config",
      env: {
        TRANSFORMER_MANAGER_ENABLED: "true",
        TRANSFORMER_MANAGER_MODE: "external-kubernetes",
        TRANSFORMER_NAMESPACE: NS,
        MINIO_URL: "minio.internal:9000",
        MINIO_ACCESS_KEY: "root-access",
        MINIO_SECRET_KEY: "root-secret",
        ...env,
      },
    });
    try {
      const id = await submit(app, BODY);
      const dep = kube.get(NS, "deployments", `transformer-${id}`) as unknown as {
        spec: {
          template: {
            spec: { containers: Array<{ name: string; env: Array<{ name: string; value?: string }> }> };
          };
        };
      };
      const containers = dep.spec.template.spec.containers;
      const [sidecar, science] = containers;
      expect(sidecar!.env).toEqual(science!.env);
      return new Map(sidecar!.env.map((e) => [e.name, e.value]));
    } finally {
      await app.close();
    }
  }

  it("When the App does not manage buckets (OBJECT_STORE_ENABLED=false), then an object-store request's pods still get MINIO_URL, the keys and MINIO_ENCRYPT", async () => {
    const env = await podEnv({ OBJECT_STORE_ENABLED: "false", MINIO_ENCRYPT: "true" });
    expect(env.get("MINIO_URL")).toBe("minio.internal:9000");
    expect(env.get("MINIO_ACCESS_KEY")).toBe("root-access");
    expect(env.get("MINIO_SECRET_KEY")).toBe("root-secret");
    expect(env.get("MINIO_ENCRYPT")).toBe("True");
  });

  it("When MINIO_URL_TRANSFORMER is set, then the pods' MINIO_URL is it, not the App's MINIO_URL", async () => {
    const env = await podEnv({ MINIO_URL_TRANSFORMER: "minio.transformers:9000" });
    expect(env.get("MINIO_URL")).toBe("minio.transformers:9000");
    expect(env.get("MINIO_ENCRYPT")).toBe("False");
  });
});
