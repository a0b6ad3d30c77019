// Adoption of upstream databases that must not be adopted, or not yet: unknown and older alembic revisions,
// hand-altered tables, a dry run, a kill -9 in the middle, and migrations that exist only at run time. Each
// refusal or interruption must leave the database exactly as it was (compared with a full snapshot).
import { spawn } from "node:child_process";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { execFile } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { AdoptionRefusedError } from "../../src/adapters/db/adopt.js";
import { applyMigrations, DEFAULT_MIGRATIONS_DIR, REPO_ROOT } from "../../src/adapters/db/migrate.js";
import type { TestDatabase } from "../helpers/pg.js";
import { eventually, startTestApp } from "../helpers/testApp.js";
import { createUpstreamDatabase, snapshot, withClient } from "../helpers/upstreamDb.js";

const execFileP = promisify(execFile);
const dbs: TestDatabase[] = [];
async function upstreamDb(opts: Parameters<typeof createUpstreamDatabase>[0] = {}): Promise<TestDatabase> {
  const db = await createUpstreamDatabase(opts);
  dbs.push(db);
  return db;
}
afterAll(async () => {
  await Promise.all(dbs.map((d) => d.drop()));
});

const migrateCli = (url: string, args: string[]) =>
  execFileP("npx", ["tsx", "scripts/migrate.ts", "deploy", ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: url, SQLALCHEMY_DATABASE_URI: "" },
    maxBuffer: 16 << 20,
  });

describe("When the upstream database is at a revision this App does not adopt", () => {
  for (const [rev, what] of [
    ["v1_1_4", "older"],
    ["v1_1_3", "older"],
    ["208309600a27", "older"],
    ["79d404108ebe", "older"],
    ["f00dfeed1234", "unknown"],
  ] as const) {
    it(`then start-up on ${rev} (${what}) stops with a message naming it and what to do, and nothing is written`, async () => {
      const db = await upstreamDb({ alter: `UPDATE alembic_version SET version_num = '${rev}'` });
      const before = await snapshot(db.url);
      const err = await applyMigrations({ kind: "postgres", url: db.url }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AdoptionRefusedError);
      const message = (err as Error).message;
      expect(message).toContain(rev);
      expect(message).toContain("v1_3_0");
      expect(message).toMatch(what === "older" ? /Upgrade upstream first/ : /unknown alembic revision/);
      expect(message).toContain("Nothing was changed.");
      expect(await snapshot(db.url)).toEqual(before);
    });
  }

  it("then the App itself refuses to start with that message", async () => {
    const db = await upstreamDb({ alter: "UPDATE alembic_version SET version_num = 'v1_1_4'" });
    await expect(startTestApp({ databaseUrl: db.url, broker: "memory" })).rejects.toThrow(
      /v1_1_4.*Upgrade upstream first/s,
    );
  });
});

describe("When upstream's tables were altered by hand", () => {
  const cases: [string, string, RegExp][] = [
    [
      "a missing column",
      "ALTER TABLE requests DROP COLUMN app_version",
      /column requests\.app_version is missing/,
    ],
    [
      "a changed type",
      "ALTER TABLE requests ALTER COLUMN title TYPE varchar(256)",
      /column requests\.title character varying\(256\) differs from upstream's title character varying\(128\)/,
    ],
    [
      "a dropped constraint",
      "ALTER TABLE users DROP CONSTRAINT users_email_key",
      /constraint users_email_key on users is missing/,
    ],
    [
      "an added NOT NULL column",
      "ALTER TABLE users ADD COLUMN nickname text NOT NULL DEFAULT 'x'; ALTER TABLE users ALTER COLUMN nickname DROP DEFAULT",
      /column users\.nickname text NOT NULL is not upstream's/,
    ],
    ["a missing table", "DROP TABLE transform_result", /table transform_result is missing/],
  ];
  for (const [what, alter, message] of cases) {
    it(`then adoption of a database with ${what} is refused, naming the difference, and nothing is written`, async () => {
      const db = await upstreamDb({ alter });
      const before = await snapshot(db.url);
      await expect(applyMigrations({ kind: "postgres", url: db.url })).rejects.toThrow(message);
      expect(await snapshot(db.url)).toEqual(before);
    });
  }
});

describe("When `npm run db:migrate -- --dry-run` runs on an upstream database", () => {
  it("then it prints the adoption's SQL and the migrations it would baseline, and writes nothing", async () => {
    const db = await upstreamDb();
    const before = await snapshot(db.url);
    const { stdout } = await migrateCli(db.url, ["--dry-run"]);
    expect(stdout).toMatch(/Would adopt the upstream ServiceX database at alembic revision v1_3_0/);
    expect(stdout).toContain("CREATE TABLE request_progress");
    expect(stdout).toContain("ALTER TABLE transform_result ADD COLUMN created_at");
    expect(stdout).toMatch(/would record as applied: 20261123000042_init/);
    expect(await snapshot(db.url)).toEqual(before);
  });

  it("then on an already adopted database it lists the pending migrations (none) and writes nothing", async () => {
    const db = await upstreamDb();
    await migrateCli(db.url, []);
    const before = await snapshot(db.url);
    const { stdout } = await migrateCli(db.url, ["--dry-run"]);
    expect(stdout).toContain("No pending migrations to apply.");
    expect(await snapshot(db.url)).toEqual(before);
  });
});

describe("When adoption is killed (SIGKILL) half-way", () => {
  it("then the database is exactly as before, and the next start adopts it cleanly", async () => {
    const db = await upstreamDb();
    const before = await snapshot(db.url);
    // Hold transform_result so that the adoption, which alters it after the App's new tables and the columns
    // of datasets and requests, waits there; then kill the process while its transaction is open.
    await withClient(db.url, async (holder) => {
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE transform_result IN ACCESS SHARE MODE");
      const child = spawn("npx", ["tsx", "scripts/migrate.ts", "deploy"], {
        cwd: REPO_ROOT,
        env: { ...process.env, DATABASE_URL: db.url, SQLALCHEMY_DATABASE_URI: "" },
        detached: true,
        stdio: "ignore",
      });
      try {
        const waiting = await eventually(
          async () => {
            const r = await holder.query<{ pid: number; holds_requests: boolean }>(
              `SELECT l.pid,
                      EXISTS (SELECT 1 FROM pg_locks h WHERE h.pid = l.pid AND h.granted
                                 AND h.relation = 'requests'::regclass AND h.mode = 'AccessExclusiveLock') AS holds_requests
                 FROM pg_locks l WHERE NOT l.granted AND l.relation = 'transform_result'::regclass`,
            );
            return r.rows[0];
          },
          60_000,
          "the adoption to wait for transform_result",
        );
        expect(waiting.holds_requests).toBe(true); // requests was already altered in this transaction
        process.kill(-child.pid!, "SIGKILL");
        await holder.query("ROLLBACK");
        await eventually(
          async () =>
            (await holder.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [waiting.pid])).rowCount ===
            0,
          30_000,
          "the killed adoption's backend to end",
        );
      } finally {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // already gone
        }
      }
    });
    expect(await snapshot(db.url)).toEqual(before);

    const out = await applyMigrations({ kind: "postgres", url: db.url });
    expect(out.adopted?.revision).toBe("v1_3_0");
    console.log(`adoption after the interrupted one: ${out.adopted?.ms} ms`);
    await withClient(db.url, async (c) => {
      expect((await c.query("SELECT count(*)::int AS n FROM _sx_adoption")).rows[0]).toEqual({ n: 1 });
    });
  });
});

describe("When migrations exist at run time that the adoption code has never seen", () => {
  it("then adoption carries them over (table, nullable column on an upstream table, adopt.sql data), and a later migration applies normally", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "sx-adopt-migrations-"));
    try {
      await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
      const extra = path.join(dir, "20991231000000_future_feature");
      await mkdir(extra);
      await writeFile(
        path.join(extra, "migration.sql"),
        `CREATE TABLE "future_notes" ("id" SERIAL PRIMARY KEY, "request_id" VARCHAR(48) NOT NULL, "note" TEXT);
ALTER TABLE "requests" ADD COLUMN "future_flag" BOOLEAN;
CREATE INDEX "ix_future_notes_request" ON "future_notes" ("request_id");
INSERT INTO "future_notes" ("request_id", "note") SELECT request_id, 'seen' FROM requests;`,
      );
      await writeFile(
        path.join(extra, "adopt.sql"),
        `INSERT INTO "future_notes" ("request_id", "note") SELECT request_id, 'adopted' FROM requests;`,
      );
      const db = await upstreamDb();
      const out = await applyMigrations({ kind: "postgres", url: db.url }, { migrationsDir: dir });
      expect(out.adopted?.baseline).toContain("20991231000000_future_feature");
      await withClient(db.url, async (c) => {
        const notes = await c.query("SELECT note, count(*)::int AS n FROM future_notes GROUP BY note");
        expect(notes.rows).toEqual([{ note: "adopted", n: 6 }]);
        const col = await c.query(
          "SELECT is_nullable FROM information_schema.columns WHERE table_name = 'requests' AND column_name = 'future_flag'",
        );
        expect(col.rows).toEqual([{ is_nullable: "YES" }]);
        expect(
          (await c.query("SELECT to_regclass('ix_future_notes_request') IS NOT NULL AS ok")).rows[0],
        ).toEqual({
          ok: true,
        });
      });

      const later = path.join(dir, "21000101000000_later");
      await mkdir(later);
      await writeFile(
        path.join(later, "migration.sql"),
        `CREATE TABLE "later_table" ("id" INTEGER PRIMARY KEY);`,
      );
      const next = await applyMigrations({ kind: "postgres", url: db.url }, { migrationsDir: dir });
      expect(next.adopted).toBeUndefined();
      expect(next.applied).toEqual(["21000101000000_later"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("then a migration that would add a NOT NULL column without default to an upstream table is refused, and nothing is written", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "sx-adopt-migrations-"));
    try {
      await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
      await mkdir(path.join(dir, "20991231000000_bad"));
      await writeFile(
        path.join(dir, "20991231000000_bad", "migration.sql"),
        `ALTER TABLE "users" ADD COLUMN "must" INTEGER NOT NULL;`,
      );
      const db = await upstreamDb();
      const before = await snapshot(db.url);
      await expect(
        applyMigrations({ kind: "postgres", url: db.url }, { migrationsDir: dir }),
      ).rejects.toThrow(/users\.must NOT NULL without a default/);
      expect(await snapshot(db.url)).toEqual(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
