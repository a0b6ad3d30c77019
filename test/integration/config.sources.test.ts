// npm start, npm run db:migrate and npm run user read the same configuration sources in the same order
// (the environment, then APP_CONFIG_FILE, then ./.env): run from a directory with a .env, the migration, the
// user CLI and the App all use the embedded database that .env names, and the environment still wins.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { freePort, spawnApp } from "../helpers/appProcess.js";

/** The script and arguments an npm script runs with tsx (they move; package.json says where). */
function npmScript(name: string): [string, string[]] {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    scripts: Record<string, string>;
  };
  const m = /^tsx (\S+)(.*)$/.exec(pkg.scripts[name] ?? "");
  if (!m) throw new Error(`npm run ${name} is not "tsx <script> …": ${pkg.scripts[name]}`);
  return [m[1]!, m[2]!.trim().split(/\s+/).filter(Boolean)];
}

describe("Configuration sources of npm start, npm run db:migrate and npm run user", () => {
  it("When the working directory has a .env, then db:migrate, the user CLI and the App all read it, and the environment wins over it", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "sx-cwd-"));
    const dataDir = join(cwd, "data-from-dotenv");
    mkdirSync(dataDir);
    const dotenvPort = await freePort();
    writeFileSync(
      join(cwd, ".env"),
      `DATA_DIR=${dataDir}\nPORT=${dotenvPort}\nBIND_ADDRESS=127.0.0.1\nTRANSFORMER_MANAGER_ENABLED=false\nRECONCILE_INTERVAL=0\n`,
    );

    const [migrate, migrateArgs] = npmScript("db:migrate");
    const m = spawnApp({}, migrate, migrateArgs, cwd);
    expect((await m.exited).code, m.stderr.join("\n")).toBe(0);
    expect(m.stdout.join("\n")).toContain(join(dataDir, "pglite"));

    const [user, userArgs] = npmScript("user");
    const u = spawnApp({}, user, [...userArgs, "create", "sub-1", "dotenv@example.org", "D", "I"], cwd);
    expect((await u.exited).code, u.stderr.join("\n")).toBe(0);

    const app = spawnApp({}, "src/main.ts", [], cwd);
    try {
      const url = await app.listening();
      expect(url).toBe(`http://127.0.0.1:${dotenvPort}`);
      const users = (await (await fetch(`${url}/users`)).json()) as unknown;
      expect(JSON.stringify(users)).toContain("dotenv@example.org");
    } finally {
      app.child.kill("SIGTERM");
      await app.exited;
    }

    const envPort = await freePort();
    const again = spawnApp({ PORT: String(envPort) }, "src/main.ts", [], cwd);
    try {
      expect(await again.listening()).toBe(`http://127.0.0.1:${envPort}`);
    } finally {
      again.child.kill("SIGTERM");
      await again.exited;
    }
  }, 300_000);
});
