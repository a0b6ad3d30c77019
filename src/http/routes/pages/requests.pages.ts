// Request pages (docs/api.md, "Pages"): the request page (progress, timings and rates, where the output is
// and how to fetch it, transformer and queue state, progress plot, errors grouped by message), its results
// page (per-file path, time, rate, size, download link or error), the confirmation pages of Cancel and
// Delete, and the plot as SVG for the live page. Server-rendered and complete without JavaScript;
// public/js/request-live.js only ticks the clock, polls the history while the request runs, and copies.
import path from "node:path";
import { type Request, type Response, Router } from "express";
import type { PagesRepo } from "../../../adapters/repositories/pages.repo.js";
import type { Config } from "../../../config.js";
import { AppError } from "../../../domain/errors.js";
import type { PagesService } from "../../../domain/pages.service.js";
import { mayChangeRequest } from "../../../domain/policy.js";
import type { ProgressService } from "../../../domain/progress.service.js";
import type { RequestRecord } from "../../../domain/repositories.js";
import type { RerunService } from "../../../domain/rerun.service.js";
import { displayStatus, isTerminal } from "../../../domain/status.js";
import type { TransformationService } from "../../../domain/transformation.service.js";
import { type LocalS3, isEncrypted, localS3Endpoint } from "../../localS3.js";
import { flash, requestScheme, requireCsrf } from "../../middleware/session.js";
import * as fmt from "../../presenters/pageFormat.js";
import { progressChartSvg } from "../../presenters/progressChart.js";
import {
  type OutputLocation,
  clientSnippet,
  confirmationOf,
  timingOf,
} from "../../presenters/requestPage.presenter.js";
import { type PageKit, pager } from "./kit.js";

const RESULTS_PER_PAGE = 100;
/** Error groups listed on the request page (the rest are counted, and all are on the results page). */
const ERROR_GROUPS_SHOWN = 20;
/** The most recent failure reports grouped on the request page (bounds its cost; docs/decisions.md D39). */
const ERROR_SAMPLE = 5_000;
const ID = /^(?:\d{1,9}|[0-9a-fA-F-]{36})$/;
const STATUS_FILTERS = ["success", "failure"] as const;

/**
 * How long the page waits for the Kubernetes API and for the broker. The queue check is short: it shares the
 * AMQP connection with publishing, which for a 1,000,000-file request keeps it busy for minutes; the page
 * (goal ≤ 150 ms) then says the broker did not answer.
 */
const LIVE_LIMITS = { deploymentMs: 1500, queueMs: 100 };

/** What the request pages use. */
export interface RequestPageServices {
  config: Config;
  transformations: Pick<TransformationService, "get" | "cancel" | "delete">;
  progress: Pick<ProgressService, "history">;
  reruns: Pick<RerunService, "history">;
  pages: Pick<PagesService, "user" | "liveState" | "reportsTransformers">;
  queries: Pick<PagesRepo, "errorGroups" | "results">;
  /** Results can be downloaded from the object store (one is configured for the App). */
  objectStoreDownloads: boolean;
  /** The read-only S3 endpoint over local results, or null/absent. */
  localS3?: LocalS3 | null;
}

export function requestPages(s: RequestPageServices, kit: PageKit): Router {
  const r = Router();
  const { config, queries } = s;

  /** The request for a page, or an error page (404 unknown, 403 not the owner's). */
  const load = async (req: Request, res: Response): Promise<RequestRecord | null> => {
    const id = String(req.params.id);
    const notFound = () =>
      kit.errorPage(req, res, 404, "Not found", `Transformation request not found with id: ${id}`);
    if (!ID.test(id)) {
      notFound();
      return null;
    }
    try {
      return await s.transformations.get(id, kit.who(req));
    } catch (err) {
      if (err instanceof AppError && err.status === 404) notFound();
      else if (err instanceof AppError && err.status === 403)
        kit.errorPage(req, res, 403, "Not yours", "You are not authorized to view this request.");
      else throw err;
      return null;
    }
  };

  const mayChange = (req: Request, rec: RequestRecord) => mayChangeRequest(kit.who(req), rec);

  /** Where the output of `rec` is; the download route (localResults.routes.ts) serves the same places. */
  const outputOf = (req: Request, rec: RequestRecord): OutputLocation => {
    if (rec.resultDestination === "object-store" && config.objectStorePublic) {
      return {
        kind: "object-store",
        endpoint: config.objectStorePublic.endpoint,
        secure: config.objectStorePublic.secure,
        bucket: rec.requestId,
        downloadable: s.objectStoreDownloads,
      };
    }
    if (s.localS3 || config.launcherMode === "local") {
      const s3 = s.localS3
        ? localS3Endpoint(s.localS3, { headers: req.headers, encrypted: isEncrypted(req) })
        : null;
      return {
        kind: "local",
        dir: path.resolve(config.resultsDir, rec.requestId),
        s3: s3 ? `${s3.secured ? "https" : "http"}://${s3.endpoint}` : null,
        bucket: rec.requestId,
        downloadable: true,
      };
    }
    if (rec.resultDestination === "volume") {
      return {
        kind: "volume",
        claim: config.TRANSFORMER_PERSISTENCE_PROVIDED_CLAIM ?? null,
        subdir: config.TRANSFORMER_PERSISTENCE_SUBDIR,
        downloadable: false,
      };
    }
    return { kind: "none", downloadable: false };
  };

  const snippetFor = (req: Request, rec: RequestRecord, out: OutputLocation): string | null => {
    if (out.kind === "local" ? out.s3 === null : out.kind !== "object-store") return null;
    const backend = config.ENABLE_AUTH
      ? config.INSTANCE_NAME || (req.get("host") ?? "servicex").split(":")[0]!
      : null;
    return clientSnippet(`${requestScheme(req)}://${req.get("host") ?? "localhost"}`, rec.requestId, backend);
  };

  r.get("/transformation-request/:id", kit.oauthRequired, async (req, res) => {
    const rec = await load(req, res);
    if (!rec) return;
    const terminal = isTerminal(rec.status);
    const kubernetes = config.launcherMode.endsWith("kubernetes") && s.pages.reportsTransformers;
    const [history, errors, live, submitter, reruns] = await Promise.all([
      s.progress.history(rec.requestId),
      rec.filesFailed > 0 || rec.status === "fatal"
        ? queries.errorGroups(rec.requestId, ERROR_GROUPS_SHOWN, ERROR_SAMPLE)
        : Promise.resolve({ groups: [], messages: 0, reports: 0 }),
      s.pages.liveState(
        rec.requestId,
        { deployment: kubernetes && !terminal, queue: !terminal },
        LIVE_LIMITS,
      ),
      rec.submittedBy !== null ? s.pages.user(rec.submittedBy) : Promise.resolve(null),
      // Who re-ran the failed files and when (docs/decisions.md D35).
      s.reruns.history(rec.requestId),
    ]);
    const deployment = live.deployment && { ok: live.deployment.ok, d: live.deployment.value };
    const queueDepth = live.queueDepth && { ok: live.queueDepth.ok, n: live.queueDepth.value };
    const now = Date.now();
    const end = rec.finishTime ?? new Date(now);
    const output = outputOf(req, rec);
    kit.render(req, res, "request", {
      title: rec.title || `Request ${rec.requestId.slice(0, 8)}`,
      rec,
      reruns,
      statusText: displayStatus(rec.status),
      terminal,
      lookup: rec.status === "lookup" || rec.status === "pending_lookup" || rec.status === "submitted",
      remaining: Math.max(0, rec.files - rec.filesCompleted - rec.filesFailed),
      timing: timingOf(rec, history, now),
      submitter: rec.submittedBy === null ? null : (submitter?.name ?? "[deleted]"),
      kubernetes,
      deployment,
      queueDepth,
      logsUrl: config.LOGS_URL ?? null,
      chart: progressChartSvg(history, { files: rec.files, end, start: rec.submitTime }),
      historyPoints: history.length,
      errors: { ...errors, sample: ERROR_SAMPLE },
      selection: fmt.readableSelection(rec.selection),
      output,
      snippet: snippetFor(req, rec, output),
      mayChange: mayChange(req, rec),
      fmt,
    });
  });

  r.get("/transformation-request/:id/history.svg", kit.oauthRequired, async (req, res) => {
    const rec = await load(req, res);
    if (!rec) return;
    const history = await s.progress.history(rec.requestId);
    res
      .status(200)
      .set("Content-Type", "image/svg+xml; charset=utf-8")
      .set("Cache-Control", "no-store")
      .send(
        progressChartSvg(history, {
          files: rec.files,
          end: rec.finishTime ?? new Date(),
          start: rec.submitTime,
        }),
      );
  });

  r.get("/transformation-request/:id/results", kit.oauthRequired, async (req, res) => {
    const rec = await load(req, res);
    if (!rec) return;
    // Unknown values are named on the page, which shows the default instead (never an error).
    const notices: string[] = [];
    const rawStatus = req.query.status;
    let status: (typeof STATUS_FILTERS)[number] | undefined;
    if (typeof rawStatus === "string" && (STATUS_FILTERS as readonly string[]).includes(rawStatus)) {
      status = rawStatus as (typeof STATUS_FILTERS)[number];
    } else if (rawStatus !== undefined && rawStatus !== "") {
      notices.push(
        `There is no status filter “${String(rawStatus).slice(0, 60)}”: showing all files (filters: success, failure).`,
      );
    }
    const rawPage = req.query.page;
    let page = 1;
    if (typeof rawPage === "string" && /^\d{1,6}$/.test(rawPage) && Number(rawPage) >= 1) {
      page = Number(rawPage);
    } else if (rawPage !== undefined) {
      notices.push(`“${String(rawPage).slice(0, 20)}” is not a page number: showing the first page.`);
    }
    // The totals are the request's counters (a page needs no count of 100,000 rows); past the end → last.
    const total =
      status === "success"
        ? rec.filesCompleted
        : status === "failure"
          ? rec.filesFailed
          : rec.filesCompleted + rec.filesFailed;
    const pagesTotal = Math.max(1, Math.ceil(total / RESULTS_PER_PAGE));
    if (page > pagesTotal) {
      notices.push(
        `Page ${page} is past the end (${fmt.plural(pagesTotal, "page")}): showing the last page.`,
      );
      page = pagesTotal;
    }
    const rows = await queries.results({
      requestId: rec.requestId,
      ...(status ? { status } : {}),
      limit: RESULTS_PER_PAGE,
      offset: (page - 1) * RESULTS_PER_PAGE,
    });
    const output = outputOf(req, rec);
    kit.render(req, res, "results", {
      title: `Results of ${rec.title || rec.requestId}`,
      rec,
      statusText: displayStatus(rec.status),
      terminal: isTerminal(rec.status),
      results: rows,
      status: status ?? "",
      notices,
      output,
      snippet: snippetFor(req, rec, output),
      pager: pager(req, page, RESULTS_PER_PAGE, total),
      fmt,
    });
  });

  for (const what of ["cancel", "delete"] as const) {
    // The confirmation page (works without JavaScript); the POST below does it.
    r.get(`/transformation-request/:id/${what}`, kit.oauthRequired, async (req, res) => {
      const rec = await load(req, res);
      if (!rec) return;
      if (!mayChange(req, rec)) {
        return kit.errorPage(req, res, 403, "Not yours", `You are not authorized to ${what} this request.`);
      }
      const terminal = isTerminal(rec.status);
      if (what === "cancel" && terminal) {
        flash(
          req,
          "info",
          `The request has already ended (${displayStatus(rec.status)}): nothing to cancel.`,
        );
        return res.redirect(303, `/transformation-request/${rec.requestId}`);
      }
      if (what === "delete" && !terminal) {
        flash(req, "danger", "The request is still in progress: cancel it first, then delete it.");
        return res.redirect(303, `/transformation-request/${rec.requestId}`);
      }
      kit.confirm(req, res, confirmationOf(rec, what, outputOf(req, rec)));
    });
  }

  const action =
    (what: "cancel" | "delete") =>
    async (req: Request, res: Response): Promise<void> => {
      const rec = await load(req, res);
      if (!rec) return;
      try {
        if (what === "cancel") {
          await s.transformations.cancel(rec.requestId, kit.who(req));
          flash(req, "success", "The request has been canceled.");
          return res.redirect(303, `/transformation-request/${rec.requestId}`);
        }
        await s.transformations.delete(rec.requestId, kit.who(req));
        flash(req, "success", `Request ${rec.title || rec.requestId} has been deleted.`);
        return res.redirect(303, "/dashboard");
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) throw err;
        if (err.status === 403) {
          return kit.errorPage(req, res, 403, "Not yours", err.message);
        }
        flash(req, "danger", err.message);
        return res.redirect(303, `/transformation-request/${rec.requestId}`);
      }
    };
  r.post("/transformation-request/:id/cancel", kit.form, requireCsrf, kit.oauthRequired, action("cancel"));
  r.post("/transformation-request/:id/delete", kit.form, requireCsrf, kit.oauthRequired, action("delete"));

  return r;
}
