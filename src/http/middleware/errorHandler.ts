// The one place where errors become HTTP answers. Bodies keep ServiceX's shape {"message": …}
// (plus a stable `code`); an AppError may carry an exact wire body instead (e.g. {"msg": …}).
import type { ErrorRequestHandler, RequestHandler } from "express";
import { isTransientDbError } from "../../adapters/db/database.js";
import { AppError } from "../../domain/errors.js";

function fromBodyParser(err: {
  type?: string;
  status?: number;
  message?: string;
  limit?: number;
}): AppError | null {
  switch (err.type) {
    case "entity.parse.failed":
      return new AppError(
        "malformed_json",
        `The json request was malformed: ${err.message ?? "invalid JSON"}`,
        400,
      );
    case "entity.too.large":
      return new AppError(
        "body_too_large",
        `Request body too large: the limit is ${err.limit ?? "?"} bytes. Split very large file lists across requests.`,
        413,
      );
    case "encoding.unsupported":
    case "charset.unsupported":
      return new AppError("unsupported_encoding", err.message ?? "Unsupported content encoding", 415);
    case "request.aborted":
      return new AppError("request_aborted", "Request aborted", 400);
    default:
      if (err.status && err.status >= 400 && err.status < 500) {
        return new AppError("bad_request", err.message ?? "Bad request", err.status);
      }
      return null;
  }
}

/**
 * Postgres SQLSTATEs for text it cannot store (22021: a NUL character or bytes invalid in UTF-8; 22P05: a
 * character the database encoding lacks). Only a caller's text causes them; the schemas refuse such text
 * first, and this is the net under any route that forgets to.
 */
const UNSTORABLE_TEXT = new Set(["22021", "22P05"]);

function unstorableText(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === "object" && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && UNSTORABLE_TEXT.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Any thrown value → the AppError that describes it on the wire. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (unstorableText(err)) {
    return new AppError(
      "invalid_text",
      "The request carries text that cannot be stored (a NUL character or invalid UTF-8)",
      400,
    );
  }
  if (isTransientDbError(err)) {
    return new AppError("database_unavailable", "The database is unavailable; please retry shortly.", 503);
  }
  return (
    fromBodyParser(err as Parameters<typeof fromBodyParser>[0]) ??
    new AppError("internal", "Internal Server Error", 500)
  );
}

/** The JSON body of an error answer. */
export function errorBody(e: AppError): unknown {
  return e.body !== undefined
    ? e.body
    : { message: e.expose ? e.message : "Internal Server Error", code: e.code };
}

export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const e = toAppError(err);
  const log = req.log ?? console;
  if (e.status >= 500) log.error({ err, code: e.code }, "request failed");
  // `reason`, not `msg`: pino writes the message as `msg` too, and a repeated key hides one of them.
  else log.info({ code: e.code, status: e.status, reason: e.message }, "request rejected");
  if (res.headersSent) return;
  if (e.status === 503) res.setHeader("Retry-After", "5");
  res.status(e.status).json(errorBody(e));
};

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(
    new AppError(
      "not_found",
      `The requested URL ${req.method} ${req.path} was not found on the server.`,
      404,
    ),
  );
};
