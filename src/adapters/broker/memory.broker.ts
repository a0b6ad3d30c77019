// In-process TaskBroker of the embedded default (no RABBIT_MQ_URL, docs/decisions.md D14). Messages are encoded exactly as
// for RabbitMQ (celery.ts) and kept in per-queue FIFO queues; local transformers take them with consume()
// (handler resolves → ack; handler throws → the message goes back to the front of its queue: at-least-once;
// the consumer whose handler threw backs off briefly, so a handler that keeps failing does not spin).
// It never disconnects, so onConnected listeners are never called (the dispatcher checks isConnected() at start).

import { randomUUID } from "node:crypto";
import type { Options } from "amqplib";
import type { LookupTask, TaskBroker, TransformTask } from "../../domain/ports.js";
import {
  type CeleryMessage,
  buildLookupMessage,
  buildTransformMessage,
  defaultOrigin,
  lookupQueueName,
  transformQueueName,
} from "./celery.js";

export interface ConsumedMessage {
  content: Buffer;
  options: Options.Publish;
  /** options.headers (the Celery headers). */
  headers: Record<string, unknown>;
  /** JSON-decoded body: [args, kwargs, embed]. */
  body: unknown;
  queue: string;
  /** True when this message was handed out before and requeued because a handler threw. */
  redelivered: boolean;
}

export type ConsumeHandler = (msg: ConsumedMessage) => Promise<void>;

/**
 * A queued message, kept compact: its task and task id. The Celery encoding is built from them when the message
 * is handed out (same id, so a redelivery is byte-identical); holding 100,000 fully built messages (two repr
 * strings and a 19-key header object each) made every young-generation GC copy them, ~20 µs per message.
 */
type Stored =
  | { kind: "transform"; task: TransformTask; id: string; redelivered: boolean }
  | { kind: "lookup"; task: LookupTask; id: string; redelivered: boolean };

/** A FIFO with O(1) push, shift and unshift. */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  unshift(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  toArray(): T[] {
    return this.items.slice(this.head) as T[];
  }
}

interface Consumer {
  handler: ConsumeHandler;
  prefetch: number;
  inFlight: number;
  cancelled: boolean;
  /** Consecutive handler failures, and the time before which this consumer gets nothing new. */
  failures: number;
  pausedUntil: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
}

export interface ConsumeOptions {
  /** Messages handed out and not yet settled, at most (default 1, like the sidecar's prefetch multiplier). */
  prefetch?: number;
  /**
   * After a handler fails, that consumer waits before taking another message (the failed one is back at the front
   * for any consumer): initialMs doubling per consecutive failure up to maxMs, reset by a success. Keeps a
   * consumer whose handler keeps failing from spinning. Default 10 ms → 1,000 ms; initialMs 0 disables it.
   */
  retryBackoff?: { initialMs?: number; maxMs?: number };
}

interface Queue {
  name: string;
  messages: Fifo<Stored>;
  consumers: Consumer[];
  /** Round-robin position among consumers. */
  next: number;
  /** Pending dispatch for when a backing-off consumer may take messages again. */
  timer: NodeJS.Timeout | null;
  timerAt: number;
  dispatchScheduled: boolean;
  deleted: boolean;
}

export interface MemoryBrokerOptions {
  /** `origin` header of the messages; Celery's `gen<pid>@<hostname>` by default. */
  origin?: string;
}

export class MemoryBroker implements TaskBroker {
  private readonly origin: string;
  private readonly queues = new Map<string, Queue>();
  private readonly listeners = new Set<() => void>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(opts: MemoryBrokerOptions = {}) {
    this.origin = opts.origin ?? defaultOrigin();
  }

  /** Nothing to connect; present so both brokers offer start() and close(). */
  async start(): Promise<void> {}

  isConnected(): boolean {
    return !this.closed;
  }

  onConnected(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async publishTransformTasks(requestId: string, tasks: readonly TransformTask[]): Promise<void> {
    this.ensureOpen();
    const q = this.declare(transformQueueName(requestId));
    for (const t of tasks) {
      // A copy: what was published must not change if the caller reuses its objects.
      const task: TransformTask = {
        request_id: t.request_id,
        file_id: t.file_id,
        paths: [...t.paths],
        service_endpoint: t.service_endpoint,
        result_destination: t.result_destination,
        result_format: t.result_format,
      };
      q.messages.push({ kind: "transform", task, id: randomUUID(), redelivered: false });
    }
    this.scheduleDispatch(q);
  }

  async publishLookup(task: LookupTask): Promise<void> {
    this.ensureOpen();
    const q = this.declare(lookupQueueName(task.scheme));
    q.messages.push({ kind: "lookup", task: { ...task }, id: randomUUID(), redelivered: false });
    this.scheduleDispatch(q);
  }

  async deleteTransformQueue(requestId: string): Promise<void> {
    this.ensureOpen();
    this.deleteQueue(transformQueueName(requestId));
  }

  /** Deletes a queue with its messages and consumers; a missing queue is not an error. */
  deleteQueue(name: string): void {
    const q = this.queues.get(name);
    if (!q) return;
    q.deleted = true;
    if (q.timer) clearTimeout(q.timer);
    q.timer = null;
    for (const c of q.consumers) c.cancelled = true;
    q.consumers = [];
    q.messages = new Fifo();
    this.queues.delete(name);
  }

  /** Ready messages in `name` (not counting those being handled), or null when the queue does not exist. */
  async queueDepth(name: string): Promise<number | null> {
    return this.queues.get(name)?.messages.length ?? null;
  }

  /** Ready messages of `name`, oldest first, decoded like consume() hands them out (for tests). */
  messages(name: string): ConsumedMessage[] {
    const q = this.queues.get(name);
    if (!q) return [];
    return q.messages.toArray().map((m) => this.decode(name, m));
  }

  /** Names of the queues that exist. */
  queueNames(): string[] {
    return [...this.queues.keys()];
  }

  /**
   * Takes messages from `queue` (created if missing, as a consumer's declare would) with at most `prefetch`
   * (default 1) unacknowledged at a time, round-robin among consumers; see ConsumeOptions for the back-off after a
   * failure. Returns a function that cancels the consumer; messages it is handling still ack or requeue when
   * their handler settles.
   */
  consume(queue: string, handler: ConsumeHandler, opts: ConsumeOptions = {}): () => void {
    this.ensureOpen();
    const q = this.declare(queue);
    const consumer: Consumer = {
      handler,
      prefetch: Math.max(1, opts.prefetch ?? 1),
      inFlight: 0,
      cancelled: false,
      failures: 0,
      pausedUntil: 0,
      backoffInitialMs: Math.max(0, opts.retryBackoff?.initialMs ?? 10),
      backoffMaxMs: Math.max(0, opts.retryBackoff?.maxMs ?? 1000),
    };
    q.consumers.push(consumer);
    this.scheduleDispatch(q);
    return () => {
      if (consumer.cancelled) return;
      consumer.cancelled = true;
      q.consumers = q.consumers.filter((c) => c !== consumer);
    };
  }

  /** Stops delivering, waits for the handlers in progress, and refuses further calls. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const q of this.queues.values()) {
      if (q.timer) clearTimeout(q.timer);
      q.timer = null;
      for (const c of q.consumers) c.cancelled = true;
    }
    await Promise.allSettled([...this.inFlight]);
  }

  private ensureOpen(): void {
    if (this.closed) throw new Error("in-process broker is closed");
  }

  /** Queue flags are not modelled: every queue lives until deleteQueue()/deleteTransformQueue(). */
  private declare(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = {
        name,
        messages: new Fifo(),
        consumers: [],
        next: 0,
        timer: null,
        timerAt: 0,
        dispatchScheduled: false,
        deleted: false,
      };
      this.queues.set(name, q);
    }
    return q;
  }

  private decode(queue: string, m: Stored): ConsumedMessage {
    const opts = { origin: this.origin, id: m.id };
    const built: CeleryMessage =
      m.kind === "transform" ? buildTransformMessage(m.task, opts) : buildLookupMessage(m.task, opts);
    return {
      content: built.content,
      options: built.options,
      headers: (built.options.headers ?? {}) as Record<string, unknown>,
      body: JSON.parse(built.content.toString("utf8")),
      queue,
      redelivered: m.redelivered,
    };
  }

  private scheduleDispatch(q: Queue): void {
    if (q.dispatchScheduled || q.consumers.length === 0 || q.messages.length === 0) return;
    q.dispatchScheduled = true;
    // setImmediate: a handler that always throws cannot starve the event loop.
    setImmediate(() => {
      q.dispatchScheduled = false;
      this.dispatch(q);
    });
  }

  private dispatch(q: Queue): void {
    if (this.closed || q.deleted) return;
    const now = Date.now();
    while (q.messages.length > 0) {
      const consumer = this.pickConsumer(q, now);
      if (!consumer) {
        this.wakeWhenUnpaused(q, now);
        return;
      }
      const msg = q.messages.shift()!;
      consumer.inFlight++;
      const run = this.deliver(q, consumer, msg);
      this.inFlight.add(run);
      void run.finally(() => this.inFlight.delete(run));
    }
  }

  /** A consumer that backs off after failures: dispatch again when the first one may take messages. */
  private wakeWhenUnpaused(q: Queue, now: number): void {
    let at = Number.POSITIVE_INFINITY;
    for (const c of q.consumers) {
      if (!c.cancelled && c.inFlight < c.prefetch && c.pausedUntil > now) at = Math.min(at, c.pausedUntil);
    }
    if (at === Number.POSITIVE_INFINITY || (q.timer && q.timerAt <= at)) return;
    if (q.timer) clearTimeout(q.timer);
    q.timerAt = at;
    q.timer = setTimeout(() => {
      q.timer = null;
      this.dispatch(q);
    }, at - now);
  }

  private pickConsumer(q: Queue, now: number): Consumer | undefined {
    const n = q.consumers.length;
    for (let i = 0; i < n; i++) {
      const c = q.consumers[(q.next + i) % n]!;
      if (!c.cancelled && c.inFlight < c.prefetch && c.pausedUntil <= now) {
        q.next = (q.next + i + 1) % n;
        return c;
      }
    }
    return undefined;
  }

  private async deliver(q: Queue, consumer: Consumer, msg: Stored): Promise<void> {
    let ok = false;
    try {
      await consumer.handler(this.decode(q.name, msg));
      ok = true;
    } catch {
      ok = false;
    }
    consumer.inFlight--;
    if (ok) {
      consumer.failures = 0;
    } else {
      consumer.failures++;
      if (consumer.backoffInitialMs > 0) {
        const delay = Math.min(
          consumer.backoffMaxMs,
          consumer.backoffInitialMs * 2 ** Math.min(consumer.failures - 1, 30),
        );
        consumer.pausedUntil = Date.now() + delay;
      }
      if (!q.deleted) q.messages.unshift({ ...msg, redelivered: true });
    }
    this.scheduleDispatch(q);
  }
}
