// Applies pending migrations to the database the App is configured with — the same configuration as the
// server (loadProcessConfig: environment, APP_CONFIG_FILE, ./.env; upstream's SQLALCHEMY_DATABASE_URI), so boot.sh migrates the database
// the server then opens. `node dist/cli/migrate.js` (the image), `tsx src/cli/migrate.ts` (sources).
// Creating and checking migrations is scripts/migrate.ts (development only).
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { lockDataDir } from "../adapters/db/dataDirLock.js";
import { applyMigrations } from "../adapters/db/migrate.js";
import { ConfigError, loadProcessConfig } from "../config.js";

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable URL)";
  }
}

async function main(): Promise<number> {
  let config: ReturnType<typeof loadProcessConfig>;
  try {
    config = loadProcessConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  const log = (msg: string) => console.log(msg);
  const started = Date.now();
  if (config.databaseUrl) {
    log(`Applying migrations to ${redact(config.databaseUrl)}`);
    await applyMigrations({ kind: "postgres", url: config.databaseUrl }, { log });
  } else if (config.DATA_DIR === "memory://") {
    log("DATA_DIR=memory://: nothing to migrate (the server migrates its in-memory database)");
  } else {
    const dataDir = path.resolve(config.DATA_DIR, "pglite");
    await mkdir(dataDir, { recursive: true });
    log(`No database URL: applying migrations to the embedded PGlite database in ${dataDir}`);
    // Refused while a server has the directory open (it migrates it itself).
    const lock = lockDataDir(dataDir);
    const { PGlite } = await import("@electric-sql/pglite");
    try {
      const db = new PGlite(dataDir);
      try {
        await applyMigrations({ kind: "pglite", db }, { log });
      } finally {
        await db.close();
      }
    } finally {
      lock.release();
    }
  }
  log(`Done in ${Date.now() - started} ms.`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`migrations failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
