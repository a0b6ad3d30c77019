// The one place where Express's errors become HTTP answers. The status and body come from errorAnswer
// (src/http/respond.ts), which the fast path uses too: ServiceX's {"message": …} (plus a stable `code`), or
// an AppError's exact wire body (e.g. {"msg": …}).
import type { ErrorRequestHandler, RequestHandler } from "express";
import { appError } from "../../domain/errors.js";
import { errorAnswer } from "../respond.js";

export { errorBody, toAppError } from "../respond.js";

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const { error: e, status, body, headers } = errorAnswer(err);
  const log = req.log ?? console;
  if (e.status >= 500) log.error({ err, code: e.code }, "request failed");
  // `reason`, not `msg`: pino writes the message as `msg` too, and a repeated key hides one of them.
  else log.info({ code: e.code, status: e.status, reason: e.message }, "request rejected");
  if (res.headersSent) return;
  res.set(headers).status(status).json(body);
};

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(
    appError("not_found", {
      detail: `The requested URL ${req.method} ${req.path} was not found on the server.`,
    }),
  );
};
