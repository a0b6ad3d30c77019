// The one place where errors become HTTP answers. Bodies keep ServiceX's shape {"message": …}
// (plus a stable `code`); an AppError may carry an exact wire body instead (e.g. {"msg": …}).
import type { ErrorRequestHandler, RequestHandler } from "express";
import { isTransientDbError } from "../../adapters/db/database.js";
import { appError, AppError } from "../../domain/errors.js";

function fromBodyParser(err: {
  type?: string;
  status?: number;
  message?: string;
  limit?: number;
}): AppError | null {
  switch (err.type) {
    case "entity.parse.failed":
      return appError("malformed_json", { detail: err.message ?? "invalid JSON" });
    case "entity.too.large":
      return appError("body_too_large", {
        limit: err.limit ?? "?",
        advice: " Split very large file lists across requests.",
      });
    case "encoding.unsupported":
    case "charset.unsupported":
      return appError("unsupported_encoding", { detail: err.message ?? "Unsupported content encoding" });
    case "request.aborted":
      return appError("request_aborted");
    default:
      if (err.status && err.status >= 400 && err.status < 500) {
        return appError("bad_request", { detail: err.message ?? "Bad request" }, { status: err.status });
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
    return appError("invalid_text");
  }
  if (isTransientDbError(err)) {
    return appError("database_unavailable");
  }
  return fromBodyParser(err as Parameters<typeof fromBodyParser>[0]) ?? appError("internal");
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
    appError("not_found", {
      detail: `The requested URL ${req.method} ${req.path} was not found on the server.`,
    }),
  );
};
