// Re-running a request's failed files from its page (docs/decisions.md D35). The request page links to
// GET /transformation-request/<id>/rerun-failed, a confirmation page that works without JavaScript; its
// CSRF-checked POST starts the re-run and goes back to the request page. The same service answers
// POST /servicex/transformation/<id>/rerun-failed (transformation.routes.ts).
import { type Request, type Response, Router } from "express";
import type { Config } from "../../../config.js";
import { AppError, transformNotFound } from "../../../domain/errors.js";
import type { RequestRecord } from "../../../domain/repositories.js";
import type { RerunService } from "../../../domain/rerun.service.js";
import { type SessionCodec, flash, persistSession, requireCsrf } from "../../middleware/session.js";
import type { PageKit } from "./kit.js";

const ID = /^(?:\d{1,9}|[0-9a-fA-F-]{36})$/;

/** What the re-run pages use. */
export interface RerunPageServices {
  config: Pick<Config, "ENABLE_AUTH">;
  reruns: Pick<RerunService, "load" | "datasetStale" | "history" | "refusal" | "rerunFailed">;
  sessions: SessionCodec;
}

export function rerunPages(s: RerunPageServices, kit: PageKit): Router {
  const r = Router();
  const { config } = s;
  const path = (id: string) => `/transformation-request/${id}`;

  /** The request if the caller may re-run it, or an error page (404 unknown, 403 another user's). */
  const load = async (req: Request, res: Response): Promise<RequestRecord | null> => {
    const id = String(req.params.id);
    try {
      if (!ID.test(id)) throw transformNotFound(id);
      return await s.reruns.load(id, kit.who(req));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      if (err.status === 404) kit.errorPage(req, res, 404, "Not found", err.message);
      else if (err.status === 403) kit.errorPage(req, res, 403, "Not yours", err.message);
      else throw err;
      return null;
    }
  };

  r.get(`${path(":id")}/rerun-failed`, kit.oauthRequired, async (req, res) => {
    const rec = await load(req, res);
    if (!rec) return;
    const [stale, reruns] = await Promise.all([
      s.reruns.datasetStale(rec.didId),
      s.reruns.history(rec.requestId),
    ]);
    const refusal = s.reruns.refusal(rec, stale);
    // With sign-in off nobody has a session yet: the form's CSRF token needs one (docs/api.md, pages).
    if (!config.ENABLE_AUTH) persistSession(req, res, s.sessions);
    kit.render(
      req,
      res,
      "rerun",
      {
        title: `Re-run failed files of ${rec.title || rec.requestId}`,
        rec,
        refusal: refusal?.message ?? null,
        reruns,
      },
      refusal ? 409 : 200,
    );
  });

  r.post(`${path(":id")}/rerun-failed`, kit.form, requireCsrf, kit.oauthRequired, async (req, res) => {
    const rec = await load(req, res);
    if (!rec) return;
    try {
      const out = await s.reruns.rerunFailed(rec.requestId, kit.who(req));
      flash(
        req,
        "success",
        `Re-running ${out.files} failed file${out.files === 1 ? "" : "s"}: the request is running again.`,
      );
    } catch (err) {
      if (!(err instanceof AppError) || (err.status >= 500 && err.status !== 503)) throw err;
      if (err.status === 403) return kit.errorPage(req, res, 403, "Not yours", err.message);
      if (err.status === 404) return kit.errorPage(req, res, 404, "Not found", err.message);
      // 409 (a double click lands here: the first click already started it) and 503: said on the request page.
      flash(req, "danger", err.message);
    }
    res.redirect(303, path(rec.requestId));
  });

  return r;
}
