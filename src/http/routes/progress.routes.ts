// GET /servicex/transformation/<id>/history: the request's progress history, with the current
// counters so a page can poll this one small endpoint for live progress. Same ownership rules as the status
// route (docs/decisions.md D10).
import { Router } from "express";
import { z } from "zod";
import { transformNotFound } from "../../domain/errors.js";
import { isTerminal } from "../../domain/status.js";
import type { AppDeps } from "../deps.js";
import { authGuards, requester } from "../middleware/auth.js";
import { op } from "../openapi.js";
import { progressPointJson, statusDisplay } from "../presenters/progress.presenter.js";
import { isoZ } from "../presenters/time.js";
import { MessageResponse, requestIdParam } from "../schemas/common.js";

const ProgressPointSchema = z.object({
  time: z.string().describe("UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ"),
  status: z.string(),
  "files-completed": z.number().int(),
  "files-failed": z.number().int(),
  bytes: z.number(),
  events: z.number(),
});

export const HistoryResponse = z.object({
  history: z.array(ProgressPointSchema),
  current: z
    .object({
      status: z.string(),
      terminal: z.boolean(),
      files: z.number().int(),
      "files-completed": z.number().int(),
      "files-failed": z.number().int(),
      "files-remaining": z.number().int().nullable(),
      "finish-time": z.string().nullable(),
    })
    .describe("The request's counters now (for live pages)"),
});

export function progressRoutes(deps: AppDeps): Router {
  const r = Router();
  const auth = authGuards(deps.requester);
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
        403: { description: "Not the owner", schema: MessageResponse },
        404: { description: "Unknown request", schema: MessageResponse },
      },
    },
    async (_req, res, { params }) => {
      const rec = await deps.transformations.get(params.request_id, requester(res));
      const points = await deps.progress.history(rec.requestId);
      res.set("Cache-Control", "no-store").json({
        history: points.map(progressPointJson),
        current: {
          status: statusDisplay(rec.status),
          terminal: isTerminal(rec.status),
          files: rec.files,
          "files-completed": rec.filesCompleted,
          "files-failed": rec.filesFailed,
          "files-remaining": rec.files ? rec.files - rec.filesCompleted - rec.filesFailed : null,
          "finish-time": rec.finishTime ? isoZ(rec.finishTime) : null,
        },
      });
    },
  );
  return r;
}
