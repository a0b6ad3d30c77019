import { describe, expect, it } from "vitest";
import { buildLookupMessage, buildTransformMessage } from "../../src/adapters/broker/celery.js";
import { type ConsumedMessage, MemoryBroker } from "../../src/adapters/broker/memory.broker.js";
import type { TransformTask } from "../../src/domain/ports.js";
import { eventually } from "../helpers/wait.js";

const task = (rid: string, i: number): TransformTask => ({
  request_id: rid,
  file_id: i,
  paths: [`root://a//f${i}.root`],
  service_endpoint: `http://h/servicex/internal/transformation/${rid}`,
  result_destination: "object-store",
  result_format: "parquet",
});

const fileId = (m: ConsumedMessage) => (m.body as [unknown, { file_id: number }])[1].file_id;

/** Strips the per-message fields so messages from two builders compare equal. */
const stable = (m: {
  content: Buffer;
  options: { headers?: Record<string, unknown>; correlationId?: string };
}) => ({
  body: JSON.parse(m.content.toString("utf8")) as unknown,
  options: {
    ...m.options,
    correlationId: "<id>",
    headers: { ...m.options.headers, id: "<id>", root_id: "<id>" },
  },
});

describe("MemoryBroker", () => {
  it("is always connected and stores the same encoding as the RabbitMQ adapter", async () => {
    const b = new MemoryBroker({ origin: "gen1@test" });
    await b.start();
    expect(b.isConnected()).toBe(true);
    await b.publishTransformTasks("r1", [task("r1", 1), task("r1", 2)]);
    await b.publishLookup({ scheme: "rucio", did: "mc:ds", datasetId: 4, endpoint: "http://h/e/" });

    expect(await b.queueDepth("transformer-r1")).toBe(2);
    expect(await b.queueDepth("did_finder_rucio")).toBe(1);
    expect(await b.queueDepth("transformer-none")).toBeNull();
    expect(b.queueNames().sort()).toEqual(["did_finder_rucio", "transformer-r1"]);

    const [m1, m2] = b.messages("transformer-r1");
    expect(stable(m1!)).toEqual(stable(buildTransformMessage(task("r1", 1), { origin: "gen1@test" })));
    expect(m1!.headers.task).toBe("transformer_sidecar.transform_file");
    expect(m1!.headers.id).toBe(m1!.options.correlationId);
    expect(m1!.options.deliveryMode).toBe(2);
    expect(fileId(m2!)).toBe(2);
    const [l] = b.messages("did_finder_rucio");
    expect(stable(l!)).toEqual(
      stable(
        buildLookupMessage(
          { scheme: "rucio", did: "mc:ds", datasetId: 4, endpoint: "http://h/e/" },
          { origin: "gen1@test" },
        ),
      ),
    );
    expect(l!.body).toEqual([
      ["mc:ds", 4, "http://h/e/"],
      {},
      { callbacks: null, errbacks: null, chain: null, chord: null },
    ]);
  });

  it("consume: FIFO, ack on resolve, prefetch honoured", async () => {
    const b = new MemoryBroker();
    await b.publishTransformTasks(
      "r",
      Array.from({ length: 20 }, (_, i) => task("r", i)),
    );
    const seen: number[] = [];
    let active = 0;
    let maxActive = 0;
    let release!: () => void;
    const allDone = new Promise<void>((r) => {
      release = r;
    });
    const cancel = b.consume(
      "transformer-r",
      async (m) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 2));
        seen.push(fileId(m));
        active--;
        if (seen.length === 20) release();
      },
      { prefetch: 3 },
    );
    await allDone;
    cancel();
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(maxActive).toBe(3);
    expect(await b.queueDepth("transformer-r")).toBe(0);
  });

  it("a handler that throws gets the message again, first in line (at-least-once)", async () => {
    const b = new MemoryBroker();
    await b.publishTransformTasks("r", [task("r", 1), task("r", 2), task("r", 3)]);
    const attempts: string[] = [];
    let failures = 0;
    const done = new Promise<void>((resolve) => {
      b.consume("transformer-r", async (m) => {
        attempts.push(`${fileId(m)}${m.redelivered ? "r" : ""}`);
        if (fileId(m) === 2 && failures < 2) {
          failures++;
          throw new Error("transform failed");
        }
        if (fileId(m) === 3) resolve();
      });
    });
    await done;
    expect(attempts).toEqual(["1", "2", "2r", "2r", "3"]);
    expect(await b.queueDepth("transformer-r")).toBe(0);
  });

  it("a consumer whose handler keeps failing backs off instead of spinning; a success resets it", async () => {
    const b = new MemoryBroker();
    await b.publishTransformTasks("s", [task("s", 1)]);
    const attempts: number[] = [];
    let healthy = false;
    let handled!: () => void;
    const done = new Promise<void>((r) => {
      handled = r;
    });
    b.consume("transformer-s", async () => {
      attempts.push(performance.now());
      if (!healthy) throw new Error("down");
      handled();
    });
    // Back-off doubles from 10 ms: the 5th attempt comes at least 10 + 20 + 40 + 80 = 150 ms after the first
    // (without back-off there would be thousands of attempts by then).
    await eventually(async () => attempts.length >= 5, 10_000, "five delivery attempts");
    expect(attempts[4]! - attempts[0]!).toBeGreaterThanOrEqual(148);
    for (let i = 1; i < 5; i++)
      expect(attempts[i]! - attempts[i - 1]!).toBeGreaterThanOrEqual(9 * 2 ** (i - 1));
    healthy = true;
    await done;
    expect(await b.queueDepth("transformer-s")).toBe(0);

    // Without back-off the same failure is retried as fast as the event loop allows.
    const fast = new MemoryBroker();
    await fast.publishTransformTasks("s", [task("s", 1)]);
    let fastCalls = 0;
    fast.consume(
      "transformer-s",
      async () => {
        fastCalls++;
        throw new Error("down");
      },
      { retryBackoff: { initialMs: 0 } },
    );
    await eventually(async () => fastCalls > 50, 10_000, "more than 50 attempts without back-off");
    await fast.close();
    await b.close();
  });

  it("a synchronous throw is a failure too, and several consumers share the queue", async () => {
    const b = new MemoryBroker();
    await b.publishTransformTasks(
      "r",
      Array.from({ length: 10 }, (_, i) => task("r", i)),
    );
    const byConsumer: Record<string, number[]> = { a: [], b: [] };
    let thrown = false;
    let count = 0;
    let release!: () => void;
    const done = new Promise<void>((r) => {
      release = r;
    });
    for (const name of ["a", "b"] as const) {
      b.consume("transformer-r", async (m) => {
        if (!thrown) {
          thrown = true;
          // A non-async handler throwing synchronously: treated like a rejected promise.
          (() => {
            throw new Error("sync");
          })();
        }
        await new Promise((r) => setTimeout(r, 15));
        byConsumer[name]!.push(fileId(m));
        if (++count === 10) release();
      });
    }
    await done;
    expect([...byConsumer.a!, ...byConsumer.b!].sort((x, y) => x - y)).toEqual(
      Array.from({ length: 10 }, (_, i) => i),
    );
    expect(byConsumer.a!.length).toBeGreaterThan(0);
    expect(byConsumer.b!.length).toBeGreaterThan(0);
  });

  it("a handler that is not async and throws synchronously is a failure, not a crash", async () => {
    const b = new MemoryBroker();
    await b.publishTransformTasks("y", [task("y", 1)]);
    const seen: boolean[] = [];
    const done = new Promise<void>((resolve) => {
      b.consume("transformer-y", (m) => {
        seen.push(m.redelivered);
        if (seen.length === 1) throw new Error("sync");
        resolve();
        return Promise.resolve();
      });
    });
    await done;
    expect(seen).toEqual([false, true]);
  });

  it("a consumer can start before anything is published (like the sidecar declaring its queue)", async () => {
    const b = new MemoryBroker();
    const got: number[] = [];
    const done = new Promise<void>((resolve) => {
      b.consume("transformer-early", async (m) => {
        got.push(fileId(m));
        if (got.length === 2) resolve();
      });
    });
    expect(await b.queueDepth("transformer-early")).toBe(0);
    await b.publishTransformTasks("early", [task("early", 1), task("early", 2)]);
    await done;
    expect(got).toEqual([1, 2]);
  });

  it("cancelling a consumer stops deliveries; messages stay queued", async () => {
    const b = new MemoryBroker();
    const got: number[] = [];
    const cancel = b.consume("transformer-c", async (m) => {
      got.push(fileId(m));
    });
    cancel();
    cancel();
    await b.publishTransformTasks("c", [task("c", 1)]);
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([]);
    expect(await b.queueDepth("transformer-c")).toBe(1);
  });

  it("deleting a transform queue drops its messages and consumers; missing queue is fine", async () => {
    const b = new MemoryBroker();
    await b.publishTransformTasks("d", [task("d", 1), task("d", 2)]);
    let inHandler!: () => void;
    const started = new Promise<void>((r) => {
      inHandler = r;
    });
    let finish!: () => void;
    const got: number[] = [];
    b.consume("transformer-d", (m) => {
      got.push(fileId(m));
      inHandler();
      return new Promise<void>((_, reject) => {
        finish = () => reject(new Error("late failure"));
      });
    });
    await started;
    await b.deleteTransformQueue("d");
    expect(await b.queueDepth("transformer-d")).toBeNull();
    expect(b.messages("transformer-d")).toEqual([]);
    // A failure of a message of the deleted queue does not bring it back.
    finish();
    await new Promise((r) => setTimeout(r, 10));
    expect(await b.queueDepth("transformer-d")).toBeNull();
    expect(got).toEqual([1]);
    await b.deleteTransformQueue("d");
    await b.deleteTransformQueue("never");
    // Publishing again creates a fresh queue.
    await b.publishTransformTasks("d", [task("d", 3)]);
    expect(await b.queueDepth("transformer-d")).toBe(1);
  });

  it("onConnected never fires (no reconnections) and can be unsubscribed", async () => {
    const b = new MemoryBroker();
    let calls = 0;
    const off = b.onConnected(() => calls++);
    await b.start();
    await b.publishTransformTasks("x", [task("x", 1)]);
    off();
    expect(calls).toBe(0);
  });

  it("close() waits for handlers in progress and refuses further calls", async () => {
    const b = new MemoryBroker();
    await b.publishTransformTasks("z", [task("z", 1), task("z", 2)]);
    let finished = 0;
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    b.consume("transformer-z", async () => {
      started();
      await new Promise((r) => setTimeout(r, 30));
      finished++;
    });
    await running;
    await b.close();
    expect(finished).toBe(1);
    expect(b.isConnected()).toBe(false);
    await expect(b.publishTransformTasks("z", [task("z", 3)])).rejects.toThrow(/closed/);
    expect(await b.queueDepth("transformer-z")).toBe(1);
  });

  it("holds and delivers 100,000 tasks", async () => {
    const b = new MemoryBroker();
    const tasks = Array.from({ length: 100_000 }, (_, i) => task("big", i));
    await b.publishTransformTasks("big", tasks);
    expect(await b.queueDepth("transformer-big")).toBe(100_000);
    let n = 0;
    await new Promise<void>((resolve) => {
      b.consume(
        "transformer-big",
        async () => {
          if (++n === 100_000) resolve();
        },
        { prefetch: 1000 },
      );
    });
    expect(await b.queueDepth("transformer-big")).toBe(0);
  });
});
