// W5 — the Kubernetes launcher under load: the App as a child process with TRANSFORMER_MANAGER_MODE=
// external-kubernetes against the fake Kubernetes API (test/helpers/fakeKubernetesApi.ts, run in this process; it
// validates every created object against the official schemas), the local Postgres and RabbitMQ.
//   20 requests kept running; then 200 submits in a row (submits/s);
//   exactly 3 creates (ConfigMap, Deployment, HPA) per request, no 422 Invalid;
//   a burst of file-complete reports that completes nothing: Kubernetes API calls during it (must be 0);
//   the burst that completes all 200: every object of theirs deleted (objects left must be 0);
//   cancel of the 20: zero objects left in the namespace.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { kubeConfigYaml, startFakeKubernetesApi } from "../test/helpers/fakeKubernetesApi.js";
import { closedLoop, fmt, freePort, percentile, request, startProcess, stopProcess, pgExec } from "./lib.js";

export interface W5Options {
  pgAdminUrl: string;
  rabbitUrl: string;
  /** The report line printer of bench/run.ts. */
  line: (name: string, value: string, extra?: string) => void;
  /** Requests kept running while the others are submitted (default 20). */
  running?: number;
  /** Requests submitted in a row and completed (default 200). */
  submits?: number;
}

export interface W5Result {
  submitsPerSecond: number;
  exactlyThreeCreates: boolean;
  invalidObjects: number;
  objectsLeftAfterCompletion: number;
  kubeCallsDuringFileComplete: number;
  objectsLeftAtEnd: number;
  seconds: number;
}

const NS = "servicex-bench";
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const admin = pgExec;

function json<T>(r: { status: number; body: string }, what: string): T {
  if (r.status !== 200) throw new Error(`${what} answered ${r.status}: ${r.body.slice(0, 300)}`);
  return JSON.parse(r.body) as T;
}

export async function runW5(o: W5Options): Promise<W5Result> {
  const t0 = performance.now();
  const RUNNING = o.running ?? 20;
  const SUBMITS = o.submits ?? 200;
  const RUNNING_FILES = 5;
  const SUBMIT_FILES = 2;
  const tag = randomBytes(4).toString("hex");
  const kube = await startFakeKubernetesApi();
  const kubeconfig = join(mkdtempSync(join(tmpdir(), "sx-w5-")), "config");
  writeFileSync(kubeconfig, kubeConfigYaml(kube.url));
  const dbName = `sx_bench_w5_${tag}`;
  await admin(o.pgAdminUrl, `CREATE DATABASE "${dbName}"`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const ids: { running: string[]; submitted: string[] } = { running: [], submitted: [] };
  let app: Awaited<ReturnType<typeof startProcess>> | null = null;
  try {
    app = await startProcess(
      "src/main.ts",
      {
        PORT: String(port),
        BIND_ADDRESS: "127.0.0.1",
        ADVERTISED_HOSTNAME: `127.0.0.1:${port}`,
        DATABASE_URL: o.pgAdminUrl.replace(/\/[^/]*$/, `/${dbName}`),
        RABBIT_MQ_URL: o.rabbitUrl,
        LOG_LEVEL: process.env.BENCH_APP_LOG_LEVEL ?? "warn",
        DATABASE_POOL_SIZE: "10",
        KUBECONFIG: kubeconfig,
        TRANSFORMER_MANAGER_ENABLED: "true",
        TRANSFORMER_MANAGER_MODE: "external-kubernetes",
        TRANSFORMER_NAMESPACE: NS,
        TRANSFORMER_MAX_REPLICAS: "20",
        TRANSFORMER_X509_SECRET: "x509-proxy",
        TRANSFORMER_RABBIT_MQ_URL: "amqp://user:pw@rabbit:5672/%2F?heartbeat=9000",
      },
      `${base}/healthz`,
    );

    const submit = async (files: number, label: string) => {
      const r = await request(`${base}/servicex/transformation`, "POST", {
        "file-list": Array.from({ length: files }, (_, i) => `root://bench//${tag}/w5/${label}/f${i}.root`),
        selection: "bench",
        codegen: "passthrough",
        "result-destination": "object-store",
      });
      return json<{ request_id: string }>(r, "submit").request_id;
    };
    const fileIdsOf = async (id: string) => {
      const info = json<{ did_id: number }>(
        await request(`${base}/servicex/transformation/${id}`, "GET"),
        "status",
      );
      const ds = json<{ files: Array<{ id: number }> }>(
        await request(`${base}/servicex/datasets/${info.did_id}`, "GET"),
        "dataset",
      );
      return ds.files.map((f) => f.id).sort((a, b) => a - b);
    };
    const report = (id: string, fileId: number) =>
      request(`${base}/servicex/internal/transformation/${id}/file-complete`, "PUT", {
        requestId: id,
        "file-path": `root://bench//${tag}/f${fileId}.root`,
        "file-id": fileId,
        status: "success",
        "total-time": 1.2,
        "total-events": 1000,
        "total-bytes": 2048,
        "avg-rate": 833.3,
        place: { host_name: `transformer-${id}-pod`, site: "bench" },
        "s3-object-name": `f${fileId}.parquet`,
      });
    const objectsOf = (set: Set<string>) =>
      kube.launcherObjects.filter((ob) => set.has(ob.name.replace(/^transformer-|-generated-source$/g, "")))
        .length;

    // 20 requests kept running throughout.
    for (let i = 0; i < RUNNING; i++) ids.running.push(await submit(RUNNING_FILES, `run${i}`));

    // 200 submits in a row.
    const lat: number[] = [];
    const ts = performance.now();
    for (let i = 0; i < SUBMITS; i++) {
      const s = performance.now();
      ids.submitted.push(await submit(SUBMIT_FILES, `sub${i}`));
      lat.push(performance.now() - s);
    }
    const submitSeconds = (performance.now() - ts) / 1000;
    lat.sort((a, b) => a - b);
    const rate = SUBMITS / submitSeconds;
    o.line(
      `W5 K8s submit, ${SUBMITS} in a row (${RUNNING} running)`,
      `${fmt(rate, 1)} req/s`,
      `p50 ${fmt(percentile(lat, 50), 1)} ms  p99 ${fmt(percentile(lat, 99), 1)} ms`,
    );

    // Exactly 3 creates per request, every one accepted (no 422 Invalid from the schema validation).
    const all = [...ids.running, ...ids.submitted];
    const n = all.length;
    const posts = {
      configmaps: kube.count("POST", "configmaps"),
      deployments: kube.count("POST", "deployments"),
      horizontalpodautoscalers: kube.count("POST", "horizontalpodautoscalers"),
    };
    const created = {
      configmaps: kube.count("POST", "configmaps", 201),
      deployments: kube.count("POST", "deployments", 201),
      horizontalpodautoscalers: kube.count("POST", "horizontalpodautoscalers", 201),
    };
    const perRequest = all.every((id) => {
      const mine = kube.requests.filter(
        (r) =>
          r.method === "POST" && JSON.stringify((r.body as { metadata?: unknown })?.metadata).includes(id),
      );
      return mine.length === 3 && mine.every((r) => r.status === 201);
    });
    const exactlyThree =
      perRequest &&
      Object.values(posts).every((c) => c === n) &&
      Object.values(created).every((c) => c === n);
    o.line(
      "W5 K8s creates per request (cm+dep+hpa)",
      exactlyThree ? "exactly 3" : "WRONG",
      `POSTs cm ${posts.configmaps} / dep ${posts.deployments} / hpa ${posts.horizontalpodautoscalers} for ${n} requests  422 Invalid: ${kube.invalidObjects.length}`,
    );

    // File ids of every request, before the bursts (so the bursts are file-complete traffic only).
    const files = new Map<string, number[]>();
    for (const id of all) files.set(id, await fileIdsOf(id));
    // Let the dispatcher finish queueing (its own traffic is RabbitMQ, never Kubernetes).
    await sleep(500);

    // Burst 1: reports that complete nothing (all but one file of every request).
    const partial: Array<[string, number]> = [];
    for (const id of all) for (const f of files.get(id)!.slice(0, -1)) partial.push([id, f]);
    const before = kube.requests.length;
    const b1 = await closedLoop(50, partial.length, (i) => report(partial[i]![0], partial[i]![1]));
    await sleep(500); // anything the reports might trigger asynchronously
    const kubeCalls = kube.requests.length - before;
    o.line(
      `W5 K8s calls during ${fmt(partial.length)} file-completes`,
      `${kubeCalls}`,
      `(must be 0)  ${fmt(b1.rate)} req/s  p99 ${fmt(b1.p99, 1)} ms  errors ${b1.errors}`,
    );

    // Burst 2: the last file of each of the 200 → Complete → shutdown deletes their objects.
    const done = new Set(ids.submitted);
    const last: Array<[string, number]> = ids.submitted.map((id) => [id, files.get(id)!.at(-1)!]);
    const beforeDeletes = kube.requests.length;
    const b2 = await closedLoop(50, last.length, (i) => report(last[i]![0], last[i]![1]));
    const end = Date.now() + 30_000;
    while (objectsOf(done) > 0 && Date.now() < end) await sleep(50);
    const left = objectsOf(done);
    const deletes = kube.requests.slice(beforeDeletes).filter((r) => r.method === "DELETE").length;
    let complete = 0;
    for (const id of ids.submitted) {
      const st = json<{ status: string }>(
        await request(`${base}/servicex/transformation/${id}`, "GET"),
        "status",
      );
      if (st.status === "Complete") complete++;
    }
    o.line(
      `W5 K8s objects left after ${SUBMITS} complete`,
      `${left}`,
      `(must be 0)  Complete ${complete}/${SUBMITS}  DELETEs ${deletes} (3 per request)  completing burst ${fmt(b2.rate)} req/s errors ${b2.errors}`,
    );

    // The 20 kept running: cancel → zero objects in the namespace.
    for (const id of ids.running) await request(`${base}/servicex/transformation/${id}/cancel`, "GET");
    const end2 = Date.now() + 30_000;
    while (kube.launcherObjects.length > 0 && Date.now() < end2) await sleep(50);
    const leftAtEnd = kube.launcherObjects.length;
    const seconds = (performance.now() - t0) / 1000;
    o.line(
      `W5 K8s objects left after ${RUNNING} cancels`,
      `${leftAtEnd}`,
      `(must be 0)  422 Invalid total ${kube.invalidObjects.length}  W5 took ${fmt(seconds, 1)} s`,
    );
    return {
      submitsPerSecond: rate,
      exactlyThreeCreates: exactlyThree,
      invalidObjects: kube.invalidObjects.length,
      objectsLeftAfterCompletion: left,
      kubeCallsDuringFileComplete: kubeCalls,
      objectsLeftAtEnd: leftAtEnd,
      seconds,
    };
  } finally {
    if (app) await stopProcess(app);
    await kube.stop();
    const conn = await amqp.connect(o.rabbitUrl).catch(() => null);
    if (conn) {
      const ch = await conn.createChannel();
      ch.on("error", () => {});
      for (const id of [...ids.running, ...ids.submitted])
        await ch.deleteQueue(`transformer-${id}`).catch(() => {});
      await conn.close().catch(() => {});
    }
    await admin(o.pgAdminUrl, `DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => {});
  }
}
