// Soak test (issue 6): mixed traffic at a fixed rate against App process(es) on the real Postgres and
// RabbitMQ — submits (DID and file-list), a DID finder streaming files, sidecars reporting file-complete
// (with failures and duplicates), status polls and cancels. Every SOAK_SAMPLE_SECONDS it prints each App's
// RSS and open file descriptors (/proc/<pid>), the request rate and the 5xx count. At the end it exits 1
// if RSS grew more than 30 % or open fds more than 20 % after the warm-up, or if any 5xx (or connection
// error) happened.
//
//   npm run soak                          # 30 minutes, one App
//   SOAK_MINUTES=2 SOAK_REPLICAS=2 npm run soak
//
// Env: SOAK_MINUTES (30), SOAK_REPLICAS (1), SOAK_WARMUP_SECONDS (25 % of the run, 30 s..5 min),
// SOAK_SAMPLE_SECONDS (60), SOAK_SUBMIT_EVERY_MS (2000), SOAK_POLLS_PER_SEC (20),
// SOAK_FILE_COMPLETES_PER_SEC (150), SOAK_PG_ADMIN_URL, SOAK_RABBIT_URL, SOAK_KEEP_DB=1.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import http from "node:http";
import { fileURLToPath } from "node:url";
import amqp from "amqplib";
import pg from "pg";
import { freePort, startProcess, stopProcess } from "../bench/lib.js";

const env = process.env;
const num = (k: string, d: number) => (env[k] ? Number(env[k]) : d);
const MINUTES = num("SOAK_MINUTES", 30);
const REPLICAS = Math.max(1, Math.min(4, num("SOAK_REPLICAS", 1)));
const DURATION_MS = MINUTES * 60_000;
const WARMUP_MS = num("SOAK_WARMUP_SECONDS", Math.min(300, Math.max(30, (DURATION_MS / 1000) * 0.25))) * 1000;
const SAMPLE_MS = num("SOAK_SAMPLE_SECONDS", 60) * 1000;
const SUBMIT_EVERY_MS = num("SOAK_SUBMIT_EVERY_MS", 2000);
const POLLS_PER_SEC = num("SOAK_POLLS_PER_SEC", 20);
const FILE_COMPLETES_PER_SEC = num("SOAK_FILE_COMPLETES_PER_SEC", 150);
const PG_ADMIN = env.SOAK_PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const RABBIT = env.SOAK_RABBIT_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const ROOT = fileURLToPath(new URL("..", import.meta.url));

// One small keep-alive pool for every call, so the App's socket count is bounded by the load generator.
const agent = new http.Agent({ keepAlive: true, maxSockets: 24 });

interface Counters {
  calls: number;
  byStatus: Record<string, number>;
  fiveXx: number;
  connErrors: number;
}
const total: Counters = { calls: 0, byStatus: {}, fiveXx: 0, connErrors: 0 };
let interval: Counters = { calls: 0, byStatus: {}, fiveXx: 0, connErrors: 0 };
const examples5xx: string[] = [];

function call(url: string, method: string, body?: unknown): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve) => {
    const done = (status: number, text: string) => {
      for (const c of [total, interval]) {
        c.calls += 1;
        const key = status === 0 ? "conn-error" : String(status);
        c.byStatus[key] = (c.byStatus[key] ?? 0) + 1;
        if (status >= 500) c.fiveXx += 1;
        if (status === 0) c.connErrors += 1;
      }
      if ((status >= 500 || status === 0) && examples5xx.length < 10)
        examples5xx.push(`${method} ${u.pathname} → ${status} ${text.slice(0, 200)}`);
      resolve({ status, body: text });
    };
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        agent,
        headers: data ? { "content-type": "application/json", "content-length": data.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => done(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8")));
        res.on("error", (e) => done(0, String(e)));
      },
    );
    req.on("error", (e) => done(0, String(e)));
    if (data) req.write(data);
    req.end();
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const rand = (n: number) => Math.floor(Math.random() * n);

function procStats(pid: number): { rssMb: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return { rssMb: rss ? Number(rss[1]) / 1024 : 0, fds: readdirSync(`/proc/${pid}/fd`).length };
}

async function admin(q: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_ADMIN });
  await c.connect();
  try {
    await c.query(q);
  } finally {
    await c.end();
  }
}

async function main(): Promise<number> {
  const dbName = `sx_soak_${randomBytes(4).toString("hex")}`;
  const dbUrl = new URL(PG_ADMIN);
  dbUrl.pathname = `/${dbName}`;
  const scheme = `soak${randomBytes(3).toString("hex")}`;
  await admin(`CREATE DATABASE "${dbName}"`);
  const apps: Array<{ url: string; child: ChildProcess; pid: number }> = [];
  let conn: amqp.ChannelModel | null = null;
  try {
    for (let i = 0; i < REPLICAS; i++) {
      const port = await freePort();
      const child = await startProcess(
        `${ROOT}src/main.ts`,
        {
          PORT: String(port),
          BIND_ADDRESS: "127.0.0.1",
          ADVERTISED_HOSTNAME: `127.0.0.1:${port}`,
          DATABASE_URL: dbUrl.toString(),
          RABBIT_MQ_URL: RABBIT,
          ENABLE_AUTH: "false",
          TRANSFORMER_MANAGER_ENABLED: "false",
          VALID_DID_SCHEMES: JSON.stringify(["rucio", scheme]),
          RECONCILE_INTERVAL: "5",
          LOG_LEVEL: env.SOAK_LOG_LEVEL ?? "warn",
          DATA_DIR: "memory://",
        },
        `http://127.0.0.1:${port}/readyz`,
      );
      apps.push({ url: `http://127.0.0.1:${port}`, child, pid: child.pid! });
    }
    let rr = 0;
    const base = () => apps[rr++ % apps.length]!.url;
    console.log(
      `soak: ${MINUTES} min, ${REPLICAS} App process(es) (pid ${apps.map((a) => a.pid).join(", ")}), ` +
        `warm-up ${WARMUP_MS / 1000} s, a submit every ${SUBMIT_EVERY_MS} ms, ${POLLS_PER_SEC} polls/s, ` +
        `≤ ${FILE_COMPLETES_PER_SEC} file-completes/s, database ${dbName}`,
    );

    conn = await amqp.connect(RABBIT);
    conn.on("error", () => {});
    const t0 = Date.now();
    const end = t0 + DURATION_MS;
    let stopping = false;
    const counts = { submitted: 0, didSubmits: 0, cancels: 0, canceled: 0, lookups: 0, tasks: 0, reports: 0 };

    // DID finder: PUTs the files in chunks of 100 and then /complete (spread over the replicas).
    const finderCh = await conn.createChannel();
    const fq = `did_finder_${scheme}`;
    await finderCh.assertExchange(fq, "direct", { durable: true });
    await finderCh.assertQueue(fq, { durable: true });
    await finderCh.bindQueue(fq, fq, fq);
    await finderCh.prefetch(4);
    await finderCh.consume(fq, async (raw) => {
      if (!raw) return;
      const [args] = JSON.parse(raw.content.toString("utf8")) as [[string, number, string]];
      const [did, datasetId] = args;
      counts.lookups += 1;
      const n = 50 + rand(250);
      const files = Array.from({ length: n }, (_, i) => ({
        paths: [`root://soak//${did}/f${i}.root`],
        adler32: null,
        file_size: 1000,
        file_events: 100,
      }));
      for (let i = 0; i < n; i += 100) {
        await call(
          `${base()}/servicex/internal/transformation/${datasetId}/files`,
          "PUT",
          files.slice(i, i + 100),
        );
        await sleep(50);
      }
      await call(`${base()}/servicex/internal/transformation/${datasetId}/complete`, "PUT", {
        files: n,
        "files-skipped": 0,
        "total-events": n * 100,
        "total-bytes": n * 1000,
        "elapsed-time": 1,
      });
      finderCh.ack(raw);
    });

    // Sidecars: tasks of every request go into one FIFO; a pacer reports them at a fixed rate. Every 25th
    // file fails, every 20th is reported twice. Tasks are acked once reported (prefetch bounds the FIFO).
    const sideCh = await conn.createChannel();
    await sideCh.prefetch(200);
    const fifo: Array<{ raw: amqp.ConsumeMessage; task: Record<string, unknown> }> = [];
    const listen = async (id: string) => {
      const q = `transformer-${id}`;
      await sideCh.assertQueue(q, { durable: false, autoDelete: true });
      await sideCh.consume(q, (raw) => {
        if (!raw) return; // queue deleted by the App (request finished)
        counts.tasks += 1;
        const [, task] = JSON.parse(raw.content.toString("utf8")) as [unknown, Record<string, unknown>];
        fifo.push({ raw, task });
      });
    };
    const pacer = (async () => {
      const every = 1000 / FILE_COMPLETES_PER_SEC;
      let due = Date.now();
      while (!stopping) {
        const item = fifo.shift();
        if (!item) {
          await sleep(20);
          due = Date.now();
          continue;
        }
        due += every;
        const wait = due - Date.now();
        if (wait > 1) await sleep(wait);
        const t = item.task as {
          request_id: string;
          file_id: number;
          paths: string[];
          service_endpoint: string;
        };
        const ok = t.file_id % 25 !== 0;
        const body = {
          requestId: t.request_id,
          "file-path": t.paths[0],
          "file-id": t.file_id,
          status: ok ? "success" : "failure",
          "total-time": 1.5,
          "total-events": ok ? 100 : 0,
          "total-bytes": ok ? 1000 : 0,
          "avg-rate": 66.6,
          place: { host_name: `transformer-${t.request_id}-pod-1`, site: "soak" },
          "s3-object-name": `${t.paths[0]!.replaceAll("/", ":")}.parquet`,
          ...(ok ? {} : { error: "soak failure" }),
        };
        const path = `${new URL(t.service_endpoint).pathname}/file-complete`;
        const reports = t.file_id % 20 === 0 ? 2 : 1;
        void Promise.all(Array.from({ length: reports }, () => call(`${base()}${path}`, "PUT", body))).then(
          () => {
            counts.reports += reports;
            try {
              sideCh.ack(item.raw);
            } catch {}
          },
        );
      }
    })();

    // Submits: alternately by DID (the finder answers) and by file list; 15 % are canceled 0.1-1 s later
    // (some have finished by then: their cancel answers 400, which is correct).
    const ids: string[] = [];
    const submitter = (async () => {
      let k = 0;
      while (!stopping) {
        const started = Date.now();
        k += 1;
        const byDid = k % 2 === 0;
        const body = {
          selection: "(call ResultTTree ...)",
          codegen: "passthrough",
          "result-destination": "object-store",
          "result-format": "parquet",
          title: `soak ${k}`,
          ...(byDid
            ? { did: `${scheme}://soak.${randomBytes(6).toString("hex")}` }
            : {
                "file-list": Array.from(
                  { length: 20 + rand(200) },
                  (_, i) => `root://soak//list${k}-${randomBytes(3).toString("hex")}/f${i}.root`,
                ),
              }),
        };
        const r = await call(`${base()}/servicex/transformation`, "POST", body);
        if (r.status === 200) {
          const id = (JSON.parse(r.body) as { request_id: string }).request_id;
          counts.submitted += 1;
          if (byDid) counts.didSubmits += 1;
          ids.push(id);
          if (ids.length > 200) ids.shift();
          await listen(id).catch(() => {});
          if (Math.random() < 0.15) {
            setTimeout(() => {
              if (stopping) return;
              counts.cancels += 1;
              void call(`${base()}/servicex/transformation/${id}/cancel`, "GET").then((c) => {
                if (c.status === 200) counts.canceled += 1;
              });
            }, 100 + rand(900));
          }
        }
        await sleep(Math.max(0, SUBMIT_EVERY_MS - (Date.now() - started)));
      }
    })();

    // Status polls at a fixed rate: one request (mostly), its /status, or a page of the list.
    const poller = (async () => {
      const every = 1000 / POLLS_PER_SEC;
      let due = Date.now();
      let k = 0;
      while (!stopping) {
        due += every;
        const wait = due - Date.now();
        if (wait > 1) await sleep(wait);
        k += 1;
        const id = ids[rand(ids.length)];
        if (!id) continue;
        const path =
          k % 10 === 0
            ? "/servicex/transformation?page=1&per_page=20"
            : k % 3 === 0
              ? `/servicex/transformation/${id}/status`
              : `/servicex/transformation/${id}`;
        void call(`${base()}${path}`, "GET");
      }
    })();

    // Sampling: every 5 s internally, printed every SAMPLE_MS; the baseline is the sample at warm-up end.
    let baseline: Array<{ rssMb: number; fds: number }> | null = null;
    let last: Array<{ rssMb: number; fds: number }> = [];
    const peak = apps.map(() => ({ rssMb: 0, fds: 0 }));
    let lastPrint = t0;
    for (;;) {
      const now = Date.now();
      if (now >= end) break;
      await sleep(Math.min(5000, end - now));
      last = apps.map((a) => procStats(a.pid));
      const elapsed = Date.now() - t0;
      if (elapsed >= WARMUP_MS) {
        if (!baseline) {
          baseline = last;
          console.log(
            `warm-up over at ${(elapsed / 1000).toFixed(0)} s: baseline ${baseline
              .map((s, i) => `app${i} RSS ${s.rssMb.toFixed(1)} MB, ${s.fds} fds`)
              .join("; ")}`,
          );
        }
        last.forEach((s, i) => {
          peak[i]!.rssMb = Math.max(peak[i]!.rssMb, s.rssMb);
          peak[i]!.fds = Math.max(peak[i]!.fds, s.fds);
        });
      }
      if (Date.now() - lastPrint >= SAMPLE_MS - 2500 || Date.now() >= end) {
        const secs = (Date.now() - lastPrint) / 1000;
        lastPrint = Date.now();
        console.log(
          `[${(elapsed / 60_000).toFixed(1)} min] ${last
            .map((s, i) => `app${i} RSS ${s.rssMb.toFixed(1)} MB fds ${s.fds}`)
            .join(" | ")} | ${(interval.calls / secs).toFixed(1)} req/s | 5xx ${interval.fiveXx} ` +
            `(total ${total.fiveXx}) | conn errors ${interval.connErrors} | ${JSON.stringify(interval.byStatus)} | ` +
            `submitted ${counts.submitted}, canceled ${counts.canceled}/${counts.cancels}, lookups ${counts.lookups}, ` +
            `tasks ${counts.tasks}, reports ${counts.reports}, backlog ${fifo.length}`,
        );
        interval = { calls: 0, byStatus: {}, fiveXx: 0, connErrors: 0 };
      }
    }
    stopping = true;
    await Promise.all([submitter, poller, pacer]);
    await sleep(500);

    // Verdict.
    const problems: string[] = [];
    const final = apps.map((a) => procStats(a.pid));
    const base0 = baseline ?? final;
    final.forEach((s, i) => {
      const b = base0[i]!;
      const rssGrowth = (s.rssMb - b.rssMb) / b.rssMb;
      const fdGrowth = (s.fds - b.fds) / b.fds;
      console.log(
        `app${i}: RSS ${b.rssMb.toFixed(1)} → ${s.rssMb.toFixed(1)} MB (${(rssGrowth * 100).toFixed(1)} %, ` +
          `peak ${peak[i]!.rssMb.toFixed(1)} MB); fds ${b.fds} → ${s.fds} (${(fdGrowth * 100).toFixed(1)} %, peak ${peak[i]!.fds})`,
      );
      if (rssGrowth > 0.3) problems.push(`app${i} RSS grew ${(rssGrowth * 100).toFixed(1)} % after warm-up`);
      if (fdGrowth > 0.2)
        problems.push(`app${i} open fds grew ${(fdGrowth * 100).toFixed(1)} % after warm-up`);
      if (apps[i]!.child.exitCode !== null) problems.push(`app${i} exited (${apps[i]!.child.exitCode})`);
    });
    if (total.fiveXx > 0) problems.push(`${total.fiveXx} 5xx answers`);
    if (total.connErrors > 0) problems.push(`${total.connErrors} connection errors`);
    if (counts.submitted === 0 || counts.reports === 0) problems.push("no traffic got through");
    const summary = {
      minutes: MINUTES,
      replicas: REPLICAS,
      calls: total.calls,
      rate: total.calls / ((Date.now() - t0) / 1000),
      statuses: total.byStatus,
      ...counts,
      baseline: base0,
      final,
      peak,
      problems,
    };
    console.log(`SOAK RESULT ${JSON.stringify(summary)}`);
    for (const e of examples5xx) console.log(`  ${e}`);
    if (problems.length > 0) {
      console.log(`soak FAILED: ${problems.join("; ")}`);
      return 1;
    }
    console.log("soak passed");
    return 0;
  } finally {
    await conn?.close().catch(() => {});
    await Promise.allSettled(apps.map((a) => stopProcess(a.child)));
    agent.destroy();
    if (!env.SOAK_KEEP_DB) await admin(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => {});
    const cleanup = await amqp.connect(RABBIT).catch(() => null);
    if (cleanup) {
      cleanup.on("error", () => {});
      const ch = await cleanup.createChannel();
      await ch.deleteQueue(`did_finder_${scheme}`).catch(() => {});
      await ch.deleteExchange(`did_finder_${scheme}`).catch(() => {});
      await cleanup.close().catch(() => {});
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`soak error: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
