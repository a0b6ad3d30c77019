// Graceful SIGTERM (issue: stop accepting, finish in-flight requests, flush pending writes, exit 0).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { freePort } from "../helpers/appProcess.js";
import { fileCompleteBody, putJson } from "../helpers/fakeWorkers.js";
import { type TestDatabase, createTestDatabase } from "../helpers/pg.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe("SIGTERM", () => {
  it("When the App is stopped under file-complete load, then every answered report is stored, none is half-done, and it exits 0", async () => {
    const port = await freePort(); // a port the kernel just gave out, not a random one that may be taken
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      env: {
        ...process.env,
        PORT: String(port),
        BIND_ADDRESS: "127.0.0.1",
        DATABASE_URL: db.url,
        LOG_LEVEL: "warn",
        RABBIT_MQ_URL: "",
        TRANSFORMER_MANAGER_ENABLED: "false",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/healthz`)).ok) break;
      } catch {}
      // A fresh clone compiles every module on first start, slowly while other test files run: allow 2 min.
      if (i > 1200) throw new Error(`App did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const paths = Array.from(
      { length: 3000 },
      (_, i) => `root://x//${randomBytes(3).toString("hex")}/f${i}.root`,
    );
    const sub = await putJson(
      `${base}/servicex/transformation`,
      { "file-list": paths, selection: "s", codegen: "passthrough", "result-destination": "object-store" },
      "POST",
    );
    const id = (sub.body as { request_id: string }).request_id;
    const c = new pg.Client({ connectionString: db.url });
    c.on("error", () => {});
    await c.connect();
    const files = (
      await c.query<{ id: number; paths: string }>(
        "SELECT f.id, f.paths FROM files f JOIN requests r ON r.did_id = f.dataset_id WHERE r.request_id = $1 ORDER BY f.id",
        [id],
      )
    ).rows;

    let next = 0;
    const ok = new Set<number>();
    let refused = 0;
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const callers = Array.from({ length: 50 }, async () => {
      for (;;) {
        const f = files[next++];
        if (!f) return;
        try {
          const r = await putJson(
            `${base}/servicex/internal/transformation/${id}/file-complete`,
            fileCompleteBody({ request_id: id, file_id: f.id, paths: [f.paths] }, "success"),
          );
          if (r.status === 200) ok.add(f.id);
        } catch {
          refused++;
        }
      }
    });
    setTimeout(() => child.kill("SIGTERM"), 300);
    await Promise.all(callers);
    expect(await exited).toBe(0);
    const stored = (
      await c.query<{ file_id: number }>("SELECT file_id FROM transform_result WHERE request_id = $1", [id])
    ).rows.map((r) => r.file_id);
    const counters = (
      await c.query<{ files_completed: number }>(
        "SELECT files_completed FROM requests WHERE request_id = $1",
        [id],
      )
    ).rows[0]!;
    await c.end();
    expect(ok.size).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0); // the App really stopped mid-run
    for (const f of ok) expect(stored).toContain(f); // every 200 was committed
    expect(counters.files_completed).toBe(stored.length); // counters match rows: nothing half-done
  }, 180_000);
});
