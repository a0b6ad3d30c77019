// Local transformers of the embedded default (no Kubernetes): in-process consumers on `transformer-<request_id>`
// of the in-process broker, each running the built-in reference transformer (reference.transformer.ts) for every
// task it takes.
//
// Honest scope: this is a pipeline test for the embedded default, not a physics transformer. Whatever the
// code generator and selection, each input file is copied unchanged to the results directory; only the
// `passthrough` generator's meaning is implemented. The environment and arguments a transformer pod would get
// (the generated-code ConfigMap, the science image, TRANSFORMER_LANGUAGE/COMMAND, the broker URL, result
// destination settings…) are not needed in-process: the task's kwargs carry everything the reference
// transformer uses, and `spec.generatedCode`, `spec.image` and the language/command are ignored here.
// Not yet: uploading to an object store, and workers in separate processes.

import type { Logger } from "../../logger.js";
import type { LaunchSpec, TransformTask, TransformerLauncher } from "../../domain/ports.js";
import { transformQueueName } from "../broker/celery.js";
import { type TransformOutcome, transformFile } from "./reference.transformer.js";

/** What the launcher needs from a broker: MemoryBroker.consume() (ack on resolve, requeue on throw). */
export interface TaskSource {
  consume(
    queue: string,
    handler: (msg: { body: unknown }) => Promise<void>,
    opts?: { prefetch?: number },
  ): () => void;
}

export interface LocalLauncherOptions {
  broker: TaskSource;
  resultsDir: string;
  /** Most consumers per request (default 2); a request asking for fewer workers gets fewer. */
  workers?: number;
  logger?: Logger;
  /** `place.site` of the reports (default "local"). */
  site?: string;
  /** Called after every task (tests, metrics). */
  onTask?: (task: TransformTask, outcome: TransformOutcome) => void;
}

interface Running {
  cancels: Array<() => void>;
  abort: AbortController;
}

export class LocalLauncher implements TransformerLauncher {
  readonly kind = "local";
  private readonly running = new Map<string, Running>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxWorkers: number;

  constructor(private readonly opts: LocalLauncherOptions) {
    this.maxWorkers = Math.max(1, Math.trunc(opts.workers ?? 2));
  }

  /** Starts min(workers, max(1, spec.workers)) consumers; a second start for a running request does nothing. */
  async start(spec: LaunchSpec): Promise<void> {
    if (this.running.has(spec.requestId)) return;
    const asked = Number.isFinite(spec.workers) ? Math.trunc(spec.workers) : 1;
    const n = Math.min(this.maxWorkers, Math.max(1, asked));
    const run: Running = { cancels: [], abort: new AbortController() };
    this.running.set(spec.requestId, run);
    const queue = transformQueueName(spec.requestId);
    for (let i = 0; i < n; i++) {
      const hostName = `local-transformer-${spec.requestId}-${i}`;
      run.cancels.push(
        this.opts.broker.consume(queue, (msg) => this.track(this.handle(msg.body, hostName, run)), {
          prefetch: 1,
        }),
      );
    }
    this.opts.logger?.info({ requestId: spec.requestId, workers: n }, "local transformers started");
  }

  /** Cancels the consumers and aborts downloads in progress (those tasks are not reported). Idempotent. */
  async shutdown(requestId: string): Promise<void> {
    const run = this.running.get(requestId);
    if (!run) return;
    this.running.delete(requestId);
    for (const cancel of run.cancels) cancel();
    run.abort.abort();
    this.opts.logger?.info({ requestId }, "local transformers stopped");
  }

  /** Number of requests with consumers. */
  runningRequests(): string[] {
    return [...this.running.keys()];
  }

  /** Shuts every request down and waits for the tasks in progress to settle. */
  async close(): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.shutdown(id)));
    await Promise.allSettled([...this.inFlight]);
  }

  private track(p: Promise<void>): Promise<void> {
    this.inFlight.add(p);
    return p.finally(() => this.inFlight.delete(p));
  }

  /**
   * Never throws: the broker would requeue the task and it would fail again. A bad message is logged and
   * dropped; a bad input is a failure report; an undeliverable report is logged.
   */
  private async handle(body: unknown, hostName: string, run: Running): Promise<void> {
    const task = taskOf(body);
    const log = this.opts.logger;
    if (!task) {
      log?.error(
        { body: String(JSON.stringify(body)).slice(0, 500) },
        "local transformer: not a transform task",
      );
      return;
    }
    try {
      const outcome = await transformFile(task, {
        resultsDir: this.opts.resultsDir,
        hostName,
        site: this.opts.site,
        signal: run.abort.signal,
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

/** The kwargs of a Celery transform task ([args, kwargs, embed]), checked field by field. */
function taskOf(body: unknown): TransformTask | null {
  if (!Array.isArray(body)) return null;
  const k = body[1] as Record<string, unknown> | undefined;
  if (!k || typeof k !== "object") return null;
  const { request_id, file_id, paths, service_endpoint, result_destination, result_format } = k;
  if (
    typeof request_id !== "string" ||
    typeof file_id !== "number" ||
    !Array.isArray(paths) ||
    !paths.every((p) => typeof p === "string") ||
    typeof service_endpoint !== "string" ||
    typeof result_destination !== "string" ||
    typeof result_format !== "string"
  ) {
    return null;
  }
  return { request_id, file_id, paths, service_endpoint, result_destination, result_format };
}
