// TaskBroker over RabbitMQ (amqplib): Celery protocol v2 messages (celery.ts) published on a confirm channel.
//
// Channels:
//  - one confirm channel for every publish (shared by concurrent calls; each call counts its own confirms);
//  - one plain channel for declarations and deletes. A declare with flags that differ from an existing queue
//    closes that channel with PRECONDITION_FAILED: only the declaring call rejects, the next call gets a fresh
//    channel, and publishes in flight on the confirm channel are not disturbed;
//  - a short-lived channel per queueDepth() (a passive declare of a missing queue closes its channel).
// Connection loss rejects every call in flight (nothing is confirmed after it) and starts reconnecting in the
// background with exponential backoff and jitter, rotating through the URLs. After each (re)connection the
// declaration cache is empty again (queues are re-declared lazily on next use) and the onConnected listeners run,
// so the dispatcher can re-publish what Postgres says has no result yet (docs/decisions.md D2).

import { connect } from "amqplib";
import type { Channel, ChannelModel, ConfirmChannel, Message, Options } from "amqplib";
import type { LookupTask, TaskBroker, TransformTask } from "../../domain/ports.js";
import { encodePublishFrames, encodePublishMethod } from "./amqpFrames.js";
import {
  type CeleryMessage,
  buildLookupMessage,
  buildTransformMessage,
  defaultOrigin,
  lookupQueueName,
  transformQueueName,
} from "./celery.js";

/** pino-compatible subset. */
export interface BrokerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface AmqpBrokerOptions {
  /** RABBIT_MQ_URL split on commas; tried in turn. */
  urls: string[];
  /** `origin` header of the messages; Celery's `gen<pid>@<hostname>` by default. */
  origin?: string;
  logger?: BrokerLogger;
  /** Reconnect backoff: first delay (default 500 ms) doubling up to maxMs (default 30 s), with jitter. */
  reconnect?: { initialMs?: number; maxMs?: number };
  /** Most messages published but not yet confirmed per call before it waits for confirms (default 5,000). */
  maxUnconfirmed?: number;
  /** close(): how long to wait for calls in flight before closing anyway (default 30 s). */
  closeTimeoutMs?: number;
  /**
   * Encode publish frames with amqpFrames.ts instead of amqplib's codec (same bytes, ~10x cheaper; see the end of
   * this file). Default true; false uses ConfirmChannel#publish for every message.
   */
  fastPublish?: boolean;
}

/** Thrown (rejected) when a call cannot be served because no connection is usable, or the broker is closed. */
export class BrokerUnavailableError extends Error {
  override readonly name = "BrokerUnavailableError";
}

/** A broker-side refusal (e.g. PRECONDITION_FAILED) or lost confirm; `code` is the AMQP reply code if any. */
export class BrokerOperationError extends Error {
  override readonly name = "BrokerOperationError";
  readonly code: number | undefined;
  constructor(message: string, options?: { cause?: unknown; code?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = options?.code;
  }
}

const noopLogger: BrokerLogger = { info() {}, warn() {}, error() {}, debug() {} };
const YIELD_EVERY = 512;
const CONNECT_TIMEOUT_MS = 10_000;

/** One publish call on the confirm channel. */
class PublishOp {
  published = 0;
  confirmed = 0;
  returned = 0;
  done = false;
  private resume: (() => void) | null = null;
  private parkedFor: "drain" | "window" | null = null;
  readonly promise: Promise<void>;
  private resolveP!: () => void;
  private rejectP!: (err: Error) => void;

  constructor(
    readonly routingKey: string,
    readonly total: number,
    readonly channel: ConfirmChannel,
    private readonly lowWater: number,
  ) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolveP = resolve;
      this.rejectP = reject;
    });
  }

  /** One callback shared by all messages of the call (no closure per message). */
  readonly onConfirm = (err: unknown): void => {
    if (this.done) return;
    if (err) {
      this.fail(
        new BrokerOperationError(
          `publish to ${this.routingKey} failed after ${this.confirmed} of ${this.total} confirmed: ${errMessage(err)}`,
          { cause: err },
        ),
      );
      return;
    }
    this.confirmed++;
    if (this.confirmed === this.total) this.finish();
    else if (this.parkedFor === "window" && this.published - this.confirmed <= this.lowWater) this.wake();
  };

  /** Parks the publishing loop until the channel drains or enough confirms arrived. */
  park(reason: "drain" | "window", resume: () => void): void {
    this.parkedFor = reason;
    this.resume = resume;
  }

  /** Resumes the parked loop on a later turn (never re-entering amqplib from inside its own callbacks). */
  wake(): void {
    const r = this.resume;
    if (!r) return;
    this.resume = null;
    this.parkedFor = null;
    setImmediate(r);
  }

  onDrain(): void {
    if (this.parkedFor === "drain") this.wake();
  }

  finish(): void {
    if (this.done) return;
    this.done = true;
    this.resume = null;
    this.parkedFor = null;
    if (this.returned > 0) {
      this.rejectP(
        new BrokerOperationError(
          `${this.returned} of ${this.total} messages to ${this.routingKey} were unroutable (queue missing)`,
        ),
      );
    } else {
      this.resolveP();
    }
  }

  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.resume = null;
    this.parkedFor = null;
    this.rejectP(err);
  }
}

export class AmqpBroker implements TaskBroker {
  private readonly urls: string[];
  private readonly origin: string;
  private readonly log: BrokerLogger;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly maxUnconfirmed: number;
  private readonly closeTimeoutMs: number;
  private readonly fastPublish: boolean;

  private conn: ChannelModel | null = null;
  private pubCh: ConfirmChannel | null = null;
  private pubChPending: Promise<ConfirmChannel> | null = null;
  private declCh: Channel | null = null;
  private declChPending: Promise<Channel> | null = null;
  /** Exchanges+bindings declared on the current connection (queues are asserted on every call). */
  private declared = new Set<string>();
  private readonly listeners = new Set<() => void>();
  private readonly ops = new Set<PublishOp>();
  private readonly pendingCalls = new Set<Promise<unknown>>();

  private urlIndex = 0;
  private attempt = 0;
  private started = false;
  private closing = false;
  private connecting: Promise<void> | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closePromise: Promise<void> | null = null;
  private connections = 0;

  constructor(opts: AmqpBrokerOptions) {
    this.urls = opts.urls.map((u) => u.trim()).filter((u) => u.length > 0);
    if (this.urls.length === 0) throw new Error("AmqpBroker: no RabbitMQ URL given");
    this.origin = opts.origin ?? defaultOrigin();
    this.log = opts.logger ?? noopLogger;
    this.initialMs = Math.max(1, opts.reconnect?.initialMs ?? 500);
    this.maxMs = Math.max(this.initialMs, opts.reconnect?.maxMs ?? 30_000);
    this.maxUnconfirmed = Math.max(1, opts.maxUnconfirmed ?? 5_000);
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 30_000;
    this.fastPublish = opts.fastPublish ?? true;
  }

  /**
   * Connects. Resolves once the first attempt has finished, whether or not it succeeded (never rejects because
   * the broker is down); when it failed, attempts go on in the background until connected or close().
   */
  async start(): Promise<void> {
    if (this.closing) throw new BrokerUnavailableError("broker closed");
    if (this.started) return this.connecting ?? undefined;
    this.started = true;
    await this.attemptConnect();
  }

  /** True while a connection is open (a closed channel is reopened on the next call). */
  isConnected(): boolean {
    return this.conn !== null && !this.closing;
  }

  onConnected(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  publishTransformTasks(requestId: string, tasks: readonly TransformTask[]): Promise<void> {
    return this.track(async () => {
      const queue = transformQueueName(requestId);
      // Exactly as the sidecar declares it (non-durable, auto-delete); asserted on every call because an
      // auto-delete queue disappears when its last consumer goes and a message published then would be lost.
      await this.declare(`to declare queue ${queue} (durable=false, auto_delete=true)`, (ch) =>
        ch.assertQueue(queue, { durable: false, autoDelete: true }).then(() => undefined),
      );
      if (tasks.length === 0) return;
      const origin = this.origin;
      await this.publishMany(queue, tasks.length, (i) =>
        buildTransformMessage(tasks[i]!, { origin, mandatory: true }),
      );
    });
  }

  publishLookup(task: LookupTask): Promise<void> {
    return this.track(async () => {
      const name = lookupQueueName(task.scheme);
      // As Celery and the DID finder declare it: durable direct exchange + durable queue, bound by its name.
      if (!this.declared.has(name)) {
        await this.declare(`to declare exchange+queue ${name} (durable, direct)`, async (ch) => {
          await ch.assertExchange(name, "direct", { durable: true, autoDelete: false });
          await ch.assertQueue(name, { durable: true, autoDelete: false });
          await ch.bindQueue(name, name, name);
        });
        this.declared.add(name);
      } else {
        await this.declare(`to declare queue ${name} (durable)`, (ch) =>
          ch.assertQueue(name, { durable: true, autoDelete: false }).then(() => undefined),
        );
      }
      // Through the default exchange with the queue name, as the golden capture shows Celery does.
      const msg = buildLookupMessage(task, { origin: this.origin, mandatory: true });
      await this.publishMany(name, 1, () => msg);
    });
  }

  deleteTransformQueue(requestId: string): Promise<void> {
    return this.track(async () => {
      const queue = transformQueueName(requestId);
      try {
        await this.declare(`to delete queue ${queue}`, (ch) => ch.deleteQueue(queue).then(() => undefined));
      } catch (err) {
        if (err instanceof BrokerOperationError && err.code === 404) return;
        throw err;
      }
    });
  }

  /** Ready messages in `name`, or null when the queue does not exist. Rejects when not connected. */
  async queueDepth(name: string): Promise<number | null> {
    const conn = this.requireConnection();
    let ch: Channel;
    try {
      ch = await conn.createChannel();
    } catch (err) {
      throw new BrokerUnavailableError(`cannot open a channel: ${errMessage(err)}`, { cause: err });
    }
    let failed: Error | null = null;
    ch.on("error", (err: Error) => {
      failed = err;
    });
    ch.on("close", () => {});
    try {
      const ok = await ch.checkQueue(name);
      return ok.messageCount;
    } catch (err) {
      if (codeOf(err) === 404 || codeOf(failed) === 404) return null;
      throw new BrokerOperationError(`checking queue ${name} failed: ${errMessage(err)}`, {
        cause: err,
        code: codeOf(err),
      });
    } finally {
      ch.close().catch(() => {});
    }
  }

  /**
   * Stops accepting calls, waits (up to closeTimeoutMs) until the calls in flight have every message confirmed,
   * then closes the connection. Idempotent.
   */
  close(): Promise<void> {
    if (!this.closePromise) this.closePromise = this.doClose();
    return this.closePromise;
  }

  /** How many times a connection was established (1 after start() succeeded, +1 per reconnection). */
  get connectionCount(): number {
    return this.connections;
  }

  private async doClose(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    if (this.pendingCalls.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.log.warn(
            { calls: this.pendingCalls.size },
            "broker close: calls still in flight, closing anyway",
          );
          resolve();
        }, this.closeTimeoutMs);
      });
      await Promise.race([Promise.allSettled([...this.pendingCalls]), timeout]);
      clearTimeout(timer);
    }
    // A connection attempt still under way closes its connection itself when it completes (it checks `closing`).
    const conn = this.conn;
    this.dropConnection(new BrokerUnavailableError("broker closed"));
    if (conn) {
      try {
        await conn.close();
      } catch (err) {
        this.log.debug({ err: errMessage(err) }, "broker close: connection already closed");
      }
    }
    this.log.info({}, "broker closed");
  }

  // --- connection management -------------------------------------------------------------------------------

  private attemptConnect(): Promise<void> {
    if (this.connecting) return this.connecting;
    const p = this.connectOnce().finally(() => {
      this.connecting = null;
    });
    this.connecting = p;
    return p;
  }

  private async connectOnce(): Promise<void> {
    const url = this.urls[this.urlIndex % this.urls.length]!;
    const where = redact(url);
    let conn: ChannelModel | null = null;
    try {
      conn = await connect(url, {
        timeout: CONNECT_TIMEOUT_MS,
        clientProperties: { connection_name: `servicex-app ${this.origin}` },
      });
      conn.on("error", (err: Error) => {
        this.log.warn({ err: errMessage(err), url: where }, "RabbitMQ connection error");
      });
      conn.on("blocked", (reason: string) => {
        this.log.warn({ reason, url: where }, "RabbitMQ blocked the connection (resource alarm)");
      });
      conn.on("unblocked", () => {
        this.log.info({ url: where }, "RabbitMQ unblocked the connection");
      });
      const c = conn;
      conn.on("close", (err?: Error) => this.onConnectionClosed(c, err));
      const ch = await this.openPublishChannel(conn);
      if (this.closing) {
        await conn.close().catch(() => {});
        return;
      }
      this.conn = conn;
      this.pubCh = ch;
      this.declared = new Set();
      this.attempt = 0;
      this.connections++;
      this.log.info({ url: where, connection: this.connections }, "connected to RabbitMQ");
    } catch (err) {
      if (conn) conn.close().catch(() => {});
      this.log.warn({ err: errMessage(err), url: where }, "cannot connect to RabbitMQ");
      this.urlIndex++;
      this.scheduleReconnect();
      return;
    }
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch (err) {
        this.log.error({ err: errMessage(err) }, "onConnected listener threw");
      }
    }
  }

  private onConnectionClosed(conn: ChannelModel, err?: Error): void {
    if (this.conn !== conn) return; // an attempt that never became current, or already dropped
    this.log.warn({ err: err ? errMessage(err) : undefined }, "RabbitMQ connection closed");
    this.dropConnection(
      new BrokerUnavailableError(`RabbitMQ connection lost${err ? `: ${errMessage(err)}` : ""}`, {
        cause: err,
      }),
    );
    if (!this.closing) this.scheduleReconnect();
  }

  /** Forgets the current connection and fails everything in flight on it. */
  private dropConnection(reason: Error): void {
    this.conn = null;
    this.pubCh = null;
    this.pubChPending = null;
    this.declCh = null;
    this.declChPending = null;
    this.declared = new Set();
    for (const op of this.ops) op.fail(reason);
    this.ops.clear();
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer) return;
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
    // "Equal jitter": between half and the whole of the exponential delay.
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt++;
    this.log.info({ attempt: this.attempt, delayMs: delay }, "reconnecting to RabbitMQ");
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.closing) void this.attemptConnect();
    }, delay);
    this.reconnectTimer.unref?.();
  }

  private requireConnection(): ChannelModel {
    if (this.closing) throw new BrokerUnavailableError("broker closed");
    if (!this.conn) throw new BrokerUnavailableError("not connected to RabbitMQ");
    return this.conn;
  }

  /**
   * The connection for a call already accepted (tracked): close() waits for such calls, so they go on while
   * it is closing, up to the moment the connection itself goes.
   */
  private connectionInUse(): ChannelModel {
    if (!this.conn)
      throw new BrokerUnavailableError(this.closing ? "broker closed" : "not connected to RabbitMQ");
    return this.conn;
  }

  private async openPublishChannel(conn: ChannelModel): Promise<ConfirmChannel> {
    const ch = await conn.createConfirmChannel();
    ch.on("error", (err: Error) => {
      this.log.warn({ err: errMessage(err) }, "RabbitMQ publish channel error");
    });
    ch.on("close", () => {
      if (this.pubCh === ch) this.pubCh = null;
      const reason = new BrokerOperationError("publish channel closed before every message was confirmed");
      for (const op of this.ops) {
        if (op.channel === ch) {
          op.fail(reason);
          this.ops.delete(op);
        }
      }
    });
    ch.on("drain", () => {
      for (const op of this.ops) if (op.channel === ch) op.onDrain();
    });
    ch.on("return", (msg: Message) => {
      const key = msg.fields.routingKey;
      this.log.warn({ routingKey: key }, "RabbitMQ returned an unroutable message");
      for (const op of this.ops) if (op.channel === ch && op.routingKey === key) op.returned++;
    });
    return ch;
  }

  private async publishChannel(): Promise<ConfirmChannel> {
    const conn = this.connectionInUse();
    if (this.pubCh) return this.pubCh;
    if (!this.pubChPending) {
      this.pubChPending = this.openPublishChannel(conn).then(
        (ch) => {
          if (this.conn === conn) this.pubCh = ch;
          this.pubChPending = null;
          return ch;
        },
        (err: unknown) => {
          this.pubChPending = null;
          throw new BrokerUnavailableError(`cannot open a publish channel: ${errMessage(err)}`, {
            cause: err,
          });
        },
      );
    }
    return this.pubChPending;
  }

  private async declareChannel(): Promise<Channel> {
    const conn = this.connectionInUse();
    if (this.declCh) return this.declCh;
    if (!this.declChPending) {
      this.declChPending = conn.createChannel().then(
        (ch) => {
          ch.on("error", (err: Error) => {
            this.log.warn(
              { err: errMessage(err) },
              "RabbitMQ declare channel error; a new channel will be used",
            );
          });
          ch.on("close", () => {
            if (this.declCh === ch) this.declCh = null;
          });
          if (this.conn === conn) this.declCh = ch;
          this.declChPending = null;
          return ch;
        },
        (err: unknown) => {
          this.declChPending = null;
          throw new BrokerUnavailableError(`cannot open a channel: ${errMessage(err)}`, { cause: err });
        },
      );
    }
    return this.declChPending;
  }

  /**
   * Runs declarations on the shared declare channel. A refusal aimed at this call (it carries an AMQP reply
   * code) rejects with that code; a call that only failed because another call's refusal closed the shared
   * channel is retried once on a fresh channel.
   */
  private async declare(what: string, fn: (ch: Channel) => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const ch = await this.declareChannel();
      try {
        await fn(ch);
        return;
      } catch (err) {
        const code = codeOf(err);
        if (code === undefined && attempt === 0 && this.conn && !this.closing) continue;
        if (code === undefined && !this.conn) {
          throw new BrokerUnavailableError(`connection lost while trying ${what}: ${errMessage(err)}`, {
            cause: err,
          });
        }
        throw new BrokerOperationError(`RabbitMQ refused ${what}: ${errMessage(err)}`, { cause: err, code });
      }
    }
  }

  /**
   * Publishes `total` messages to the default exchange with routing key `queue`, honouring back-pressure
   * (publish() false → wait for 'drain') and at most maxUnconfirmed unconfirmed messages; resolves once the broker
   * confirmed all of them, rejects on a nack, an unroutable message, or a channel/connection loss.
   */
  private async publishMany(
    queue: string,
    total: number,
    build: (i: number) => CeleryMessage,
  ): Promise<void> {
    const ch = await this.publishChannel();
    const op = new PublishOp(queue, total, ch, Math.floor(this.maxUnconfirmed / 2));
    this.ops.add(op);
    const limit = this.maxUnconfirmed;
    const raw = this.fastPublish ? rawChannelOf(ch) : null;
    const methods = new Map<boolean, Buffer>();
    const send = (content: Buffer, options: Options.Publish): boolean => {
      if (raw) {
        // A closing/closed amqplib channel has its own sendMessage replaced by a thrower: let it throw.
        if (Object.hasOwn(raw, "sendMessage")) raw.sendMessage();
        const slot = raw.connection.channels[raw.ch];
        if (!slot || slot.channel !== ch) throw new BrokerUnavailableError("publish channel closed");
        const mandatory = options.mandatory === true;
        let method = methods.get(mandatory);
        if (!method) {
          method = encodePublishMethod(raw.ch, "", queue, mandatory);
          methods.set(mandatory, method);
        }
        const frames = encodePublishFrames(raw.ch, method, content, options, raw.connection.frameMax);
        if (frames) {
          const ok = slot.buffer.write(frames);
          raw.connection.sentSinceLastCheck = true;
          raw.pushConfirmCallback(op.onConfirm);
          return ok;
        }
      }
      return ch.publish("", queue, content, options, op.onConfirm);
    };
    const pump = (): void => {
      let sinceYield = 0;
      while (!op.done && op.published < total) {
        if (op.published - op.confirmed >= limit) {
          op.park("window", pump);
          return;
        }
        if (sinceYield >= YIELD_EVERY) {
          // Let acks, drains and other work in (building 100k messages must not block the event loop).
          setImmediate(pump);
          return;
        }
        let ok: boolean;
        try {
          const { content, options } = build(op.published);
          op.published++;
          ok = send(content, options);
        } catch (err) {
          op.fail(
            err instanceof BrokerUnavailableError
              ? err
              : err instanceof Error && err.name === "IllegalOperationError"
                ? new BrokerUnavailableError(`publish channel closed: ${err.message}`, { cause: err })
                : new BrokerOperationError(`publish to ${queue} failed: ${errMessage(err)}`, { cause: err }),
          );
          return;
        }
        sinceYield++;
        if (!ok) {
          op.park("drain", pump);
          return;
        }
      }
    };
    pump();
    try {
      await op.promise;
    } finally {
      this.ops.delete(op);
    }
  }

  private track<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new BrokerUnavailableError("broker closed"));
    let p: Promise<T>;
    try {
      this.requireConnection();
      p = fn();
    } catch (err) {
      return Promise.reject(err);
    }
    this.pendingCalls.add(p);
    const forget = () => {
      this.pendingCalls.delete(p);
    };
    p.then(forget, forget);
    return p;
  }
}

function codeOf(err: unknown): number | undefined {
  if (err && typeof err === "object" && "code" in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === "number") return code;
  }
  return undefined;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, "//$1:***@");
}

// ---------------------------------------------------------------------------------------------------------------
// Fast publish path: the frames come from amqpFrames.ts (byte-identical to amqplib's encoding, ~10x cheaper);
// publishMany() writes them to the channel's own write buffer, then registers the confirm callback exactly as
// ConfirmChannel#publish does. That needs a few of amqplib's private fields, checked here at run time; when one
// is missing, every message goes through ch.publish() instead.

/** The amqplib internals the fast path relies on (checked at run time; absent → plain ch.publish). */
interface RawConnection {
  channels: Array<{ channel: unknown; buffer: { write(chunk: Buffer): boolean } } | null | undefined>;
  frameMax: number;
  sentSinceLastCheck: boolean;
}
interface RawChannel {
  ch: number;
  connection: RawConnection;
  pushConfirmCallback(cb: (err: unknown) => void): void;
  sendMessage(...args: unknown[]): unknown;
}

/** The raw channel behind an amqplib ConfirmChannel when the fast path can use it, else null. */
export function rawChannelOf(ch: ConfirmChannel): RawChannel | null {
  const raw = ch as unknown as Partial<RawChannel>;
  const conn = raw.connection as Partial<RawConnection> | undefined;
  if (
    typeof raw.ch === "number" &&
    typeof raw.pushConfirmCallback === "function" &&
    conn &&
    Array.isArray(conn.channels) &&
    typeof conn.frameMax === "number" &&
    typeof conn.channels[raw.ch]?.buffer?.write === "function" &&
    conn.channels[raw.ch]?.channel === ch
  ) {
    return raw as RawChannel;
  }
  return null;
}
