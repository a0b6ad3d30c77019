// W6 — local mode (the embedded default): the App as a child process on PGlite with the in-process broker and
// local transformer worker processes. One passthrough request over 1,000 local files on 4 workers: time to
// Complete (files/s), every file reported, and the CPU used by the App versus its worker processes, read from
// /proc while the request runs (the App's CPU share = App CPU / (App + workers) CPU).
import { randomBytes } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fmt, freePort, request, startProcess, stopProcess } from "./lib.js";

export interface W6Options {
  line: (name: string, value: string, extra?: string) => void;
  files?: number;
  workers?: number;
  fileBytes?: number;
}

const TICKS = 100; // USER_HZ on Linux

/** utime + stime of a process in seconds, or null when it is gone. */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return null;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const c = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      if (c) out.push(...c.split(/\s+/).map(Number));
    }
  } catch {}
  return out;
}

export async function runW6(o: W6Options): Promise<void> {
  const FILES = o.files ?? 1000;
  const WORKERS = o.workers ?? 4;
  const work = await mkdtemp(join(tmpdir(), "sx-bench-w6-"));
  const inDir = join(work, "in");
  await mkdir(inDir);
  const paths: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const p = join(inDir, `f${i}.root`);
    await writeFile(p, randomBytes(o.fileBytes ?? 64 * 1024));
    paths.push(p);
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const app = await startProcess(
    "src/main.ts",
    {
      PORT: String(port),
      BIND_ADDRESS: "127.0.0.1",
      ADVERTISED_HOSTNAME: `127.0.0.1:${port}`,
      DATA_DIR: join(work, "data"),
      DATABASE_URL: "",
      SQLALCHEMY_DATABASE_URI: "",
      RABBIT_MQ_URL: "",
      LOCAL_TRANSFORMER_WORKERS: String(WORKERS),
      LOG_LEVEL: process.env.BENCH_APP_LOG_LEVEL ?? "warn",
    },
    `${base}/healthz`,
  );
  try {
    const appPid = app.pid!;
    const workerCpu = new Map<number, number>();
    const appCpu0 = cpuSeconds(appPid) ?? 0;
    const t0 = performance.now();
    const sub = await request(`${base}/servicex/transformation`, "POST", {
      "file-list": paths,
      selection: "passthrough",
      codegen: "passthrough",
      "result-destination": "object-store",
      "result-format": "root-file",
      workers: WORKERS,
    });
    if (sub.status !== 200) throw new Error(`W6 submit answered ${sub.status}: ${sub.body.slice(0, 300)}`);
    const id = (JSON.parse(sub.body) as { request_id: string }).request_id;
    let status: Record<string, unknown> = {};
    let appCpu1 = appCpu0;
    for (;;) {
      for (const pid of childrenOf(appPid)) {
        const c = cpuSeconds(pid);
        if (c !== null) workerCpu.set(pid, Math.max(workerCpu.get(pid) ?? 0, c));
      }
      appCpu1 = cpuSeconds(appPid) ?? appCpu1;
      const r = await request(`${base}/servicex/transformation/${id}`, "GET");
      status = JSON.parse(r.body) as Record<string, unknown>;
      if (status.status === "Complete" || status.status === "Fatal") break;
      if (performance.now() - t0 > 600_000) throw new Error("W6 did not complete within 10 minutes");
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - t0) / 1000;
    const completed = Number(status["files-completed"]);
    const failed = Number(status["files-failed"]);
    const appCpu = appCpu1 - appCpu0;
    const workers = [...workerCpu.values()].reduce((a, b) => a + b, 0);
    o.line(
      `W6 local: ${fmt(FILES)} files, ${WORKERS} worker processes`,
      `${fmt(completed / seconds, 1)} files/s`,
      `${fmt(seconds, 2)} s to ${String(status.status)}; ${fmt(completed)} completed, ${fmt(failed)} failed`,
    );
    o.line(
      "W6 CPU: App vs worker processes",
      `${fmt((100 * appCpu) / (appCpu + workers || 1), 0)} % App`,
      `App ${fmt(appCpu, 2)} s, workers ${fmt(workers, 2)} s (${workerCpu.size} processes seen), wall ${fmt(seconds, 2)} s`,
    );
    if (completed !== FILES) throw new Error(`W6: only ${completed}/${FILES} files completed`);
  } finally {
    await stopProcess(app);
    await rm(work, { recursive: true, force: true });
  }
}
