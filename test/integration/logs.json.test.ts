// The App's log lines are JSON that log tools read whole: every line parses, no key appears twice in a line
// (jq and most collectors keep only the last of two `msg` or `component` keys), the database engine's chatter
// stays out, and the reconciler's periodic pass is debug unless it did something.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, spawnApp } from "../helpers/appProcess.js";
import { putJson } from "../helpers/fakeWorkers.js";
import { type TestDatabase, createEmptyDatabase } from "../helpers/pg.js";
import { parseStrictJson } from "../helpers/strictJson.js";
import { eventually } from "../helpers/wait.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createEmptyDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe("JSON logs", () => {
  it("When the App starts, serves requests, runs a request through local transformers and ticks its reconciler, then every log line is JSON without a repeated key and without the engine's 'Analysis run'", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sx-logs-"));
    const input = join(dir, "input.root");
    writeFileSync(input, "not really ROOT");
    const app = spawnApp({
      DATABASE_URL: db.url,
      DATA_DIR: dir,
      PORT: String(await freePort()),
      BIND_ADDRESS: "127.0.0.1",
      LOG_LEVEL: "debug",
      RECONCILE_INTERVAL: "1",
      LOCAL_TRANSFORMER_WORKERS: "1",
    });
    try {
      const url = await app.listening();
      expect((await fetch(`${url}/servicex`)).status).toBe(200);
      const missing = await fetch(`${url}/servicex/transformation/00000000-0000-4000-8000-000000000000`);
      expect(missing.status).toBe(404);
      const bad = await putJson(`${url}/servicex/transformation`, { selection: "s" }, "POST");
      expect(bad.status).toBe(400);
      const sub = await putJson(
        `${url}/servicex/transformation`,
        {
          "file-list": [input],
          selection: "s",
          codegen: "passthrough",
          "result-destination": "volume",
        },
        "POST",
      );
      expect(sub.status, JSON.stringify(sub.body)).toBe(200);
      const id = (sub.body as { request_id: string }).request_id;
      await eventually(
        async () => {
          const r = (await (await fetch(`${url}/servicex/transformation/${id}`)).json()) as {
            status: string;
          };
          return r.status === "Complete";
        },
        60_000,
        "the request to complete",
      );
      // Two idle reconciler passes after the request finished.
      let passes = 0;
      await app.waitForLine(
        (l) => l.includes('"job":"reconciler"') && l.includes("scheduled job finished") && ++passes >= 2,
        30_000,
        "two reconciler passes",
      );
    } finally {
      app.child.kill("SIGTERM");
      await app.exited;
    }

    const lines = app.stdout.filter((l) => l.trim() !== "");
    expect(lines.length).toBeGreaterThan(10);
    const parsed = lines.map((l) => parseStrictJson(l) as Record<string, unknown>);
    for (const l of lines) expect(l).not.toContain("Analysis run");
    // Every line carries upstream's component; the part of the App that logs is `module`.
    for (const p of parsed) expect(p.component, JSON.stringify(p)).toBe("servicex_app");
    expect(parsed.some((p) => p.module === "reconciler" || p.module === "scheduler")).toBe(true);
    // A refused call keeps both its message and its reason.
    const rejected = parsed.find((p) => p.msg === "request rejected" && p.status === 400);
    expect(rejected?.reason, JSON.stringify(rejected)).toMatch(/malformed|required|invalid/i);
    // The reconciler had nothing to do: its passes are debug (20), not info.
    const ticks = parsed.filter((p) => p.job === "reconciler" && p.msg === "scheduled job finished");
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    for (const t of ticks) expect(t.level, JSON.stringify(t)).toBe(20);
    // What the App writes to stderr (its transformer workers' logs included) follows the same rules.
    for (const l of app.stderr.filter((x) => x.startsWith("{"))) parseStrictJson(l);
  }, 240_000);
});
