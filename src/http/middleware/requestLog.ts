// One child logger per HTTP request, carrying a request id (X-Request-Id honoured when sane; the same rule and
// header as the fast path's, src/http/respond.ts).
import type { RequestHandler } from "express";
import type { Logger } from "../../logger.js";
import { requestIdOf, setRequestId } from "../respond.js";

declare global {
  namespace Express {
    interface Request {
      log: Logger;
      id: string;
    }
  }
}

export function requestLog(logger: Logger, opts: { logRequests: boolean }): RequestHandler {
  return (req, res, next) => {
    req.id = requestIdOf(req);
    setRequestId(res, req.id);
    // The child logger is made on first use: most requests (file-complete, status polls) never log.
    let child: Logger | undefined;
    Object.defineProperty(req, "log", {
      configurable: true,
      get: () => {
        child ??= logger.child({ reqId: req.id });
        return child;
      },
    });
    if (opts.logRequests) {
      const start = process.hrtime.bigint();
      res.on("finish", () => {
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        req.log.debug(
          { method: req.method, url: req.originalUrl, status: res.statusCode, ms },
          "http request",
        );
      });
    }
    next();
  };
}
