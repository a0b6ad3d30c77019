// Real Postgres for tests: a migrated template database is made once per run (globalSetup); every test
// file clones it (CREATE DATABASE … TEMPLATE), which takes milliseconds.
import { randomBytes } from "node:crypto";
import pg from "pg";

/** The server tests make their databases on: the machine's Postgres, or the fault tier's private one. Read at
 * each use, because the fault tier's global setup sets it after this module is loaded. */
export const adminUrl = () => process.env.TEST_PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const templateDb = () => process.env.SX_TEMPLATE_DB ?? "sx_test_template";

export function urlFor(db: string): string {
  const u = new URL(adminUrl());
  u.pathname = `/${db}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: adminUrl() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file. */
export async function createTestDatabase(prefix = "sx_t"): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString("hex")}`;
  await admin(async (c) => {
    // CREATE DATABASE … TEMPLATE fails while another session is connected to the template; retry briefly.
    for (let i = 0; ; i++) {
      try {
        await c.query(`CREATE DATABASE "${name}" TEMPLATE "${templateDb()}"`);
        return;
      } catch (e) {
        if (i > 50 || !/being accessed by other users/.test(String(e))) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  return {
    name,
    url: urlFor(name),
    async drop() {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

export async function recreateTemplate(name: string, migrate: (url: string) => Promise<void>): Promise<void> {
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${name}"`);
  });
  await migrate(urlFor(name));
}

export async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/** A fresh, empty database (no migrations applied), for tests of what migrates it. */
export async function createEmptyDatabase(prefix = "sx_e"): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  return { name, url: urlFor(name), drop: () => dropDatabase(name) };
}
