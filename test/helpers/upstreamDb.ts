// Databases as upstream's Flask App leaves them (test/fixtures/upstream-db: pg_dump of upstream's schema at
// alembic revision v1_3_0 and the data of a short session), loaded with psql into a database of the test's
// own, and a snapshot of everything a database holds, to prove that a refused or interrupted adoption
// changed nothing.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { describeSchema } from "../../src/adapters/db/catalog.js";
import { adminUrl, type TestDatabase, urlFor } from "./pg.js";

const run = promisify(execFile);

export const FIXTURE_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../fixtures/upstream-db",
);
export const fixturePath = (file: string) => path.join(FIXTURE_DIR, file);

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

export async function psqlFile(url: string, file: string): Promise<void> {
  await run("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", file], { maxBuffer: 16 << 20 });
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/**
 * A new database holding upstream's schema (and, unless `data: false`, the fixture's rows); `alter` runs
 * afterwards (e.g. another alembic revision, a hand-made change).
 */
export async function createUpstreamDatabase(
  opts: { label?: string; data?: boolean; alter?: string } = {},
): Promise<TestDatabase> {
  const name = `sx_up_${randomBytes(5).toString("hex")}`;
  await admin(`CREATE DATABASE "${name}"`);
  const db: TestDatabase = {
    name,
    url: urlFor(name),
    drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
  try {
    await psqlFile(db.url, fixturePath(`schema-${opts.label ?? "f42d1a5"}.sql`));
    if (opts.data !== false) await psqlFile(db.url, fixturePath("data-f42d1a5.sql"));
    if (opts.alter) await withClient(db.url, (c) => c.query(opts.alter!));
  } catch (e) {
    await db.drop();
    throw e;
  }
  return db;
}

/**
 * Everything a database holds that an adoption could touch: its schemas, the full description of `public`
 * (tables, columns, constraints, indexes, triggers, enums, sequences, functions) and a digest of every
 * table's rows.
 */
export async function snapshot(url: string): Promise<unknown> {
  return withClient(url, async (c) => {
    await c.query("BEGIN");
    try {
      const schemas = (
        await c.query<{ n: string }>(
          "SELECT nspname AS n FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1",
        )
      ).rows.map((r) => r.n);
      const d = await describeSchema(c, "public");
      const rows: Record<string, string> = {};
      for (const t of [...d.tables.keys()].sort()) {
        const r = await c.query<{ h: string; n: number }>(
          `SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h, count(*)::int AS n FROM "${t}" x`,
        );
        rows[t] = `${r.rows[0]!.n}:${r.rows[0]!.h}`;
      }
      const seqs = await c.query<{ relname: string }>(
        "SELECT relname FROM pg_class WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace ORDER BY 1",
      );
      const seqValues: Record<string, string> = {};
      for (const s of seqs.rows) {
        const v = await c.query<{ v: string }>(
          `SELECT last_value::text || ':' || is_called AS v FROM "${s.relname}"`,
        );
        seqValues[s.relname] = v.rows[0]!.v;
      }
      return {
        schemas,
        tables: [...d.tables.values()],
        enums: [...d.enums],
        sequences: [...d.sequences.values()],
        seqValues,
        functions: [...d.functions.values()],
        unsupported: d.unsupported,
        rows,
      };
    } finally {
      await c.query("ROLLBACK");
    }
  });
}
