// Opens the database: Postgres through a pg.Pool (DATABASE_URL), or embedded PGlite under DATA_DIR.
// Prisma (driver adapters) serves ordinary reads and writes; `sql` is the same connection pool used
// directly for the set-based hot paths (bulk file inserts with unnest, group-committed file-complete).
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "../../generated/prisma/client.js";
import { lockDataDir } from "./dataDirLock.js";
import { applyMigrations } from "./migrate.js";

export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

export interface SqlDb extends Sql {
  /**
   * Runs fn in one transaction (READ COMMITTED); commits when it resolves, rolls back when it throws.
   * A deadlock or serialization failure (which Postgres has rolled back) re-runs fn, up to 3 times.
   */
  transaction<R>(fn: (tx: Sql) => Promise<R>): Promise<R>;
}

const RETRYABLE = new Set(["40P01", "40001"]);

async function retrying<R>(run: () => Promise<R>): Promise<R> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (attempt >= 3 || !code || !RETRYABLE.has(code)) throw e;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (attempt + 1)));
    }
  }
}

export interface Database {
  readonly kind: "postgres" | "pglite";
  readonly prisma: PrismaClient;
  readonly sql: SqlDb;
  /**
   * A separate one-connection lane for small control statements (leases, leadership), so that they are not
   * queued behind the hot paths when the main pool is saturated. PGlite: the same instance.
   */
  readonly control: Sql;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** postgresql:// URL; when absent, PGlite. */
  url?: string;
  /** PGlite data directory; "memory://" (or undefined with inMemory) keeps it in memory. */
  dataDir?: string;
  poolSize?: number;
  migrate?: boolean;
  log?: (msg: string) => void;
  onPoolError?: (err: Error) => void;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  return opts.url ? openPostgres(opts.url, opts) : openPglite(opts);
}

async function openPostgres(url: string, opts: OpenOptions): Promise<Database> {
  if (opts.migrate !== false) await applyMigrations({ kind: "postgres", url }, { log: opts.log });
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    // Timestamps are stored naive in UTC (upstream); every session works in UTC.
    options: "-c timezone=UTC",
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (database restart) must never crash the process.
  pool.on("error", (err) => opts.onPoolError?.(err));
  const controlPool = new pg.Pool({
    connectionString: url,
    max: 1,
    options: "-c timezone=UTC",
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  controlPool.on("error", (err) => opts.onPoolError?.(err));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const sql: SqlDb = {
    async query<T>(text: string, params?: unknown[]) {
      const r = await pool.query(text, params as unknown[]);
      return r.rows as T[];
    },
    transaction<R>(fn: (tx: Sql) => Promise<R>) {
      return retrying(() => pgTransaction(pool, fn));
    },
  };
  return {
    kind: "postgres",
    prisma,
    sql,
    control: {
      async query<T>(text: string, params?: unknown[]) {
        return (await controlPool.query(text, params as unknown[])).rows as T[];
      },
    },
    async ping() {
      await pool.query("SELECT 1");
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
      await controlPool.end();
    },
  };
}

async function pgTransaction<R>(pool: pg.Pool, fn: (tx: Sql) => Promise<R>): Promise<R> {
  const client = await pool.connect();
  let broken = false;
  // A checked-out client whose connection drops between two statements emits "error" with no query to
  // fail; without a listener that would be an uncaught exception. The next statement fails instead.
  const onError = () => {
    broken = true;
  };
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const tx: Sql = {
      async query<T>(text: string, params?: unknown[]) {
        return (await client.query(text, params as unknown[])).rows as T[];
      },
    };
    const out = await fn(tx);
    await client.query("COMMIT");
    return out;
  } catch (e) {
    try {
      await client.query("ROLLBACK");
    } catch {
      broken = true;
    }
    throw e;
  } finally {
    client.off("error", onError);
    client.release(broken);
  }
}

async function openPglite(opts: OpenOptions): Promise<Database> {
  const dir = opts.dataDir ?? "memory://";
  const inMemory = dir.startsWith("memory://");
  if (!inMemory) mkdirSync(resolve(dir), { recursive: true });
  // One process per directory (dataDirLock.ts): refused here, before PGlite touches the files.
  const lock = inMemory ? null : lockDataDir(resolve(dir));
  let db: PGlite;
  try {
    db = new PGlite(inMemory ? undefined : resolve(dir));
    await db.waitReady;
    await db.exec("SET TIME ZONE 'UTC'");
    if (opts.migrate !== false) await applyMigrations({ kind: "pglite", db }, { log: opts.log });
  } catch (e) {
    lock?.release();
    throw e;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) });
  const sql: SqlDb = {
    async query<T>(text: string, params?: unknown[]) {
      return (await db.query<T>(text, params)).rows;
    },
    async transaction<R>(fn: (tx: Sql) => Promise<R>) {
      return db.transaction(async (t) =>
        fn({
          async query<T>(text: string, params?: unknown[]) {
            return (await t.query<T>(text, params)).rows;
          },
        }),
      );
    },
  };
  return {
    kind: "pglite",
    prisma,
    sql,
    control: sql,
    async ping() {
      await db.query("SELECT 1");
    },
    async close() {
      try {
        await prisma.$disconnect();
        await db.close();
      } finally {
        lock?.release();
      }
    },
  };
}

/** Lives in src/domain/dbErrors.ts (the domain's retry policy uses it); re-exported for the adapters and http. */
export { isTransientDbError } from "../../domain/dbErrors.js";
