// The reconciler (contract A.18, robustness issue item 2): a DID finder that never answers, transformers that
// take tasks and die, a deleted Deployment — each ends recovered or in a terminal state with a failure-info
// that says what happened; and one replica at a time runs it.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MemoryBroker } from "../../src/adapters/broker/memory.broker.js";
import {
  type FakeKubernetesApi,
  kubeConfigYaml,
  startFakeKubernetesApi,
} from "../helpers/fakeKubernetesApi.js";
import { fileReport, reportFile, sendFiles, submit } from "../helpers/factories.js";
import { httpCall } from "../helpers/http.js";
import { type TestApp, startTestApp } from "../helpers/testApp.js";

const STALL = {
  LOOKUP_TIMEOUT: "1",
  RUNNING_STALL_TIMEOUT: "1",
  RECONCILE_MAX_ATTEMPTS: "2",
  RECONCILE_INTERVAL: "0",
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ backend: "postgres", broker: "memory", env: STALL });
});
afterAll(async () => {
  await app?.close();
});

const broker = () => app.deps.broker as MemoryBroker;
const q = <T>(sql: string, params: unknown[] = []) => app.deps.db.sql.query<T>(sql, params);
const statusOf = async (id: string) =>
  (
    await q<{ status: string; failure_description: string | null }>(
      "SELECT status::text AS status, failure_description FROM requests WHERE request_id = $1",
      [id],
    )
  )[0]!;

describe("When a DID finder never answers", () => {
  it("then the lookup is sent again, repeated files are not added twice, and after the last attempt the request is Fatal with the reason", async () => {
    const did = `${app.scheme}://never-answers-${Date.now()}`;
    const id = await submit(app, { did });
    const queue = `did_finder_${app.scheme}`;
    expect(broker().messages(queue)).toHaveLength(1);
    const ds = (await q<{ did_id: number }>("SELECT did_id FROM requests WHERE request_id = $1", [id]))[0]!
      .did_id;

    await sleep(1100);
    const first = await app.deps.reconciler.run();
    expect(first.ran).toBe(true);
    expect(first.actions).toEqual([{ action: "lookup_resent", requestId: id, detail: "attempt 1" }]);
    expect(broker().messages(queue)).toHaveLength(2);

    // The DID finder wakes up and sends its files, then (re-sent lookup) the same files again.
    const files = [{ paths: "root://a//1.root", adler32: "1", file_size: 1, file_events: 1 }];
    for (let i = 0; i < 2; i++) {
      const r = await sendFiles(app, ds, files);
      expect(r.status).toBe(200);
    }
    const n = await q<{ n: number }>("SELECT count(*)::int AS n FROM files WHERE dataset_id = $1", [ds]);
    expect(n[0]!.n).toBe(1);
    expect(
      (await q<{ files: number }>("SELECT files FROM requests WHERE request_id = $1", [id]))[0]!.files,
    ).toBe(1);

    // Silent again: attempt 2, then give up.
    await sleep(1100);
    expect((await app.deps.reconciler.run()).actions.map((a) => a.action)).toEqual(["lookup_resent"]);
    await sleep(1100);
    expect((await app.deps.reconciler.run()).actions.map((a) => a.action)).toEqual(["lookup_failed"]);
    const s = await statusOf(id);
    expect(s.status).toBe("fatal");
    expect(s.failure_description).toMatch(/The DID finder did not answer for 1 s/);
    // A new submit of the DID gets a fresh lookup (the dataset was marked failed and stale).
    const again = await submit(app, { did });
    expect((await statusOf(again)).status).toBe("lookup");
  });
});

describe("When transformers take tasks and die", () => {
  it("then the tasks of files without a result are published again and the request still completes", async () => {
    const id = await submit(app, {
      "file-list": [`root://x//${Date.now()}-1.root`, `root://x//${Date.now()}-2.root`],
    });
    const queue = `transformer-${id}`;
    await app.deps.dispatcher.idle();
    const tasks = broker().messages(queue);
    expect(tasks).toHaveLength(2);
    // A transformer takes both tasks and dies without reporting: the queue is empty.
    await new Promise<void>((resolve) => {
      let taken = 0;
      const cancel = broker().consume(queue, async () => {
        taken++;
        if (taken === 2) {
          cancel();
          resolve();
        }
      });
    });
    expect(broker().messages(queue)).toHaveLength(0);

    await sleep(1100);
    const run = await app.deps.reconciler.run();
    expect(run.actions.map((a) => a.action)).toContain("tasks_republished");
    await app.deps.dispatcher.idle();
    const again = broker().messages(queue);
    expect(again).toHaveLength(2);
    for (const m of again) {
      const k = (m.body as [unknown, { request_id: string; file_id: number; paths: string[] }])[1];
      const r = await reportFile(
        app,
        id,
        k.file_id,
        "success",
        fileReport(id, k.file_id, "success", k.paths[0]),
      );
      expect(r.status).toBe(200);
    }
    expect((await statusOf(id)).status).toBe("complete");
  });

  it("then after the last attempt a request that still gets no report is Fatal with the reason", async () => {
    const id = await submit(app, { "file-list": [`root://x//${Date.now()}-silent.root`] });
    for (let i = 0; i < 2; i++) {
      await sleep(1100);
      expect((await app.deps.reconciler.run()).actions.map((a) => a.action)).toContain("tasks_republished");
    }
    await sleep(1100);
    expect((await app.deps.reconciler.run()).actions.map((a) => a.action)).toContain("run_failed");
    const s = await statusOf(id);
    expect(s.status).toBe("fatal");
    expect(s.failure_description).toMatch(
      /No file was reported for 1 s, 2 times in a row \(0 of 1 files done\)/,
    );
    await app.deps.lifecycle.idle();
    expect(app.launcher.shutdownCount(id)).toBe(1);
  });
});

describe("When two replicas run the reconciler", () => {
  it("then only the lease holder runs a pass, and another takes over once the lease expires", async () => {
    const second = await startTestApp({
      backend: "postgres",
      broker: "memory",
      databaseUrl: app.db!.url,
      env: STALL,
    });
    try {
      const a = await app.deps.reconciler.run();
      const b = await second.deps.reconciler.run();
      expect([a.ran, b.ran].filter(Boolean)).toHaveLength(1);
      // The holder dies: its lease expires (simulated by ageing it) and the other replica takes over.
      await q("UPDATE app_leases SET expires_at = now() - interval '1 second' WHERE name = 'reconciler'");
      const c = a.ran ? await second.deps.reconciler.run() : await app.deps.reconciler.run();
      expect(c.ran).toBe(true);
    } finally {
      await second.close();
    }
  });
});

describe("When a transformer Deployment is deleted behind the App's back", () => {
  let kube: FakeKubernetesApi;
  let kubernetesApp: TestApp;
  const NS = "servicex-reconcile";
  beforeAll(async () => {
    kube = await startFakeKubernetesApi();
    const file = join(mkdtempSync(join(tmpdir(), "sx-rec-")), "config");
    writeFileSync(file, kubeConfigYaml(kube.url));
    process.env.KUBECONFIG = file;
    kubernetesApp = await startTestApp({
      backend: "postgres",
      broker: "memory",
      launcher: "config",
      env: {
        ...STALL,
        TRANSFORMER_MANAGER_ENABLED: "true",
        TRANSFORMER_MANAGER_MODE: "external-kubernetes",
        TRANSFORMER_NAMESPACE: NS,
        TRANSFORMER_RABBIT_MQ_URL: "amqp://u:p@rabbit:5672/%2F",
      },
    });
  });
  afterAll(async () => {
    await kubernetesApp?.close();
    await kube?.stop();
    delete process.env.KUBECONFIG;
  });

  it("then the reconciler creates it again", async () => {
    const id = await submit(kubernetesApp, { "file-list": [`root://x//${Date.now()}-k.root`] });
    const name = `transformer-${id}`;
    expect(kube.get(NS, "deployments", name)).toBeDefined();
    const del = await httpCall(`${kube.url}/apis/apps/v1/namespaces/${NS}/deployments/${name}`, "DELETE");
    expect(del.status).toBe(200);
    expect(kube.get(NS, "deployments", name)).toBeUndefined();

    await sleep(1100);
    const run = await kubernetesApp.deps.reconciler.run();
    expect(run.actions.map((a) => a.action)).toEqual(["tasks_republished", "transformers_restarted"]);
    expect(kube.get(NS, "deployments", name)).toBeDefined();
    expect(kube.invalidObjects ?? []).toEqual([]);
  });
});
