// ADOPT: switching a site over (docs/database.md, adoption). A database as upstream's Flask App leaves it (the
// fixture test/fixtures/upstream-db: schema at alembic v1_3_0 plus a short session's data) is adopted by the
// compiled migration command, as boot.sh runs it: the adoption's own recorded duration (_sx_adoption) and the
// whole command's wall time, best of BENCH_ADOPT_RUNS fresh databases (goal: adoption ≤ 5 s).
import { execFile, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import pg from "pg";
import { appEntry, fmt, pgExec } from "./lib.js";

const run = promisify(execFile);
const FIXTURE = "test/fixtures/upstream-db";

export async function runAdopt(opts: {
  pgAdminUrl: string;
  line: (name: string, value: string, extra?: string) => void;
}): Promise<void> {
  const runs = Number(process.env.BENCH_ADOPT_RUNS ?? 3);
  const migrate =
    appEntry() === "src/main.ts" ? ["--import", "tsx", "src/cli/migrate.ts"] : ["dist/cli/migrate.js"];
  const recorded: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < runs; i++) {
    const name = `sx_bench_adopt_${randomBytes(4).toString("hex")}`;
    await pgExec(opts.pgAdminUrl, `CREATE DATABASE "${name}"`);
    const url = opts.pgAdminUrl.replace(/\/[^/]*$/, `/${name}`);
    try {
      for (const f of ["schema-f42d1a5.sql", "data-f42d1a5.sql"])
        await run("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", `${FIXTURE}/${f}`]);
      const t0 = performance.now();
      const r = spawnSync(process.execPath, migrate, {
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", DATABASE_URL: url },
        encoding: "utf8",
      });
      wall.push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`migration command failed (${r.status}): ${r.stderr || r.stdout}`);
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const row = await c.query<{ duration_ms: number }>("SELECT duration_ms FROM _sx_adoption");
        recorded.push(Number(row.rows[0]?.duration_ms));
      } finally {
        await c.end();
      }
    } finally {
      await pgExec(opts.pgAdminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    }
  }
  const best = (xs: number[]) => Math.min(...xs);
  opts.line(
    "ADOPT upstream fixture database (v1_3_0 + data)",
    `${fmt(best(recorded))} ms`,
    `adoption as recorded; the migration command ${fmt(best(wall))} ms wall; best of ${runs} (goal ≤ 5000 ms)`,
  );
}
