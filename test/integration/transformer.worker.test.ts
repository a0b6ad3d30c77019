// The local transformer worker process on its own, in its RabbitMQ mode: started with a pod's sidecar
// arguments (`--rabbit-uri amqp://…`), it consumes `transformer-<id>` declared as the sidecar declares it, takes
// a Celery `transform_file` message built by the App's own encoder, writes the output and reports
// file-complete over HTTP.
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import amqp from "amqplib";
import { afterAll, describe, expect, it } from "vitest";
import { buildTransformMessage, defaultOrigin } from "../../src/adapters/broker/celery.js";
import { objectNameFor } from "../../src/domain/objectName.js";
import { RABBIT_URL, eventually } from "../helpers/testApp.js";

const WORKER = fileURLToPath(new URL("../../src/adapters/launcher/transformer.worker.ts", import.meta.url));
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => {});
});

describe("When a worker process is started with an amqp:// --rabbit-uri", () => {
  it("then it consumes the sidecar's queue, writes the output and reports file-complete like the sidecar", async () => {
    const work = await mkdtemp(join(tmpdir(), "sx-worker-"));
    cleanup.push(() => rm(work, { recursive: true, force: true }));
    const input = join(work, "in.root");
    const data = randomBytes(123_456);
    await writeFile(input, data);

    const reports: Array<{ url: string; body: Record<string, unknown> }> = [];
    const app = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        reports.push({ url: req.url ?? "", body: JSON.parse(body) as Record<string, unknown> });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    cleanup.push(() => new Promise((r) => app.close(() => r())));
    const endpoint = `http://127.0.0.1:${(app.address() as AddressInfo).port}/servicex/internal/transformation/x`;

    const requestId = randomUUID();
    const out = join(work, "out");
    const child: ChildProcess = fork(
      WORKER,
      [
        "--shared-dir",
        join(work, "scratch"),
        "--request-id",
        requestId,
        "--rabbit-uri",
        RABBIT_URL,
        "--result-destination",
        "volume",
        "--result-format",
        "root-file",
        "--output-dir",
        out,
      ],
      {
        env: { PATH: process.env.PATH ?? "", POD_NAME: "transformer-pod-0", LOG_LEVEL: "ERROR" },
        execArgv: ["--import", "tsx"],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      },
    );
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    cleanup.push(async () => {
      child.kill("SIGKILL");
    });

    const conn = await amqp.connect(RABBIT_URL);
    cleanup.push(() => conn.close());
    const ch = await conn.createConfirmChannel();
    const queue = `transformer-${requestId}`;
    // The worker declares the queue when it starts consuming; wait for its consumer.
    await eventually(
      async () => {
        const c = await conn.createChannel();
        c.on("error", () => {});
        try {
          return (await c.checkQueue(queue)).consumerCount === 1;
        } catch {
          return false;
        } finally {
          await c.close().catch(() => {});
        }
      },
      20_000,
      "worker consumer on the queue",
    );
    const msg = buildTransformMessage(
      {
        request_id: requestId,
        file_id: 42,
        paths: [input],
        service_endpoint: endpoint,
        result_destination: "volume",
        result_format: "root-file",
      },
      { origin: defaultOrigin() },
    );
    ch.sendToQueue(queue, msg.content, msg.options);
    await ch.waitForConfirms();

    await eventually(async () => reports.length === 1, 20_000, "file-complete report");
    const r = reports[0]!;
    expect(r.url).toBe("/servicex/internal/transformation/x/file-complete");
    expect(r.body).toMatchObject({
      requestId,
      "file-id": 42,
      "file-path": input,
      status: "success",
      "total-bytes": data.length,
      place: { host_name: "transformer-pod-0" },
      "s3-object-name": objectNameFor(input, "root-file"),
    });
    const written = await readFile(join(out, requestId, objectNameFor(input, "root-file")));
    expect(written.equals(data)).toBe(true);
    // The message was acknowledged: nothing left on the queue.
    expect((await ch.checkQueue(queue)).messageCount).toBe(0);

    // Deleting the queue (what the App does when the request ends) stops the worker.
    await ch.deleteQueue(queue);
    await Promise.race([
      exited,
      new Promise((_, rej) => setTimeout(() => rej(new Error("worker still running")), 10_000)),
    ]);
  });
});
