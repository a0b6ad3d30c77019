// Restarts RabbitMQ (stop_app / start_app of the private node) while AmqpBroker publishes transform tasks: the call in
// flight must reject (not hang), the adapter must reconnect by itself and call its onConnected listeners, and a
// re-publish afterwards must be confirmed and consumable. RabbitMQ is running again at the end, even on failure.
import { randomBytes } from "node:crypto";
import { connect } from "amqplib";
import { afterAll, describe, expect, it } from "vitest";
import { ensureRabbitRunning, portOpen, privateNodeCtl } from "../helpers/rabbit.js";
import { AmqpBroker } from "../../src/adapters/broker/amqp.broker.js";
import type { TransformTask } from "../../src/domain/ports.js";

const RABBIT_URL = process.env.TEST_RABBIT_URL ?? "amqp://guest:guest@127.0.0.1:5672";

const task = (rid: string, i: number): TransformTask => ({
  request_id: rid,
  file_id: i,
  paths: [`root://eosatlas.cern.ch//eos/atlas/rucio/mc16_13TeV/DAOD_PHYS.${i}.pool.root.1`],
  service_endpoint: `http://127.0.0.1:5000/servicex/internal/transformation/${rid}`,
  result_destination: "object-store",
  result_format: "parquet",
});

const brokers: AmqpBroker[] = [];

afterAll(async () => {
  await ensureRabbitRunning();
  await Promise.allSettled(brokers.map((b) => b.close()));
}, 180_000);

describe("AmqpBroker across a RabbitMQ restart", () => {
  it("rejects the publish in flight, reconnects by itself, and a re-publish is confirmed and consumable", async () => {
    await ensureRabbitRunning();
    const rid = `restart-${randomBytes(4).toString("hex")}`;
    const queue = `transformer-${rid}`;
    const tasks = Array.from({ length: 10_000 }, (_, i) => task(rid, i));
    const logs: string[] = [];
    const log = (level: string) => (obj: object, msg?: string) =>
      logs.push(`${level} ${msg} ${JSON.stringify(obj)}`);
    const broker = new AmqpBroker({
      urls: [RABBIT_URL],
      reconnect: { initialMs: 100, maxMs: 1000 },
      logger: { info: log("info"), warn: log("warn"), error: log("error"), debug: log("debug") },
    });
    brokers.push(broker);
    const connectedAt: number[] = [];
    broker.onConnected(() => connectedAt.push(Date.now()));
    await broker.start();
    expect(broker.isConnected()).toBe(true);
    expect(connectedAt).toHaveLength(1);

    try {
      // Publish 10,000-task batches back to back; stop RabbitMQ meanwhile. The batch in flight when the
      // connection is forced closed must reject, promptly.
      let stopDone = false;
      const stopping = privateNodeCtl("stop_app").then(() => {
        stopDone = true;
      });
      let inFlightError: unknown = null;
      let batches = 0;
      const t0 = Date.now();
      // Until a batch fails: stop_app closes the connection at a moment of its own, which takes longer the more
      // loaded the machine is (over a minute was seen); the bound only keeps a broken test from hanging.
      while (!inFlightError && Date.now() - t0 < 150_000) {
        const started = Date.now();
        try {
          await broker.publishTransformTasks(rid, tasks);
          batches++;
        } catch (err) {
          inFlightError = err;
          console.log(
            `publish in flight rejected after ${Date.now() - started} ms (${batches} batches confirmed before): ${
              (err as Error).message
            }`,
          );
        }
      }
      const rejectedAt = Date.now();
      expect(inFlightError).toBeInstanceOf(Error);
      await stopping;
      expect(stopDone).toBe(true);
      expect(broker.isConnected()).toBe(false);
      // While RabbitMQ is down calls fail fast instead of hanging.
      await expect(broker.publishTransformTasks(rid, tasks.slice(0, 10))).rejects.toThrow(/not connected/);
      expect(await portOpen()).toBe(false);

      const startAt = Date.now();
      await privateNodeCtl("start_app");
      const startedAt = Date.now();
      await expect.poll(() => broker.isConnected(), { timeout: 30_000, interval: 50 }).toBe(true);
      const reconnectedAt = Date.now();
      expect(connectedAt).toHaveLength(2);
      expect(broker.connectionCount).toBe(2);
      console.log(
        `broker down for ${startAt - rejectedAt} ms; start_app took ${startedAt - startAt} ms; ` +
          `adapter reconnected ${reconnectedAt - startedAt} ms after start_app returned ` +
          `(onConnected at +${connectedAt[1]! - startedAt} ms)`,
      );

      // The transform queue was non-durable: it is gone after the restart and is declared again on publish.
      expect(await broker.queueDepth(queue)).toBeNull();
      await broker.publishTransformTasks(rid, tasks);
      expect(await broker.queueDepth(queue)).toBe(10_000);

      // Every message is there and consumable.
      const conn = await connect(RABBIT_URL);
      try {
        const ch = await conn.createChannel();
        await ch.prefetch(1000);
        const seen = new Set<number>();
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`consumed ${seen.size}/10000`)), 30_000);
          void ch.consume(queue, (m) => {
            if (!m) return;
            seen.add((JSON.parse(m.content.toString()) as [unknown, { file_id: number }])[1].file_id);
            ch.ack(m);
            if (seen.size === 10_000) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        expect(Math.min(...seen)).toBe(0);
        expect(Math.max(...seen)).toBe(9999);
        await ch.deleteQueue(queue);
      } finally {
        await conn.close().catch(() => {});
      }
      expect(logs.some((l) => l.startsWith("warn RabbitMQ connection closed"))).toBe(true);
      expect(logs.some((l) => l.startsWith("info reconnecting to RabbitMQ"))).toBe(true);
    } finally {
      await ensureRabbitRunning();
    }
  }, 240_000);
});
