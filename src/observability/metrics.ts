// Prometheus metrics (docs/api.md, docs/decisions.md D15): the series of upstream's metrics.py plus our own (broker
// publishes and confirms, file-complete batch sizes, reconciler actions, scrape errors).
// Each App owns its Registry (never prom-client's global one): tests build several Apps in one process.
// The database gauges are read right before each scrape, by one shared query round per scrape; a database
// error leaves them at their last values and counts servicex_metrics_scrape_errors_total, and the scrape
// still answers.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Request, RequestHandler } from "express";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { TRANSFORM_STATUS_DISPLAY } from "../domain/status.js";
import type { Logger } from "../logger.js";
import type { PublishKind, PublishObserver } from "./observedBroker.js";

/** What the database gauges show; each function is one narrow repository query. */
export interface MetricsSource {
  /** Requests per status *name*, and the sums of their files_completed / files_failed counters. */
  requests(): Promise<{ byStatus: Record<string, number>; filesCompleted: number; filesFailed: number }>;
  /** Live (non-stale) datasets per lookup_status. */
  datasets(): Promise<Record<string, number>>;
  users(): Promise<{ pending: number; approved: number }>;
}

export interface MetricsSettings {
  version: string;
  instance: string;
  /** Omitted: no database gauges (unit tests). */
  source?: MetricsSource;
  logger?: Logger;
  /** A scrape waits at most this long for the database (Prometheus' own scrape timeout is 10 s). */
  dbTimeoutMs?: number;
}

/** Every lookup_status a dataset can have (domain/status.ts), shown with 0 when no dataset has it. */
const LOOKUP_STATUSES = ["created", "looking", "complete", "does_not_exist", "bad_name", "internal_failure"];

/** url_rule of requests no route matched (404s): one constant value, never the raw URL. */
export const UNMATCHED_ROUTE = "unmatched";

interface DbSnapshot {
  requests: Awaited<ReturnType<MetricsSource["requests"]>>;
  datasets: Record<string, number>;
  users: { pending: number; approved: number };
}

export class Metrics {
  readonly registry = new Registry();
  private readonly httpTotal: Counter<"method" | "status">;
  private readonly httpDuration: Histogram<"method" | "status" | "url_rule">;
  private readonly published: Counter<"kind">;
  private readonly confirmed: Counter<"kind">;
  private readonly publishErrors: Counter<"kind">;
  private readonly batchSize: Histogram;
  private readonly reconcilerActions: Counter<"action">;
  private readonly scrapeErrors: Counter;
  /** The database round of the scrape in progress, shared by every gauge's collect(). */
  private snapshot: Promise<DbSnapshot | null> | null = null;

  constructor(private readonly settings: MetricsSettings) {
    const registers = [this.registry];
    this.httpTotal = new Counter({
      name: "servicex_app_http_request_total",
      help: "HTTP requests answered, by method and status code",
      labelNames: ["method", "status"],
      registers,
    });
    this.httpDuration = new Histogram({
      name: "servicex_app_http_request_duration_seconds",
      help: "HTTP request duration in seconds, by method, status code and route template",
      labelNames: ["method", "status", "url_rule"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    new Gauge({
      name: "servicex_app_info",
      help: "ServiceX App version and instance name (always 1)",
      labelNames: ["version", "instance"],
      registers,
    }).set({ version: settings.version, instance: settings.instance }, 1);
    this.published = new Counter({
      name: "servicex_broker_published_total",
      help: "Messages handed to the broker (transform tasks, DID-finder lookups)",
      labelNames: ["kind"],
      registers,
    });
    this.confirmed = new Counter({
      name: "servicex_broker_confirmed_total",
      help: "Published messages the broker confirmed",
      labelNames: ["kind"],
      registers,
    });
    this.publishErrors = new Counter({
      name: "servicex_broker_publish_errors_total",
      help: "Published messages not confirmed (connection lost or nacked); the dispatcher publishes them again",
      labelNames: ["kind"],
      registers,
    });
    for (const kind of ["transform", "lookup"] as const) {
      this.published.inc({ kind }, 0);
      this.confirmed.inc({ kind }, 0);
      this.publishErrors.inc({ kind }, 0);
    }
    this.batchSize = new Histogram({
      name: "servicex_file_complete_batch_size",
      help: "File-complete reports written per database transaction (group commit)",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    });
    this.reconcilerActions = new Counter({
      name: "servicex_reconciler_actions_total",
      help: "Actions of the reconciler on stuck requests, by action",
      labelNames: ["action"],
      registers,
    });
    const self = this;
    this.scrapeErrors = new Counter({
      name: "servicex_metrics_scrape_errors_total",
      help: "Scrapes whose database gauges could not be refreshed (they keep their last values)",
      registers,
      // Waits for this scrape's database round, so that its failure shows in this very scrape.
      async collect() {
        await self.refresh();
      },
    });
    if (!settings.source) return;
    new Gauge({
      name: "servicex_transform_requests",
      help: "Transform requests by status",
      labelNames: ["status"],
      registers,
      async collect() {
        const s = await self.refresh();
        if (!s) return;
        this.reset();
        for (const status of Object.keys(TRANSFORM_STATUS_DISPLAY)) this.set({ status }, 0);
        for (const [status, n] of Object.entries(s.requests.byStatus)) this.set({ status }, n);
      },
    });
    new Gauge({
      name: "servicex_transform_files",
      help: "Files of all transform requests by outcome (sums of the requests' counters)",
      labelNames: ["outcome"],
      registers,
      async collect() {
        const s = await self.refresh();
        if (!s) return;
        this.set({ outcome: "completed" }, s.requests.filesCompleted);
        this.set({ outcome: "failed" }, s.requests.filesFailed);
      },
    });
    new Gauge({
      name: "servicex_datasets",
      help: "Datasets (not deleted) by lookup status",
      labelNames: ["lookup_status"],
      registers,
      async collect() {
        const s = await self.refresh();
        if (!s) return;
        this.reset();
        for (const lookup_status of LOOKUP_STATUSES) this.set({ lookup_status }, 0);
        for (const [lookup_status, n] of Object.entries(s.datasets)) this.set({ lookup_status }, n);
      },
    });
    new Gauge({
      name: "servicex_users",
      help: "Users by state",
      labelNames: ["state"],
      registers,
      async collect() {
        const s = await self.refresh();
        if (!s) return;
        this.set({ state: "pending" }, s.users.pending);
        this.set({ state: "approved" }, s.users.approved);
      },
    });
  }

  /** The Prometheus text exposition of every series. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /**
   * Counts one HTTP request when its response finishes. `route` is read then (Express sets req.route while
   * routing) and must be a template such as `/servicex/transformation/:request_id`.
   */
  track(req: IncomingMessage, res: ServerResponse, route: () => string): void {
    const start = process.hrtime.bigint();
    res.once("finish", () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const method = req.method ?? "";
      const status = String(res.statusCode);
      this.httpTotal.inc({ method, status });
      this.httpDuration.observe({ method, status, url_rule: route() }, seconds);
    });
  }

  /** Express middleware measuring every request by its route template. */
  httpMiddleware(): RequestHandler {
    return (req, res, next) => {
      this.track(req, res, () => routeTemplate(req));
      next();
    };
  }

  /** Observer for observeBroker(): counts messages per kind. */
  brokerObserver(): PublishObserver {
    return {
      published: (kind: PublishKind, n: number) => this.published.inc({ kind }, n),
      confirmed: (kind: PublishKind, n: number) => this.confirmed.inc({ kind }, n),
      failed: (kind: PublishKind, n: number) => this.publishErrors.inc({ kind }, n),
    };
  }

  /** Size of one file-complete group commit (FileCompleteService.onBatch). */
  observeFileCompleteBatch(size: number): void {
    this.batchSize.observe(size);
  }

  /** One reconciler action (e.g. "republish", "resend_lookup", "fail"). */
  reconcilerAction(action: string, n = 1): void {
    this.reconcilerActions.inc({ action }, n);
  }

  /** One database round per scrape, however many gauges ask for it. */
  private refresh(): Promise<DbSnapshot | null> {
    const source = this.settings.source;
    if (!source) return Promise.resolve(null);
    this.snapshot ??= this.readDatabase(source).finally(() => {
      this.snapshot = null;
    });
    return this.snapshot;
  }

  private async readDatabase(source: MetricsSource): Promise<DbSnapshot | null> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("database did not answer in time")),
          this.settings.dbTimeoutMs ?? 5000,
        );
      });
      const [requests, datasets, users] = await Promise.race([
        Promise.all([source.requests(), source.datasets(), source.users()]),
        timeout,
      ]);
      return { requests, datasets, users };
    } catch (err) {
      this.scrapeErrors.inc();
      this.settings.logger?.warn({ err: String(err) }, "metrics: database gauges not refreshed");
      return null;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** `/servicex/transformation/:request_id` for a routed request; a constant for anything unrouted. */
export function routeTemplate(req: Request): string {
  const path: unknown = req.route?.path;
  if (path === undefined) return UNMATCHED_ROUTE;
  return `${req.baseUrl ?? ""}${typeof path === "string" ? path : String(path)}`;
}
