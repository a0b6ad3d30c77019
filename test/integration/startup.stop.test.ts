// A stop signal while the App starts (src/main.ts): the step in progress (here the migrations of a fresh
// embedded database, which keep the event loop busy) is finished, nothing is started after it, and the
// process exits 0 without listening. Before, such a signal was lost and the App went on to listen.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type AppProcess, freePort, spawnApp } from "../helpers/appProcess.js";

let dataDir: string | undefined;
let app: AppProcess | undefined;

afterAll(async () => {
  if (app && app.child.exitCode === null && app.child.signalCode === null) app.child.kill("SIGKILL");
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("When SIGTERM arrives while the migrations run", () => {
  it("then the App finishes them, starts nothing and exits 0 without listening", async () => {
    dataDir = await mkdtemp(join(tmpdir(), "sx-stop-"));
    app = spawnApp({
      PORT: String(await freePort()),
      DATA_DIR: dataDir,
      LOG_LEVEL: "info",
      // Longer than the migrations of a fresh database take on a loaded machine: the exit code is the App's.
      SHUTDOWN_GRACE_MS: "240000",
    });
    await app.waitForLine((l) => l.includes("Applying"), 120_000, "the first migration");
    app.child.kill("SIGTERM");
    const exit = await app.exited;
    const out = app.stdout.join("\n");
    expect(exit).toEqual({ code: 0, signal: null });
    expect(out).toContain("stop requested during start-up");
    expect(out).toContain('"msg":"bye"');
    expect(out).not.toContain("ServiceX App listening on");
    expect(out).not.toContain("scheduler started");
  }, 300_000);
});
