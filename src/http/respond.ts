// The one response helper of the App's HTTP answers, shared by the Express app (app.ts, requestLog.ts,
// errorHandler.ts) and the fast path outside Express (fastPath.ts), so the two cannot answer differently:
//  - the headers every answer carries: the request id, CORS (as upstream's CORS(app): docs/api.md) and the
//    security headers of securityHeaders.ts;
//  - how a thrown value becomes an answer: status, the body `{ message, code }` (or an error's exact wire
//    body), and Retry-After on a 503.
// test/integration/fastPath.parity.test.ts sends the same requests through both and compares the answers.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RequestHandler } from "express";
import { isTransientDbError } from "../adapters/db/database.js";
import { AppError, appError } from "../domain/errors.js";
import { securityHeaders } from "./middleware/securityHeaders.js";

// ---- Headers --------------------------------------------------------------------------------------------

/** CORS for every route with the defaults (any origin), as upstream's CORS(app). */
export const CORS_HEADERS: Readonly<Record<string, string>> = { "Access-Control-Allow-Origin": "*" };

export function setCors(res: ServerResponse): void {
  for (const [k, v] of Object.entries(CORS_HEADERS)) res.setHeader(k, v);
}

/** Express middleware form of setCors. */
export const cors: RequestHandler = (_req, res, next) => {
  setCors(res);
  next();
};

/** The caller's X-Request-Id when it is sane (word characters, dots, dashes; at most 64), else a new UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
}

export function setRequestId(res: ServerResponse, id: string): void {
  res.setHeader("X-Request-Id", id);
}

let security: ReturnType<typeof securityHeaders> | undefined;

/**
 * For answers made outside Express (the fast path): the headers Express's middleware puts on every answer,
 * in its order (requestLog, CORS, securityHeaders). Returns the request id.
 */
export function commonHeaders(req: IncomingMessage, res: ServerResponse): string {
  const id = requestIdOf(req);
  setRequestId(res, id);
  setCors(res);
  security ??= securityHeaders();
  // Sets its headers synchronously and then calls next.
  security(req, res, () => {});
  return id;
}

// ---- Errors -----------------------------------------------------------------------------------------------

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

/** The JSON body of an error answer: ServiceX's `{ message }` plus a stable `code`, or the error's own body. */
export function errorBody(e: AppError): unknown {
  return e.body !== undefined
    ? e.body
    : { message: e.expose ? e.message : "Internal Server Error", code: e.code };
}

export interface ErrorAnswer {
  error: AppError;
  status: number;
  body: unknown;
  /** Headers of this answer beyond the common ones (Retry-After on a 503). */
  headers: Record<string, string>;
}

/** A thrown value as the answer both paths give for it. */
export function errorAnswer(err: unknown): ErrorAnswer {
  const e = toAppError(err);
  return {
    error: e,
    status: e.status,
    body: errorBody(e),
    // A 503 is the database being restarted: waited out by retrying (docs/api.md).
    headers: e.status === 503 ? { "Retry-After": "5" } : {},
  };
}

// ---- Writing ----------------------------------------------------------------------------------------------

/**
 * A JSON answer written without Express, byte for byte as Express's res.json writes it (no ETag: app.ts
 * disables it). The common headers are already set (commonHeaders).
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(data),
  });
  res.end(data);
}
