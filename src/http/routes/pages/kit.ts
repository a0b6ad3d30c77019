// What every page route shares: the layout locals, rendering, and the two guards of docs/api.md as pages
// see them (oauth_required, admin_required).
import express, { type NextFunction, type Request, type Response } from "express";
import type { Requester } from "../../../domain/transformation.service.js";
import type { AppDeps } from "../../deps.js";
import { persistSession, takeFlashes } from "../../middleware/session.js";

export interface PageKit {
  render(req: Request, res: Response, view: string, data?: Record<string, unknown>, status?: number): void;
  errorPage(req: Request, res: Response, status: number, heading: string, message: string): void;
  /** oauth_required: signed in with a profile (ENABLE_AUTH=false: everyone). */
  oauthRequired(req: Request, res: Response, next: NextFunction): Promise<void>;
  /**
   * admin_required for pages: a signed-in administrator; others get a 403 page. With ENABLE_AUTH=false the
   * admin pages are open, as the admin API is (docs/sign-in.md: admin_required lets every caller through).
   */
  adminRequired(req: Request, res: Response, next: NextFunction): Promise<void>;
  /** The caller as the domain services see them (null user = authentication disabled). */
  who(req: Request): Requester;
  /** Parses the urlencoded body of a page form. */
  form: express.RequestHandler;
}

/** Views with CSRF-checked forms. */
const FORM_VIEWS = new Set(["request", "dataset", "admin_users"]);

export function pageKit(deps: AppDeps): PageKit {
  const { config, users } = deps;
  const page = (req: Request) => ({
    signedIn: Boolean(req.session.isAuthenticated && req.session.userId),
    admin: Boolean(req.session.admin) || !config.ENABLE_AUTH,
    authEnabled: config.ENABLE_AUTH,
    flashes: takeFlashes(req),
    csrf: req.session.csrf,
    path: req.path,
  });
  const render: PageKit["render"] = (req, res, view, data = {}, status = 200) => {
    // Pages with forms carry the session's CSRF token; with ENABLE_AUTH=false nobody signs in, so the
    // browser must be given that session here (with sign-in it already has one).
    if (!config.ENABLE_AUTH && FORM_VIEWS.has(view)) persistSession(req, res, deps.sessions);
    res.status(status).render(view, { page: page(req), ...data });
  };
  const errorPage: PageKit["errorPage"] = (req, res, status, heading, message) =>
    render(req, res, "error", { heading, message }, status);

  const oauthRequired: PageKit["oauthRequired"] = async (req, res, next) => {
    if (!config.ENABLE_AUTH) return next();
    if (!req.session.isAuthenticated) {
      return res.redirect(302, `/sign-in?next=${encodeURIComponent(req.originalUrl)}`);
    }
    if (req.session.userId) {
      const u = await users.repo.byId(req.session.userId);
      if (!u) {
        // Deleted since sign-in: the session no longer names a user.
        delete req.session.userId;
        delete req.session.admin;
      } else {
        req.session.admin = u.admin;
      }
    }
    if (!req.session.userId && req.path !== "/profile/new") return res.redirect(302, "/profile/new");
    next();
  };

  const adminRequired: PageKit["adminRequired"] = async (req, res, next) => {
    if (!config.ENABLE_AUTH) return next();
    await oauthRequired(req, res, () => {
      if (!req.session.admin) {
        return errorPage(
          req,
          res,
          403,
          "Administrators only",
          "Not Authorized: This resource is restricted to administrators.",
        );
      }
      next();
    });
  };

  const who = (req: Request): Requester =>
    config.ENABLE_AUTH && req.session.userId
      ? { user: { id: req.session.userId, admin: Boolean(req.session.admin) } }
      : { user: null };

  return {
    render,
    errorPage,
    oauthRequired,
    adminRequired,
    who,
    form: express.urlencoded({ extended: false, limit: "32kb" }),
  };
}

/** A positive page number from the query (default 1; nonsense is 1). */
export function pageNumber(v: unknown): number {
  const n = typeof v === "string" && /^\d{1,6}$/.test(v) ? Number(v) : 1;
  return Math.max(1, n);
}

/** One of `allowed` from the query, or the default. */
export function choice<T extends string>(v: unknown, allowed: readonly T[], def: T): T {
  return typeof v === "string" && (allowed as readonly string[]).includes(v) ? (v as T) : def;
}

/** Pager locals for views/partials/pager.ejs. */
export function pager(
  req: Request,
  page: number,
  perPage: number,
  total: number,
): { page: number; pages: number; total: number; href: (p: number) => string } {
  const pages = Math.max(1, Math.ceil(total / perPage));
  const href = (p: number) => {
    const q = new URLSearchParams(req.query as Record<string, string>);
    q.set("page", String(p));
    return `${req.path}?${q}`;
  };
  return { page, pages, total, href };
}
