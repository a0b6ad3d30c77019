// One embedded database directory, several processes: the first App holds it; a second App and the user CLI
// refuse at once, naming the holder (they used to start, and one lost its data, or die with PGlite's
// "RuntimeError: Aborted()"); after the holder is killed with SIGKILL, a new App takes the directory over
// and finds the data the first one wrote.
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type AppProcess, freePort, spawnApp } from "../helpers/appProcess.js";
import { putJson } from "../helpers/fakeWorkers.js";

const CLI = existsSync("src/cli/user.ts") ? "src/cli/user.ts" : "scripts/user.ts";

describe("Embedded database directory (DATA_DIR) shared by two processes", () => {
  it("When an App holds DATA_DIR, then a second App and the user CLI refuse naming it; after kill -9 a new App takes over with the data", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sx-datadir-"));
    const env = async () => ({
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      BIND_ADDRESS: "127.0.0.1",
      LOG_LEVEL: "info",
      TRANSFORMER_MANAGER_ENABLED: "false",
      RECONCILE_INTERVAL: "0",
    });
    const running: AppProcess[] = [];
    try {
      const first = spawnApp(await env());
      running.push(first);
      const url = await first.listening();
      const sub = await putJson(
        `${url}/servicex/transformation`,
        {
          "file-list": ["root://a//1.root"],
          selection: "s",
          codegen: "passthrough",
          "result-destination": "volume",
        },
        "POST",
      );
      expect(sub.status).toBe(200);
      const id = (sub.body as { request_id: string }).request_id;

      const second = spawnApp(await env());
      running.push(second);
      const exit = await second.exited;
      expect(exit.code).toBe(1);
      const said = second.stderr.join("\n");
      expect(said).toContain(`in use by another process: pid ${first.pid}`);
      expect(said).toContain("src/main.ts"); // the holder's command
      expect(said).toMatch(/started \d{4}-\d\d-\d\dT/);
      expect(said).not.toContain("Aborted");
      expect(second.stdout.some((l) => l.includes("listening"))).toBe(false);

      const cli = spawnApp(await env(), CLI, ["list"]);
      const cliExit = await cli.exited;
      expect(cliExit.code).toBe(1);
      expect(cli.stderr.join("\n")).toContain(`pid ${first.pid}`);
      expect(cli.stderr.join("\n")).not.toContain("Aborted");

      // The first App was not disturbed.
      expect((await fetch(`${url}/servicex/transformation/${id}`)).status).toBe(200);

      first.child.kill("SIGKILL");
      await first.exited;
      expect(existsSync(join(dataDir, "pglite.lock"))).toBe(true); // left behind: stale

      const third = spawnApp(await env());
      running.push(third);
      const url3 = await third.listening();
      const r = await fetch(`${url3}/servicex/transformation/${id}`);
      expect(r.status).toBe(200);
      expect(((await r.json()) as { request_id: string }).request_id).toBe(id);
      third.child.kill("SIGTERM");
      expect((await third.exited).code).toBe(0);
      expect(existsSync(join(dataDir, "pglite.lock"))).toBe(false); // released at a clean stop
    } finally {
      for (const p of running)
        if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    }
  }, 300_000);
});
