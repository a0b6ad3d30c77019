// HEAD never changes anything (RFC 9110 §9.2.1), but Express answers HEAD with the GET handler. The few GET
// routes that act (the Python client's GET …/cancel, the sign-in callback) register this first, so HEAD gets
// 405 with `Allow` instead of running them. The requester refuses HEAD for state-changing calls as well
// (middleware/auth.ts), for any such route that forgets this.
import type { Router } from "express";
import { appError } from "../../domain/errors.js";

export const headRefused = (allow: string) => appError("method_not_allowed", { allow });

/** Answers HEAD on `path` with 405 and `Allow: <allow>`, before the GET route of the same path. */
export function refuseHead(router: Router, path: string, allow: string): void {
  router.head(path, (_req, res, next) => {
    res.set("Allow", allow);
    next(headRefused(allow));
  });
}
