// Small load-generation toolkit for the benchmarks: keep-alive HTTP over node:http (cheaper than fetch,
// which matters when the load generator shares 2 cores with the App, Postgres and RabbitMQ).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
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

/** Starts an entry point (TypeScript through tsx, or compiled JavaScript) as a separate process and waits until `readyUrl` answers. */
export async function startProcess(
  entry: string,
  env: Record<string, string>,
  readyUrl: string,
  nodeArgs: string[] = [],
): Promise<ChildProcess> {
  const extra = [
    ...nodeArgs,
    ...(process.env.BENCH_APP_NODE_ARGS && entry.includes("main")
      ? process.env.BENCH_APP_NODE_ARGS.split(" ")
      : []),
  ];
  // A compiled entry (dist/*.js) runs on plain node, as in production; a TypeScript one through tsx.
  const loader = entry.endsWith(".js") ? [] : ["--import", "tsx"];
  const child = spawn(process.execPath, [...extra, ...loader, entry], {
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

/**
 * The compiled App (npm run build's dist/main.js), built first when src/ is newer (scripts/build-if-stale.mjs,
 * as npm start does). BENCH_APP_BUILD=tsx runs src/main.ts through tsx instead.
 */
export function appEntry(): string {
  if (process.env.BENCH_APP_BUILD === "tsx") return "src/main.ts";
  const r = spawnSync(process.execPath, ["scripts/build-if-stale.mjs"], { stdio: "inherit" });
  if (r.status !== 0) throw new Error("building dist/ failed");
  return "dist/main.js";
}

/** The node options of `npm start` (package.json), so that a benchmark runs the App as a site runs it. */
export function appNodeArgs(): string[] {
  const start = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: { start: string } }).scripts
    .start;
  return /\bnode\s+(.*?)\s*dist\/main\.js/.exec(start)?.[1]?.split(/\s+/).filter(Boolean) ?? [];
}

/**
 * Resident memory of another process (Linux /proc): its RSS now, and its peak since the last reset(), read
 * from the kernel's high-water mark (VmHWM, reset by writing 5 to clear_refs) and from samples every 100 ms
 * (the fallback where clear_refs is not writable). Figures in MB (10^6 bytes).
 */
export class RssWatch {
  private peakKb = 0;
  /** Whether VmHWM covers the current window: never reset, or reset through clear_refs. */
  private hwmValid = true;
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 100);
    this.timer.unref();
  }

  private read(key: "VmRSS" | "VmHWM"): number {
    try {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(
        readFileSync(`/proc/${this.pid}/status`, "utf8"),
      );
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  private sample(): number {
    const kb = this.read("VmRSS");
    if (kb > this.peakKb) this.peakKb = kb;
    return kb;
  }

  /** Starts a new peak window. */
  reset(): void {
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, "5");
      this.hwmValid = true;
    } catch {
      this.hwmValid = false;
    }
    this.peakKb = 0;
    this.sample();
  }

  nowMb(): number {
    return (this.sample() * 1024) / 1e6;
  }

  /** Peak RSS since reset() (the whole life of the process when reset() was never called). */
  peakMb(): number {
    this.sample();
    const hwm = this.hwmValid ? this.read("VmHWM") : 0;
    return (Math.max(this.peakKb, hwm) * 1024) / 1e6;
  }

  /** CPU seconds (user + system) the process used so far: comparable across runs on a busy machine. */
  cpuSeconds(): number {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      return Number.NaN;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
