// Two App processes on one Postgres database and one RabbitMQ, behind a round-robin client (issue 6, "two
// replicas"; contract A.2, A.11): the lifecycle with a DID finder and sidecars talking to both replicas, a
// W1-like load split over both, and one replica SIGKILLed under load, after which the survivor finishes the
// work and takes over the background-job leases.
import { randomBytes } from "node:crypto";
import amqp from "amqplib";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedLoop, request } from "../../bench/lib.js";
import { fileCompleteBody } from "../helpers/fakeWorkers.js";
import { type TestDatabase, createTestDatabase } from "../helpers/pg.js";
import { RABBIT_URL, eventually } from "../helpers/testApp.js";
import { type AppProcess, RoundRobin, errorLogs, spawnApp } from "./replicaHarness.js";

const scheme = `rep${randomBytes(4).toString("hex")}`;
let db: TestDatabase;
let sql: pg.Client;
let a: AppProcess;
let b: AppProcess;
let rr: RoundRobin;
const statuses: Record<number, number> = {};
const count = (s: number) => {
  statuses[s] = (statuses[s] ?? 0) + 1;
};

beforeAll(async () => {
  db = await createTestDatabase("sx_rep");
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  const env = {
    DATABASE_URL: db.url,
    RABBIT_MQ_URL: RABBIT_URL,
    VALID_DID_SCHEMES: JSON.stringify(["rucio", scheme]),
    RECONCILE_INTERVAL: "1",
    DATASET_LIFECYCLE_INTERVAL: "2",
  };
  // A first, so that it takes the background-job leases; B joins once A holds them.
  a = await spawnApp(env);
  await eventually(
    async () =>
      (await leases()).filter((l) => l.holder.includes(`:${a.pid}:`)).length >= 2 ? true : undefined,
    20_000,
    "replica A to take the reconciler and scheduler leases",
  );
  b = await spawnApp(env);
  rr = new RoundRobin([a.url, b.url]);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()]);
  await sql?.end().catch(() => {});
  await db?.drop().catch(() => {});
  const conn = await amqp.connect(RABBIT_URL).catch(() => null);
  if (conn) {
    const ch = await conn.createChannel();
    await ch.deleteQueue(`did_finder_${scheme}`).catch(() => {});
    await ch.deleteExchange(`did_finder_${scheme}`).catch(() => {});
    await conn.close().catch(() => {});
  }
}, 60_000);

async function leases(): Promise<Array<{ name: string; holder: string; expires_at: Date; now: Date }>> {
  const r = await sql.query<{ name: string; holder: string; expires_at: Date; now: Date }>(
    "SELECT name, holder, expires_at, now() AS now FROM app_leases ORDER BY name",
  );
  return r.rows;
}

async function requestRow(id: string) {
  const r = await sql.query<{ status: string; files: number; files_completed: number; files_failed: number }>(
    "SELECT status, files, files_completed, files_failed FROM requests WHERE request_id = $1",
    [id],
  );
  return r.rows[0]!;
}

async function resultRows(id: string) {
  const r = await sql.query<{ n: string; distinct_files: string }>(
    "SELECT count(*) AS n, count(DISTINCT file_id) AS distinct_files FROM transform_result WHERE request_id = $1",
    [id],
  );
  return { rows: Number(r.rows[0]!.n), distinctFiles: Number(r.rows[0]!.distinct_files) };
}

/** "transform request complete" log lines for this request over every replica (one per Complete transition). */
const completions = (id: string, apps: AppProcess[]) =>
  apps.flatMap((p) => p.logs).filter((l) => l.msg === "transform request complete" && l.requestId === id)
    .length;

async function submit(body: Record<string, unknown>): Promise<string> {
  const r = await rr.call("POST", "/servicex/transformation", {
    selection: "(call ResultTTree ...)",
    codegen: "passthrough",
    "result-destination": "object-store",
    "result-format": "parquet",
    ...body,
  });
  expect(r.status, r.body).toBe(200);
  return (JSON.parse(r.body) as { request_id: string }).request_id;
}

const waitStatus = (id: string, status: string, ms = 90_000) =>
  eventually(
    async () => {
      const r = await rr.call("GET", `/servicex/transformation/${id}`);
      count(r.status);
      const j = JSON.parse(r.body) as Record<string, unknown>;
      return j.status === status ? j : undefined;
    },
    ms,
    `request ${id} to be ${status}`,
  );

async function fileIds(id: string): Promise<Array<{ id: number; paths: string }>> {
  const r = await sql.query<{ id: number; paths: string }>(
    "SELECT f.id, f.paths FROM files f JOIN requests r ON r.did_id = f.dataset_id WHERE r.request_id = $1 ORDER BY f.id",
    [id],
  );
  return r.rows;
}

const fileCompletePath = (id: string) => `/servicex/internal/transformation/${id}/file-complete`;

describe("Two App replicas behind a round-robin client", () => {
  it("When a DID request runs with the DID finder and the sidecars calling both replicas, then it completes exactly once with exact counters and one result per file", async () => {
    const did = `mc23_13p6TeV:replicas.${randomBytes(4).toString("hex")}`;
    const N = 3000;
    const conn = await amqp.connect(RABBIT_URL);
    try {
      // DID finder: answers the lookup with N files in PUTs of 300, alternating replicas, then /complete.
      const finderCh = await conn.createChannel();
      const fq = `did_finder_${scheme}`;
      await finderCh.assertExchange(fq, "direct", { durable: true });
      await finderCh.assertQueue(fq, { durable: true });
      await finderCh.bindQueue(fq, fq, fq);
      const lookups: Array<{ args: unknown[] }> = [];
      const finderDone = new Promise<void>((resolve, reject) => {
        void finderCh.consume(fq, async (raw) => {
          if (!raw) return;
          const [args] = JSON.parse(raw.content.toString("utf8")) as [unknown[]];
          lookups.push({ args });
          finderCh.ack(raw);
          if (lookups.length > 1) return; // a repeated lookup is counted, not answered twice
          try {
            const datasetId = args[1] as number;
            const files = Array.from({ length: N }, (_, i) => ({
              paths: [`root://a//${did}/f${i}.root`, `root://b//${did}/f${i}.root`],
              adler32: "62c5e3e5",
              file_size: 1000,
              file_events: 100,
            }));
            for (let i = 0; i < N; i += 300) {
              const r = await rr.call(
                "PUT",
                `/servicex/internal/transformation/${datasetId}/files`,
                files.slice(i, i + 300),
              );
              count(r.status);
            }
            const c = await rr.call("PUT", `/servicex/internal/transformation/${datasetId}/complete`, {
              files: N,
              "files-skipped": 0,
              "total-events": N * 100,
              "total-bytes": N * 1000,
              "elapsed-time": 1,
            });
            count(c.status);
            resolve();
          } catch (e) {
            reject(e);
          }
        });
      });

      const id = await submit({ did: `${scheme}://${did}`, title: "replicas" });

      // Sidecars: every 10th file fails once then succeeds, every 7th is reported twice at once (to both
      // replicas, since calls alternate); all reports alternate between the replicas.
      const sideCh = await conn.createChannel();
      const tq = `transformer-${id}`;
      await sideCh.assertQueue(tq, { durable: false, autoDelete: true });
      await sideCh.prefetch(64);
      const consumed: number[] = [];
      await sideCh.consume(tq, async (raw) => {
        if (!raw) return;
        const [, task] = JSON.parse(raw.content.toString("utf8")) as [
          unknown,
          { request_id: string; file_id: number; paths: string[]; service_endpoint: string },
        ];
        consumed.push(task.file_id);
        const path = `${new URL(task.service_endpoint).pathname}/file-complete`;
        const report = async (s: "success" | "failure") => {
          const r = await rr.call("PUT", path, fileCompleteBody(task, s));
          count(r.status);
        };
        if (task.file_id % 10 === 0) {
          await report("failure");
          await report("success");
        } else if (task.file_id % 7 === 0) {
          await Promise.all([report("success"), report("success")]);
        } else {
          await report("success");
        }
        try {
          sideCh.ack(raw);
        } catch {
          // the test closed the connection while a late duplicate report was in flight
        }
      });

      await finderDone;
      await waitStatus(id, "Complete");
      // A file reported "failure" then "success" counts as a success (A.11); the two reports may reach
      // different replicas, so the request can complete between them (the failure already accounts for the
      // file) and the success then moves the file from failed to completed. The counters settle exactly.
      const done = await eventually(
        async () => {
          const d = await waitStatus(id, "Complete");
          return d["files-completed"] === N ? d : undefined;
        },
        20_000,
        "every file counted as completed",
      );
      expect(done.files).toBe(N);
      expect(done["files-completed"]).toBe(N);
      expect(done["files-failed"]).toBe(0);
      expect(done["files-remaining"]).toBe(0);
      await new Promise((r) => setTimeout(r, 1000)); // a second Complete, if any, would show up by now
      expect(completions(id, [a, b])).toBe(1);
      expect(await requestRow(id)).toEqual({
        status: "complete",
        files: N,
        files_completed: N,
        files_failed: 0,
      });
      expect(await resultRows(id)).toEqual({ rows: N, distinctFiles: N });

      expect(lookups).toHaveLength(1);
      expect(lookups[0]!.args[2]).toMatch(
        new RegExp(`^http://127\\.0\\.0\\.1:(${a.port}|${b.port})/servicex/internal/transformation/$`),
      );
      const distinct = new Set(consumed).size;
      const duplicates = consumed.length - distinct;
      console.log(
        `lifecycle over 2 replicas: ${N} files, ${consumed.length} task messages consumed ` +
          `(${duplicates} duplicates), answered by ${JSON.stringify(Object.fromEntries(rr.answeredBy))}`,
      );
      expect(distinct).toBe(N);
      expect(consumed.length).toBeLessThanOrEqual(2 * N);
      expect(Object.keys(statuses).filter((s) => Number(s) >= 500)).toEqual([]);
      expect(rr.answeredBy.get(a.url)).toBeGreaterThan(N / 4);
      expect(rr.answeredBy.get(b.url)).toBeGreaterThan(N / 4);
      expect([...errorLogs(a), ...errorLogs(b)]).toEqual([]);
    } finally {
      await conn.close().catch(() => {});
    }
  }, 120_000);

  it("When 200 concurrent file-complete callers alternate between the replicas for a 10,000-file request (W1), then every call gets 200, the counters are exact and the request completes once", async () => {
    const N = 10_000;
    const tag = randomBytes(3).toString("hex");
    const id = await submit({
      "file-list": Array.from({ length: N }, (_, i) => `root://w1//${tag}/f${i}.root`),
    });
    const files = await fileIds(id);
    expect(files).toHaveLength(N);
    const res = await closedLoop(200, N, async (i) => {
      const f = files[i]!;
      return rr.call(
        "PUT",
        fileCompletePath(id),
        fileCompleteBody({ request_id: id, file_id: f.id, paths: [f.paths] }, "success"),
      );
    });
    console.log(
      `W1 over 2 replicas: ${Math.round(res.rate)} req/s, p50 ${res.p50.toFixed(1)} ms, p99 ${res.p99.toFixed(1)} ms, statuses ${JSON.stringify(res.statuses)}`,
    );
    expect(res.statuses).toEqual({ 200: N });
    const done = await waitStatus(id, "Complete", 10_000);
    expect(done["files-completed"]).toBe(N);
    await new Promise((r) => setTimeout(r, 500));
    expect(completions(id, [a, b])).toBe(1);
    expect(await requestRow(id)).toEqual({
      status: "complete",
      files: N,
      files_completed: N,
      files_failed: 0,
    });
    expect(await resultRows(id)).toEqual({ rows: N, distinctFiles: N });
    expect([...errorLogs(a), ...errorLogs(b)]).toEqual([]);
  }, 120_000);

  let killedAt = 0;
  let victim: AppProcess;
  let survivor: AppProcess;
  let holdersBefore: Array<{ name: string; holder: string }> = [];

  it("When the replica holding the leases is SIGKILLed during 200 concurrent file-complete callers, then the calls fail over, the survivor finishes with exact counters and takes over the reconciler lease within seconds", async () => {
    const N = 10_000;
    const tag = randomBytes(3).toString("hex");
    const id = await submit({
      "file-list": Array.from({ length: N }, (_, i) => `root://kill//${tag}/f${i}.root`),
    });
    const files = await fileIds(id);
    holdersBefore = (await leases()).map(({ name, holder }) => ({ name, holder }));
    const reconcilerHolder = holdersBefore.find((l) => l.name === "reconciler")!.holder;
    victim = reconcilerHolder.includes(`:${a.pid}:`) ? a : b;
    survivor = victim === a ? b : a;
    expect(reconcilerHolder).toContain(`:${victim.pid}:`);

    let answered = 0;
    const failoversBefore = rr.failovers;
    const load = closedLoop(200, N, async (i) => {
      const f = files[i]!;
      const r = await rr.call(
        "PUT",
        fileCompletePath(id),
        fileCompleteBody({ request_id: id, file_id: f.id, paths: [f.paths] }, "success"),
      );
      answered += 1;
      return r;
    });
    await eventually(async () => answered >= N / 3, 60_000, "a third of the reports");
    await victim.kill();
    killedAt = Date.now();
    const answeredAtKill = answered;
    const res = await load;
    console.log(
      `kill at ${answeredAtKill}/${N} reports; ${rr.failovers - failoversBefore} calls failed over to the survivor; ` +
        `statuses ${JSON.stringify(res.statuses)}, ${Math.round(res.rate)} req/s`,
    );
    expect(res.statuses).toEqual({ 200: N });
    expect(rr.failovers - failoversBefore).toBeGreaterThan(0);
    expect(survivor.alive()).toBe(true);

    const done = await waitStatus(id, "Complete", 10_000);
    expect(done["files-completed"]).toBe(N);
    await new Promise((r) => setTimeout(r, 500));
    expect(completions(id, [a, b])).toBe(1);
    expect(await requestRow(id)).toEqual({
      status: "complete",
      files: N,
      files_completed: N,
      files_failed: 0,
    });
    expect(await resultRows(id)).toEqual({ rows: N, distinctFiles: N });
    expect(errorLogs(survivor)).toEqual([]);

    const moved = await eventually(
      async () => {
        const l = (await leases()).find((x) => x.name === "reconciler");
        return l?.holder.includes(`:${survivor.pid}:`) ? l : undefined;
      },
      30_000,
      "the reconciler lease to move to the survivor",
    );
    const took = (Date.now() - killedAt) / 1000;
    console.log(
      `reconciler lease moved to the survivor ${took.toFixed(1)} s after the kill (expires ${moved.expires_at.toISOString()})`,
    );
    expect(took).toBeLessThan(15);
    expect(moved.expires_at.getTime()).toBeGreaterThan(moved.now.getTime());
    const ready = await rr.call("GET", "/readyz");
    expect(ready.status).toBe(200);
  }, 120_000);

  it("When the replica holding the scheduler's leadership lease died, then the survivor takes that lease over within seconds", async () => {
    expect(killedAt).toBeGreaterThan(0);
    const before = holdersBefore.find((l) => l.name === "scheduler");
    expect(before, "the scheduler has a leader (its lease exists)").toBeDefined();
    expect(before!.holder).toContain(`:${victim.pid}:`);
    const deadline = killedAt + 75_000;
    let took = Number.POSITIVE_INFINITY;
    for (;;) {
      const l = (await leases()).find((x) => x.name === "scheduler");
      if (l?.holder.includes(`:${survivor.pid}:`)) {
        took = (Date.now() - killedAt) / 1000;
        break;
      }
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    console.log(`scheduler job lease moved to the survivor ${took.toFixed(1)} s after the kill`);
    expect(took, "seconds until the survivor held the scheduler lease").toBeLessThan(15);
  }, 90_000);
});

// SIGKILL of the replica publishing a large request's tasks: its publishing claim is a short lease renewed
// while it publishes, and a replica that finds a request with unpublished files and a free claim publishes
// it, resuming after the last chunk the broker confirmed (the watermark).
describe("Two App replicas: the publisher of a large request is SIGKILLed mid-publish", () => {
  const N = 40_000;
  const CHUNK = 5_000;
  let ddb: TestDatabase;
  let dsql: pg.Client;
  let p: AppProcess;
  let q: AppProcess;

  beforeAll(async () => {
    ddb = await createTestDatabase("sx_dsp");
    dsql = new pg.Client({ connectionString: ddb.url });
    await dsql.connect();
    const env = { DATABASE_URL: ddb.url, RABBIT_MQ_URL: RABBIT_URL, DISPATCH_CHUNK: String(CHUNK) };
    [p, q] = await Promise.all([spawnApp(env), spawnApp(env)]);
  }, 120_000);

  afterAll(async () => {
    await Promise.allSettled([p?.stop(), q?.stop()]);
    await dsql?.end().catch(() => {});
    await ddb?.drop().catch(() => {});
  }, 60_000);

  const dispatchState = async (id: string) => {
    const r = await dsql.query<{ id: number; through: number; last: number; holder: string | null }>(
      `SELECT r.id, r.tasks_published_through AS through,
              (SELECT max(f.id) FROM files f WHERE f.dataset_id = r.did_id) AS last,
              (SELECT l.holder FROM app_leases l WHERE l.name = 'dispatch:' || r.id AND l.expires_at > now()) AS holder
       FROM requests r WHERE r.request_id = $1`,
      [id],
    );
    return r.rows[0];
  };

  it("When the publishing replica is SIGKILLed, then the other finishes publishing within 15 s of the kill and publishes at most one chunk again", async () => {
    const tag = randomBytes(3).toString("hex");
    const conn = await amqp.connect(RABBIT_URL);
    try {
      const r = await request(`${p.url}/servicex/transformation`, "POST", {
        selection: "(call ResultTTree ...)",
        codegen: "passthrough",
        "result-destination": "object-store",
        "result-format": "parquet",
        "file-list": Array.from({ length: N }, (_, i) => `root://d//${tag}/f${i}.root`),
      });
      expect(r.status, r.body).toBe(200);
      const id = (JSON.parse(r.body) as { request_id: string }).request_id;

      // Count every delivery on the request's own queue (declared as the publishers declare it).
      const ch = await conn.createChannel();
      const tq = `transformer-${id}`;
      await ch.assertQueue(tq, { durable: false, autoDelete: true });
      await ch.prefetch(2000);
      const seen = new Map<number, number>();
      let deliveries = 0;
      await ch.consume(tq, (raw) => {
        if (!raw) return;
        const [, task] = JSON.parse(raw.content.toString("utf8")) as [unknown, { file_id: number }];
        seen.set(task.file_id, (seen.get(task.file_id) ?? 0) + 1);
        deliveries += 1;
        ch.ack(raw);
      });

      // Kill whichever replica holds the claim once it has published part (not all) of the request.
      const atKill = await eventually(
        async () => {
          const s = await dispatchState(id);
          // Late enough that what is left is published within the bound on a loaded 2-core machine.
          return s?.holder && s.through >= 0.8 * N && s.through < s.last ? s : undefined;
        },
        60_000,
        "a replica to be part-way through publishing the request",
      );
      const victim = atKill.holder!.includes(`:${p.pid}:`) ? p : q;
      const survivor = victim === p ? q : p;
      await victim.kill();
      const killedAt = Date.now();
      const afterKill = await dispatchState(id);

      const claimedBySurvivor = await eventually(
        async () => {
          const s = await dispatchState(id);
          return s?.holder?.includes(`:${survivor.pid}:`) || s?.through === s?.last ? Date.now() : undefined;
        },
        30_000,
        "the survivor to take the publishing claim",
      );
      const finishedAt = await eventually(
        async () => {
          const s = await dispatchState(id);
          return s && s.through === s.last ? Date.now() : undefined;
        },
        30_000,
        "the survivor to publish every task",
      );
      await eventually(async () => seen.size === N, 60_000, `all ${N} tasks to be delivered`);
      // Nothing more is published after the watermark reached the end; let the queue drain.
      await eventually(
        async () => ((await ch.checkQueue(tq)).messageCount === 0 ? true : undefined),
        30_000,
        "the request queue to drain",
      );
      await new Promise((res) => setTimeout(res, 500));
      const duplicates = deliveries - seen.size;
      console.log(
        `dispatch kill: watermark ${afterKill!.through}/${atKill.last} at the kill; the survivor held the claim ` +
          `${((claimedBySurvivor - killedAt) / 1000).toFixed(1)} s and finished publishing ` +
          `${((finishedAt - killedAt) / 1000).toFixed(1)} s after the kill; ${deliveries} deliveries for ${N} files ` +
          `(${duplicates} duplicates, chunk ${CHUNK})`,
      );
      expect(seen.size).toBe(N);
      expect((finishedAt - killedAt) / 1000, "seconds from the kill to the last task published").toBeLessThan(
        15,
      );
      expect(duplicates, "tasks published twice").toBeLessThanOrEqual(CHUNK);
      expect(errorLogs(survivor)).toEqual([]);
      await ch.deleteQueue(tq).catch(() => {});
    } finally {
      await conn.close().catch(() => {});
    }
  }, 180_000);
});
