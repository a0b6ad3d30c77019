// Migrations applied with the WebAssembly schema engine (src/adapters/db/migrate.ts) to Postgres and to
// PGlite, their concurrency and idempotence, and the drift check between prisma/schema.prisma and
// prisma/migrations: "When schema.prisma and the migrations agree …" fails when someone edits the schema
// without adding a migration (fix: `npm run db:new-migration -- <name>`).

import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyMigrations,
  createMigration,
  DEFAULT_MIGRATIONS_DIR,
  DEFAULT_SCHEMA_PATH,
  diffMigrationsToSchema,
  REPO_ROOT,
  withoutHandWrittenIndexDrops,
} from "../../src/adapters/db/migrate.js";

const SERVER = "postgres://postgres@127.0.0.1:5432";
const ADMIN_URL = `${SERVER}/postgres`;
const TABLES = ["datasets", "file_status", "files", "requests", "transform_result", "users"];
const STATUSES = [
  "submitted",
  "pending_lookup",
  "lookup",
  "running",
  "complete",
  "fatal",
  "canceled",
  "bad_dataset",
];

const createdDatabases: string[] = [];

/** A unique database name; registered for dropping in afterAll whether or not it gets created. */
function databaseName(label: string): string {
  const name = `migtest_${label}_${process.pid}_${randomUUID().slice(0, 8)}`;
  createdDatabases.push(name);
  return name;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function createDatabase(label: string): Promise<string> {
  const name = databaseName(label);
  await withClient(ADMIN_URL, (c) => c.query(`CREATE DATABASE "${name}"`));
  return `${SERVER}/${name}`;
}

async function migrationNames(): Promise<string[]> {
  const entries = await readdir(DEFAULT_MIGRATIONS_DIR, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

type Queryable = { query: (sql: string, params?: unknown[]) => Promise<{ rows: unknown[] }> };

async function tableNames(db: Queryable): Promise<string[]> {
  const { rows } = await db.query(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return (rows as { table_name: string }[]).map((r) => r.table_name);
}

async function indexNames(db: Queryable): Promise<string[]> {
  const { rows } = await db.query("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1");
  return (rows as { indexname: string }[]).map((r) => r.indexname);
}

async function insertDataset(c: pg.Client, name: string, stale: boolean): Promise<void> {
  await c.query(
    `INSERT INTO datasets (name, last_used, did_finder, lookup_status, stale)
     VALUES ($1, now(), 'rucio', 'created', $2)`,
    [name, stale],
  );
}

async function insertUser(c: pg.Client, sub: string, email: string): Promise<void> {
  await c.query("INSERT INTO users (sub, email, name) VALUES ($1, $2, 'Test User')", [sub, email]);
}

/** Resolves with the Postgres error code (and constraint) of a failing statement. */
async function failure(p: Promise<unknown>): Promise<{ code?: string; constraint?: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    return { code: e.code, constraint: e.constraint };
  }
  throw new Error("expected the statement to fail");
}

afterAll(async () => {
  await withClient(ADMIN_URL, async (c) => {
    for (const name of createdDatabases) await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  });
});

describe("Migrations on Postgres", () => {
  let url: string;
  let firstApply: { applied: string[] };

  beforeAll(async () => {
    url = await createDatabase("fresh");
    const started = performance.now();
    firstApply = await applyMigrations({ kind: "postgres", url });
    console.log(
      `applyMigrations on a fresh Postgres database: ${Math.round(performance.now() - started)} ms`,
    );
  });

  it("When the migrations are applied to a fresh database, then every migration directory is applied", async () => {
    expect(firstApply.applied).toEqual(await migrationNames());
    expect(firstApply.applied.length).toBeGreaterThan(0);
  });

  it("When the migrations are applied, then the tables and the transformstatus enum exist", async () => {
    await withClient(url, async (c) => {
      const tables = await tableNames(c);
      for (const t of [...TABLES, "_prisma_migrations"]) expect(tables).toContain(t);
      const { rows } = await c.query(
        `SELECT e.enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
         WHERE t.typname = 'transformstatus' ORDER BY e.enumsortorder`,
      );
      expect(rows.map((r) => r.enumlabel)).toEqual(STATUSES);
    });
  });

  it("When the migrations are applied, then uix_file_request is a unique index on (file_id, request_id)", async () => {
    await withClient(url, async (c) => {
      const { rows } = await c.query("SELECT indexdef FROM pg_indexes WHERE indexname = 'uix_file_request'");
      expect(rows).toHaveLength(1);
      expect(rows[0].indexdef).toMatch(/^CREATE UNIQUE INDEX uix_file_request ON public\.transform_result/);
      expect(rows[0].indexdef).toContain("(file_id, request_id)");
    });
  });

  it("When two non-stale datasets share a name, then the second insert fails, while stale ones may share it", async () => {
    await withClient(url, async (c) => {
      await insertDataset(c, "mc23:dataset.one", false);
      expect(await failure(insertDataset(c, "mc23:dataset.one", false))).toEqual({
        code: "23505",
        constraint: "ix_datasets_name",
      });
      await insertDataset(c, "mc23:dataset.one", true);
      await insertDataset(c, "mc23:dataset.one", true);
      const { rows } = await c.query(
        "SELECT stale, count(*)::int AS n FROM datasets WHERE name = 'mc23:dataset.one' GROUP BY stale ORDER BY stale",
      );
      expect(rows).toEqual([
        { stale: false, n: 1 },
        { stale: true, n: 2 },
      ]);
    });
  });

  it("When two users' e-mails differ only in case, then the second insert fails on ix_users_email", async () => {
    await withClient(url, async (c) => {
      await insertUser(c, "sub-upper", "A@x.org");
      expect(await failure(insertUser(c, "sub-lower", "a@x.org"))).toEqual({
        code: "23505",
        constraint: "ix_users_email",
      });
      await insertUser(c, "sub-other", "b@x.org");
    });
  });

  it("When the migrations are applied, then _prisma_migrations records them as prisma migrate deploy does", async () => {
    const names = await migrationNames();
    await withClient(url, async (c) => {
      const { rows } = await c.query(
        `SELECT migration_name, checksum, finished_at, rolled_back_at, logs, applied_steps_count
         FROM _prisma_migrations ORDER BY migration_name`,
      );
      expect(rows.map((r) => r.migration_name)).toEqual(names);
      for (const row of rows) {
        const sql = await readFile(path.join(DEFAULT_MIGRATIONS_DIR, row.migration_name, "migration.sql"));
        expect(row.checksum).toBe(createHash("sha256").update(sql).digest("hex"));
        expect(row.finished_at).toBeInstanceOf(Date);
        expect(row.rolled_back_at).toBeNull();
        expect(row.logs).toBeNull();
        expect(row.applied_steps_count).toBe(1);
      }
    });
  });

  it("When the migrations are applied a second time, then nothing is applied", async () => {
    const log: string[] = [];
    const second = await applyMigrations({ kind: "postgres", url }, { log: (m) => log.push(m) });
    expect(second.applied).toEqual([]);
    expect(log).toContain("No pending migrations to apply.");
    await withClient(url, async (c) => {
      const { rows } = await c.query("SELECT count(*)::int AS n FROM _prisma_migrations");
      expect(rows[0].n).toBe((await migrationNames()).length);
    });
  });

  it("When two applies run concurrently on a fresh database, then both succeed and each migration is recorded once", async () => {
    const concurrentUrl = await createDatabase("concurrent");
    const results = await Promise.all([
      applyMigrations({ kind: "postgres", url: concurrentUrl }),
      applyMigrations({ kind: "postgres", url: concurrentUrl }),
    ]);
    const names = await migrationNames();
    expect([...results[0].applied, ...results[1].applied].sort()).toEqual(names);
    expect(results.some((r) => r.applied.length === 0)).toBe(true);
    await withClient(concurrentUrl, async (c) => {
      const { rows } = await c.query(
        "SELECT migration_name, count(*)::int AS n FROM _prisma_migrations GROUP BY 1 ORDER BY 1",
      );
      expect(rows).toEqual(names.map((migration_name) => ({ migration_name, n: 1 })));
      expect(await tableNames(c)).toEqual(expect.arrayContaining(TABLES));
    });
  });

  it("When `scripts/migrate.ts deploy` runs in two processes at once on a database that does not exist yet, then both succeed and each migration is recorded once", async () => {
    const name = databaseName("cli");
    const cliUrl = `${SERVER}/${name}`;
    const run = () =>
      promisify(execFile)(
        process.execPath,
        [path.join(REPO_ROOT, "node_modules", "tsx", "dist", "cli.mjs"), "scripts/migrate.ts", "deploy"],
        {
          cwd: REPO_ROOT,
          env: { ...process.env, DATABASE_URL: cliUrl, SQLALCHEMY_DATABASE_URI: "" },
          timeout: 60_000,
        },
      );
    const outputs = await Promise.all([run(), run()]);
    const stdout = outputs.map((o) => o.stdout).join("\n");
    expect(stdout).toContain("Applied ");
    expect(stdout).toContain("No pending migrations to apply.");
    await withClient(cliUrl, async (c) => {
      const { rows } = await c.query("SELECT count(*)::int AS n FROM _prisma_migrations");
      expect(rows[0].n).toBe((await migrationNames()).length);
    });
  });
});

describe("Migrations on PGlite", () => {
  it("When the migrations are applied to an in-memory PGlite, then it gets the same tables and indexes as Postgres", async () => {
    const db = new PGlite();
    try {
      const started = performance.now();
      const result = await applyMigrations({ kind: "pglite", db });
      console.log(`applyMigrations on an in-memory PGlite: ${Math.round(performance.now() - started)} ms`);
      expect(result.applied).toEqual(await migrationNames());
      const url = await createDatabase("reference");
      await applyMigrations({ kind: "postgres", url });
      const [pgTables, pgIndexes] = await withClient(url, async (c) => [
        await tableNames(c),
        await indexNames(c),
      ]);
      expect(await tableNames(db)).toEqual(pgTables);
      expect(await indexNames(db)).toEqual(pgIndexes);
      expect(await indexNames(db)).toEqual(expect.arrayContaining(["ix_datasets_name", "ix_users_email"]));

      expect((await applyMigrations({ kind: "pglite", db })).applied).toEqual([]);
    } finally {
      await db.close();
    }
  });
});

describe("Migration scripts", () => {
  let migrationsDir: string;

  beforeAll(async () => {
    migrationsDir = await mkdtemp(path.join(os.tmpdir(), "servicex-bad-migrations-"));
    await cp(
      path.join(DEFAULT_MIGRATIONS_DIR, "migration_lock.toml"),
      path.join(migrationsDir, "migration_lock.toml"),
    );
    const write = async (dir: string, sql: string) => {
      const full = path.join(migrationsDir, dir);
      await mkdir(full);
      await writeFile(path.join(full, "migration.sql"), sql);
    };
    // Semicolons inside a comment and a string literal must not split statements.
    await write(
      "20990101000000_ok",
      '-- a comment; with semicolons\nCREATE TABLE "kept" (v text);\nINSERT INTO "kept" VALUES (\'a;b\');\n',
    );
    await write("20990101000001_bad", 'CREATE TABLE "half" (id int);\nSELECT 1/0;\n');
  });
  afterAll(async () => {
    await rm(migrationsDir, { recursive: true, force: true });
  });

  it("When a migration fails, then applyMigrations rejects, none of its statements stay applied and it is recorded as failed (Postgres and PGlite)", async () => {
    const url = await createDatabase("failing");
    const lite = new PGlite();
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const targets = [
        { target: { kind: "postgres", url } as const, db: pool as Queryable },
        { target: { kind: "pglite", db: lite } as const, db: lite as Queryable },
      ];
      for (const { target, db } of targets) {
        await expect(applyMigrations(target, { migrationsDir })).rejects.toThrow(/division by zero/);
        const { rows } = await db.query(
          `SELECT (SELECT string_agg(v, ',') FROM kept) AS kept, to_regclass('half') IS NULL AS no_half,
                  (SELECT string_agg(migration_name || ':' || (finished_at IS NOT NULL), ',' ORDER BY migration_name)
                   FROM _prisma_migrations) AS recorded`,
        );
        expect(rows[0]).toEqual({
          kept: "a;b",
          no_half: true,
          recorded: "20990101000000_ok:true,20990101000001_bad:false",
        });
      }
    } finally {
      await pool.end();
      await lite.close();
    }
  });
});

describe("Drift between prisma/schema.prisma and prisma/migrations", () => {
  let tmp: string;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "servicex-migrations-"));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  /** schema.prisma plus one column the migrations do not have. */
  async function driftedSchema(): Promise<string> {
    const schema = await readFile(DEFAULT_SCHEMA_PATH, "utf8");
    const anchor = "  stale        Boolean   @default(false)\n";
    expect(schema).toContain(anchor);
    const file = path.join(tmp, `schema-${randomUUID().slice(0, 8)}.prisma`);
    await writeFile(file, schema.replace(anchor, `${anchor}  driftProbe String? @map("drift_probe")\n`));
    return file;
  }

  it("When schema.prisma and the migrations agree, then diffMigrationsToSchema returns nothing (else run `npm run db:new-migration -- <name>`)", async () => {
    const sql = await diffMigrationsToSchema();
    expect(sql, `schema.prisma needs a migration with:\n${sql}`).toBe("");
  });

  it("When a copy of the schema gains a column, then the drift check reports the SQL to add it", async () => {
    const schemaPath = await driftedSchema();
    const sql = await diffMigrationsToSchema({ schemaPath, shadowUrl: ADMIN_URL });
    expect(sql).toMatch(/ALTER TABLE "datasets" ADD COLUMN\s+"drift_probe" TEXT;/);
    expect(sql).not.toMatch(/DROP INDEX/);
  });

  it("When createMigration runs on a drifted schema, then it writes a migration after which nothing drifts", async () => {
    const schemaPath = await driftedSchema();
    const migrationsDir = path.join(tmp, "migrations");
    await cp(DEFAULT_MIGRATIONS_DIR, migrationsDir, { recursive: true });
    const opts = { schemaPath, migrationsDir, shadowUrl: ADMIN_URL, now: new Date("2099-01-02T03:04:05Z") };

    const dir = await createMigration("Add drift probe", opts);
    expect(dir).toBe(path.join(migrationsDir, "20990102030405_add_drift_probe"));
    const sql = await readFile(path.join(dir as string, "migration.sql"), "utf8");
    expect(sql).toContain('"drift_probe"');

    expect(await diffMigrationsToSchema(opts)).toBe("");
    expect(await createMigration("again", { ...opts, now: new Date("2099-01-02T03:04:06Z") })).toBeNull();
  });

  it("When a diff proposes dropping a hand-written index, then exactly that statement is ignored", () => {
    const diff = [
      "-- DropIndex",
      'DROP INDEX "ix_users_email";',
      "",
      "-- DropIndex",
      'DROP INDEX "ix_datasets_name";',
      "",
      "-- DropIndex",
      'DROP INDEX "ix_users_sub";',
      "",
      "-- AlterTable",
      'ALTER TABLE "users" ADD COLUMN "x" TEXT;',
      "",
    ].join("\n");
    expect(withoutHandWrittenIndexDrops(diff)).toBe(
      [
        "-- DropIndex",
        'DROP INDEX "ix_users_sub";',
        "",
        "-- AlterTable",
        'ALTER TABLE "users" ADD COLUMN "x" TEXT;',
        "",
      ].join("\n"),
    );
  });
});
