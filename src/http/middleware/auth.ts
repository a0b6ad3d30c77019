// The guards of docs/api.md with ENABLE_AUTH=true: `auth_required` (a browser session, or
// `Authorization: Bearer <access JWT>`), `admin_required` (the same, then admin: 403 for others, docs/decisions.md D9).
// With ENABLE_AUTH=false everyone passes as "no user" (upstream's open behaviour).
//
// Cross-site safety: the session cookie authenticates only safe API reads (GET/HEAD that change nothing).
// State-changing API calls (submit, cancel, delete, admin writes) need the bearer token, so a page on another
// site cannot trigger them with the user's cookie; the web pages do these through CSRF-checked form POSTs.
// HEAD never acts: a state-changing call made with HEAD (Express runs GET handlers for it) is refused with
// 405 before anything else, with or without authentication (middleware/head.ts).
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { bearerToken } from "../../adapters/auth/jwt.js";
import type { Config } from "../../config.js";
import { appError } from "../../domain/errors.js";
import { headRefused } from "./head.js";
import type { Requester } from "../../domain/policy.js";
import { MSG_DELETED, MSG_PENDING, type UserService, unauthorized } from "../../domain/users.service.js";

export interface RequesterOptions {
  /** The call changes state: a session cookie is not enough (bearer token required). */
  changesState?: boolean;
  /** admin_required instead of auth_required. */
  admin?: boolean;
}

export type RequesterFn = (req: Request, opts?: RequesterOptions) => Promise<Requester>;

export function buildRequester(config: Config, users: UserService | null): RequesterFn {
  if (!config.ENABLE_AUTH || !users) {
    return async (req, opts = {}) => {
      if (req.method === "HEAD" && opts.changesState) throw headRefused("GET, POST");
      return { user: null };
    };
  }
  return async (req, opts = {}) => {
    if (req.method === "HEAD" && opts.changesState) throw headRefused("GET, POST");
    const safe = (req.method === "GET" || req.method === "HEAD") && !opts.changesState;
    let user: { id: number; admin: boolean; pending: boolean } | null = null;
    const header = req.headers.authorization;
    if (header === undefined && safe && req.hadSession && req.session.isAuthenticated && req.session.userId) {
      const u = await users.repo.byId(req.session.userId);
      if (!u) throw unauthorized(MSG_DELETED, "user_deleted");
      if (u.pending) throw unauthorized(MSG_PENDING, "user_pending");
      user = u;
    } else {
      const token = bearerToken(header, "message");
      if (token === null) {
        throw appError(
          "missing_authorization",
          { detail: "Missing Authorization Header" },
          { body: "message" },
        );
      }
      user = await users.userForAccessToken(token);
    }
    if (opts.admin && !user.admin) {
      throw appError("admin_only", {}, { body: "message" });
    }
    return { user: { id: user.id, admin: user.admin } };
  };
}

/** What a guard found, kept on `res.locals` for the handlers after it (read with requester(res)). */
interface Identified {
  who: Requester;
  admin: boolean;
  changesState: boolean;
}

declare global {
  namespace Express {
    interface Locals {
      /** Set by an auth() guard (below); read with requester(res). */
      identified?: Identified;
    }
  }
}

/** A guard per route: `auth()` = auth_required, `auth({ admin: true })` = admin_required (docs/api.md). */
export type Auth = (opts?: RequesterOptions) => RequestHandler;

/**
 * The guards over one identification function (buildRequester, or a test's). A guard identifies the caller
 * once per HTTP request: a later guard with no stronger options (admin, changesState) reuses the answer, so
 * the submit route, identified in app.ts before its body is read, does not verify the token twice.
 */
export function authGuards(identify: RequesterFn): Auth {
  return (opts = {}) =>
    async (req: Request, res: Response, next: NextFunction) => {
      try {
        const admin = Boolean(opts.admin);
        const changesState = Boolean(opts.changesState);
        const prev = res.locals.identified;
        if (!prev || (admin && !prev.admin) || (changesState && !prev.changesState)) {
          res.locals.identified = { who: await identify(req, opts), admin, changesState };
        }
        next();
      } catch (err) {
        next(err);
      }
    };
}

/** The caller identified by the route's guard. A handler without a guard is a programming error. */
export function requester(res: Response): Requester {
  const found = res.locals.identified;
  if (!found) throw new Error("no auth() guard ran before this handler");
  return found.who;
}

/** The caller, when a guard has identified one already (e.g. for a rate limit's key), else undefined. */
export function identifiedRequester(res: Response | undefined): Requester | undefined {
  return res?.locals.identified?.who;
}
