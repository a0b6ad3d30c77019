// W9 — page speed with a big database (issues 5 and 13): 100,000 requests in every state (complete, complete
// with failures, fatal, canceled, bad dataset, running, lookup) and one 100,000-file request (with 100,000
// results, 1,000 file errors and a 720-point history) inserted with SQL, then each page loaded 50 times in a
// row by one caller: p50/p95 per page. Goal: every dashboard view (each status filter, searches, status
// order, deep pages, the live-update JSON) and the request page of the 100,000-file request under 150 ms at
// p95. Then the live updates' cost: W1's load (200 callers reporting file-complete) on this App without and
// with ten dashboards polling /dashboard/live as the browser does (every 3 s), alternated twice; goal: the
// rate with pollers ≥ 0.95 × without. BENCH_W9_LIVE_FILES (default 15,000 per run) sizes each run.
import { randomBytes } from "node:crypto";
import http from "node:http";
import pg from "pg";
import { closedLoop, fmt, freePort, percentile, request, startProcess, stopProcess } from "./lib.js";

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
      // 100,000 requests over the last ~70 days, spread over users and datasets, in every state (by g % 20):
      // 60 % complete, 10 % complete with failed files, 5 % fatal, 5 % canceled, 5 % bad dataset, 10 %
      // running, 5 % looking up their dataset. Titles from a small vocabulary, so a title word matches 1/8.
      // The search words (request_search) are written by the insert trigger.
      await c.query(
        `INSERT INTO requests (request_id, title, submit_time, finish_time, did, did_id, selection, image, workers,
           result_destination, result_format, submitted_by, files, files_completed, files_failed, status,
           failure_description, app_version)
         SELECT gen_random_uuid()::text,
                (ARRAY['ttbar jets', 'Zee skim', 'Zmumu selection', 'MET trigger', 'Higgs to bb', 'dijet resonance',
                       'photon ID', 'tau fakes'])[1 + g % 8] || ' v' || (g % 50),
                (now() AT TIME ZONE 'UTC') - (${REQUESTS} - g) * interval '1 minute',
                CASE WHEN g % 20 < 17 THEN (now() AT TIME ZONE 'UTC') - (${REQUESTS} - g) * interval '1 minute' + interval '5 minutes' END,
                'rucio://mc23_13p6TeV:mc23_13p6TeV.' || (601000 + g % 200) || '.PhPy8EG_A14_sample' || (g % 200)
                  || '.deriv.DAOD_PHYS.e8514_s4162_r14622_p5855',
                (SELECT min(id) FROM datasets) + g % 200,
                'select', 'img', 1, 'object-store', 'parquet',
                (SELECT min(id) FROM users) + g % 50,
                CASE WHEN g % 20 IN (16, 19) THEN 0 ELSE 100 END,
                CASE WHEN g % 20 < 12 THEN 100 WHEN g % 20 < 14 THEN 90 WHEN g % 20 = 14 THEN 40
                     WHEN g % 20 = 15 THEN 30 WHEN g % 20 IN (17, 18) THEN 40 ELSE 0 END,
                CASE WHEN g % 20 IN (12, 13) THEN 10 WHEN g % 20 = 14 THEN 5 WHEN g % 20 IN (17, 18) THEN g % 3 ELSE 0 END,
                (CASE WHEN g % 20 < 14 THEN 'complete' WHEN g % 20 = 14 THEN 'fatal' WHEN g % 20 = 15 THEN 'canceled'
                      WHEN g % 20 = 16 THEN 'bad_dataset' WHEN g % 20 IN (17, 18) THEN 'running'
                      ELSE 'lookup' END)::transformstatus,
                CASE WHEN g % 20 = 14 THEN 'Transformer failed: out of memory'
                     WHEN g % 20 = 16 THEN 'DID not found in Rucio' END,
                'bench'
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
      // As autovacuum leaves a table at rest: statistics, and the visibility map the counts' index-only scans read.
      await c.query("VACUUM ANALYZE");
      return rid;
    });
    o.line(
      `W9 setup: ${fmt(REQUESTS)} requests + a ${fmt(FILES)}-file request`,
      `${fmt((performance.now() - t0) / 1000, 1)} s`,
      "inserted with SQL",
    );

    // Search targets and the live endpoint's ids: a request id, and the 15 newest active requests (what the
    // first page of the Active filter shows, and the rows a dashboard with them polls).
    const { someId, active } = await withClient(dbUrl, async (c) => ({
      someId: (await c.query<{ request_id: string }>("SELECT request_id FROM requests WHERE id = 77777"))
        .rows[0]?.request_id,
      active: (
        await c.query<{ id: number; v: string }>(
          `SELECT id, status::text || '.' || files || '.' || files_completed || '.' || files_failed AS v FROM requests
           WHERE status IN ('submitted', 'pending_lookup', 'lookup', 'running') ORDER BY id DESC LIMIT 15`,
        )
      ).rows,
    }));
    const activeIds = active.map((r) => r.id);
    const live = `/dashboard/live?global=1&ids=${activeIds.join(",")}`;
    const liveSame = `/dashboard/live?global=1&ids=${active.map((r) => `${r.id}:${r.v}`).join(",")}`;
    const pages: Array<[string, string]> = [
      ["W9 global dashboard, first page (newest first)", "/global-dashboard"],
      ["W9 global dashboard, status=active", "/global-dashboard?status=active"],
      ["W9 global dashboard, status=failed", "/global-dashboard?status=failed"],
      ["W9 global dashboard, status=complete", "/global-dashboard?status=complete"],
      ["W9 global dashboard, status=canceled", "/global-dashboard?status=canceled"],
      ["W9 global dashboard, status=failed, page 300", "/global-dashboard?status=failed&page=300"],
      ["W9 search 'zmumu' (1 in 8 requests)", "/global-dashboard?q=zmumu"],
      ["W9 search 'zmumu v7' (two words)", "/global-dashboard?q=zmumu+v7"],
      ["W9 search '601017' (one dataset, 1 in 200)", "/global-dashboard?q=601017"],
      ["W9 search 'mc23' (every request)", "/global-dashboard?q=mc23"],
      ["W9 search 'ttbar', status=failed", "/global-dashboard?q=ttbar&status=failed"],
      ["W9 search a request id", `/global-dashboard?q=${someId}`],
      ["W9 global dashboard, sort=status asc", "/global-dashboard?sort=status&order=asc"],
      [
        "W9 global dashboard, sort=status desc, page 100",
        "/global-dashboard?sort=status&order=desc&page=100",
      ],
      ["W9 global dashboard, sort=finish asc, page 100", "/global-dashboard?sort=finish&order=asc&page=100"],
      ["W9 global dashboard, sort=start, page 6,000", "/global-dashboard?sort=start&order=desc&page=6000"],
      // A page past the end counts afresh at every load (the total is what it shows): a cold view's cost.
      ["W9 global dashboard, page 9,999 (past the end: counts afresh)", "/global-dashboard?page=9999"],
      ["W9 live-update JSON, 15 active rows (first poll)", live],
      ["W9 live-update JSON, 15 rows unchanged since", liveSame],
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
        path.startsWith("/global-dashboard") ||
        path.startsWith("/dashboard/") ||
        path.startsWith("/transformation-request/")
          ? " (goal < 150 ms)"
          : "";
      o.line(
        name,
        `p95 ${fmt(p95, 1)} ms`,
        `p50 ${fmt(percentile(ms, 50), 1)} ms, ${fmt(bytes / 1024, 0)} KiB${goal}`,
      );
    }
    Object.assign(out, await liveCost(o, base, dbUrl, activeIds));
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

/** One W1-style report (bench/run.ts): a successful file of a request. */
function reportBody(rid: string, fid: number) {
  return {
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
  };
}

/**
 * The live updates' cost: W1's load (200 callers, one file-complete each at a time) on a running request of
 * BENCH_W9_LIVE_FILES files, without and with ten open dashboards polling /dashboard/live every 3 s for that
 * request and 14 other active ones (`activeIds`), as public/js/dashboard-live.js does; runs alternate
 * A B B A on four requests made with SQL, and each request's counters are checked exact afterwards. One more
 * request warms the path up first.
 */
async function liveCost(
  o: W9Options,
  base: string,
  dbUrl: string,
  activeIds: number[],
): Promise<Record<string, number>> {
  const FILES = Number(process.env.BENCH_W9_LIVE_FILES ?? 15_000);
  const POLLERS = 10;
  const runs: Array<"without" | "with"> = ["without", "with", "with", "without"];
  const requests = await withClient(dbUrl, async (c) => {
    const out: Array<{ rid: string; id: number; fileIds: number[] }> = [];
    for (let i = 0; i <= runs.length; i++) {
      const ds = await c.query<{ id: number }>(
        `INSERT INTO datasets (name, last_used, last_updated, did_finder, n_files, size, events, lookup_status)
         VALUES ('rucio://bench:w9live.' || $1 || '.' || $2, now(), now(), 'rucio', $3, 0, 0, 'complete') RETURNING id`,
        [randomBytes(4).toString("hex"), i, FILES],
      );
      const fileIds = (
        await c.query<{ id: number }>(
          `INSERT INTO files (dataset_id, adler32, file_size, file_events, paths)
           SELECT $1, 'abcd', 1e7, 1e4, 'root://bench//w9live/f' || g || '.root' FROM generate_series(1, $2::int) g
           RETURNING id`,
          [ds.rows[0]!.id, FILES],
        )
      ).rows.map((r) => r.id);
      // Running, every task already published (nothing for the dispatcher to do), as W1 measures it.
      const rq = await c.query<{ id: number; request_id: string }>(
        `INSERT INTO requests (request_id, title, submit_time, did, did_id, selection, image, workers,
           result_destination, result_format, files, status, app_version, tasks_published_through)
         VALUES (gen_random_uuid()::text, 'w9 live ' || $1, now() AT TIME ZONE 'UTC', 'rucio://bench:w9live', $2,
                 'select', 'img', 1, 'object-store', 'parquet', $3, 'running', 'bench', $4)
         RETURNING id, request_id`,
        [i, ds.rows[0]!.id, FILES, Math.max(...fileIds)],
      );
      out.push({ rid: rq.rows[0]!.request_id, id: rq.rows[0]!.id, fileIds });
    }
    await c.query("VACUUM ANALYZE requests");
    return out;
  });

  // Warm-up: the file-complete path compiled and 200 connections open (on a request of its own).
  const warm = requests.shift()!;
  const half = warm.fileIds.slice(0, 3000);
  await closedLoop(200, half.length, (i) =>
    request(
      `${base}/servicex/internal/transformation/${warm.rid}/file-complete`,
      "PUT",
      reportBody(warm.rid, half[i]!),
    ),
  );

  const rates: Record<"without" | "with", number[]> = { without: [], with: [] };
  const pollMs: number[] = [];
  for (const [i, mode] of runs.entries()) {
    const { rid, id, fileIds } = requests[i]!;
    // The dashboards show the request under load first, then 14 other active ones.
    const ids = [id, ...activeIds.slice(0, 14)];
    // Ten dashboards already open (their pages loaded before the load starts), each polling as
    // public/js/dashboard-live.js does: every 3 s, the rows with the versions its last answer gave.
    let polling = mode === "with";
    const opened: Array<Promise<void>> = [];
    const pollers =
      mode === "with"
        ? Array.from({ length: POLLERS }, async (_, p) => {
            const page = request(`${base}/global-dashboard`, "GET");
            opened.push(page.then(() => undefined));
            await page;
            const versions = new Map<number, string>();
            // Staggered as ten browsers opened at different moments would be.
            await new Promise((r) => setTimeout(r, (3000 * p) / POLLERS));
            while (polling) {
              const asked = ids.map((x) => (versions.has(x) ? `${x}:${versions.get(x)}` : String(x)));
              const t0 = performance.now();
              const r = await request(`${base}/dashboard/live?global=1&ids=${asked.join(",")}`, "GET");
              if (r.status !== 200) throw new Error(`W9 live poll answered ${r.status}`);
              pollMs.push(performance.now() - t0);
              for (const row of (JSON.parse(r.body) as { rows: Array<{ id: number; version: string }> }).rows)
                versions.set(row.id, row.version);
              await new Promise((r) => setTimeout(r, 3000));
            }
          })
        : [];
    while (opened.length < pollers.length) await new Promise((r) => setImmediate(r));
    await Promise.all(opened);
    const res = await closedLoop(200, fileIds.length, (j) =>
      request(
        `${base}/servicex/internal/transformation/${rid}/file-complete`,
        "PUT",
        reportBody(rid, fileIds[j]!),
      ),
    );
    polling = false;
    await Promise.all(pollers);
    if (res.errors || (res.statuses[200] ?? 0) !== fileIds.length)
      throw new Error(`W9 live run ${i}: ${JSON.stringify(res.statuses)} errors ${res.errors}`);
    const done = await withClient(dbUrl, (c) =>
      c.query<{ n: number }>("SELECT files_completed AS n FROM requests WHERE request_id = $1", [rid]),
    );
    if (done.rows[0]?.n !== fileIds.length)
      throw new Error(`W9 live run ${i}: counters ${done.rows[0]?.n} != ${fileIds.length}`);
    rates[mode].push(res.rate);
    o.line(
      `W9 live run ${i + 1}: W1 load ${mode} ${POLLERS} pollers`,
      `${fmt(res.rate)} req/s`,
      `p99 ${fmt(res.p99, 1)} ms, ${fmt(fileIds.length)} files, counters exact`,
    );
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const without = mean(rates.without);
  const withPollers = mean(rates.with);
  pollMs.sort((a, b) => a - b);
  o.line("W9 W1 load without dashboards polling", `${fmt(without)} req/s`, "mean of its runs");
  o.line(
    `W9 W1 load while ${POLLERS} dashboards poll`,
    `${fmt(withPollers)} req/s`,
    `ratio ${fmt(withPollers / without, 3)} (goal ≥ 0.95); ${pollMs.length} polls, p95 ${fmt(percentile(pollMs, 95), 1)} ms`,
  );
  return { liveWithout: without, liveWith: withPollers, liveRatio: withPollers / without };
}
