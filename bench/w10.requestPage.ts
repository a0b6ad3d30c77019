// W10 — the request and results pages of one 100,000-file request (issue 13), with the worst case for their
// queries: 100,000 results of which 40,000 failed, 40,000 failure reports in file_status (20,000 sharing 25
// messages, 20,000 with a message of their own), from 40 pods, and a 720-point history; inserted with SQL
// into a database of its own, served by an App process of its own. Each page loaded 50 times in a row by one
// caller: p50/p95. Goal: every page ≤ 150 ms at p95 (request page running and finished, results pages deep
// and filtered, the confirmation pages, the plot, a download of a local result file).
// Standalone: `npx tsx bench/w10.requestPage.ts` (BENCH_PG_ADMIN_URL, BENCH_W10_FILES, BENCH_W10_LOADS).
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { fmt, freePort, percentile, startProcess, stopProcess } from "./lib.js";

export interface W10Options {
  pgAdminUrl: string;
  line: (name: string, value: string, extra?: string) => void;
  files?: number;
  loads?: number;
}

const GOAL_MS = 150;

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
      .get(url, { agent, headers: { accept: "text/html" } }, (res) => {
        let bytes = 0;
        res.on("data", (c: Buffer) => {
          bytes += c.length;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, bytes }));
      })
      .on("error", reject);
  });
}

export async function runW10(o: W10Options): Promise<Record<string, number>> {
  const FILES = o.files ?? Number(process.env.BENCH_W10_FILES ?? 100_000);
  const LOADS = o.loads ?? Number(process.env.BENCH_W10_LOADS ?? 50);
  const FAILED = Math.floor(FILES * 0.4);
  const tag = randomBytes(4).toString("hex");
  const dbName = `sx_bench_w10_${tag}`;
  const results = mkdtempSync(join(tmpdir(), "sx-bench-w10-"));
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
      RESULTS_DIR: results,
      LOG_LEVEL: process.env.BENCH_APP_LOG_LEVEL ?? "warn",
    },
    `${base}/healthz`,
  );
  try {
    const t0 = performance.now();
    const rid = await withClient(dbUrl, async (c) => {
      const ds = await c.query<{ id: number }>(
        `INSERT INTO datasets (name, last_used, last_updated, did_finder, n_files, size, events, lookup_status)
         VALUES ('rucio://mc23_13p6TeV:bench.w10', now(), now(), 'rucio', ${FILES}, 1e12, 1e9, 'complete')
         RETURNING id`,
      );
      const dsId = ds.rows[0]!.id;
      await c.query(
        `INSERT INTO files (dataset_id, adler32, file_size, file_events, paths)
         SELECT $1, 'abcd', 1e7, 1e4,
                'root://eos.example//atlas/rucio/mc23_13p6TeV/DAOD_PHYS.' || g || '.pool.root.1'
         FROM generate_series(1, ${FILES}) g`,
        [dsId],
      );
      const rq = await c.query<{ request_id: string }>(
        `INSERT INTO requests (request_id, title, submit_time, did, did_id, selection, image, workers,
           result_destination, result_format, files, files_completed, files_failed, total_bytes, total_events,
           status, app_version)
         VALUES (gen_random_uuid()::text, 'the big one', (now() AT TIME ZONE 'UTC') - interval '1 hour',
                 'rucio://mc23_13p6TeV:bench.w10', $1, $2, 'img', 20, 'object-store', 'root-file',
                 ${FILES}, ${FILES - FAILED}, ${FAILED}, ${FILES - FAILED}::bigint * 3500000,
                 ${FILES - FAILED}::bigint * 10000, 'running', 'bench')
         RETURNING request_id`,
        [dsId, Buffer.from("def run_query(input_filenames=None):\n    return {}\n").toString("base64")],
      );
      const rid = rq.rows[0]!.request_id;
      await c.query(
        `INSERT INTO transform_result (file_id, file_path, request_id, transform_status, transform_time,
           transform_seconds, total_events, total_bytes, avg_rate, s3_object_name)
         SELECT f.id, f.paths, $1, CASE WHEN f.n <= ${FAILED} THEN 'failure' ELSE 'success' END, 3, 2.75,
                1e4, 3.5e6, 3636, 'atlas:rucio:DAOD_PHYS.' || f.id || '.pool.root.1'
         FROM (SELECT id, paths, row_number() OVER (ORDER BY id) AS n FROM files WHERE dataset_id = $2) f`,
        [rid, dsId],
      );
      await c.query(
        `INSERT INTO file_status (file_id, request_id, status, timestamp, pod_name, info)
         SELECT f.id, $1, 'failure', now() - (f.n || ' ms')::interval,
                'transformer-' || $3::text || '-7c9f-pod' || (f.id % 40),
                CASE WHEN f.n % 2 = 0 THEN 'OSError: XRootD error ' || (f.n % 25) || ': [FATAL] Socket timeout'
                     ELSE 'Traceback (most recent call last):\n  File "transform.py", line 42\nOSError: cannot read '
                          || f.paths END
         FROM (SELECT id, paths, row_number() OVER (ORDER BY id) AS n FROM files WHERE dataset_id = $2
               ORDER BY id LIMIT ${FAILED}) f`,
        [rid, dsId, rid.slice(0, 8)],
      );
      await c.query(
        `INSERT INTO request_progress (request_id, recorded_at, status, files_completed, files_failed, total_bytes,
           total_events)
         SELECT $1, (now() AT TIME ZONE 'UTC') - interval '1 hour' + g * interval '5 seconds', 'running',
                ${FILES - FAILED} * g / 720, ${FAILED} * g / 720, 0, 0
         FROM generate_series(1, 720) g`,
        [rid],
      );
      await c.query("VACUUM ANALYZE");
      return rid;
    });
    // One local result file to download.
    const first = await withClient(dbUrl, async (c) => {
      const r = await c.query<{ s3_object_name: string }>(
        "SELECT s3_object_name FROM transform_result WHERE request_id = $1 AND transform_status = 'success' ORDER BY file_id LIMIT 1",
        [rid],
      );
      return r.rows[0]!.s3_object_name;
    });
    mkdirSync(join(results, rid), { recursive: true });
    writeFileSync(join(results, rid, first), randomBytes(256 * 1024));
    o.line(
      `W10 setup: a ${fmt(FILES)}-file request`,
      `${fmt((performance.now() - t0) / 1000, 1)} s`,
      `${fmt(FAILED)} failed, ${fmt(FAILED)} failure reports, inserted with SQL`,
    );

    const req = `/transformation-request/${rid}`;
    const lastPage = Math.ceil(FILES / 100);
    const pages: Array<[string, string]> = [
      ["W10 request page (running)", req],
      ["W10 results page 1", `${req}/results`],
      [`W10 results page ${fmt(lastPage)} (last)`, `${req}/results?page=${lastPage}`],
      ["W10 results, failed, page 1", `${req}/results?status=failure`],
      ["W10 results, failed, page 200", `${req}/results?status=failure&page=200`],
      ["W10 results, transformed, page 300", `${req}/results?status=success&page=300`],
      ["W10 results, unknown filter and page", `${req}/results?status=evil&page=999999`],
      ["W10 cancel confirmation page", `${req}/cancel`],
      ["W10 plot (history.svg)", `${req}/history.svg`],
      ["W10 download of a 256 KiB local result", `${req}/results/${encodeURIComponent(first)}`],
    ];
    const out: Record<string, number> = {};
    const measure = async (name: string, path: string) => {
      for (let i = 0; i < 5; i++) await load(`${base}${path}`); // warm-up
      const ms: number[] = [];
      let bytes = 0;
      for (let i = 0; i < LOADS; i++) {
        const r = await load(`${base}${path}`);
        if (r.status !== 200) throw new Error(`W10 ${path} answered ${r.status}`);
        ms.push(r.ms);
        bytes = r.bytes;
      }
      ms.sort((a, b) => a - b);
      const p95 = percentile(ms, 95);
      out[name] = p95;
      o.line(
        name,
        `p95 ${fmt(p95, 1)} ms`,
        `p50 ${fmt(percentile(ms, 50), 1)} ms, ${fmt(bytes / 1024, 0)} KiB (goal ≤ ${GOAL_MS} ms)${p95 > GOAL_MS ? "  MISSED" : ""}`,
      );
    };
    for (const [name, path] of pages) await measure(name, path);
    // The same request finished: its page and the Delete confirmation.
    await withClient(dbUrl, (c) =>
      c.query(
        "UPDATE requests SET status = 'complete', finish_time = now() AT TIME ZONE 'UTC' WHERE request_id = $1",
        [rid],
      ),
    );
    await measure("W10 request page (finished)", req);
    await measure("W10 delete confirmation page", `${req}/delete`);
    return out;
  } finally {
    agent.destroy();
    await stopProcess(app);
    rmSync(results, { recursive: true, force: true });
    if (process.env.BENCH_W10_KEEP) console.log(`W10 database kept: ${dbUrl}`);
    else
      await withClient(o.pgAdminUrl, (c) =>
        c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`),
      ).catch(() => {});
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const line = (name: string, value: string, extra = "") =>
    console.log(`${name.padEnd(44)} ${value.padStart(14)}  ${extra}`);
  await runW10({
    pgAdminUrl: process.env.BENCH_PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    line,
  });
}
