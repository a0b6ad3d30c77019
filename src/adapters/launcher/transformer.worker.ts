// A local transformer worker process: what one transformer pod is for a request, on the App's own machine
// (TRANSFORMER_MANAGER_MODE=local). Started by LocalLauncher with a pod's sidecar arguments and environment:
//
//   transformer.worker.ts --shared-dir <scratch dir> --request-id <id> --rabbit-uri <uri>
//                         --result-destination object-store|volume --result-format <fmt> [--output-dir <dir>]
//   env: LOG_LEVEL, POD_NAME, HOST_NAME, INSTANCE_NAME, CACHE_PREFIX and, for object-store,
//        MINIO_URL, MINIO_ACCESS_KEY, MINIO_SECRET_KEY, MINIO_ENCRYPT ("True"/"False")
//
// Tasks (`transformer_sidecar.transform_file` kwargs) come from the `--rabbit-uri`: `ipc:` means the parent App
// hands them over its IPC channel (the embedded default's in-process broker); an `amqp://` URI means the worker
// consumes `transformer-<id>` on RabbitMQ itself, declared as the sidecar declares it. Each task runs the
// reference transformer (reference.transformer.ts): fetch, write or upload, report file-complete.
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import amqp from "amqplib";
import { pino } from "pino";
import type { TransformTask } from "../../domain/ports.js";
import { S3ObjectStore } from "../objectStore/s3.store.js";
import { taskFromCeleryBody } from "./localTask.js";
import { type ReferenceTransformerOptions, transformFile } from "./reference.transformer.js";

/** Parent → worker and worker → parent messages of the `ipc:` task source. */
export type WorkerMessage =
  | { type: "task"; seq: number; body: unknown }
  | { type: "stop" }
  | { type: "ready" }
  | { type: "done"; seq: number; fileId: number | null; status: string | null; reportError: string | null };

const { values: args } = parseArgs({
  options: {
    "shared-dir": { type: "string" },
    "request-id": { type: "string" },
    "rabbit-uri": { type: "string" },
    "result-destination": { type: "string" },
    "result-format": { type: "string" },
    "output-dir": { type: "string" },
  },
  strict: true,
});

const log = pino({ level: (process.env.LOG_LEVEL ?? "info").toLowerCase() }, pino.destination(2)).child({
  component: "local-transformer",
  pod: process.env.POD_NAME,
});

function required(name: keyof typeof args): string {
  const v = args[name];
  if (!v) {
    log.fatal(`missing --${name}`);
    process.exit(2);
  }
  return v;
}

const requestId = required("request-id");
const rabbitUri = required("rabbit-uri");
const destination = required("result-destination");
const abort = new AbortController();

const store =
  destination === "object-store" && process.env.MINIO_URL
    ? new S3ObjectStore({
        endpoint: process.env.MINIO_URL,
        secure: process.env.MINIO_ENCRYPT === "True",
        accessKey: process.env.MINIO_ACCESS_KEY ?? "",
        secretKey: process.env.MINIO_SECRET_KEY ?? "",
      })
    : null;

const options: ReferenceTransformerOptions = {
  // Object-store outputs are staged in the shared (scratch) directory; others land in the output directory.
  resultsDir: store ? required("shared-dir") : (args["output-dir"] ?? required("shared-dir")),
  hostName: process.env.POD_NAME ?? hostname(),
  site: process.env.INSTANCE_NAME ?? "local",
  signal: abort.signal,
  ...(store ? { upload: (bucket, key, path) => store.putFile(bucket, key, path) } : {}),
};

async function run(task: TransformTask) {
  const outcome = await transformFile(task, options);
  if (outcome.reportError && !abort.signal.aborted) {
    log.error({ fileId: task.file_id, err: outcome.reportError }, "report not accepted");
  }
  return outcome;
}

function stop(code: number): void {
  abort.abort();
  store?.close();
  setTimeout(() => process.exit(code), 50).unref();
}

if (rabbitUri.startsWith("ipc:")) {
  if (!process.send) {
    log.fatal("--rabbit-uri ipc: needs an IPC channel (start the worker with child_process.fork)");
    process.exit(2);
  }
  const send = (m: WorkerMessage) => process.send?.(m);
  process.on("message", (m: WorkerMessage) => {
    if (m.type === "stop") return stop(0);
    if (m.type !== "task") return;
    const task = taskFromCeleryBody(m.body);
    if (!task) {
      log.error({ body: String(JSON.stringify(m.body)).slice(0, 500) }, "not a transform task; dropped");
      send({ type: "done", seq: m.seq, fileId: null, status: null, reportError: "not a transform task" });
      return;
    }
    void run(task).then(
      (o) =>
        send({
          type: "done",
          seq: m.seq,
          fileId: task.file_id,
          status: o.report.status,
          reportError: o.reportError,
        }),
      (err: unknown) =>
        send({ type: "done", seq: m.seq, fileId: task.file_id, status: null, reportError: String(err) }),
    );
  });
  // The App went away: nobody will take the reports.
  process.on("disconnect", () => stop(0));
  send({ type: "ready" });
} else {
  const conn = await amqp.connect(rabbitUri);
  const ch = await conn.createChannel();
  const queue = `transformer-${requestId}`;
  // Declared exactly as the sidecar declares it (docs/decisions.md D2): non-durable, auto-delete.
  await ch.assertQueue(queue, { durable: false, autoDelete: true });
  await ch.prefetch(1);
  await ch.consume(queue, (msg) => {
    if (!msg) return stop(0); // queue deleted: the request is over
    let body: unknown = null;
    try {
      body = JSON.parse(msg.content.toString("utf8"));
    } catch {}
    const task = taskFromCeleryBody(body);
    if (!task) {
      log.error("not a transform task; dropped");
      ch.ack(msg);
      return;
    }
    void run(task).finally(() => {
      if (!abort.signal.aborted) ch.ack(msg);
    });
  });
  conn.on("close", () => stop(0));
  process.on("SIGTERM", () => {
    void conn.close().catch(() => {});
    stop(0);
  });
  log.info({ queue }, "consuming");
}
