// Request pages (docs/api.md): the request page (progress bar,
// timings, transformer and queue state, progress plot, per-file errors, cancel/delete), its results page,
// and the plot as SVG for the live page. Server-rendered; the live updates are a small inline script that
// polls GET /servicex/transformation/<id>/history and stops once the request is terminal.
import { type Request, type Response, Router } from "express";
import type { PagesRepo } from "../../../adapters/repositories/pages.repo.js";
import type { RequestRecord } from "../../../adapters/repositories/requests.repo.js";
import { AppError } from "../../../domain/errors.js";
import { displayStatus, isTerminal } from "../../../domain/status.js";
import type { AppDeps } from "../../deps.js";
import { flash, requireCsrf } from "../../middleware/session.js";
import { progressChartSvg } from "../../presenters/progressChart.js";
import { type PageKit, pageNumber, pager } from "./kit.js";

const RESULTS_PER_PAGE = 100;
const ERRORS_SHOWN = 200;
const ID = /^(?:\d{1,9}|[0-9a-fA-F-]{36})$/;

/** Resolves within `ms` or gives `fallback` (a slow Kubernetes API or broker must not hold the page). */
function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  return Promise.race([
    p.catch(() => fallback),
    new Promise<T>((r) => setTimeout(() => r(fallback), ms).unref()),
  ]);
}

export function requestPages(deps: AppDeps, kit: PageKit, pages: PagesRepo): Router {
  const r = Router();
  const { config } = deps;

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
      return await deps.transformations.get(id, kit.who(req));
    } catch (err) {
      if (err instanceof AppError && err.status === 404) notFound();
      else if (err instanceof AppError && err.status === 403)
        kit.errorPage(req, res, 403, "Not yours", "You are not authorized to view this request.");
      else throw err;
      return null;
    }
  };

  const mayChange = (req: Request, rec: RequestRecord) => {
    const who = kit.who(req);
    return !who.user || who.user.admin || rec.submittedBy === who.user.id;
  };

  r.get("/transformation-request/:id", kit.oauthRequired, async (req, res) => {
    const rec = await load(req, res);
    if (!rec) return;
    const terminal = isTerminal(rec.status);
    const launcher = deps.launcher;
    const kubernetes = config.launcherMode.endsWith("kubernetes") && Boolean(launcher.deploymentStatus);
    const broker = deps.broker as typeof deps.broker & {
      queueDepth?: (q: string) => Promise<number | null>;
    };
    const [history, errors, deployment, queueDepth, submitter] = await Promise.all([
      deps.progress.history(rec.requestId),
      pages.fileErrors(rec.requestId, ERRORS_SHOWN),
      kubernetes && !terminal
        ? within(
            launcher.deploymentStatus!(rec.requestId).then((d) => ({ ok: true, d })),
            1500,
            { ok: false, d: null as object | null },
          )
        : Promise.resolve(null),
      broker.queueDepth && !terminal
        ? within(
            broker.queueDepth(`transformer-${rec.requestId}`).then((n) => ({ ok: true, n })),
            1000,
            { ok: false, n: null as number | null },
          )
        : Promise.resolve(null),
      rec.submittedBy !== null ? deps.users.repo.byId(rec.submittedBy) : Promise.resolve(null),
    ]);
    const end = rec.finishTime ?? new Date();
    kit.render(req, res, "request", {
      title: rec.title || `Request ${rec.requestId.slice(0, 8)}`,
      rec,
      statusText: displayStatus(rec.status),
      terminal,
      lookup: rec.status === "lookup" || rec.status === "pending_lookup" || rec.status === "submitted",
      remaining: Math.max(0, rec.files - rec.filesCompleted - rec.filesFailed),
      durationMs: end.getTime() - rec.submitTime.getTime(),
      submitter: rec.submittedBy === null ? null : (submitter?.name ?? "[deleted]"),
      kubernetes,
      deployment,
      queueDepth,
      logsUrl: config.LOGS_URL ?? null,
      chart: progressChartSvg(history, { files: rec.files, end }),
      historyPoints: history.length,
      errors,
      mayChange: mayChange(req, rec),
    });
  });

  r.get("/transformation-request/:id/history.svg", kit.oauthRequired, async (req, res) => {
    const rec = await load(req, res);
    if (!rec) return;
    const history = await deps.progress.history(rec.requestId);
    res
      .status(200)
      .set("Content-Type", "image/svg+xml; charset=utf-8")
      .set("Cache-Control", "no-store")
      .send(progressChartSvg(history, { files: rec.files, end: rec.finishTime ?? new Date() }));
  });

  r.get("/transformation-request/:id/results", kit.oauthRequired, async (req, res) => {
    const rec = await load(req, res);
    if (!rec) return;
    const page = pageNumber(req.query.page);
    const status =
      typeof req.query.status === "string" && /^[A-Za-z_-]{1,120}$/.test(req.query.status)
        ? req.query.status
        : undefined;
    const { rows, total } = await pages.results({
      requestId: rec.requestId,
      ...(status ? { status } : {}),
      limit: RESULTS_PER_PAGE,
      offset: (page - 1) * RESULTS_PER_PAGE,
    });
    kit.render(req, res, "results", {
      title: `Results of ${rec.title || rec.requestId}`,
      rec,
      results: rows,
      status: status ?? "",
      pager: pager(req, page, RESULTS_PER_PAGE, total),
    });
  });

  const action =
    (what: "cancel" | "delete") =>
    async (req: Request, res: Response): Promise<void> => {
      const rec = await load(req, res);
      if (!rec) return;
      try {
        if (what === "cancel") {
          await deps.transformations.cancel(rec.requestId, kit.who(req));
          flash(req, "success", "The request has been canceled.");
          return res.redirect(303, `/transformation-request/${rec.requestId}`);
        }
        await deps.transformations.delete(rec.requestId, kit.who(req));
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
