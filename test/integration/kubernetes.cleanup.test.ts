// The reaper (POST /servicex/internal/kubernetes-cleanup, contract §2.4.6), the built-in lifecycle scheduler
// and the read-only object-store keys handed to clients. The reaper is exercised with a launcher that lists
// objects from memory here; test/integration/kubernetes.cleanup.wiring.test.ts runs it against the fake Kubernetes API.
import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { KubernetesCleanupService } from "../../src/domain/kubernetesCleanup.service.js";
import type { LaunchedObject, LaunchSpec, TransformerLauncher } from "../../src/domain/ports.js";
import { Scheduler } from "../../src/domain/scheduler.js";
import { reportAll, submitFileList } from "../helpers/factories.js";
import { httpCall } from "../helpers/http.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

/** Lists what it holds; shutdown removes a request's objects (or fails for ids in `failing`). */
class ListingLauncher implements TransformerLauncher {
  readonly kind = "listing";
  objects: LaunchedObject[] = [];
  readonly shutdowns: string[] = [];
  readonly failing = new Set<string>();
  async start(_spec: LaunchSpec): Promise<void> {}
  async shutdown(requestId: string): Promise<void> {
    this.shutdowns.push(requestId);
    if (this.failing.has(requestId)) throw new Error("Kubernetes API error 500");
    this.objects = this.objects.filter((o) => o.requestId !== requestId);
  }
  async listObjects(): Promise<LaunchedObject[]> {
    return [...this.objects];
  }
  add(requestId: string, ageHours: number): void {
    const createdAt = new Date(Date.now() - ageHours * 3_600_000);
    this.objects.push(
      { kind: "HorizontalPodAutoscaler", name: `transformer-${requestId}`, requestId, createdAt },
      { kind: "Deployment", name: `transformer-${requestId}`, requestId, createdAt },
      { kind: "ConfigMap", name: `${requestId}-generated-source`, requestId, createdAt },
    );
  }
}

let app: TestApp;
beforeAll(async () => {
  // No background jobs here (the reconciler is on by default): another App on this database must be able
  // to take the scheduler's leadership in the scheduler test.
  app = await startTestApp({ backend: "postgres", broker: "memory", env: { RECONCILE_INTERVAL: "0" } });
});
afterAll(async () => {
  await app?.close();
});

describe("KubernetesCleanupService", () => {
  it("When objects are older than maxAge, then finished and unknown requests lose them and running ones keep them", async () => {
    const done = await submitFileList(app, 1);
    await reportAll(app, done.requestId);
    const running = await submitFileList(app, 1);
    const young = await submitFileList(app, 1);
    await reportAll(app, young.requestId);
    const unknown = randomUUID();

    const launcher = new ListingLauncher();
    launcher.add(done.requestId, 30);
    launcher.add(running.requestId, 30);
    launcher.add(young.requestId, 2);
    launcher.add(unknown, 48);
    const svc = new KubernetesCleanupService(launcher, app.deps.repos.requests, pino({ level: "silent" }));

    const report = await svc.run(24);
    expect(report.removed.sort()).toEqual([done.requestId, unknown].sort());
    expect(report.keptActive).toEqual([running.requestId]);
    expect(report.failed).toEqual([]);
    // Once per request id, although each has three objects.
    expect(launcher.shutdowns.sort()).toEqual([done.requestId, unknown].sort());
    expect(new Set(launcher.objects.map((o) => o.requestId))).toEqual(
      new Set([running.requestId, young.requestId]),
    );

    // A smaller maxAge reaches the young finished request too; the running one is still kept.
    const again = await svc.run(1);
    expect(again.removed).toEqual([young.requestId]);
    expect(again.keptActive).toEqual([running.requestId]);
  });

  it("When one shutdown fails, then it is reported and the other requests are still cleaned", async () => {
    const launcher = new ListingLauncher();
    const a = randomUUID();
    const b = randomUUID();
    launcher.add(a, 30);
    launcher.add(b, 30);
    launcher.failing.add(a);
    const svc = new KubernetesCleanupService(launcher, app.deps.repos.requests, pino({ level: "silent" }));
    const report = await svc.run(24);
    expect(report.failed).toEqual([a]);
    expect(report.removed).toEqual([b]);
    expect(launcher.objects.every((o) => o.requestId === a)).toBe(true);
  });

  it("When the launcher has no objects to list (local, disabled), then a run does nothing", async () => {
    const svc = new KubernetesCleanupService(
      { kind: "plain", start: async () => {}, shutdown: async () => {} },
      app.deps.repos.requests,
      pino({ level: "silent" }),
    );
    expect(svc.applicable).toBe(false);
    expect(await svc.run(0)).toEqual({ removed: [], failed: [], keptActive: [] });
  });
});

describe("POST /servicex/internal/kubernetes-cleanup", () => {
  const post = (body?: unknown, query = "") =>
    httpCall(
      `${app.url}/servicex/internal/kubernetes-cleanup${query}`,
      "POST",
      body === undefined ? {} : { body },
    );

  it("When called with a valid maxAge (body, query or none), then it answers 200 null as upstream", async () => {
    for (const r of [await post({ maxAge: 12 }), await post(undefined, "?maxAge=6"), await post()]) {
      expect(r.status).toBe(200);
      expect(r.json).toBeNull();
    }
  });

  it("When maxAge is not a non-negative number, then 422 with a clear message", async () => {
    for (const bad of [{ maxAge: "soon" }, { maxAge: -1 }, { maxAge: [1] }]) {
      const r = await post(bad);
      expect(r.status).toBe(422);
      expect(r.json).toMatchObject({ message: "Invalid maxAge parameter" });
    }
  });
});

describe("Built-in lifecycle scheduler", () => {
  it("When DATASET_LIFECYCLE_INTERVAL is set, then the job runs periodically without any cron call", async () => {
    const s = await submitFileList(app, 1);
    await reportAll(app, s.requestId);
    const did = await app.deps.db.sql.query<{ did_id: number }>(
      "SELECT did_id FROM requests WHERE request_id = $1",
      [s.requestId],
    );
    await app.deps.db.sql.query(
      "UPDATE datasets SET last_updated = now() - interval '3 hours' WHERE id = $1",
      [did[0]!.did_id],
    );
    const second = await startTestApp({
      backend: "postgres",
      broker: "memory",
      databaseUrl: app.db!.url,
      env: { DATASET_LIFECYCLE_INTERVAL: "1", DATASET_LIFECYCLE_AGE: "2" },
    });
    try {
      expect(second.deps.scheduler.active).toEqual(["reconciler", "dataset-lifecycle"]);
      await eventually(
        async () => {
          const rows = await app.deps.db.sql.query<{ stale: boolean }>(
            "SELECT stale FROM datasets WHERE id = $1",
            [did[0]!.did_id],
          );
          return rows[0]!.stale === true;
        },
        10_000,
        "dataset marked stale by the scheduler",
      );
      expect(second.deps.scheduler.runs.get("dataset-lifecycle")).toBeGreaterThanOrEqual(1);
    } finally {
      await second.close();
    }
  });

  it("When no interval is configured, then no job is scheduled (the CronJobs do the lifecycle work)", () => {
    expect(app.deps.scheduler.active).toEqual([]);
  });

  it("When a run is still going at the next tick, then the job does not overlap itself and a failure does not stop it", async () => {
    let concurrent = 0;
    let maxConcurrent = 0;
    let calls = 0;
    const job = {
      name: "slow",
      intervalMs: 0,
      run: async () => {
        calls++;
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await new Promise((r) => setTimeout(r, 50));
        concurrent--;
        if (calls === 1) throw new Error("boom");
      },
    };
    const sched = new Scheduler([job], pino({ level: "silent" }));
    const first = sched.tick(job);
    await sched.tick(job); // joins the run in progress instead of starting another
    await first;
    expect(calls).toBe(1);
    await sched.tick(job); // the failure did not stop the job
    expect(calls).toBe(2);
    expect(maxConcurrent).toBe(1);
    expect(sched.runs.get("slow")).toBe(1); // the failed first run is not counted
    await sched.stop();
  });
});

describe("MINIO_PUBLIC_ACCESS_KEY / MINIO_PUBLIC_SECRET_KEY", () => {
  it("When read-only public keys are configured, then clients get them instead of the root keys", async () => {
    const pub = await startTestApp({
      backend: "postgres",
      broker: "memory",
      databaseUrl: app.db!.url,
      env: {
        OBJECT_STORE_ENABLED: "true",
        MINIO_PUBLIC_URL: "minio.example.org:9000",
        MINIO_ACCESS_KEY: "root-access",
        MINIO_SECRET_KEY: "root-secret",
        MINIO_PUBLIC_ACCESS_KEY: "reader",
        MINIO_PUBLIC_SECRET_KEY: "reader-secret",
      },
    });
    try {
      const s = await submitFileList(app, 1);
      const r = await httpCall(`${pub.url}/servicex/transformation/${s.requestId}`, "GET");
      const body = r.json as Record<string, unknown>;
      expect(body["minio-access-key"]).toBe("reader");
      expect(body["minio-secret-key"]).toBe("reader-secret");
      expect(body["minio-endpoint"]).toBe("minio.example.org:9000");
      expect(JSON.stringify(body)).not.toContain("root-");
    } finally {
      await pub.close();
    }
  });

  it("When only one of the pair is set, then start-up stops naming the missing key", () => {
    expect(() => loadConfig({ MINIO_PUBLIC_ACCESS_KEY: "reader" })).toThrow(ConfigError);
    expect(() => loadConfig({ MINIO_PUBLIC_ACCESS_KEY: "reader" })).toThrow(/MINIO_PUBLIC_SECRET_KEY/);
  });
});
