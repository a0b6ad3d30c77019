// Database migrations without network access (the WebAssembly schema engine, see src/adapters/db/migrate.ts).
//
//   tsx scripts/migrate.ts deploy        apply pending migrations (like `prisma migrate deploy`) to
//                                        DATABASE_URL, else SQLALCHEMY_DATABASE_URI when it is a postgresql://
//                                        URL, else the embedded PGlite database persisted in $DATA_DIR/pglite (default ./data/pglite).
//                                        A database made by upstream's Flask App is adopted first
//                                        (src/adapters/db/adopt.ts)
//   tsx scripts/migrate.ts deploy --dry-run   print what deploy would do (the adoption's SQL, or the pending
//                                        migrations) and write nothing
//   tsx scripts/migrate.ts new <name>    write prisma/migrations/<timestamp>_<name>/migration.sql with what
//                                        schema.prisma adds to the migrations (nothing when in sync)
//   tsx scripts/migrate.ts check         exit 1 and print the SQL when schema.prisma and the migrations drift
//
// `new` and `check` replay the migrations on a shadow database: an in-memory PGlite (no server needed, a few
// seconds), or a temporary database on the server of SHADOW_DATABASE_URL when that is set (faster).

import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { AdoptionRefusedError } from "../src/adapters/db/adopt.js";
import { DataDirLockedError, lockDataDir } from "../src/adapters/db/dataDirLock.js";
import { applyMigrations, createMigration, diffMigrationsToSchema } from "../src/adapters/db/migrate.js";
import { ConfigError, loadProcessConfig, readDotenvFile } from "../src/config.js";

// deploy reads the configuration as npm start and npm run user do (loadProcessConfig: the environment, then
// the file APP_CONFIG_FILE names, then ./.env); new/check take SHADOW_DATABASE_URL from the environment or ./.env.
const shadowUrl = () =>
  process.env.SHADOW_DATABASE_URL || readDotenvFile(".env").SHADOW_DATABASE_URL || undefined;

const log = (msg: string) => console.log(msg);

/** DATABASE_URL, else SQLALCHEMY_DATABASE_URI when it names Postgres (`postgresql+psycopg2://` too). */
function databaseUrlFromEnv(): string | null {
  return loadProcessConfig().databaseUrl ?? null;
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable URL)";
  }
}

async function deploy(args: string[]): Promise<number> {
  const unknown = args.filter((a) => a !== "--dry-run");
  if (unknown.length > 0) {
    console.error(
      `unknown argument(s): ${unknown.join(" ")}\nusage: tsx scripts/migrate.ts deploy [--dry-run]`,
    );
    return 2;
  }
  const dryRun = args.includes("--dry-run");
  const started = Date.now();
  const url = databaseUrlFromEnv();
  try {
    if (url) {
      log(
        `${dryRun ? "Dry run (nothing is written): migrations for" : "Applying migrations to"} ${redact(url)}`,
      );
      await applyMigrations({ kind: "postgres", url }, { log, dryRun });
    } else {
      const dataDir = path.resolve(loadProcessConfig().DATA_DIR, "pglite");
      log(
        `No DATABASE_URL: ${dryRun ? "dry run on" : "applying migrations to"} the embedded PGlite database in ${dataDir}`,
      );
      if (dryRun && !existsSync(dataDir)) {
        log("It does not exist yet: every migration would be applied.");
        return 0;
      }
      await mkdir(dataDir, { recursive: true });
      // Refused while a server has the directory open (it migrates it itself).
      const lock = lockDataDir(dataDir);
      const { PGlite } = await import("@electric-sql/pglite");
      try {
        const db = new PGlite(dataDir);
        try {
          await applyMigrations({ kind: "pglite", db }, { log, dryRun });
        } finally {
          await db.close();
        }
      } finally {
        lock.release();
      }
    }
  } catch (err) {
    if (err instanceof AdoptionRefusedError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
  log(`Done in ${Date.now() - started} ms.`);
  return 0;
}

async function newMigration(name: string | undefined): Promise<number> {
  if (!name) {
    console.error("usage: tsx scripts/migrate.ts new <name>");
    return 2;
  }
  const dir = await createMigration(name, { log, shadowUrl: shadowUrl() });
  if (dir) log(`Review it, then apply it with: npm run db:migrate`);
  return 0;
}

async function check(): Promise<number> {
  const sql = await diffMigrationsToSchema({ shadowUrl: shadowUrl() });
  if (!sql) {
    log("prisma/schema.prisma and prisma/migrations are in sync.");
    return 0;
  }
  console.error("prisma/schema.prisma and prisma/migrations have drifted. SQL the migrations are missing:\n");
  console.log(sql);
  console.error("Create a migration with: npm run db:new-migration -- <name>");
  return 1;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "deploy":
      return deploy(rest);
    case "new":
      return newMigration(rest[0]);
    case "check":
      return check();
    default:
      console.error("usage: tsx scripts/migrate.ts deploy [--dry-run] | new <name> | check");
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const expected = err instanceof ConfigError || err instanceof DataDirLockedError;
    console.error(err instanceof Error ? (expected ? err.message : (err.stack ?? err.message)) : err);
    process.exitCode = err instanceof ConfigError ? 2 : 1;
  },
);
