// Stand-ins for the real callers, speaking their exact wire format: a DID finder (Celery worker on
// did_finder_<scheme> that PUTs /files in chunks and /complete) and transformer sidecars (Celery workers on
// transformer-<id> that PUT /file-complete). They consume from the real RabbitMQ with amqplib.
import amqp from "amqplib";
import type { TransformTask } from "../../src/domain/ports.js";
import { RABBIT_URL } from "./testApp.js";

export interface CeleryMessage {
  headers: Record<string, unknown>;
  properties: amqp.MessageProperties;
  args: unknown[];
  kwargs: Record<string, unknown>;
}

function decode(msg: amqp.ConsumeMessage): CeleryMessage {
  const [args, kwargs] = JSON.parse(msg.content.toString("utf8")) as [unknown[], Record<string, unknown>];
  return { headers: msg.properties.headers ?? {}, properties: msg.properties, args, kwargs };
}

export async function putJson(
  url: string,
  body: unknown,
  method = "PUT",
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed };
}

/** The kwargs a sidecar receives: exactly the App's TransformTask port type. */
export type TransformTaskKwargs = TransformTask;

export interface Worker {
  messages: CeleryMessage[];
  stop(): Promise<void>;
}

/**
 * A DID finder for one DID: answers only lookups for `did` (others are left alone), then streams
 * `files` in chunks of `chunk` and sends /complete.
 */
export async function startDidFinder(opts: {
  scheme: string;
  did: string;
  files: (
    n: number,
  ) => Array<{ paths: string[]; adler32: string | null; file_size: number; file_events: number }>;
  count: number;
  chunk?: number;
  fail?: { "error-type": string; message: string };
}): Promise<Worker> {
  const conn = await amqp.connect(RABBIT_URL);
  const ch = await conn.createChannel();
  const q = `did_finder_${opts.scheme}`;
  // Declared exactly as Celery declares it: durable direct exchange + durable queue, same name.
  await ch.assertExchange(q, "direct", { durable: true });
  await ch.assertQueue(q, { durable: true });
  await ch.bindQueue(q, q, q);
  const messages: CeleryMessage[] = [];
  const { consumerTag } = await ch.consume(q, async (raw) => {
    if (!raw) return;
    const m = decode(raw);
    const [did, datasetId, endpoint] = m.args as [string, number, string];
    if (did !== opts.did) {
      ch.nack(raw, false, true);
      return;
    }
    messages.push(m);
    ch.ack(raw);
    const base = `${endpoint}${datasetId}`;
    if (opts.fail) {
      await putJson(`${base}/error`, { "elapsed-time": 1, ...opts.fail });
      return;
    }
    const all = opts.files(opts.count);
    const chunk = opts.chunk ?? 300;
    for (let i = 0; i < all.length; i += chunk) await putJson(`${base}/files`, all.slice(i, i + chunk));
    await putJson(`${base}/complete`, {
      files: all.length,
      "files-skipped": 0,
      "total-events": all.reduce((a, f) => a + f.file_events, 0),
      "total-bytes": all.reduce((a, f) => a + f.file_size, 0),
      "elapsed-time": 1,
    });
  });
  return {
    messages,
    async stop() {
      await ch.cancel(consumerTag).catch(() => {});
      await conn.close().catch(() => {});
    },
  };
}

export type Outcome = "success" | "failure";

/**
 * Transformer sidecars for one request: `concurrency` parallel workers taking tasks from
 * transformer-<id>; `decide` says what each report is (several reports per task = duplicates/retries).
 */
export async function startSidecars(opts: {
  requestId: string;
  concurrency?: number;
  decide?: (task: TransformTaskKwargs) => Outcome[];
}): Promise<Worker & { reported: number }> {
  const conn = await amqp.connect(RABBIT_URL);
  const ch = await conn.createChannel();
  const q = `transformer-${opts.requestId}`;
  await ch.assertQueue(q, { durable: false, autoDelete: true });
  await ch.prefetch(opts.concurrency ?? 50);
  const messages: CeleryMessage[] = [];
  const state = { reported: 0 };
  const { consumerTag } = await ch.consume(q, async (raw) => {
    if (!raw) return;
    const m = decode(raw);
    messages.push(m);
    const task = m.kwargs as unknown as TransformTaskKwargs;
    const outcomes = opts.decide ? opts.decide(task) : ["success" as const];
    await Promise.all(
      outcomes.map((status) =>
        putJson(`${task.service_endpoint}/file-complete`, fileCompleteBody(task, status)).then((r) => {
          if (r.status === 200) state.reported += 1;
        }),
      ),
    );
    ch.ack(raw);
  });
  return {
    messages,
    get reported() {
      return state.reported;
    },
    async stop() {
      await ch.cancel(consumerTag).catch(() => {});
      await conn.close().catch(() => {});
    },
  };
}

/** Exactly what transformer_sidecar's FileCompleteRecord.to_json sends. */
export function fileCompleteBody(
  task: { request_id: string; file_id: number; paths: string[] },
  status: Outcome,
) {
  const ok = status === "success";
  return {
    requestId: task.request_id,
    "file-path": task.paths[0],
    "file-id": task.file_id,
    status,
    "total-time": 1.5,
    "total-events": ok ? 100 : 0,
    "total-bytes": ok ? 1000 + task.file_id : 0,
    "avg-rate": ok ? 66.6 : 0,
    place: { host_name: `transformer-${task.request_id}-pod-1`, site: "test" },
    "s3-object-name": `${task.paths[0]!.replaceAll("/", ":")}.parquet`,
  };
}

export const makeFiles = (prefix: string) => (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    paths: [`root://a//${prefix}/f${i}.root`, `root://b//${prefix}/f${i}.root`],
    adler32: "62c5e3e5",
    file_size: 0,
    file_events: 0,
  }));
