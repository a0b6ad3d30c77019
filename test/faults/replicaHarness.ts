// Helpers for the fault tests that run the App as real processes (`node --import tsx src/main.ts`): start
// one with its JSON log captured, and a round-robin client that alternates between replicas and, like a
// load balancer, sends a call that could not reach one replica (connection refused/reset) to the next.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { freePort, request } from "../../bench/lib.js";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface AppProcess {
  child: ChildProcess;
  pid: number;
  port: number;
  url: string;
  /** Every JSON log line written to stdout so far. */
  logs: Array<Record<string, unknown>>;
  stderr: string[];
  alive(): boolean;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** Starts the App as a child process and waits until GET /readyz answers 200 (database and broker up). */
export async function spawnApp(env: Record<string, string>, port?: number): Promise<AppProcess> {
  const p = port ?? (await freePort());
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PORT: String(p),
      BIND_ADDRESS: "127.0.0.1",
      ADVERTISED_HOSTNAME: `127.0.0.1:${p}`,
      ENABLE_AUTH: "false",
      TRANSFORMER_MANAGER_ENABLED: "false",
      LOG_LEVEL: "info",
      DATA_DIR: "memory://",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  let partial = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line, unparsed: true });
      }
    }
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (c: string) => stderr.push(c));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const url = `http://127.0.0.1:${p}`;
  const end = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`App exited during start-up (${child.exitCode}): ${stderr.join("")}`);
    try {
      const r = await request(`${url}/readyz`, "GET");
      if (r.status === 200) break;
    } catch {}
    if (Date.now() > end) {
      child.kill("SIGKILL");
      throw new Error(`App on port ${p} did not become ready: ${stderr.join("")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    pid: child.pid!,
    port: p,
    url,
    logs,
    stderr,
    alive,
    async stop() {
      if (!alive()) return;
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (alive()) {
        child.kill("SIGKILL");
        await exited;
      }
    },
    async kill() {
      if (!alive()) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Log lines at level error (50) or worse. */
export const errorLogs = (app: AppProcess) =>
  app.logs.filter((l) => typeof l.level === "number" && l.level >= 50);

/** Resident set size in kB and open file descriptors of a process (Linux /proc). */
export function procStats(pid: number): { rssKb: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return { rssKb: rss ? Number(rss[1]) : 0, fds: readdirSync(`/proc/${pid}/fd`).length };
}

export interface RRResponse {
  status: number;
  body: string;
  /** The replica that answered. */
  base: string;
}

const CONNECTION_ERRORS = /ECONNREFUSED|ECONNRESET|EPIPE|socket hang up|ETIMEDOUT|other side closed/;

/**
 * Round-robin over replicas: call i goes to replica i mod n. A call that fails to connect or loses its
 * connection is retried on the next replica, and that replica is taken out of the rotation for
 * `ejectMs` (a load balancer's passive health check). Calls are only retried when nothing answered, so
 * a non-idempotent call answered by a replica is never repeated.
 */
export class RoundRobin {
  private next = 0;
  private readonly ejectedUntil = new Map<string, number>();
  /** Calls that failed on one replica and were sent to another. */
  failovers = 0;
  readonly answeredBy = new Map<string, number>();

  constructor(
    readonly bases: string[],
    private readonly ejectMs = 2000,
  ) {}

  private pick(): string {
    const now = Date.now();
    for (let k = 0; k < this.bases.length; k++) {
      const base = this.bases[this.next++ % this.bases.length]!;
      if ((this.ejectedUntil.get(base) ?? 0) <= now) return base;
    }
    return this.bases[this.next++ % this.bases.length]!;
  }

  async call(method: string, path: string, body?: unknown): Promise<RRResponse> {
    let lastError: unknown;
    for (let attempt = 0; attempt < this.bases.length * 4; attempt++) {
      const base = this.pick();
      try {
        const r = await request(`${base}${path}`, method, body);
        this.answeredBy.set(base, (this.answeredBy.get(base) ?? 0) + 1);
        return { ...r, base };
      } catch (e) {
        lastError = e;
        if (
          !CONNECTION_ERRORS.test(String((e as Error).message ?? e) + String((e as { code?: string }).code))
        )
          throw e;
        this.ejectedUntil.set(base, Date.now() + this.ejectMs);
        this.failovers += 1;
        if (attempt >= this.bases.length) await new Promise((r) => setTimeout(r, 50 * attempt));
      }
    }
    throw lastError;
  }
}
