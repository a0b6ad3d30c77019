// The composition root in two steps (src/compose.ts): compose() builds the App and starts nothing (no broker
// connection, no scheduled job, no publishing); startDeps() starts them; a launcher whose start-up check fails
// makes startDeps() reject, and shutdownDeps() still closes what compose() opened.
import { randomBytes } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AmqpBroker } from "../../src/adapters/broker/amqp.broker.js";
import { compose, shutdownDeps, startDeps } from "../../src/compose.js";
import { loadConfig } from "../../src/config.js";
import type { AppDeps } from "../../src/http/deps.js";
import { type TestDatabase, createTestDatabase } from "../helpers/pg.js";
import { RABBIT_URL, RecordingLauncher, eventually } from "../helpers/testApp.js";

let db: TestDatabase;
const opened: AppDeps[] = [];

beforeAll(async () => {
  db = await createTestDatabase("sx_cmp");
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(opened.map((d) => shutdownDeps(d)));
  await db?.drop();
});

const configFor = () => {
  const scheme = `c${randomBytes(4).toString("hex")}`;
  return loadConfig({
    DATA_DIR: "memory://",
    DATABASE_URL: db.url,
    RABBIT_MQ_URL: RABBIT_URL,
    VALID_DID_SCHEMES: JSON.stringify([scheme]),
    DID_FINDER_DEFAULT_SCHEME: scheme,
    // Every second, so a scheduler started by compose() would have run it within the wait below.
    RECONCILE_INTERVAL: "1",
    LOG_LEVEL: "silent",
  });
};

const build = async (launcher = new RecordingLauncher()) => {
  const deps = await compose(configFor(), pino({ level: "silent" }), { launcher });
  opened.push(deps);
  return deps;
};

describe("When the App is composed", () => {
  it("then nothing runs until startDeps(), which connects the broker and starts the scheduled jobs", async () => {
    const deps = await build();
    expect(deps.broker).toBeInstanceOf(AmqpBroker);
    const broker = deps.broker as AmqpBroker;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(broker.connectionCount).toBe(0);
    expect(broker.isConnected()).toBe(false);
    expect(deps.scheduler.runs.size).toBe(0);

    await startDeps(deps);
    expect(broker.isConnected()).toBe(true);
    expect(broker.connectionCount).toBe(1);
    await eventually(
      async () => (deps.scheduler.runs.get("reconciler") ?? 0) >= 1,
      20_000,
      "a reconciler run",
    );

    await shutdownDeps(deps);
    opened.splice(opened.indexOf(deps), 1);
    expect(broker.isConnected()).toBe(false);
  });

  it("then a launcher whose start-up check fails makes startDeps() reject before any job starts", async () => {
    const launcher = new RecordingLauncher() as RecordingLauncher & { verifyStartup(): Promise<void> };
    launcher.verifyStartup = async () => {
      throw new Error("no such namespace");
    };
    const deps = await build(launcher);
    await expect(startDeps(deps)).rejects.toThrow(/no such namespace/);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(deps.scheduler.runs.size).toBe(0);
    await shutdownDeps(deps);
    opened.splice(opened.indexOf(deps), 1);
    await expect(deps.db.ping()).rejects.toThrow();
  });
});
