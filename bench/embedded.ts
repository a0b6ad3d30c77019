// WE — the embedded default (PGlite under DATA_DIR, in-process broker) with a large request (issue 12): the
// compiled App, run as `npm start` runs it, takes a BENCH_EMBEDDED_FILES-entry file list (default 100,000)
// and then a DID finder streaming as many files in PUTs of 300. Printed: time to 200 / to the last PUT,
// the App's peak RSS while it takes them and publishes the tasks (no worker consumes them: the transformer
// manager is off, so the in-process queue holds every task), and the request page, results page and /status
// p95. The embedded default is for one machine; the 1,000,000-file goals are the Postgres ones (run.ts).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  RssWatch,
  appEntry,
  appNodeArgs,
  fmt,
  freePort,
  percentile,
  request,
  startProcess,
  stopProcess,
} from "./lib.js";

export interface WeOptions {
  line: (name: string, value: string, extra?: string) => void;
  files?: number;
}

async function p95(url: string, n = 30): Promise<string> {
  const lat: number[] = [];
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await request(url, "GET");
    lat.push(performance.now() - t);
    if (r.status !== 200) bad++;
  }
  lat.sort((a, b) => a - b);
  return `${fmt(percentile(lat, 95), 1)} ms${bad ? ` (${bad} not 200)` : ""}`;
}

/** Samples the App's RSS for `ms` while the dispatcher goes on publishing. */
async function settle(rss: RssWatch, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    rss.nowMb();
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function runWE(o: WeOptions): Promise<void> {
  const FILES = o.files ?? Number(process.env.BENCH_EMBEDDED_FILES ?? 100_000);
  const work = await mkdtemp(join(tmpdir(), "sx-bench-we-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const entry = appEntry();
  const app = await startProcess(
    entry,
    {
      PORT: String(port),
      BIND_ADDRESS: "127.0.0.1",
      ADVERTISED_HOSTNAME: `127.0.0.1:${port}`,
      DATA_DIR: join(work, "data"),
      DATABASE_URL: "",
      SQLALCHEMY_DATABASE_URI: "",
      RABBIT_MQ_URL: "",
      TRANSFORMER_MANAGER_ENABLED: "false",
      VALID_DID_SCHEMES: JSON.stringify(["rucio", "benchwe"]),
      LOG_LEVEL: process.env.BENCH_APP_LOG_LEVEL ?? "warn",
    },
    `${base}/healthz`,
    appNodeArgs(),
  );
  const rss = new RssWatch(app.pid!);
  try {
    o.line("WE App RSS idle (embedded: PGlite, in-process broker)", `${fmt(rss.nowMb())} MB`);
    const pages = async (rid: string) =>
      `request page p95 ${await p95(`${base}/transformation-request/${rid}`)}, results page p95 ${await p95(
        `${base}/transformation-request/${rid}/results`,
      )}, /status p95 ${await p95(`${base}/servicex/transformation/${rid}/status`)} (goal ≤ 150)`;

    // A file list.
    rss.reset();
    let cpu = rss.cpuSeconds();
    const list = Array.from({ length: FILES }, (_, i) => `root://eos//we/file_${i}.root`);
    let t = performance.now();
    const sub = await request(`${base}/servicex/transformation`, "POST", {
      "file-list": list,
      selection: "bench",
      codegen: "passthrough",
      "result-destination": "object-store",
    });
    const answered = (performance.now() - t) / 1000;
    if (sub.status !== 200) {
      o.line(
        `WE submit with a ${fmt(FILES)}-entry file list`,
        `FAILED ${sub.status}`,
        sub.body.slice(0, 200),
      );
      return;
    }
    const rid = (JSON.parse(sub.body) as { request_id: string }).request_id;
    await settle(rss, 20_000);
    o.line(
      `WE submit with a ${fmt(FILES)}-entry file list`,
      `${fmt(answered, 2)} s`,
      `to 200; App peak RSS ${fmt(rss.peakMb())} MB in it and the 20 s after (tasks held by the in-process queue), CPU ${fmt(rss.cpuSeconds() - cpu, 1)} s`,
    );
    o.line(`WE pages of the ${fmt(FILES)}-file request`, "", await pages(rid));

    // A DID finder streaming as many files.
    rss.reset();
    cpu = rss.cpuSeconds();
    const s2 = await request(`${base}/servicex/transformation`, "POST", {
      did: "benchwe://big",
      selection: "bench",
      codegen: "passthrough",
      "result-destination": "object-store",
    });
    const rid2 = (JSON.parse(s2.body) as { request_id: string }).request_id;
    const didId = (
      JSON.parse((await request(`${base}/servicex/transformation/${rid2}`, "GET")).body) as { did_id: number }
    ).did_id;
    const endpoint = `${base}/servicex/internal/transformation/${didId}`;
    t = performance.now();
    for (let i = 0; i < FILES; i += 300) {
      const batch = Array.from({ length: Math.min(300, FILES - i) }, (_, j) => ({
        paths: [`root://site-a//we/w2/f${i + j}.root`],
        adler32: "0badc0de",
        file_size: 1_000_000,
        file_events: 10_000,
      }));
      const r = await request(`${endpoint}/files`, "PUT", batch);
      if (r.status !== 200) throw new Error(`WE PUT /files answered ${r.status}: ${r.body}`);
    }
    await request(`${endpoint}/complete`, "PUT", {
      files: FILES,
      "files-skipped": 0,
      "total-events": FILES * 10_000,
      "total-bytes": FILES * 1_000_000,
      "elapsed-time": 1,
    });
    const puts = (performance.now() - t) / 1000;
    await settle(rss, 20_000);
    o.line(
      `WE DID finder streams ${fmt(FILES)} files (PUTs of 300)`,
      `${fmt(puts, 2)} s`,
      `to the last PUT; App peak RSS ${fmt(rss.peakMb())} MB in it and the 20 s after, CPU ${fmt(rss.cpuSeconds() - cpu, 1)} s`,
    );
    o.line(`WE pages of the streamed request`, "", await pages(rid2));
  } finally {
    rss.stop();
    await stopProcess(app);
    await rm(work, { recursive: true, force: true });
  }
}
