// Postgres restarting under file-complete traffic: sidecars ignore HTTP status codes (contract A.26), so
// the App itself must wait the database out instead of answering 503 and losing reports.
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { request } from "../../bench/lib.js";
import { fileCompleteBody, putJson } from "../helpers/fakeWorkers.js";
import { type TestDatabase, createTestDatabase } from "../helpers/pg.js";
import { privatePostgresFromEnv, restartPostgres, startPostgres } from "../helpers/privateServices.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";
import { errorLogs, spawnApp } from "./replicaHarness.js";

// The fault tier's private cluster (never the machine's own Postgres): down for 2.5 s, then back.
const restartDatabase = () => restartPostgres(privatePostgresFromEnv(), 2500);

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ backend: "postgres", broker: "memory" });
});
afterAll(async () => {
  await app?.close();
});
afterEach(async () => {
  // Whatever a failed test left: the cluster is running again (starting a running cluster fails harmlessly).
  await startPostgres(privatePostgresFromEnv()).catch(() => {});
});

describe("Postgres restart", () => {
  it("When Postgres restarts for 2.5 s during 50 concurrent file-complete callers, then every report is answered 200 and counted exactly once", async () => {
    const paths = Array.from(
      { length: 6000 },
      (_, i) => `root://pg//${randomBytes(3).toString("hex")}/f${i}.root`,
    );
    const sub = await putJson(
      `${app.url}/servicex/transformation`,
      { "file-list": paths, selection: "s", codegen: "passthrough", "result-destination": "object-store" },
      "POST",
    );
    const id = (sub.body as { request_id: string }).request_id;
    const files = await app.deps.db.sql.query<{ id: number; paths: string }>(
      "SELECT f.id, f.paths FROM files f JOIN requests r ON r.did_id = f.dataset_id WHERE r.request_id = $1 ORDER BY f.id",
      [id],
    );
    let next = 0;
    let answered = 0;
    const statuses: Record<number, number> = {};
    const callers = Array.from({ length: 50 }, async () => {
      for (;;) {
        const f = files[next++];
        if (!f) return;
        const r = await putJson(
          `${app.url}/servicex/internal/transformation/${id}/file-complete`,
          fileCompleteBody({ request_id: id, file_id: f.id, paths: [f.paths] }, "success"),
        );
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        answered += 1;
      }
    });
    // Restart once the traffic is flowing (100 of 6,000 reports answered), so it lands mid-traffic.
    await eventually(async () => answered >= 100, 60_000, "100 file-complete reports answered");
    await restartDatabase();
    await Promise.all(callers);
    expect(statuses).toEqual({ 200: 6000 });
    expect(app.deps.fileComplete.stats.retries).toBeGreaterThan(0); // the restart really hit the traffic
    const row = await eventually(
      async () => {
        const r = await app.deps.db.sql.query<{ status: string; files_completed: number }>(
          "SELECT status, files_completed FROM requests WHERE request_id = $1",
          [id],
        );
        return r[0];
      },
      30_000,
      "database back",
    );
    expect(row).toEqual({ status: "complete", files_completed: 6000 });
    await app.deps.lifecycle.idle();
    expect(app.launcher.shutdownCount(id)).toBe(1);
  });
});

describe("Postgres restart under an App process", () => {
  let db: TestDatabase | undefined;
  afterAll(async () => {
    await db?.drop().catch(() => {});
  });

  it("When Postgres restarts during 200 concurrent sidecar-style callers, then no call gets a 500, every report is eventually answered 200, the counters equal the distinct successful reports and the same process recovers", async () => {
    db = await createTestDatabase("sx_pgr");
    const app = await spawnApp({ DATABASE_URL: db.url, LOG_LEVEL: "warn" });
    const sql = new pg.Client({ connectionString: db.url });
    try {
      const N = 6000;
      const tag = randomBytes(3).toString("hex");
      const sub = await request(`${app.url}/servicex/transformation`, "POST", {
        "file-list": Array.from({ length: N }, (_, i) => `root://pgr//${tag}/f${i}.root`),
        selection: "s",
        codegen: "passthrough",
        "result-destination": "object-store",
      });
      expect(sub.status, sub.body).toBe(200);
      const id = (JSON.parse(sub.body) as { request_id: string }).request_id;
      await sql.connect();
      const files = (
        await sql.query<{ id: number; paths: string }>(
          "SELECT f.id, f.paths FROM files f JOIN requests r ON r.did_id = f.dataset_id WHERE r.request_id = $1 ORDER BY f.id",
          [id],
        )
      ).rows;
      await sql.end();
      expect(files).toHaveLength(N);

      // Reports: every 9th file fails for good, every 5th is reported twice (a duplicate), the rest succeed.
      // A sidecar-style caller retries a report until it is answered 200 (on 503 and on connection errors).
      const plan = files.flatMap((f, i) => {
        const status = i % 9 === 0 ? ("failure" as const) : ("success" as const);
        const body = fileCompleteBody({ request_id: id, file_id: f.id, paths: [f.paths] }, status);
        return i % 5 === 0 ? [body, body] : [body];
      });
      const statuses: Record<string, number> = {};
      const note = (k: string) => {
        statuses[k] = (statuses[k] ?? 0) + 1;
      };
      let answered = 0;
      let retried = 0;
      const ok = new Set<number>();
      const okFailed = new Set<number>();
      let next = 0;
      const callers = Array.from({ length: 200 }, async () => {
        for (;;) {
          const body = plan[next++];
          if (!body) return;
          for (let attempt = 0; ; attempt++) {
            let status: number | string;
            try {
              status = (
                await request(`${app.url}/servicex/internal/transformation/${id}/file-complete`, "PUT", body)
              ).status;
            } catch (e) {
              status = (e as { code?: string }).code ?? "error";
            }
            note(String(status));
            if (status === 200) {
              (body.status === "success" ? ok : okFailed).add(body["file-id"]);
              answered += 1;
              break;
            }
            if (typeof status === "number" && status !== 503) break; // a real error: counted, not retried
            retried += 1;
            if (attempt > 60) break;
            await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt)));
          }
        }
      });
      await eventually(async () => answered >= plan.length / 5, 60_000, "a fifth of the reports");
      const t0 = Date.now();
      await restartDatabase();
      const restartMs = Date.now() - t0;
      await Promise.all(callers);
      const retryLogs = app.logs.filter((l) => l.msg === "file-complete batch: retrying").length;
      console.log(
        `Postgres restart (${restartMs} ms) during ${plan.length} reports from 200 callers: answers ${JSON.stringify(statuses)}, ` +
          `${retried} sidecar retries, ${retryLogs} batches waited for the database`,
      );
      expect(statuses["500"]).toBeUndefined();
      expect(Object.keys(statuses).filter((k) => k !== "200" && k !== "503")).toEqual([]);
      expect(answered).toBe(plan.length);
      expect(retryLogs).toBeGreaterThan(0); // the restart really hit the traffic

      // Same process, no restart: ready again, and the counters are the distinct successful reports.
      expect(app.alive()).toBe(true);
      await eventually(
        async () => (await request(`${app.url}/readyz`, "GET")).status === 200,
        30_000,
        "/readyz 200 again",
      );
      const completedFiles = ok.size;
      const failedFiles = [...okFailed].filter((f) => !ok.has(f)).length;
      expect(completedFiles + failedFiles).toBe(N);
      const st = await request(`${app.url}/servicex/transformation/${id}`, "GET");
      expect(st.status).toBe(200);
      const row = JSON.parse(st.body) as Record<string, unknown>;
      expect(row.status).toBe("Complete");
      expect(row["files-completed"]).toBe(completedFiles);
      expect(row["files-failed"]).toBe(failedFiles);
      // Error-level log lines are allowed only for the database outage itself (connection loss), never an
      // unhandled rejection or crash.
      expect(errorLogs(app).filter((l) => /unhandled|uncaught/.test(String(l.msg)))).toEqual([]);
    } finally {
      await sql.end().catch(() => {});
      await app.stop();
    }
  }, 150_000);
});
