// Broker down at start-up (robustness issue item 4): the App starts anyway, /readyz says 503, submits are
// accepted (Postgres is the outbox) and their tasks are published once RabbitMQ is reachable — no restart.
// RabbitMQ is made unreachable with a TCP proxy in front of it that is not listening yet.
import amqp from "amqplib";
import { afterAll, describe, expect, it } from "vitest";
import { putJson } from "../helpers/fakeWorkers.js";
import { tcpProxy } from "../helpers/tcpProxy.js";
import { RABBIT_URL, type TestApp, eventually, startTestApp } from "../helpers/testApp.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

describe("When RabbitMQ is unreachable while the App starts", () => {
  it("then the App starts, /readyz is 503, a submit is accepted, and its tasks are queued once RabbitMQ is back", async () => {
    const target = new URL(RABBIT_URL);
    const proxy = await tcpProxy({ host: target.hostname, port: Number(target.port || 5672) });
    cleanups.push(() => proxy.down());
    const port = proxy.port;
    const t0 = Date.now();
    const app: TestApp = await startTestApp({
      backend: "postgres",
      broker: "amqp",
      env: { RABBIT_MQ_URL: `amqp://guest:guest@127.0.0.1:${port}` },
    });
    cleanups.push(() => app.close());
    // Start-up does not wait for the broker (it would wait for ever): any bound below the hook timeout shows it.
    expect(Date.now() - t0).toBeLessThan(45_000);

    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.broker).toBe("unavailable");

    const sub = await putJson(
      `${app.url}/servicex/transformation`,
      {
        "file-list": ["root://a//down-1.root", "root://a//down-2.root"],
        selection: "s",
        codegen: "passthrough",
        "result-destination": "object-store",
      },
      "POST",
    );
    expect(sub.status).toBe(200);
    const id = (sub.body as { request_id: string }).request_id;
    const st = await fetch(`${app.url}/servicex/transformation/${id}`);
    expect(((await st.json()) as { status: string }).status).toBe("Running");

    await proxy.up();
    await eventually(
      async () => (await fetch(`${app.url}/readyz`)).status === 200,
      45_000,
      "broker reconnect",
    );
    const conn = await amqp.connect(RABBIT_URL);
    cleanups.push(() => conn.close());
    await eventually(
      async () => {
        const ch = await conn.createChannel();
        ch.on("error", () => {});
        try {
          return (await ch.checkQueue(`transformer-${id}`)).messageCount === 2;
        } catch {
          return false;
        } finally {
          await ch.close().catch(() => {});
        }
      },
      20_000,
      "both tasks queued",
    );
    const ch = await conn.createChannel();
    await ch.deleteQueue(`transformer-${id}`);
    await ch.close();
  });
});
