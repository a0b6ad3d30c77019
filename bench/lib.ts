// Small load-generation toolkit for the benchmarks: keep-alive HTTP over node:http (cheaper than fetch,
// which matters when the load generator shares 2 cores with the App, Postgres and RabbitMQ).
import { type ChildProcess, spawn } from "node:child_process";
import http from "node:http";
import { createServer } from "node:net";

export const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });

export interface Res {
  status: number;
  body: string;
}

export function request(
  url: string,
  method: string,
  body?: unknown,
  extraHeaders: Record<string, string> = {},
): Promise<Res> {
  const u = new URL(url);
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        agent,
        headers: {
          ...(data ? { "content-type": "application/json", "content-length": data.length } : {}),
          ...extraHeaders,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (data) req.write(data);
    req.end();
  });
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface LoadResult {
  count: number;
  errors: number;
  seconds: number;
  rate: number;
  p50: number;
  p99: number;
  statuses: Record<number, number>;
}

/** `concurrency` callers each taking the next job until `jobs` is exhausted. */
export async function closedLoop(
  concurrency: number,
  jobs: number,
  call: (i: number) => Promise<Res>,
): Promise<LoadResult> {
  let next = 0;
  const lat: number[] = [];
  const statuses: Record<number, number> = {};
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= jobs) return;
        const s = performance.now();
        try {
          const r = await call(i);
          statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          if (r.status >= 400) errors++;
        } catch {
          errors++;
        }
        lat.push(performance.now() - s);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return {
    count: jobs,
    errors,
    seconds,
    rate: jobs / seconds,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    statuses,
  };
}

/** Fixed-rate open loop (requests start on schedule whatever the latency) until `stop()` says so. */
export async function openLoop(ratePerSec: number, shouldStop: () => boolean, call: () => Promise<Res>) {
  const lat: number[] = [];
  let errors = 0;
  const inflight = new Set<Promise<void>>();
  const interval = 1000 / ratePerSec;
  const t0 = performance.now();
  let sent = 0;
  while (!shouldStop()) {
    const due = t0 + sent * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sent++;
    const s = performance.now();
    const p = call()
      .then((r) => {
        if (r.status >= 400) errors++;
      })
      .catch(() => {
        errors++;
      })
      .finally(() => {
        const d = performance.now() - s;
        lat.push(d);
        if (d > 200 && process.env.BENCH_TRACE)
          process.stderr.write(
            `slow ${Math.round(s - t0)} ms: ${Math.round(d)} ms, inflight ${inflight.size}\n`,
          );
        inflight.delete(p);
      });
    inflight.add(p);
  }
  await Promise.all(inflight);
  lat.sort((a, b) => a - b);
  const seconds = (performance.now() - t0) / 1000;
  return { sent, errors, seconds, rate: sent / seconds, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Starts a TypeScript entry point with tsx as a separate process and waits until `readyUrl` answers. */
export async function startProcess(
  entry: string,
  env: Record<string, string>,
  readyUrl: string,
): Promise<ChildProcess> {
  const extra =
    process.env.BENCH_APP_NODE_ARGS && entry.includes("main")
      ? process.env.BENCH_APP_NODE_ARGS.split(" ")
      : [];
  const child = spawn(process.execPath, [...extra, "--import", "tsx", entry], {
    env: { ...process.env, ...env },
    stdio: ["ignore", process.env.BENCH_APP_STDOUT ? "pipe" : "ignore", "inherit"],
  });
  if (process.env.BENCH_APP_STDOUT && entry.includes("main")) {
    const { createWriteStream } = await import("node:fs");
    child.stdout?.pipe(createWriteStream(process.env.BENCH_APP_STDOUT));
  }
  const end = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${entry} exited with ${child.exitCode}`);
    try {
      const r = await request(readyUrl, "GET");
      if (r.status < 500) return child;
    } catch {}
    if (Date.now() > end) throw new Error(`${entry} did not become ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([done, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill("SIGKILL");
}

export const fmt = (n: number, d = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });

/** Runs one SQL statement on its own connection (CREATE/DROP DATABASE and the like). */
export async function pgExec(url: string, sql: string): Promise<void> {
  const pg = (await import("pg")).default;
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}
