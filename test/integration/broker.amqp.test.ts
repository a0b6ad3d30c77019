// AmqpBroker against the real RabbitMQ (amqp://guest:guest@127.0.0.1:5672): what a Celery worker receives, the
// consumers' own declarations, refused declarations, throughput with confirms, close while publishing, and the
// fast publish path on a real channel (the encoder's own tests: test/unit/amqpFrames.test.ts).
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { type Channel, type ChannelModel, type ConsumeMessage, type Options, connect } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AmqpBroker,
  BrokerOperationError,
  BrokerUnavailableError,
  rawChannelOf,
} from "../../src/adapters/broker/amqp.broker.js";
import { encodePublishFrames, encodePublishMethod } from "../../src/adapters/broker/amqpFrames.js";
import { buildTransformMessage } from "../../src/adapters/broker/celery.js";
import type { TransformTask } from "../../src/domain/ports.js";

const RABBIT_URL = process.env.TEST_RABBIT_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const golden = JSON.parse(
  readFileSync(new URL("../fixtures/golden-celery-messages.json", import.meta.url), "utf8"),
) as Record<string, { properties: Record<string, unknown>; body: unknown }>;
const GOLDEN_RID = "capture-7cfcc66b-4119-44aa-9c31-66e428a95999";
const ENDPOINT = "http://127.0.0.1:5000/servicex/internal/transformation/";

const suffix = () => randomBytes(5).toString("hex");

let conn: ChannelModel;
let ch: Channel;
const queues = new Set<string>();
const exchanges = new Set<string>();
const brokers: AmqpBroker[] = [];

function newBroker(opts: Partial<ConstructorParameters<typeof AmqpBroker>[0]> = {}): AmqpBroker {
  const b = new AmqpBroker({ urls: [RABBIT_URL], ...opts });
  brokers.push(b);
  return b;
}

/** A channel for test-side declarations that may fail (a refused declare closes its channel). */
async function scratchChannel(): Promise<Channel> {
  const c = await conn.createChannel();
  c.on("error", () => {});
  return c;
}

/** Consumes n messages the way a Celery worker does (prefetch, manual ack after handling). */
async function consumeN(queue: string, n: number, timeoutMs = 20_000): Promise<ConsumeMessage[]> {
  const c = await conn.createChannel();
  await c.prefetch(Math.min(n, 500));
  const got: ConsumeMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${got.length}/${n} messages from ${queue}`)),
        timeoutMs,
      );
      void c
        .consume(queue, (m) => {
          if (!m) return;
          got.push(m);
          c.ack(m);
          if (got.length === n) {
            clearTimeout(timer);
            resolve();
          }
        })
        .catch(reject);
    });
  } finally {
    await c.close().catch(() => {});
  }
  return got;
}

function task(requestId: string, fileId: number, paths = [`root://eos//f${fileId}.root`]): TransformTask {
  return {
    request_id: requestId,
    file_id: fileId,
    paths,
    service_endpoint: ENDPOINT + requestId,
    result_destination: "object-store",
    result_format: "parquet",
  };
}

/** The golden transform message with its request id replaced by `rid`. */
function goldenTransform(rid: string) {
  return JSON.parse(JSON.stringify(golden[`transformer-${GOLDEN_RID}`]).replaceAll(GOLDEN_RID, rid)) as {
    properties: Record<string, unknown> & { application_headers: Record<string, unknown> };
    body: unknown;
  };
}

/** What amqplib decoded, in the golden shape with per-message fields blanked. */
function received(m: ConsumeMessage) {
  const p = m.properties;
  const headers = p.headers as Record<string, unknown>;
  expect(headers.root_id).toBe(headers.id);
  expect(p.correlationId).toBe(headers.id);
  expect(headers.origin).toMatch(/^gen\d+@/);
  return {
    keys: Object.keys(headers),
    properties: {
      content_type: p.contentType,
      content_encoding: p.contentEncoding,
      application_headers: { ...headers, id: "<id>", root_id: "<id>", origin: "<o>" },
      delivery_mode: p.deliveryMode,
      priority: p.priority,
      correlation_id: "<id>",
    },
    body: JSON.parse(m.content.toString("utf8")) as unknown,
  };
}

function expectedFromGolden(g: { properties: Record<string, unknown>; body: unknown }) {
  const { reply_to: _r, ...props } = g.properties as Record<string, unknown> & {
    application_headers: Record<string, unknown>;
  };
  return {
    keys: Object.keys(props.application_headers),
    properties: {
      ...props,
      application_headers: { ...props.application_headers, id: "<id>", root_id: "<id>", origin: "<o>" },
      correlation_id: "<id>",
    },
    body: g.body,
  };
}

beforeAll(async () => {
  conn = await connect(RABBIT_URL);
  conn.on("error", () => {});
  ch = await conn.createChannel();
  ch.on("error", () => {});
});

afterAll(async () => {
  await Promise.allSettled(brokers.map((b) => b.close()));
  // One channel per delete: a refused delete closes its channel.
  const drop = async (fn: (c: Channel) => Promise<unknown>) => {
    const c = await conn.createChannel();
    c.on("error", () => {});
    await fn(c).catch(() => {});
    await c.close().catch(() => {});
  };
  for (const q of queues) await drop((c) => c.deleteQueue(q));
  for (const e of exchanges) await drop((c) => c.deleteExchange(e));
  await conn.close().catch(() => {});
});

describe("AmqpBroker against RabbitMQ", () => {
  it("publishes a DID lookup that a Celery worker reads exactly as the golden message", async () => {
    const scheme = `t${suffix()}`;
    const queue = `did_finder_${scheme}`;
    queues.add(queue);
    exchanges.add(queue);
    const b = newBroker();
    await b.start();
    expect(b.isConnected()).toBe(true);
    await b.publishLookup({
      scheme,
      did: "mc16_13TeV:some.dataset?files=3",
      datasetId: 42,
      endpoint: ENDPOINT,
    });
    expect(await b.queueDepth(queue)).toBe(1);

    const [m] = await consumeN(queue, 1);
    expect(m!.fields.exchange).toBe("");
    expect(m!.fields.routingKey).toBe(queue);
    const g = JSON.parse(
      JSON.stringify(golden.did_finder_harnesscapture).replaceAll("harnesscapture", scheme),
    ) as typeof golden.did_finder_harnesscapture;
    expect(received(m!)).toEqual(expectedFromGolden(g!));

    // The DID finder's own declarations (Celery worker: durable direct exchange + durable queue + binding)
    // are accepted, and the binding routes through the exchange too.
    const c = await scratchChannel();
    await c.assertExchange(queue, "direct", { durable: true, autoDelete: false });
    await c.assertQueue(queue, { durable: true, autoDelete: false, exclusive: false });
    await c.bindQueue(queue, queue, queue);
    c.publish(queue, queue, Buffer.from("via exchange"));
    await c.close();
    const [viaExchange] = await consumeN(queue, 1);
    expect(viaExchange!.content.toString()).toBe("via exchange");
    // A second lookup on the same connection (exchange cached) still works.
    await b.publishLookup({ scheme, did: "a", datasetId: 1, endpoint: ENDPOINT });
    expect(await b.queueDepth(queue)).toBe(1);
  });

  it("publishes transform tasks that a sidecar reads exactly as the golden message, in order", async () => {
    const rid = `capture-${suffix()}`;
    const queue = `transformer-${rid}`;
    queues.add(queue);
    const b = newBroker();
    await b.start();
    const paths = ["root://a//f1.root", "root://b//f1.root"];
    await b.publishTransformTasks(rid, [task(rid, 7, paths), task(rid, 8), task(rid, 9)]);
    expect(await b.queueDepth(queue)).toBe(3);

    // The sidecar's declaration (Celery Queue durable=False, auto_delete=True) is accepted...
    const c = await scratchChannel();
    await c.assertQueue(queue, { durable: false, autoDelete: true, exclusive: false });
    // ...and a mismatching one would not be (so the check above means something).
    await expect(c.assertQueue(queue, { durable: true, autoDelete: false })).rejects.toMatchObject({
      code: 406,
    });

    const msgs = await consumeN(queue, 3);
    expect(
      msgs.map((m) => (JSON.parse(m.content.toString()) as [unknown, { file_id: number }])[1].file_id),
    ).toEqual([7, 8, 9]);
    const m = msgs[0]!;
    expect(m.fields.exchange).toBe("");
    expect(m.fields.routingKey).toBe(queue);
    expect(received(m)).toEqual(expectedFromGolden(goldenTransform(rid)));
    expect(m.properties.replyTo).toBeUndefined();
    expect(new Set(msgs.map((x) => x.properties.correlationId)).size).toBe(3);
  });

  it("a transform queue the sidecar declared first is accepted; an empty batch only declares", async () => {
    const rid = suffix();
    const queue = `transformer-${rid}`;
    queues.add(queue);
    const c = await scratchChannel();
    await c.assertQueue(queue, { durable: false, autoDelete: true });
    await c.close();
    const b = newBroker();
    await b.start();
    await b.publishTransformTasks(rid, []);
    expect(await b.queueDepth(queue)).toBe(0);
    await b.publishTransformTasks(rid, [task(rid, 1)]);
    expect(await b.queueDepth(queue)).toBe(1);
  });

  it("a queue pre-declared with other flags rejects that call clearly; the broker keeps working", async () => {
    const bad = suffix();
    const good = suffix();
    const badQueue = `transformer-${bad}`;
    const scheme = `bad${suffix()}`;
    queues.add(badQueue).add(`transformer-${good}`).add(`did_finder_${scheme}`);
    exchanges.add(`did_finder_${scheme}`);
    const c = await scratchChannel();
    await c.assertQueue(badQueue, { durable: true, autoDelete: false });
    await c.assertQueue(`did_finder_${scheme}`, { durable: false, autoDelete: true });
    await c.close();

    const b = newBroker();
    await b.start();
    // A big publish on the confirm channel is not disturbed by a refused declaration at the same time.
    const big = b.publishTransformTasks(
      good,
      Array.from({ length: 3000 }, (_, i) => task(good, i)),
    );
    const err = await b.publishTransformTasks(bad, [task(bad, 1)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BrokerOperationError);
    expect((err as BrokerOperationError).code).toBe(406);
    expect((err as Error).message).toMatch(/refused to declare queue transformer-.*PRECONDITION.FAILED/);
    await big;

    const lookupErr = await b
      .publishLookup({ scheme, did: "x", datasetId: 1, endpoint: ENDPOINT })
      .catch((e: unknown) => e);
    expect(lookupErr).toBeInstanceOf(BrokerOperationError);
    expect((lookupErr as BrokerOperationError).code).toBe(406);

    // Still connected, and the next calls work (fresh declare channel).
    expect(b.isConnected()).toBe(true);
    await b.publishTransformTasks(good, [task(good, 9999)]);
    expect(await b.queueDepth(`transformer-${good}`)).toBe(3001);
    expect(await b.queueDepth(badQueue)).toBe(0);
  });

  it("publishes 20,000 transform tasks with every message confirmed", async () => {
    const rid = suffix();
    const queue = `transformer-${rid}`;
    queues.add(queue);
    const b = newBroker();
    await b.start();
    const tasks = Array.from({ length: 20_000 }, (_, i) =>
      task(rid, i, [
        `root://eosatlas.cern.ch//eos/atlas/atlasdatadisk/rucio/mc16_13TeV/DAOD_PHYS.${i}.pool.root.1`,
      ]),
    );
    const t0 = performance.now();
    await b.publishTransformTasks(rid, tasks);
    const ms = performance.now() - t0;
    console.log(
      `AmqpBroker: 20,000 transform tasks published and confirmed in ${ms.toFixed(0)} ms (${Math.round(
        20_000 / (ms / 1000),
      )} msg/s)`,
    );
    expect(await b.queueDepth(queue)).toBe(20_000);
    const [first] = await consumeN(queue, 1);
    expect((JSON.parse(first!.content.toString()) as [unknown, { file_id: number }])[1].file_id).toBe(0);
  });

  it("close() while publishing waits for every confirm, then refuses new calls", async () => {
    const rid = suffix();
    const queue = `transformer-${rid}`;
    queues.add(queue);
    const b = newBroker();
    await b.start();
    const publishing = b.publishTransformTasks(
      rid,
      Array.from({ length: 10_000 }, (_, i) => task(rid, i)),
    );
    await new Promise((r) => setTimeout(r, 20));
    const closing = b.close();
    await expect(publishing).resolves.toBeUndefined();
    await closing;
    expect(b.isConnected()).toBe(false);
    await expect(b.publishTransformTasks(rid, [task(rid, 1)])).rejects.toBeInstanceOf(BrokerUnavailableError);
    await expect(b.queueDepth(queue)).rejects.toBeInstanceOf(BrokerUnavailableError);
    expect((await ch.checkQueue(queue)).messageCount).toBe(10_000);
  });

  it("close() called in the same tick as a publish (before it reached the broker) still lets that publish finish", async () => {
    const rid = suffix();
    const queue = `transformer-${rid}`;
    queues.add(queue);
    const b = newBroker();
    await b.start();
    const publishing = b.publishTransformTasks(rid, [task(rid, 1), task(rid, 2)]);
    const closing = b.close();
    await expect(publishing).resolves.toBeUndefined();
    await closing;
    expect((await ch.checkQueue(queue)).messageCount).toBe(2);
  });

  it("deleteTransformQueue deletes, and tolerates a missing queue; queueDepth is null for a missing queue", async () => {
    const rid = suffix();
    const b = newBroker();
    await b.start();
    await b.publishTransformTasks(rid, [task(rid, 1)]);
    expect(await b.queueDepth(`transformer-${rid}`)).toBe(1);
    await b.deleteTransformQueue(rid);
    expect(await b.queueDepth(`transformer-${rid}`)).toBeNull();
    await b.deleteTransformQueue(rid);
    await b.deleteTransformQueue(`never-${suffix()}`);
    // Queue checks use their own channels: checks of missing queues, running alongside a publish and a check of
    // an existing queue, all answer.
    const other = suffix();
    queues.add(`transformer-${other}`);
    await b.publishTransformTasks(other, [task(other, 1)]);
    const results = await Promise.all([
      b.queueDepth(`transformer-${rid}`),
      b.queueDepth(`missing-${suffix()}`),
      b.publishTransformTasks(other, [task(other, 2)]),
      b.queueDepth(`transformer-${other}`),
      b.queueDepth(`missing-${suffix()}`),
    ]);
    expect(results[0]).toBeNull();
    expect(results[1]).toBeNull();
    expect([1, 2]).toContain(results[3]);
    expect(results[4]).toBeNull();
    expect(await b.queueDepth(`transformer-${other}`)).toBe(2);
  });

  it("a message the broker cannot route (queue vanished after the declare) rejects the call", async () => {
    const b = newBroker();
    await b.start();
    const msg = buildTransformMessage(task("gone", 1), { origin: "o", mandatory: true });
    // publishMany is the step after the declare; calling it for a queue that does not exist is what happens
    // when an auto-delete queue disappears between the declare and the publish.
    const publishMany = (
      b as unknown as {
        publishMany(q: string, n: number, build: (i: number) => typeof msg): Promise<void>;
      }
    ).publishMany.bind(b);
    await expect(publishMany(`transformer-gone-${suffix()}`, 3, () => msg)).rejects.toThrow(
      /3 of 3 messages to transformer-gone-.* were unroutable/,
    );
    expect(b.isConnected()).toBe(true);
  });

  it("start() does not throw while the broker is unreachable, and retries through the URL list", async () => {
    const down = newBroker({
      urls: ["amqp://guest:guest@127.0.0.1:1"],
      reconnect: { initialMs: 20, maxMs: 50 },
    });
    await expect(down.start()).resolves.toBeUndefined();
    expect(down.isConnected()).toBe(false);
    await expect(
      down.publishLookup({ scheme: "x", did: "d", datasetId: 1, endpoint: "e" }),
    ).rejects.toBeInstanceOf(BrokerUnavailableError);
    await down.close();

    const logs: string[] = [];
    const log = (level: string) => (_obj: object, msg?: string) => logs.push(`${level}: ${msg}`);
    const b = newBroker({
      urls: ["amqp://guest:guest@127.0.0.1:1", RABBIT_URL],
      reconnect: { initialMs: 20, maxMs: 100 },
      logger: { info: log("info"), warn: log("warn"), error: log("error"), debug: log("debug") },
    });
    let connected = 0;
    b.onConnected(() => connected++);
    await b.start();
    expect(b.isConnected()).toBe(false);
    await expect.poll(() => b.isConnected(), { timeout: 5000 }).toBe(true);
    expect(connected).toBe(1);
    expect(b.connectionCount).toBe(1);
    expect(logs).toContain("warn: cannot connect to RabbitMQ");
    expect(logs).toContain("info: connected to RabbitMQ");
  });
});

// The encoder itself is compared with amqplib's byte for byte in test/unit/amqpFrames.test.ts; here, on a real
// connection: the fast path finds the amqplib internals it needs, and writes what amqplib writes there.
describe("fast publish encoder", () => {
  /** The bytes amqplib itself writes for one publish on a real channel. */
  async function amqplibBytes(routingKey: string, content: Buffer, options: Options.Publish) {
    const c = await conn.createConfirmChannel();
    expect(rawChannelOf(c)).not.toBeNull();
    const raw = c as unknown as {
      ch: number;
      connection: { channels: { buffer: { write(b: Buffer): boolean } }[]; frameMax: number };
    };
    const buffer = raw.connection.channels[raw.ch]!.buffer;
    const chunks: Buffer[] = [];
    const write = buffer.write;
    buffer.write = (b: Buffer) => {
      chunks.push(Buffer.from(b));
      return write.call(buffer, b);
    };
    c.publish("", routingKey, content, options);
    buffer.write = write;
    await c.waitForConfirms();
    await c.close();
    return { bytes: Buffer.concat(chunks), channel: raw.ch, frameMax: raw.connection.frameMax };
  }

  const rk = `nowhere-${suffix()}`; // unroutable: RabbitMQ drops these
  const cases: [string, Buffer, Options.Publish][] = [
    ["transform", ...toPair(buildTransformMessage(task("r", 1), { origin: "gen1@h", mandatory: true }))],
    [
      "body over the negotiated frame max (several body frames)",
      randomBytes(300_000),
      { contentType: "application/octet-stream" },
    ],
  ];

  for (const [name, content, options] of cases) {
    it(`same bytes as amqplib on a real channel: ${name}`, async () => {
      const ref = await amqplibBytes(rk, content, options);
      const method = encodePublishMethod(ref.channel, "", rk, options.mandatory === true);
      const ours = encodePublishFrames(ref.channel, method, content, options, ref.frameMax);
      expect(ours).not.toBeNull();
      expect(ours!.equals(ref.bytes)).toBe(true);
    });
  }

  it("the fast and the plain path deliver the same message", async () => {
    const rid = suffix();
    const queue = `transformer-${rid}`;
    queues.add(queue);
    const fast = newBroker({ origin: "gen1@same" });
    const plain = newBroker({ origin: "gen1@same", fastPublish: false });
    await fast.start();
    await plain.start();
    const t = task(rid, 5, ["root://x//y é.root"]);
    await fast.publishTransformTasks(rid, [t]);
    await plain.publishTransformTasks(rid, [t]);
    const [a, b] = await consumeN(queue, 2);
    const strip = (m: ConsumeMessage) => ({
      content: m.content.toString("utf8"),
      properties: {
        ...m.properties,
        correlationId: "<id>",
        headers: { ...(m.properties.headers as object), id: "<id>", root_id: "<id>" },
      },
    });
    expect(strip(a!)).toEqual(strip(b!));
  });
});

function toPair(m: { content: Buffer; options: Options.Publish }): [Buffer, Options.Publish] {
  return [m.content, m.options];
}
