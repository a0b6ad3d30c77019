// Fast paths for the two hottest calls, outside Express (whose routing and body parsing were half of the
// App's CPU per call in profiles), with the same schemas, handlers and error shapes as the Express routes,
// which stay the documented routes and serve anything unusual (e.g. a non-JSON content type):
//  - PUT /servicex/internal/transformation/<request_id>/file-complete: one call per file from transformer
//    sidecars, thousands per second (handler: recordFileComplete in routes/internal.routes.ts);
//  - GET /servicex/transformation/<request_id>: the client's status poll (the same service call and presenter
//    as the route in routes/transformation.routes.ts), open with ENABLE_AUTH=false, and with authentication
//    for calls that carry `Authorization` (the same identification as the auth guard decides; browser-session
//    calls take Express).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Request } from "express";
import type { Requester } from "../domain/policy.js";
import type { RequestReads } from "../domain/requestReads.service.js";
import { appError } from "../domain/errors.js";
import type { AppDeps } from "./deps.js";
import type { RequesterFn } from "./middleware/auth.js";
import { errorBody, toAppError } from "./middleware/errorHandler.js";
import { describeZodError } from "./openapi.js";
import type { RequestDetailPresenter } from "./presenters/request.presenter.js";
import { callerOf } from "./resultLinks.js";
import { recordFileComplete } from "./routes/internal.routes.js";
import { FileCompleteBody } from "./schemas/internal.schemas.js";

/** What the status poll uses: the guard's identification, the request read and the route's presenter. */
export interface StatusPollDeps {
  identify: RequesterFn;
  reads: Pick<RequestReads, "request">;
  detail: RequestDetailPresenter;
}

const STATUS = /^\/servicex\/transformation\/([A-Za-z0-9_.-]{1,64})\/?(?:\?.*)?$/;
const FILE_COMPLETE =
  /^\/servicex\/internal\/transformation\/([A-Za-z0-9_.-]{1,64})\/file-complete\/?(?:\?.*)?$/;
const MAX_BODY = 1024 * 1024;

function send(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(data),
    "access-control-allow-origin": "*",
    ...(status === 503 ? { "retry-after": "5" } : {}),
  });
  res.end(data);
}

/** Returns true when it took the request; otherwise the caller hands it to Express. */
export function fastPath(
  deps: AppDeps,
  serve: { status: boolean; fileComplete: boolean },
  poll: StatusPollDeps,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const auth = deps.config.ENABLE_AUTH;
  return (req, res) => {
    if (!serve.status && !serve.fileComplete) return false;
    if (
      serve.status &&
      req.method === "GET" &&
      req.url &&
      (!auth || req.headers.authorization !== undefined)
    ) {
      const s = STATUS.exec(req.url);
      if (!s) return false;
      deps.metrics?.track(req, res, () => "/servicex/transformation/:request_id");
      void status(deps, poll, s[1]!, req).then(([code, body]) => send(res, code, body));
      return true;
    }
    if (!serve.fileComplete || req.method !== "PUT" || !req.url) return false;
    const m = FILE_COMPLETE.exec(req.url);
    if (!m) return false;
    const type = req.headers["content-type"] ?? "";
    // Plain UTF-8 JSON only; anything else (other charsets, encodings) takes the Express route and its 4xx.
    if (!/^application\/json\s*(;\s*charset="?utf-8"?\s*)?$/i.test(type) || req.headers["content-encoding"]) {
      return false;
    }
    // Unusually large reports (long error traces) take the Express route and its configured body limit.
    if (Number(req.headers["content-length"] ?? 0) > MAX_BODY) return false;
    const requestId = m[1]!;
    deps.metrics?.track(req, res, () => "/servicex/internal/transformation/:request_id/file-complete");
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooLarge = true;
      else chunks.push(c);
    });
    req.on("error", () => {});
    req.on("end", () => {
      void handle(deps, requestId, tooLarge, Buffer.concat(chunks)).then(
        ([status, body]) => send(res, status, body),
        () => send(res, 500, errorBody(appError("internal"))),
      );
    });
    return true;
  };
}

async function status(
  deps: AppDeps,
  poll: StatusPollDeps,
  id: string,
  req: IncomingMessage,
): Promise<[number, unknown]> {
  try {
    let who: Requester = { user: null };
    if (deps.config.ENABLE_AUTH) {
      // The bearer branch of the identification reads only the method and the headers.
      who = await poll.identify({ method: "GET", headers: req.headers, hadSession: false } as Request);
    }
    return [200, poll.detail(await poll.reads.request(id, who), callerOf(req))];
  } catch (err) {
    const e = toAppError(err);
    if (e.status >= 500) deps.logger.error({ err, code: e.code, requestId: id }, "status failed");
    return [e.status, errorBody(e)];
  }
}

async function handle(
  deps: AppDeps,
  requestId: string,
  tooLarge: boolean,
  raw: Buffer,
): Promise<[number, unknown]> {
  try {
    if (tooLarge) throw appError("body_too_large", { limit: MAX_BODY, advice: "" });
    let json: unknown;
    try {
      json = JSON.parse(raw.toString("utf8"));
    } catch (e) {
      throw appError("malformed_json", { detail: (e as Error).message });
    }
    const parsed = FileCompleteBody.safeParse(json);
    if (!parsed.success) throw appError("validation_failed", { detail: describeZodError(parsed.error) });
    await recordFileComplete(deps, requestId, parsed.data);
    return [200, "Ok"];
  } catch (err) {
    const e = toAppError(err);
    if (e.status >= 500) deps.logger.error({ err, code: e.code, requestId }, "file-complete failed");
    return [e.status, errorBody(e)];
  }
}
