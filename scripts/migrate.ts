// Database migrations without network access (the WebAssembly schema engine, see src/adapters/db/migrate.ts).
//
//   tsx scripts/migrate.ts deploy        apply pending migrations (like `prisma migrate deploy`) to
//                                        DATABASE_URL, else SQLALCHEMY_DATABASE_URI when it is a postgresql://
//                                        URL, else the embedded PGlite database persisted in $DATA_DIR/pglite (default ./data/pglite)
//   tsx scripts/migrate.ts new <name>    write prisma/migrations/<timestamp>_<name>/migration.sql with what
//                                        schema.prisma adds to the migrations (nothing when in sync)
//   tsx scripts/migrate.ts check         exit 1 and print the SQL when schema.prisma and the migrations drift
//
// `new` and `check` replay the migrations on a shadow database: an in-memory PGlite (no server needed, a few
// seconds), or a temporary database on the server of SHADOW_DATABASE_URL when that is set (faster).

import { mkdir } from "node:fs/promises";
import path from "node:path";
import dotenv from "dotenv";
import { applyMigrations, createMigration, diffMigrationsToSchema } from "../src/adapters/db/migrate.js";

dotenv.config({ quiet: true });

const log = (msg: string) => console.log(msg);

/** DATABASE_URL, else SQLALCHEMY_DATABASE_URI when it names Postgres (`postgresql+psycopg2://` too). */
function databaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  const sqlalchemy = env.SQLALCHEMY_DATABASE_URI;
  const m = sqlalchemy ? /^postgres(?:ql)?(?:\+[a-z0-9_]+)?:\/\/(.*)$/i.exec(sqlalchemy) : null;
  return m ? `postgresql://${m[1]}` : null;
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

async function deploy(): Promise<number> {
  const started = Date.now();
  const url = databaseUrlFromEnv();
  if (url) {
    log(`Applying migrations to ${redact(url)}`);
    await applyMigrations({ kind: "postgres", url }, { log });
  } else {
    const dataDir = path.resolve(process.env.DATA_DIR ?? "data", "pglite");
    await mkdir(dataDir, { recursive: true });
    log(`No DATABASE_URL: applying migrations to the embedded PGlite database in ${dataDir}`);
    const { PGlite } = await import("@electric-sql/pglite");
    const db = new PGlite(dataDir);
    try {
      await applyMigrations({ kind: "pglite", db }, { log });
    } finally {
      await db.close();
    }
  }
  log(`Done in ${Date.now() - started} ms.`);
  return 0;
}

async function newMigration(name: string | undefined): Promise<number> {
  if (!name) {
    console.error("usage: tsx scripts/migrate.ts new <name>");
    return 2;
  }
  const dir = await createMigration(name, { log, shadowUrl: process.env.SHADOW_DATABASE_URL || undefined });
  if (dir) log(`Review it, then apply it with: npm run db:migrate`);
  return 0;
}

async function check(): Promise<number> {
  const sql = await diffMigrationsToSchema({ shadowUrl: process.env.SHADOW_DATABASE_URL || undefined });
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
      return deploy();
    case "new":
      return newMigration(rest[0]);
    case "check":
      return check();
    default:
      console.error("usage: tsx scripts/migrate.ts deploy | new <name> | check");
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  },
);
