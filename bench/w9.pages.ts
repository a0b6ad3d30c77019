// W9 — page speed with a big database (issue 5): 100,000 requests and one 100,000-file request (with
// 100,000 results, 1,000 file errors and a 720-point history) inserted with SQL, then each page loaded 50
// times in a row by one caller: p50/p95 per page. Goal: global dashboard first page and the request page
// of the 100,000-file request under 150 ms at p95.
import { randomBytes } from "node:crypto";
import http from "node:http";
import pg from "pg";
import { fmt, freePort, percentile, startProcess, stopProcess } from "./lib.js";

export interface W9Options {
  pgAdminUrl: string;
  line: (name: string, value: string, extra?: string) => void;
  requests?: number;
  files?: number;
  loads?: number;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
function load(url: string): Promise<{ status: number; ms: number; bytes: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        let bytes = 0;
        res.on("data", (c: Buffer) => {
          bytes += c.length;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, bytes }));
      })
      .on("error", reject);
  });
}

export async function runW9(o: W9Options): Promise<Record<string, number>> {
  const REQUESTS = o.requests ?? Number(process.env.BENCH_W9_REQUESTS ?? 100_000);
  const FILES = o.files ?? Number(process.env.BENCH_W9_FILES ?? 100_000);
  const LOADS = o.loads ?? 50;
  const tag = randomBytes(4).toString("hex");
  const dbName = `sx_bench_w9_${tag}`;
  await withClient(o.pgAdminUrl, (c) => c.query(`CREATE DATABASE "${dbName}"`));
  const dbUrl = o.pgAdminUrl.replace(/\/[^/]*$/, `/${dbName}`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const app = await startProcess(
    "src/main.ts",
    {
      PORT: String(port),
      BIND_ADDRESS: "127.0.0.1",
      ADVERTISED_HOSTNAME: `127.0.0.1:${port}`,
      DATABASE_URL: dbUrl,
      RABBIT_MQ_URL: "",
      TRANSFORMER_MANAGER_ENABLED: "false",
      LOG_LEVEL: process.env.BENCH_APP_LOG_LEVEL ?? "warn",
    },
    `${base}/healthz`,
  );
  try {
    // The App migrated the database at start-up; fill it.
    const t0 = performance.now();
    const bigId = await withClient(dbUrl, async (c) => {
      await c.query(
        `INSERT INTO users (sub, email, name, admin, pending, created_at, updated_at)
         SELECT 'w9-' || g, 'w9-' || g || '@bench.example', 'Bench User ' || g, false, false, now(), now()
         FROM generate_series(1, 50) g`,
      );
      await c.query(
        `INSERT INTO datasets (name, last_used, last_updated, did_finder, n_files, size, events, lookup_status)
         SELECT 'rucio://mc23_13p6TeV:bench.' || g, now() - g * interval '1 minute', now(), 'rucio', 100, 1e9, 1e6,
                'complete'
         FROM generate_series(1, 200) g`,
      );
      // 100,000 requests over the last ~70 days, all states, spread over users and datasets.
      await c.query(
        `INSERT INTO requests (request_id, title, submit_time, finish_time, did, did_id, selection, image, workers,
           result_destination, result_format, submitted_by, files, files_completed, files_failed, status, app_version)
         SELECT gen_random_uuid()::text, 'bench request ' || g,
                (now() AT TIME ZONE 'UTC') - (${REQUESTS} - g) * interval '1 minute',
                CASE WHEN g % 10 < 8 THEN (now() AT TIME ZONE 'UTC') - (${REQUESTS} - g) * interval '1 minute' + interval '5 minutes' END,
                'rucio://mc23_13p6TeV:bench.' || (1 + g % 200), (SELECT min(id) FROM datasets) + g % 200,
                'select', 'img', 1, 'object-store', 'parquet',
                (SELECT min(id) FROM users) + g % 50, 100, CASE WHEN g % 10 < 8 THEN 98 ELSE 40 END,
                CASE WHEN g % 10 < 8 THEN 2 ELSE 0 END,
                (CASE WHEN g % 10 < 7 THEN 'complete' WHEN g % 10 = 7 THEN 'fatal' WHEN g % 10 = 8 THEN 'running'
                      ELSE 'lookup' END)::transformstatus, 'bench'
         FROM generate_series(1, ${REQUESTS}) g`,
      );
      // One request over a 100,000-file dataset, 60% done, with results, errors and a history.
      const ds = await c.query<{ id: number }>(
        `INSERT INTO datasets (name, last_used, last_updated, did_finder, n_files, size, events, lookup_status)
         VALUES ('rucio://mc23_13p6TeV:bench.big', now(), now(), 'rucio', ${FILES}, 1e12, 1e9, 'complete') RETURNING id`,
      );
      const dsId = ds.rows[0]!.id;
      await c.query(
        `INSERT INTO files (dataset_id, adler32, file_size, file_events, paths)
         SELECT $1, 'abcd', 1e7, 1e4, 'root://eos.example//big/f' || g || '.root' FROM generate_series(1, ${FILES}) g`,
        [dsId],
      );
      const done = Math.floor(FILES * 0.6);
      const failed = 1000;
      const rq = await c.query<{ id: number; request_id: string }>(
        `INSERT INTO requests (request_id, title, submit_time, did, did_id, selection, image, workers,
           result_destination, result_format, files, files_completed, files_failed, status, app_version)
         VALUES (gen_random_uuid()::text, 'the big one', (now() AT TIME ZONE 'UTC') - interval '1 hour',
                 'rucio://mc23_13p6TeV:bench.big', $1, 'select', 'img', 20, 'object-store', 'parquet',
                 ${FILES}, ${done}, ${failed}, 'running', 'bench')
         RETURNING id, request_id`,
        [dsId],
      );
      const rid = rq.rows[0]!.request_id;
      await c.query(
        `INSERT INTO transform_result (file_id, file_path, request_id, transform_status, transform_time,
           total_events, total_bytes, avg_rate, s3_object_name)
         SELECT f.id, f.paths, $1, CASE WHEN n <= ${failed} THEN 'failure' ELSE 'success' END, 3, 1e4, 1e6, 3000,
                'f' || f.id || '.parquet'
         FROM (SELECT id, paths, row_number() OVER (ORDER BY id) AS n FROM files WHERE dataset_id = $2
               ORDER BY id LIMIT ${done + failed}) f`,
        [rid, dsId],
      );
      await c.query(
        `INSERT INTO file_status (file_id, request_id, status, timestamp, pod_name, info)
         SELECT f.id, $1, 'failure', now(), 'transformer-' || $3::text || '-pod' || (f.id % 20),
                'OSError: XRootD timeout while reading ' || f.paths
         FROM (SELECT id, paths FROM files WHERE dataset_id = $2 ORDER BY id LIMIT ${failed}) f`,
        [rid, dsId, rid.slice(0, 8)],
      );
      await c.query(
        `INSERT INTO request_progress (request_id, recorded_at, status, files_completed, files_failed, total_bytes,
           total_events)
         SELECT $1, (now() AT TIME ZONE 'UTC') - interval '1 hour' + g * interval '5 seconds', 'running',
                ${done} * g / 720, ${failed} * g / 720, 0, 0
         FROM generate_series(1, 720) g`,
        [rid],
      );
      await c.query("ANALYZE");
      return rid;
    });
    o.line(
      `W9 setup: ${fmt(REQUESTS)} requests + a ${fmt(FILES)}-file request`,
      `${fmt((performance.now() - t0) / 1000, 1)} s`,
      "inserted with SQL",
    );

    const pages: Array<[string, string]> = [
      ["W9 global dashboard, first page", "/global-dashboard"],
      ["W9 global dashboard, sort=finish asc, page 100", "/global-dashboard?sort=finish&order=asc&page=100"],
      ["W9 global dashboard, sort=status", "/global-dashboard?sort=status&order=desc"],
      ["W9 global dashboard, sort=start, page 6,000", "/global-dashboard?sort=start&order=desc&page=6000"],
      ["W9 request page, 100,000-file request", `/transformation-request/${bigId}`],
      ["W9 results page 1 of that request", `/transformation-request/${bigId}/results`],
      [
        "W9 results, status=failure, page 5",
        `/transformation-request/${bigId}/results?status=failure&page=5`,
      ],
      ["W9 datasets, sort=size", "/datasets?sort=size&order=desc"],
      ["W9 history JSON of that request", `/servicex/transformation/${bigId}/history`],
    ];
    const out: Record<string, number> = {};
    for (const [name, path] of pages) {
      for (let i = 0; i < 5; i++) await load(`${base}${path}`); // warm-up
      const ms: number[] = [];
      let bytes = 0;
      for (let i = 0; i < LOADS; i++) {
        const r = await load(`${base}${path}`);
        if (r.status !== 200) throw new Error(`W9 ${path} answered ${r.status}`);
        ms.push(r.ms);
        bytes = r.bytes;
      }
      ms.sort((a, b) => a - b);
      const p95 = percentile(ms, 95);
      out[path] = p95;
      const goal =
        path === "/global-dashboard" || path.startsWith("/transformation-request/") ? " (goal < 150 ms)" : "";
      o.line(
        name,
        `p95 ${fmt(p95, 1)} ms`,
        `p50 ${fmt(percentile(ms, 50), 1)} ms, ${fmt(bytes / 1024, 0)} KiB${goal}`,
      );
    }
    return out;
  } finally {
    agent.destroy();
    await stopProcess(app);
    if (process.env.BENCH_W9_KEEP) console.log(`W9 database kept: ${dbUrl}`);
    else
      await withClient(o.pgAdminUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`),
      ).catch(() => {});
  }
}
