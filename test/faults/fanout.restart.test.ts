// App-level regression for upstream #229/#272 (a RabbitMQ restart loses work): transform queues are non-durable,
// so a broker restart drops every task in them. Postgres is the source of truth (contract A.2): after the App
// reconnected, every file without a result must have a task again, the request must complete exactly once with
// exact counters (A.11), and nothing submitted while RabbitMQ was down may be lost (A.26: callers never retry).
// RabbitMQ is restarted for real (stop_app / start_app of the private node) and is running again after every test, even
// on failure; the queues the tests created are deleted at the end.
import { randomBytes } from "node:crypto";
import { type Channel, type ChannelModel, type ConsumeMessage, connect } from "amqplib";
import { afterEach, describe, expect, it } from "vitest";
import { ensureRabbitRunning, portOpen, privateNodeCtl } from "../helpers/rabbit.js";
import { type TransformTaskKwargs, fileCompleteBody, putJson } from "../helpers/fakeWorkers.js";
import { RABBIT_URL, type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// --- RabbitMQ control ------------------------------------------------------------------------------------------

interface RestartTimings {
  stopMs: number;
  downMs: number;
  startMs: number;
}

/** stop_app, a short pause, start_app. `onStopped` runs while RabbitMQ is down (e.g. to submit a request). */
async function restartRabbit(pauseMs: number, onStopped?: () => Promise<void>): Promise<RestartTimings> {
  const t0 = Date.now();
  await privateNodeCtl("stop_app");
  const stopped = Date.now();
  await sleep(pauseMs);
  if (onStopped) await onStopped();
  const t1 = Date.now();
  await privateNodeCtl("start_app");
  return { stopMs: stopped - t0, downMs: t1 - stopped, startMs: Date.now() - t1 };
}

// --- App helpers -----------------------------------------------------------------------------------------------

/** Every queued report written and every shutdown run: a second completion, if any, would show by now. */
async function settled(app: TestApp): Promise<void> {
  await app.deps.fileComplete.idle();
  await app.deps.lifecycle.idle();
}

const apps: TestApp[] = [];
const queuesToDelete = new Set<string>();
const exchangesToDelete = new Set<string>();
const sidecarsToStop: ReconnectingSidecar[] = [];

async function bootApp(env: Record<string, string> = {}): Promise<TestApp> {
  const app = await startTestApp({ backend: "postgres", broker: "amqp", env });
  apps.push(app);
  return app;
}

async function submit(app: TestApp, body: Record<string, unknown>): Promise<string> {
  const r = await putJson(
    `${app.url}/servicex/transformation`,
    {
      selection: "(call ResultTTree ...)",
      codegen: "passthrough",
      "result-destination": "object-store",
      "result-format": "parquet",
      ...body,
    },
    "POST",
  );
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const id = (r.body as { request_id: string }).request_id;
  queuesToDelete.add(`transformer-${id}`);
  return id;
}

async function getRequest(app: TestApp, id: string): Promise<Record<string, unknown>> {
  const r = await fetch(`${app.url}/servicex/transformation/${id}`);
  expect(r.status).toBe(200);
  return (await r.json()) as Record<string, unknown>;
}

const waitTerminal = (app: TestApp, id: string, timeoutMs: number) =>
  eventually(
    async () => {
      const r = await getRequest(app, id);
      return ["Complete", "Canceled", "Fatal", "Bad Dataset"].includes(r.status as string) ? r : undefined;
    },
    timeoutMs,
    `request ${id} to finish`,
  );

/** The request's files as Postgres knows them (the source of truth). */
async function requestFiles(app: TestApp, id: string): Promise<Map<number, string>> {
  const rows = await app.deps.db.sql.query<{ id: number; paths: string }>(
    `SELECT f.id, f.paths FROM files f JOIN requests r ON r.did_id = f.dataset_id
     WHERE r.request_id = $1 ORDER BY f.id`,
    [id],
  );
  return new Map(rows.map((r) => [Number(r.id), r.paths]));
}

async function filesWithResult(app: TestApp, id: string): Promise<Set<number>> {
  const rows = await app.deps.db.sql.query<{ file_id: number }>(
    "SELECT file_id FROM transform_result WHERE request_id = $1",
    [id],
  );
  return new Set(rows.map((r) => Number(r.file_id)));
}

async function watermark(app: TestApp, id: string): Promise<number> {
  const rows = await app.deps.db.sql.query<{ t: number }>(
    "SELECT tasks_published_through AS t FROM requests WHERE request_id = $1",
    [id],
  );
  return Number(rows[0]?.t ?? -1);
}

async function waitAppReconnected(app: TestApp, timeoutMs = 90_000): Promise<number> {
  const t0 = Date.now();
  await expect.poll(() => app.deps.broker.isConnected(), { timeout: timeoutMs, interval: 50 }).toBe(true);
  return Date.now() - t0;
}

/** Ready messages in a queue, or null when it does not exist. */
async function queueDepth(name: string): Promise<number | null> {
  const conn = await connect(RABBIT_URL);
  conn.on("error", () => {});
  try {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    try {
      return (await ch.checkQueue(name)).messageCount;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return null;
      throw err;
    }
  } finally {
    await conn.close().catch(() => {});
  }
}

/** Runs `fn` over `items` with at most `limit` calls at once. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function decodeTask(m: ConsumeMessage): TransformTaskKwargs {
  const [, kwargs] = JSON.parse(m.content.toString("utf8")) as [unknown[], TransformTaskKwargs];
  return kwargs;
}

function duplicatesOf(deliveries: readonly TransformTaskKwargs[]): Map<number, number> {
  const count = new Map<number, number>();
  for (const t of deliveries) count.set(t.file_id, (count.get(t.file_id) ?? 0) + 1);
  return new Map([...count].filter(([, n]) => n > 1));
}

function describeDuplicates(dups: Map<number, number>): string {
  if (dups.size === 0) return "none";
  const extra = [...dups.values()].reduce((a, n) => a + n - 1, 0);
  const sample = [...dups]
    .slice(0, 20)
    .map(([f, n]) => `${f}×${n}`)
    .join(", ");
  return `${extra} extra deliveries over ${dups.size} files (${sample}${dups.size > 20 ? ", …" : ""})`;
}

/**
 * Drains `transformer-<id>` (declared as the sidecar declares it) and collects every task, until the App has
 * nothing left to publish: all `expected` file ids seen, the queue empty, the watermark at the last file, and
 * `quietMs` without a new delivery (so late duplicates are counted too). Times out after `timeoutMs`, returning
 * what it saw.
 */
async function drainTasks(
  app: TestApp,
  requestId: string,
  expected: ReadonlySet<number>,
  opts: { quietMs: number; timeoutMs: number },
): Promise<{ deliveries: TransformTaskKwargs[]; timedOut: boolean }> {
  const queue = `transformer-${requestId}`;
  const maxId = Math.max(...expected);
  const deliveries: TransformTaskKwargs[] = [];
  const seen = new Set<number>();
  let lastAt = Date.now();
  const conn = await connect(RABBIT_URL);
  conn.on("error", () => {});
  try {
    const ch = await conn.createChannel();
    ch.on("error", () => {});
    await ch.assertQueue(queue, { durable: false, autoDelete: true });
    await ch.prefetch(1000);
    await ch.consume(queue, (m) => {
      if (!m) return;
      const t = decodeTask(m);
      deliveries.push(t);
      seen.add(t.file_id);
      lastAt = Date.now();
      ch.ack(m);
    });
    const end = Date.now() + opts.timeoutMs;
    for (;;) {
      await sleep(100);
      if (Date.now() > end) return { deliveries, timedOut: true };
      if (seen.size < expected.size || Date.now() - lastAt < opts.quietMs) continue;
      if ((await watermark(app, requestId)) < maxId) continue;
      if ((await ch.checkQueue(queue)).messageCount > 0) continue;
      return { deliveries, timedOut: false };
    }
  } finally {
    await conn.close().catch(() => {});
  }
}

// --- A transformer sidecar that survives broker restarts -------------------------------------------------------

/**
 * Celery-worker stand-in on `transformer-<id>`: prefetch `prefetch`, each task "takes" `workMs`, then it PUTs
 * file-complete exactly as the sidecar does and acks. When the connection drops it reconnects (every 250 ms),
 * re-declares the queue as the sidecar does and keeps consuming. Tasks delivered before a drop are still
 * reported (their ack fails: the broker forgot them anyway).
 */
class ReconnectingSidecar {
  readonly deliveries: TransformTaskKwargs[] = [];
  readonly reportedOk = new Set<number>();
  readonly badAnswers: string[] = [];
  readonly connectionEvents: string[] = [];
  reports = 0;
  connects = 0;
  serverCancels = 0;
  private conn: ChannelModel | null = null;
  private loop: Promise<void> | null = null;
  private stopped = false;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    readonly queue: string,
    private readonly opts: { prefetch: number; workMs: number },
  ) {}

  async start(): Promise<void> {
    this.ensureConnected();
    await this.loop;
  }

  get connected(): boolean {
    return this.conn !== null;
  }

  private ensureConnected(): void {
    if (this.stopped || this.loop) return;
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          await this.connectOnce();
          return;
        } catch (err) {
          this.connectionEvents.push(`connect failed: ${(err as Error).message}`);
          await sleep(250);
        }
      }
    })().finally(() => {
      this.loop = null;
    });
  }

  private async connectOnce(): Promise<void> {
    const conn = await connect(RABBIT_URL);
    conn.on("error", (err: Error) => this.connectionEvents.push(`connection error: ${err.message}`));
    conn.on("close", () => {
      if (this.conn !== conn) return;
      this.conn = null;
      this.connectionEvents.push("connection closed");
      this.ensureConnected();
    });
    try {
      const ch = await conn.createChannel();
      ch.on("error", (err: Error) => this.connectionEvents.push(`channel error: ${err.message}`));
      await ch.assertQueue(this.queue, { durable: false, autoDelete: true });
      await ch.prefetch(this.opts.prefetch);
      await ch.consume(this.queue, (m) => {
        if (!m) {
          // The server cancelled us: the App deleted the queue when the request finished.
          this.serverCancels++;
          return;
        }
        const p = this.handle(ch, m).finally(() => this.inflight.delete(p));
        this.inflight.add(p);
      });
    } catch (err) {
      await conn.close().catch(() => {});
      throw err;
    }
    if (this.stopped) {
      await conn.close().catch(() => {});
      return;
    }
    this.conn = conn;
    this.connects++;
  }

  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;

  /** Work on deliveries waits (holding them unacknowledged) until release(): the test decides when traffic goes on. */
  hold(): void {
    if (!this.gate) this.gate = new Promise((r) => (this.openGate = r));
  }

  release(): void {
    this.openGate?.();
    this.gate = null;
    this.openGate = null;
  }

  private async handle(ch: Channel, m: ConsumeMessage): Promise<void> {
    const task = decodeTask(m);
    this.deliveries.push(task);
    await sleep(this.opts.workMs);
    if (this.gate) await this.gate;
    // The real sidecar ignores HTTP status codes and retries only on connection errors (contract A.26).
    let answer: { status: number; body: unknown } | null = null;
    for (let attempt = 0; attempt < 3 && !answer; attempt++) {
      try {
        answer = await putJson(`${task.service_endpoint}/file-complete`, fileCompleteBody(task, "success"));
      } catch (err) {
        this.badAnswers.push(`file ${task.file_id}: ${(err as Error).message}`);
      }
    }
    this.reports++;
    if (answer?.status === 200) this.reportedOk.add(task.file_id);
    else if (answer)
      this.badAnswers.push(`file ${task.file_id}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
    try {
      ch.ack(m);
    } catch {
      // Channel gone with the broker: the message died with its queue.
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.release();
    await Promise.allSettled([...this.inflight]);
    const conn = this.conn;
    this.conn = null;
    await conn?.close().catch(() => {});
  }
}

// --- cleanup ---------------------------------------------------------------------------------------------------

afterEach(async () => {
  // RabbitMQ first: the App's close() waits for confirms, and the queues can only be deleted on a live broker.
  await ensureRabbitRunning();
  await Promise.allSettled(sidecarsToStop.splice(0).map((s) => s.stop()));
  await Promise.allSettled(apps.splice(0).map((a) => a.close()));
  const conn = await connect(RABBIT_URL);
  conn.on("error", () => {});
  try {
    for (const q of queuesToDelete) {
      const ch = await conn.createChannel();
      ch.on("error", () => {});
      await ch.deleteQueue(q).catch(() => {});
      await ch.close().catch(() => {});
    }
    for (const x of exchangesToDelete) {
      const ch = await conn.createChannel();
      ch.on("error", () => {});
      await ch.deleteExchange(x).catch(() => {});
      await ch.close().catch(() => {});
    }
  } finally {
    queuesToDelete.clear();
    exchangesToDelete.clear();
    await conn.close().catch(() => {});
  }
}, 300_000);

// --- the tests -------------------------------------------------------------------------------------------------

describe("Regression #229/#272: a RabbitMQ restart must not lose transform work", () => {
  // With the default 5,000-task chunks the restart lands before, between or after the two chunks (whichever the
  // timing gives); with 200-task chunks the watermark advances in 50 steps, so the connection usually drops
  // between two confirmed chunks: the replay up to the watermark and the publishing after it both matter.
  it.each<{ chunks: string; env: Record<string, string> }>([
    { chunks: "default chunks", env: {} },
    { chunks: "200-task chunks", env: { DISPATCH_CHUNK: "200" } },
  ])(
    "When RabbitMQ restarts while the App fans out a 10,000-file request ($chunks), then every file still gets a task, and the request completes exactly once with exact counters",
    async ({ env }) => {
      await ensureRabbitRunning();
      const app = await bootApp(env);
      const tag = randomBytes(4).toString("hex");
      const N = 10_000;
      const paths = Array.from({ length: N }, (_, i) => `root://eos.example//fanout/${tag}/f${i}.root`);

      const t0 = Date.now();
      const id = await submit(app, { "file-list": paths, title: "fanout restart" });
      const submittedAt = Date.now();

      // Watch for the moment the App loses its connection, and how far the fan-out had got by then.
      const counters = app.deps.dispatcher.counters;
      let atDrop: { ms: number; published: number; failedBatches: number } | null = null;
      const watcher = setInterval(() => {
        if (!atDrop && !app.deps.broker.isConnected()) {
          atDrop = {
            ms: Date.now() - submittedAt,
            published: counters.published,
            failedBatches: counters.failedBatches,
          };
        }
      }, 1);
      let timings: RestartTimings;
      try {
        timings = await restartRabbit(1000);
      } finally {
        clearInterval(watcher);
      }
      const reconnectMs = await waitAppReconnected(app);
      const drop = atDrop as { ms: number; published: number; failedBatches: number } | null;
      console.log(
        `[fanout] request ${id}: submit answered after ${submittedAt - t0} ms; restart: stop_app ${timings.stopMs} ms, down ` +
          `${timings.downMs} ms, start_app ${timings.startMs} ms; App reconnected ${reconnectMs} ms after start_app; ` +
          `connection dropped ${drop ? `${drop.ms} ms after the submit answered with ${drop.published}/${N} tasks confirmed` : "never seen"}`,
      );
      expect(drop, "the App never noticed the broker going away").not.toBeNull();

      const files = await requestFiles(app, id);
      expect(files.size).toBe(N);
      const expected = new Set(files.keys());

      const tDrain = Date.now();
      const { deliveries, timedOut } = await drainTasks(app, id, expected, {
        quietMs: 2000,
        timeoutMs: 120_000,
      });
      const withResult = await filesWithResult(app, id);
      const distinct = new Set(deliveries.map((t) => t.file_id));
      const missing = [...expected].filter((f) => !distinct.has(f) && !withResult.has(f));
      const foreign = [...distinct].filter((f) => !expected.has(f));
      const dups = duplicatesOf(deliveries);
      console.log(
        `[fanout] drained ${deliveries.length} tasks (${distinct.size} distinct files) in ${Date.now() - tDrain} ms` +
          `${timedOut ? " (TIMED OUT)" : ""}; dispatcher counters ${JSON.stringify(counters)}; ` +
          `missing ${missing.length}${missing.length ? ` (first: ${missing.slice(0, 20).join(", ")})` : ""}; ` +
          `duplicates: ${describeDuplicates(dups)}`,
      );
      expect(foreign).toEqual([]);
      expect(missing, `${missing.length} of ${N} files have neither a result nor a task`).toEqual([]);
      for (const t of deliveries) {
        expect(t.request_id).toBe(id);
        expect(t.paths).toEqual([files.get(t.file_id)]);
      }

      // Report every delivered task over HTTP as the sidecars do (duplicates included: each delivery is reported).
      const tReport = Date.now();
      const bad: string[] = [];
      await forEachLimited(deliveries, 32, async (t) => {
        const r = await putJson(`${t.service_endpoint}/file-complete`, fileCompleteBody(t, "success"));
        if (r.status !== 200) bad.push(`file ${t.file_id}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      });
      expect(bad).toEqual([]);
      const done = await waitTerminal(app, id, 60_000);
      console.log(`[fanout] ${deliveries.length} reports and completion in ${Date.now() - tReport} ms`);
      expect(done.status).toBe("Complete");
      expect(done.files).toBe(N);
      expect(done["files-completed"]).toBe(N);
      expect(done["files-failed"]).toBe(0);
      expect(done["files-remaining"]).toBe(0);
      expect((await filesWithResult(app, id)).size).toBe(N);

      await eventually(async () => app.launcher.shutdownCount(id) >= 1, 10_000, "shutdown");
      await settled(app);
      expect(app.launcher.shutdownCount(id)).toBe(1);

      // Nothing stuck: the dispatcher goes idle, every task is confirmed (watermark at the last file), and the
      // transform queue is gone (deleted at completion) or empty.
      await expect(
        Promise.race([app.deps.dispatcher.idle().then(() => "idle"), sleep(15_000).then(() => "stuck")]),
      ).resolves.toBe("idle");
      expect(await watermark(app, id)).toBe(Math.max(...expected));
      expect(await queueDepth(`transformer-${id}`)).toBeOneOf([null, 0]);
    },
    400_000,
  );

  it("When RabbitMQ restarts while sidecars report file-complete for a 2,000-file request, then every file is still reported and the request completes exactly once with exact counters", async () => {
    await ensureRabbitRunning();
    const app = await bootApp();
    const tag = randomBytes(4).toString("hex");
    const N = 2_000;
    const paths = Array.from({ length: N }, (_, i) => `root://eos.example//traffic/${tag}/f${i}.root`);
    const id = await submit(app, { "file-list": paths, title: "file-complete restart" });
    const files = await requestFiles(app, id);
    expect(files.size).toBe(N);

    // ~8 files at a time, 40 ms each: about 200 reports/s, so the restart lands in the middle of the traffic.
    const sidecar = new ReconnectingSidecar(`transformer-${id}`, { prefetch: 8, workMs: 40 });
    sidecarsToStop.push(sidecar);
    await sidecar.start();
    await eventually(
      async () => sidecar.reportedOk.size >= 400,
      60_000,
      "400 files reported before the restart",
    );

    // The traffic waits while RabbitMQ stops (a loaded machine could otherwise finish all 2,000 first) and goes
    // on while it is down: the restart lands in the middle of the traffic whatever the machine's speed.
    sidecar.hold();
    const before = sidecar.reportedOk.size;
    let atStop = 0;
    const t0 = Date.now();
    const timings = await restartRabbit(1000, async () => {
      atStop = sidecar.reportedOk.size;
      sidecar.release();
    });
    const reconnectMs = await waitAppReconnected(app);
    await eventually(
      async () => sidecar.connected && sidecar.connects >= 2,
      60_000,
      "the sidecar to reconnect",
    );
    console.log(
      `[traffic] request ${id}: restart began with ${before}/${N} files reported (${atStop} once RabbitMQ was down); stop_app ` +
        `${timings.stopMs} ms, down ${timings.downMs} ms, start_app ${timings.startMs} ms; App reconnected ` +
        `${reconnectMs} ms after start_app; sidecar reconnected after ${Date.now() - t0} ms from the restart`,
    );
    expect(atStop).toBeLessThan(N);

    const done = await waitTerminal(app, id, 180_000);
    const dups = duplicatesOf(sidecar.deliveries);
    console.log(
      `[traffic] ${done.status} ${Date.now() - t0} ms after the restart began; ${sidecar.deliveries.length} ` +
        `deliveries, ${sidecar.reports} reports; dispatcher counters ${JSON.stringify(app.deps.dispatcher.counters)}; ` +
        `duplicates: ${describeDuplicates(dups)}; sidecar connection events: ${sidecar.connectionEvents.length}`,
    );
    expect(done.status).toBe("Complete");
    expect(done.files).toBe(N);
    expect(done["files-completed"]).toBe(N);
    expect(done["files-failed"]).toBe(0);
    expect(done["files-remaining"]).toBe(0);
    expect(sidecar.badAnswers).toEqual([]);
    const missing = [...files.keys()].filter((f) => !sidecar.reportedOk.has(f));
    expect(missing, `${missing.length} files never reported`).toEqual([]);
    expect((await filesWithResult(app, id)).size).toBe(N);
    // The tasks lost with the queue came back from Postgres, not from the broker.
    expect(app.deps.dispatcher.counters.replays).toBeGreaterThan(0);

    await eventually(async () => app.launcher.shutdownCount(id) >= 1, 10_000, "shutdown");
    await settled(app);
    expect(app.launcher.shutdownCount(id)).toBe(1);
    await sidecar.stop();
    expect(await queueDepth(`transformer-${id}`)).toBeOneOf([null, 0]);
  }, 400_000);

  it("When a request is submitted while RabbitMQ is stopped, then it is accepted and, once RabbitMQ is back, its lookup reaches did_finder_<scheme> and its tasks reach transformer-<id>", async () => {
    await ensureRabbitRunning();
    const app = await bootApp();
    const tag = randomBytes(4).toString("hex");
    const did = `restart.${tag}`;
    const lookupQueue = `did_finder_${app.scheme}`;
    queuesToDelete.add(lookupQueue);
    exchangesToDelete.add(lookupQueue);
    const paths = Array.from({ length: 50 }, (_, i) => `root://eos.example//down/${tag}/f${i}.root`);

    let didId = "";
    let listId = "";
    const timings = await restartRabbit(500, async () => {
      expect(await portOpen()).toBe(false);
      await eventually(async () => !app.deps.broker.isConnected(), 10_000, "the App to notice");
      didId = await submit(app, { did: `${app.scheme}://${did}`, title: "submitted while down (did)" });
      listId = await submit(app, { "file-list": paths, title: "submitted while down (file list)" });
      expect((await getRequest(app, didId)).status).toBe("Lookup");
      expect((await getRequest(app, listId)).status).toBe("Running");
    });
    const reconnectMs = await waitAppReconnected(app);
    console.log(
      `[down] requests ${didId} (did, scheme ${app.scheme}) and ${listId} (file list): stop_app ${timings.stopMs} ms, down ${timings.downMs} ms, start_app ${timings.startMs} ms; ` +
        `App reconnected ${reconnectMs} ms after start_app`,
    );

    // The lookup: consumed as the DID finder consumes it (durable direct exchange + durable queue, same name).
    const conn = await connect(RABBIT_URL);
    conn.on("error", () => {});
    try {
      const ch = await conn.createChannel();
      ch.on("error", () => {});
      await ch.assertExchange(lookupQueue, "direct", { durable: true });
      await ch.assertQueue(lookupQueue, { durable: true });
      await ch.bindQueue(lookupQueue, lookupQueue, lookupQueue);
      const lookups: Array<{ headers: Record<string, unknown>; args: unknown[] }> = [];
      await ch.consume(lookupQueue, (m) => {
        if (!m) return;
        const [args] = JSON.parse(m.content.toString("utf8")) as [unknown[]];
        lookups.push({ headers: m.properties.headers ?? {}, args });
        ch.ack(m);
      });
      await eventually(async () => lookups.length >= 1, 60_000, `the lookup on ${lookupQueue}`);
      await app.deps.dispatcher.idle(); // a second lookup, if any, would have been published by now
      expect(lookups).toHaveLength(1);
      const [lookupDid, datasetId, endpoint] = lookups[0]!.args as [string, number, string];
      expect(lookups[0]!.headers.task).toBe(`did_finder_${app.scheme}.lookup_dataset`);
      expect(lookupDid).toBe(did);
      expect(endpoint).toBe(`http://127.0.0.1:${app.port}/servicex/internal/transformation/`);

      // The file-list request's tasks, all of them.
      const listFiles = await requestFiles(app, listId);
      expect(listFiles.size).toBe(paths.length);
      const drained = await drainTasks(app, listId, new Set(listFiles.keys()), {
        quietMs: 1000,
        timeoutMs: 60_000,
      });
      const got = new Set(drained.deliveries.map((t) => t.file_id));
      expect([...listFiles.keys()].filter((f) => !got.has(f))).toEqual([]);
      console.log(
        `[down] lookup delivered; ${drained.deliveries.length} tasks for ${listFiles.size} files ` +
          `(duplicates: ${describeDuplicates(duplicatesOf(drained.deliveries))})`,
      );

      // Finish the chain as the DID finder would, and check the DID request's tasks arrive too.
      const found = paths.slice(0, 5).map((p) => p.replace("/down/", "/down-did/"));
      const base = `${endpoint}${datasetId}`;
      expect(
        (
          await putJson(
            `${base}/files`,
            found.map((p) => ({ paths: [p], adler32: null, file_size: 0, file_events: 0 })),
          )
        ).status,
      ).toBe(200);
      expect(
        (
          await putJson(`${base}/complete`, {
            files: found.length,
            "files-skipped": 0,
            "total-events": 0,
            "total-bytes": 0,
            "elapsed-time": 1,
          })
        ).status,
      ).toBe(200);
      const didFiles = await requestFiles(app, didId);
      expect(didFiles.size).toBe(found.length);
      const didDrained = await drainTasks(app, didId, new Set(didFiles.keys()), {
        quietMs: 1000,
        timeoutMs: 60_000,
      });
      const gotDid = new Set(didDrained.deliveries.map((t) => t.file_id));
      expect([...didFiles.keys()].filter((f) => !gotDid.has(f))).toEqual([]);

      // Both complete exactly once.
      for (const [rid, tasks] of [
        [listId, drained.deliveries],
        [didId, didDrained.deliveries],
      ] as const) {
        for (const t of tasks) {
          expect(
            (await putJson(`${t.service_endpoint}/file-complete`, fileCompleteBody(t, "success"))).status,
          ).toBe(200);
        }
        const done = await waitTerminal(app, rid, 30_000);
        expect(done.status).toBe("Complete");
        expect(done["files-completed"]).toBe(done.files);
        expect(done["files-failed"]).toBe(0);
        await eventually(async () => app.launcher.shutdownCount(rid) >= 1, 10_000, "shutdown");
      }
      await settled(app);
      expect(app.launcher.shutdownCount(listId)).toBe(1);
      expect(app.launcher.shutdownCount(didId)).toBe(1);
    } finally {
      await conn.close().catch(() => {});
    }
  }, 400_000);
});
