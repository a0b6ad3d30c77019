// GET /servicex/transformation/<id>/history: the request's progress history, with the current
// counters so a page can poll this one small endpoint for live progress. Same ownership rules as the status
// route (docs/decisions.md D10).
import { Router } from "express";
import { transformNotFound } from "../../domain/errors.js";
import type { RequestReads } from "../../domain/requestReads.service.js";
import { type Auth, requester } from "../middleware/auth.js";
import { op } from "../openapi.js";
import { historyJson } from "../presenters/progress.presenter.js";
import { requestIdParam } from "../schemas/common.js";
import { ErrorResponse, HistoryResponse } from "../schemas/transformation.schemas.js";

export function progressRoutes({
  reads,
  auth,
}: {
  reads: Pick<RequestReads, "history">;
  auth: Auth;
}): Router {
  const r = Router();
  op(
    r,
    {
      method: "get",
      path: "/servicex/transformation/:request_id/history",
      guard: auth(),
      tag: "client",
      summary:
        "Progress history: one point per status change and at most one per PROGRESS_INTERVAL_MS while running",
      params: requestIdParam,
      notFound: (req) => transformNotFound(String(req.params.request_id)),
      responses: {
        200: { description: "History, oldest first", schema: HistoryResponse },
        403: { description: "Not the owner", schema: ErrorResponse },
        404: { description: "Unknown request", schema: ErrorResponse },
      },
    },
    async (_req, res, { params }) => {
      const { request, points } = await reads.history(params.request_id, requester(res));
      res.set("Cache-Control", "no-store").json(historyJson(request, points));
    },
  );
  return r;
}
