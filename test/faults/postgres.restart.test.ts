// Postgres restarting under file-complete traffic: sidecars ignore HTTP status codes (contract A.26), so
// the App itself must wait the database out instead of answering 503 and losing reports.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { fileCompleteBody, putJson } from "../helpers/fakeWorkers.js";
import { type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

const run = promisify(execFile);
const cluster = async (action: "restart" | "start") => {
  const { stdout } = await run("ls", ["/etc/postgresql"]);
  const version = stdout.trim().split("\n")[0]!;
  await run("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", action], { timeout: 120_000 });
};

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ backend: "postgres", broker: "memory" });
});
afterAll(async () => {
  await app?.close();
});
afterEach(async () => {
  await cluster("start").catch(() => {});
});

describe("Postgres restart", () => {
  it("When Postgres restarts during 50 concurrent file-complete callers, then every report is answered 200 and counted exactly once", async () => {
    const paths = Array.from(
      { length: 1500 },
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
      }
    });
    await new Promise((r) => setTimeout(r, 150));
    await cluster("restart");
    await Promise.all(callers);
    expect(statuses).toEqual({ 200: 1500 });
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
    expect(row).toEqual({ status: "complete", files_completed: 1500 });
    await app.deps.lifecycle.idle();
    expect(app.launcher.shutdownCount(id)).toBe(1);
  });
});
