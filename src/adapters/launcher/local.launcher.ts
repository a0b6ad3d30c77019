// Local transformers of the embedded default (TRANSFORMER_MANAGER_MODE=local, no Kubernetes). Per request the
// launcher starts min(workers, LOCAL_TRANSFORMER_WORKERS) transformers, each a consumer of `transformer-<id>`
// on the in-process broker running the built-in reference transformer (reference.transformer.ts) per task:
//   - processes (default): each transformer is a worker process (transformer.worker.ts) started with the
//     arguments and environment a transformer pod's sidecar gets (--request-id, --result-destination,
//     --result-format, --output-dir, MINIO_*, POD_NAME…); the launcher hands it one task at a time over IPC and
//     acknowledges the task when the worker says it is done. A worker that dies gives its task back to the
//     queue (at-least-once, as a pod would) and is restarted a bounded number of times.
//   - inline (`processes: false`): the same transformer in the App's process (tests, tiny machines).
//
// Honest scope: a pipeline test for the embedded default, not a physics transformer. Whatever the code
// generator and selection, each input file is delivered unchanged (the `passthrough` generator's meaning):
// copied to RESULTS_DIR/<request_id>/, or uploaded to bucket <request_id> when the request's destination is
// object-store and an object store is configured. The science image and generated code are not run.

import { type ChildProcess, fork } from "node:child_process";
import { mkdir, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LaunchSpec, TransformTask, TransformerLauncher } from "../../domain/ports.js";
import type { Logger } from "../../logger.js";
import { transformQueueName } from "../broker/celery.js";
import type { ObjectStore } from "../objectStore/objectStore.js";
import { taskFromCeleryBody } from "./localTask.js";
import { type TransformOutcome, transformFile } from "./reference.transformer.js";
import type { WorkerMessage } from "./transformer.worker.js";

/** What the launcher needs from a broker: MemoryBroker.consume() (ack on resolve, requeue on throw). */
export interface TaskSource {
  consume(
    queue: string,
    handler: (msg: { body: unknown }) => Promise<void>,
    opts?: { prefetch?: number },
  ): () => void;
}

/** Object-store settings handed to worker processes as a pod's MINIO_* environment. */
export interface LocalObjectStoreSettings {
  url: string;
  accessKey: string;
  secretKey: string;
  secure: boolean;
}

export interface LocalLauncherOptions {
  broker: TaskSource;
  resultsDir: string;
  /** Most transformers per request (default 2); a request asking for fewer workers gets fewer. */
  workers?: number;
  /** Run transformers as worker processes (default true) or inside the App's process. */
  processes?: boolean;
  /** Object-store destination: worker processes get these as MINIO_* env; inline mode uploads with `objectStore`. */
  objectStoreSettings?: LocalObjectStoreSettings | null;
  objectStore?: ObjectStore | null;
  /** Pod environment extras (LOG_LEVEL, INSTANCE_NAME, CACHE_PREFIX). */
  logLevel?: string;
  instanceName?: string;
  cachePrefix?: string | null;
  logger?: Logger;
  /** `place.site` of the reports in inline mode (default "local"). */
  site?: string;
  /** Restarts per worker slot after a crash (default 3). */
  maxRestarts?: number;
  /** Called after every task (tests, metrics). Inline mode only. */
  onTask?: (task: TransformTask, outcome: TransformOutcome) => void;
}

// Compiled (dist/, npm start, the image) the worker is plain JavaScript beside this file; run from the sources
// (tsx, vitest) it is TypeScript and needs tsx's loader, which a production install does not have.
const COMPILED = import.meta.url.endsWith(".js");
const WORKER_ENTRY = fileURLToPath(
  new URL(`./transformer.worker.${COMPILED ? "js" : "ts"}`, import.meta.url),
);

interface Running {
  cancels: Array<() => void>;
  abort: AbortController;
  workers: WorkerProcess[];
}

export class LocalLauncher implements TransformerLauncher {
  readonly kind = "local";
  private readonly running = new Map<string, Running>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxWorkers: number;

  constructor(private readonly opts: LocalLauncherOptions) {
    this.maxWorkers = Math.max(1, Math.trunc(opts.workers ?? 2));
  }

  get processes(): boolean {
    return this.opts.processes ?? true;
  }

  /** Starts min(workers, max(1, spec.workers)) transformers; a second start for a running request does nothing. */
  async start(spec: LaunchSpec): Promise<void> {
    if (this.running.has(spec.requestId)) return;
    const asked = Number.isFinite(spec.workers) ? Math.trunc(spec.workers) : 1;
    const n = Math.min(this.maxWorkers, Math.max(1, asked));
    const run: Running = { cancels: [], abort: new AbortController(), workers: [] };
    this.running.set(spec.requestId, run);
    const queue = transformQueueName(spec.requestId);
    for (let i = 0; i < n; i++) {
      const podName = `transformer-${spec.requestId}-${i}`;
      if (this.processes) {
        const worker = new WorkerProcess(this.workerCommand(spec, podName, i), this.opts, podName);
        run.workers.push(worker);
        const cancel = this.opts.broker.consume(queue, (msg) => worker.run(msg.body), { prefetch: 1 });
        worker.onGiveUp = cancel;
        run.cancels.push(cancel);
      } else {
        const handler = (msg: { body: unknown }) => this.track(this.handleInline(msg.body, podName, run));
        run.cancels.push(this.opts.broker.consume(queue, handler, { prefetch: 1 }));
      }
    }
    this.opts.logger?.info(
      { requestId: spec.requestId, workers: n, processes: this.processes },
      "local transformers started",
    );
  }

  /** Cancels the consumers and stops the transformers (tasks in progress are not reported). Idempotent. */
  async shutdown(requestId: string): Promise<void> {
    const run = this.running.get(requestId);
    if (!run) return;
    this.running.delete(requestId);
    for (const cancel of run.cancels) cancel();
    run.abort.abort();
    await Promise.all(run.workers.map((w) => w.stop()));
    await rm(join(this.opts.resultsDir, ".scratch", requestId), { recursive: true, force: true }).catch(
      () => {},
    );
    this.opts.logger?.info({ requestId }, "local transformers stopped");
  }

  /** Requests with transformers. */
  runningRequests(): string[] {
    return [...this.running.keys()];
  }

  /** Process ids of a request's worker processes (tests, the bench). */
  workerPids(requestId: string): number[] {
    return (this.running.get(requestId)?.workers ?? []).flatMap((w) => (w.pid ? [w.pid] : []));
  }

  /** Shuts every request down and waits for the tasks in progress to settle. */
  async close(): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.shutdown(id)));
    await Promise.allSettled([...this.inFlight]);
  }

  /** The sidecar's arguments and the pod environment (docs/kubernetes.md), for a worker process. */
  private workerCommand(spec: LaunchSpec, podName: string, slot: number): WorkerCommand {
    const o = this.opts;
    const scratch = join(o.resultsDir, ".scratch", spec.requestId, String(slot));
    const args = [
      "--shared-dir",
      scratch,
      "--request-id",
      spec.requestId,
      "--rabbit-uri",
      "ipc:",
      "--result-destination",
      spec.resultDestination,
      "--result-format",
      spec.resultFormat,
      "--output-dir",
      o.resultsDir,
    ];
    const env: Record<string, string> = {
      LOG_LEVEL: (o.logLevel ?? "info").toUpperCase(),
      POD_NAME: podName,
      HOST_NAME: hostname(),
    };
    if (o.instanceName) env.INSTANCE_NAME = o.instanceName;
    if (o.cachePrefix) env.CACHE_PREFIX = o.cachePrefix;
    const s = o.objectStoreSettings;
    if (spec.resultDestination === "object-store" && s) {
      env.MINIO_URL = s.url;
      env.MINIO_ACCESS_KEY = s.accessKey;
      env.MINIO_SECRET_KEY = s.secretKey;
      env.MINIO_ENCRYPT = s.secure ? "True" : "False";
    }
    return { args, env, scratch };
  }

  private track(p: Promise<void>): Promise<void> {
    this.inFlight.add(p);
    return p.finally(() => this.inFlight.delete(p));
  }

  /**
   * Inline mode. Never throws: the broker would requeue the task and it would fail again. A bad message is
   * logged and dropped; a bad input is a failure report; an undeliverable report is logged.
   */
  private async handleInline(body: unknown, hostName: string, run: Running): Promise<void> {
    const task = taskFromCeleryBody(body);
    const log = this.opts.logger;
    if (!task) {
      log?.error(
        { body: String(JSON.stringify(body)).slice(0, 500) },
        "local transformer: not a transform task",
      );
      return;
    }
    const store = task.result_destination === "object-store" ? this.opts.objectStore : null;
    try {
      const outcome = await transformFile(task, {
        resultsDir: store ? join(this.opts.resultsDir, ".scratch", task.request_id) : this.opts.resultsDir,
        hostName,
        site: this.opts.site,
        signal: run.abort.signal,
        ...(store ? { upload: (bucket, key, path) => store.putFile(bucket, key, path) } : {}),
      });
      if (outcome.reportError && !run.abort.signal.aborted) {
        log?.error(
          { requestId: task.request_id, fileId: task.file_id, err: outcome.reportError },
          "local transformer: report not accepted",
        );
      }
      this.opts.onTask?.(task, outcome);
    } catch (e) {
      log?.error(
        { requestId: task.request_id, fileId: task.file_id, err: String(e) },
        "local transformer: task failed",
      );
    }
  }
}

interface WorkerCommand {
  args: string[];
  env: Record<string, string>;
  scratch: string;
}

/**
 * One worker process slot: started lazily, one task at a time. `run(body)` resolves when the worker reports the
 * task done and rejects when it dies first (the broker then requeues the task).
 */
class WorkerProcess {
  private child: ChildProcess | null = null;
  private ready: Promise<void> | null = null;
  private pending: { seq: number; resolve: () => void; reject: (e: Error) => void } | null = null;
  private seq = 0;
  private restarts = 0;
  private stopped = false;
  /** Called once when the slot stops restarting its process (the launcher cancels the slot's consumer). */
  onGiveUp: (() => void) | null = null;

  constructor(
    private readonly cmd: WorkerCommand,
    private readonly opts: LocalLauncherOptions,
    private readonly podName: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async run(body: unknown): Promise<void> {
    if (this.stopped) throw new Error("transformer stopped");
    await this.ensureStarted();
    const child = this.child;
    if (!child || this.stopped) throw new Error("transformer stopped");
    const seq = ++this.seq;
    await new Promise<void>((resolve, reject) => {
      this.pending = { seq, resolve, reject };
      child.send({ type: "task", seq, body } satisfies WorkerMessage);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    if (child.connected) child.send({ type: "stop" } satisfies WorkerMessage);
    const kill = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(kill);
  }

  private ensureStarted(): Promise<void> {
    if (this.ready) return this.ready;
    this.ready = this.spawn();
    return this.ready;
  }

  private async spawn(): Promise<void> {
    await mkdir(this.cmd.scratch, { recursive: true });
    const child = fork(WORKER_ENTRY, this.cmd.args, {
      env: { PATH: process.env.PATH ?? "", ...this.cmd.env },
      execArgv: COMPILED ? [] : ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.child = child;
    const log = this.opts.logger;
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: WorkerMessage) => {
        if (m.type === "ready") return resolve();
        if (m.type === "done" && this.pending?.seq === m.seq) {
          const p = this.pending;
          this.pending = null;
          if (m.reportError) {
            log?.error(
              { pod: this.podName, fileId: m.fileId, err: m.reportError },
              "local transformer: report not accepted",
            );
          }
          p.resolve();
        }
      };
      child.on("message", onMessage);
      child.once("error", reject);
      child.once("exit", (code, signal) => {
        reject(new Error(`worker exited before it was ready (${code ?? signal})`));
        const p = this.pending;
        this.pending = null;
        this.child = null;
        this.ready = null;
        if (this.stopped) {
          p?.reject(new Error("transformer stopped"));
          return;
        }
        log?.warn({ pod: this.podName, code, signal }, "local transformer process died");
        p?.reject(new Error(`transformer process died (${code ?? signal})`));
        if (this.restarts >= (this.opts.maxRestarts ?? 3)) {
          // No more restarts: the slot keeps refusing tasks, which go to the other workers of the request.
          this.stopped = true;
          this.onGiveUp?.();
          log?.error({ pod: this.podName }, "local transformer keeps dying; slot given up");
        } else {
          this.restarts++;
        }
      });
    });
  }
}
