// Fast paths for the two hottest calls, outside Express (whose routing and body parsing were half of the
// App's CPU per call in profiles), with the same schemas, handlers and error shapes as the Express routes,
// which stay the documented routes and serve anything unusual (e.g. a non-JSON content type):
//  - PUT /servicex/internal/transformation/<request_id>/file-complete: one call per file from transformer
//    sidecars, thousands per second (handler: recordFileComplete in routes/internal.routes.ts);
//  - GET /servicex/transformation/<request_id>: the client's status poll (the same service call and presenter
//    as the route in routes/transformation.routes.ts), open with ENABLE_AUTH=false, and with authentication
//    for calls that carry `Authorization` (the same identification as the auth guard decides; browser-session
//    calls take Express).
// Its answers carry the same headers and error bodies as Express's, from the same helper (respond.ts).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Request } from "express";
import type { Requester } from "../domain/policy.js";
import type { RequestReads } from "../domain/requestReads.service.js";
import { appError } from "../domain/errors.js";
import type { AppDeps } from "./deps.js";
import type { RequesterFn } from "./middleware/auth.js";
import { describeZodError } from "./openapi.js";
import type { RequestDetailPresenter } from "./presenters/request.presenter.js";
import { commonHeaders, errorAnswer, sendJson } from "./respond.js";
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

/** An answer: status, JSON body and the headers beyond the common ones (respond.ts). */
type Answer = [status: number, body: unknown, headers?: Record<string, string>];

const send = (res: ServerResponse, [status, body, headers]: Answer) => sendJson(res, status, body, headers);

/** A thrown value as Express's errorHandler answers it; 5xx logged with the request's ids. */
function failed(
  deps: AppDeps,
  err: unknown,
  ids: { reqId: string; requestId: string },
  what: string,
): Answer {
  const a = errorAnswer(err);
  if (a.status >= 500) deps.logger.error({ err, code: a.error.code, ...ids }, what);
  return [a.status, a.body, a.headers];
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
      const reqId = commonHeaders(req, res);
      void status(deps, poll, s[1]!, req, reqId).then((a) => send(res, a));
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
    const reqId = commonHeaders(req, res);
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
      void handle(deps, requestId, reqId, tooLarge, Buffer.concat(chunks)).then(
        (a) => send(res, a),
        (err) => send(res, failed(deps, err, { reqId, requestId }, "file-complete failed")),
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
  reqId: string,
): Promise<Answer> {
  try {
    let who: Requester = { user: null };
    if (deps.config.ENABLE_AUTH) {
      // The bearer branch of the identification reads only the method and the headers.
      who = await poll.identify({ method: "GET", headers: req.headers, hadSession: false } as Request);
    }
    return [200, poll.detail(await poll.reads.request(id, who), callerOf(req))];
  } catch (err) {
    return failed(deps, err, { reqId, requestId: id }, "status failed");
  }
}

async function handle(
  deps: AppDeps,
  requestId: string,
  reqId: string,
  tooLarge: boolean,
  raw: Buffer,
): Promise<Answer> {
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
    return failed(deps, err, { reqId, requestId }, "file-complete failed");
  }
}
