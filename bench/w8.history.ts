// W8 — the price of the progress history on file-complete (issue 5): two App processes, each on its own
// database, one with PROGRESS_INTERVAL_MS=0 (no snapshots; status changes only, as the trigger always
// records them) and one with history on (BENCH_W8_INTERVAL_MS, default 1000: five times the default rate,
// so the figure is pessimistic). The same W1-like load against each — 200 concurrent callers sending
// file-complete reports of a fresh file-list request — alternated twice, best of each side kept.
// Goal: rate with history ≥ 0.95 × rate without.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { closedLoop, fmt, freePort, request, startProcess, stopProcess, pgExec } from "./lib.js";

export interface W8Options {
  pgAdminUrl: string;
  line: (name: string, value: string, extra?: string) => void;
  files?: number;
  concurrency?: number;
}

const admin = pgExec;

async function count(url: string, sql: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Number((await c.query<{ n: string }>(sql)).rows[0]!.n);
  } finally {
    await c.end();
  }
}

export async function runW8(o: W8Options): Promise<{ ratio: number }> {
  const FILES = o.files ?? Number(process.env.BENCH_W8_FILES ?? 15_000);
  const C = o.concurrency ?? 200;
  const interval = process.env.BENCH_W8_INTERVAL_MS ?? "1000";
  const tag = randomBytes(4).toString("hex");
  const sides = [
    { name: "off", interval: "0" },
    { name: "on", interval },
  ] as const;
  const procs: Array<Awaited<ReturnType<typeof startProcess>>> = [];
  const dbs: string[] = [];
  try {
    const apps: Record<string, { base: string; dbUrl: string }> = {};
    for (const s of sides) {
      const dbName = `sx_bench_w8_${s.name}_${tag}`;
      await admin(o.pgAdminUrl, `CREATE DATABASE "${dbName}"`);
      dbs.push(dbName);
      const dbUrl = o.pgAdminUrl.replace(/\/[^/]*$/, `/${dbName}`);
      const port = await freePort();
      procs.push(
        await startProcess(
          "src/main.ts",
          {
            PORT: String(port),
            BIND_ADDRESS: "127.0.0.1",
            ADVERTISED_HOSTNAME: `127.0.0.1:${port}`,
            DATABASE_URL: dbUrl,
            RABBIT_MQ_URL: "",
            TRANSFORMER_MANAGER_ENABLED: "false",
            DATABASE_POOL_SIZE: "10",
            PROGRESS_INTERVAL_MS: s.interval,
            LOG_LEVEL: process.env.BENCH_APP_LOG_LEVEL ?? "warn",
          },
          `http://127.0.0.1:${port}/healthz`,
        ),
      );
      apps[s.name] = { base: `http://127.0.0.1:${port}`, dbUrl };
    }

    const body = (rid: string, fid: number) => ({
      requestId: rid,
      "file-path": `root://bench//f${fid}.root`,
      "file-id": fid,
      status: "success",
      "total-time": 1.2,
      "total-events": 1000,
      "total-bytes": 2048,
      "avg-rate": 833.3,
      place: { host_name: "transformer-bench-pod", site: "bench" },
      "s3-object-name": `root:::bench::f${fid}.root.parquet`,
    });
    /** A fresh FILES-file request on `base`; returns its id and file ids. */
    const fresh = async (base: string, label: string) => {
      const sub = await request(`${base}/servicex/transformation`, "POST", {
        "file-list": Array.from({ length: FILES }, (_, i) => `root://bench//${tag}/${label}/f${i}.root`),
        selection: "bench",
        codegen: "passthrough",
        "result-destination": "object-store",
      });
      if (sub.status !== 200) throw new Error(`W8 submit answered ${sub.status}: ${sub.body.slice(0, 200)}`);
      const rid = (JSON.parse(sub.body) as { request_id: string }).request_id;
      const info = JSON.parse((await request(`${base}/servicex/transformation/${rid}`, "GET")).body) as {
        did_id: number;
      };
      const ds = JSON.parse((await request(`${base}/servicex/datasets/${info.did_id}`, "GET")).body) as {
        files: Array<{ id: number }>;
      };
      return { rid, ids: ds.files.map((f) => f.id) };
    };
    const run = async (side: "on" | "off", label: string) => {
      const { base } = apps[side]!;
      const { rid, ids } = await fresh(base, `${side}-${label}`);
      return closedLoop(C, ids.length, (i) =>
        request(`${base}/servicex/internal/transformation/${rid}/file-complete`, "PUT", body(rid, ids[i]!)),
      );
    };
    // Warm-up on both (connections, JIT), then alternate.
    await run("off", "warm");
    await run("on", "warm");
    const best = { off: 0, on: 0, offP99: 0, onP99: 0, errors: 0 };
    for (let round = 0; round < 2; round++) {
      for (const side of round === 0 ? (["off", "on"] as const) : (["on", "off"] as const)) {
        const r = await run(side, `r${round}`);
        best.errors += r.errors;
        if (r.rate > best[side]) {
          best[side] = r.rate;
          best[side === "on" ? "onP99" : "offP99"] = r.p99;
        }
      }
    }
    await new Promise((r) => setTimeout(r, Number(interval) + 200));
    const rows = await count(apps.on!.dbUrl, "SELECT count(*) AS n FROM request_progress");
    const snaps = await count(
      apps.on!.dbUrl,
      "SELECT count(*) AS n FROM request_progress WHERE status = 'running'",
    );
    const ratio = best.on / best.off;
    o.line(
      "W8 file-complete, history off",
      `${fmt(best.off)} req/s`,
      `p99 ${fmt(best.offP99, 1)} ms, ${C} callers`,
    );
    o.line(
      `W8 file-complete, history on (${interval} ms)`,
      `${fmt(best.on)} req/s`,
      `p99 ${fmt(best.onP99, 1)} ms; ratio ${fmt(ratio, 3)} (goal ≥ 0.95); ${rows} history rows (${snaps} running); errors ${best.errors}`,
    );
    return { ratio };
  } finally {
    for (const p of procs) await stopProcess(p);
    for (const d of dbs)
      await admin(o.pgAdminUrl, `DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`).catch(() => {});
  }
}
