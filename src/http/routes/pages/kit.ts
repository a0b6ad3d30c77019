// What every page route shares: the layout locals, rendering, the two guards of docs/api.md as pages see
// them (oauth_required, admin_required), the confirmation page that every destructive button goes through
// first (docs/api.md "Pages": it works without JavaScript; public/js/pages.js shows it as a dialog), and
// the HTML error pages a browser gets instead of the API's JSON (unknown URLs, failures of a page).
import express, {
  type ErrorRequestHandler,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from "express";
import type { Config } from "../../../config.js";
import type { PagesService } from "../../../domain/pages.service.js";
import type { Requester } from "../../../domain/policy.js";
import type { UserRecord } from "../../../domain/repositories.js";
import type { Logger } from "../../../logger.js";
import { toAppError } from "../../middleware/errorHandler.js";
import { type SessionCodec, persistSession, takeFlashes } from "../../middleware/session.js";

/** What the page kit uses: the configuration, the session codec, and the signed-in user's record. */
export interface KitServices {
  config: Config;
  logger: Logger;
  sessions: SessionCodec;
  pages: Pick<PagesService, "user">;
}

/** What a confirmation page says (views/confirm.ejs). */
export interface Confirmation {
  heading: string;
  /** The question, one sentence. */
  text: string;
  /** What is lost or changes when confirmed, one item a line. */
  consequences?: string[];
  /** Where the CSRF-checked form posts. */
  action: string;
  button: string;
  /** Styles the button red (a deletion). */
  danger?: boolean;
  /** Where Cancel goes. */
  back: string;
}

export interface PageKit {
  render(req: Request, res: Response, view: string, data?: Record<string, unknown>, status?: number): void;
  errorPage(req: Request, res: Response, status: number, heading: string, message: string): void;
  /** The confirmation page of a destructive action (GET); the action itself stays a CSRF-checked POST. */
  confirm(req: Request, res: Response, c: Confirmation): void;
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
const FORM_VIEWS = new Set(["request", "dataset", "admin_users", "confirm"]);

/** The signed-in user of a page, once loaded (res.locals.viewer; null: signed in, no such user). */
function viewerOf(res: Response): UserRecord | null | undefined {
  return res.locals.viewer as UserRecord | null | undefined;
}

/** The layout's locals (views/partials/header.ejs). */
function layoutLocals(req: Request, res: Response, authEnabled: boolean) {
  const viewer = viewerOf(res);
  return {
    /** Signed in with a profile. */
    signedIn: Boolean(req.session.isAuthenticated && req.session.userId),
    /** Signed in at the provider, with or without a profile (the header offers Sign out either way). */
    authenticated: Boolean(req.session.isAuthenticated),
    admin: Boolean(req.session.admin) || !authEnabled,
    /** The account waits for approval: every page says so (the API refuses its token until then). */
    pending: Boolean(authEnabled && req.session.userId && viewer?.pending),
    authEnabled,
    flashes: takeFlashes(req),
    csrf: req.session.csrf,
    path: req.path,
  };
}

/** True when the caller is a browser navigating (it prefers HTML to JSON); API clients and fetch() are not. */
export function wantsHtml(req: Request): boolean {
  return (req.method === "GET" || req.method === "HEAD") && req.accepts(["json", "html"]) === "html";
}

export function pageKit(s: KitServices): PageKit {
  const { config, pages } = s;
  const show = (req: Request, res: Response, view: string, data: Record<string, unknown>, status: number) => {
    // Pages with forms carry the session's CSRF token; with ENABLE_AUTH=false nobody signs in, so the
    // browser must be given that session here (with sign-in it already has one).
    if (!config.ENABLE_AUTH && FORM_VIEWS.has(view)) persistSession(req, res, s.sessions);
    res.status(status).render(view, { page: layoutLocals(req, res, config.ENABLE_AUTH), ...data });
  };
  const render: PageKit["render"] = (req, res, view, data = {}, status = 200) => {
    const id = req.session.userId;
    if (!config.ENABLE_AUTH || !id || viewerOf(res) !== undefined) return show(req, res, view, data, status);
    // Pages outside the guards (home, about, docs, errors) learn the pending state here: one primary-key read.
    pages.user(id).then(
      (u) => {
        res.locals.viewer = u;
        show(req, res, view, data, status);
      },
      (err: unknown) => {
        s.logger.warn({ err: String(err) }, "page rendered without the viewer's state");
        res.locals.viewer = null;
        show(req, res, view, data, status);
      },
    );
  };
  const errorPage: PageKit["errorPage"] = (req, res, status, heading, message) =>
    render(req, res, "error", { heading, message }, status);
  const confirm: PageKit["confirm"] = (req, res, c) =>
    render(req, res, "confirm", { consequences: [], danger: false, ...c });

  const oauthRequired: PageKit["oauthRequired"] = async (req, res, next) => {
    res.locals.page = true; // a failure of this route is answered with an HTML page (pageErrors)
    if (!config.ENABLE_AUTH) return next();
    if (!req.session.isAuthenticated) {
      return res.redirect(302, `/sign-in?next=${encodeURIComponent(req.originalUrl)}`);
    }
    if (req.session.userId) {
      const u = await pages.user(req.session.userId);
      res.locals.viewer = u;
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
    res.locals.page = true;
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
    confirm,
    oauthRequired,
    adminRequired,
    who,
    form: express.urlencoded({ extended: false, limit: "32kb" }),
  };
}

/** Bytes in SI units for people ("1.23 GB"); null/undefined as a dash. The exact count goes in a title. */
export function humanBytes(v: number | bigint | string | null | undefined): string {
  if (v === null || v === undefined) return "—";
  const n = Number(v);
  if (!Number.isFinite(n)) return "—";
  if (Math.abs(n) < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB", "PB", "EB"];
  let x = n;
  let u = -1;
  while (Math.abs(x) >= 1000 && u < units.length - 1) {
    x /= 1000;
    u++;
  }
  return `${x.toLocaleString("en-US", { maximumSignificantDigits: 3 })} ${units[u]}`;
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

/**
 * For app.ts, after every route: a browser that asks for an unknown URL gets the 404 page in the layout;
 * API clients (which prefer JSON, or send no Accept) go on to the JSON 404 of errorHandler, unchanged.
 */
export function pageNotFound(kit: PageKit): RequestHandler {
  return (req, res, next) => {
    if (!req.session || !wantsHtml(req)) return next();
    kit.errorPage(
      req,
      res,
      404,
      "Page not found",
      `There is no page at ${req.path}. Check the address, or start again from the home page.`,
    );
  };
}

/**
 * For app.ts, before errorHandler: a page route (res.locals.page) that fails answers a browser with the
 * error page in the layout instead of the API's JSON body. The error is logged by errorHandler's rules.
 */
export function pageErrors(kit: PageKit, logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent || !res.locals.page || !req.session || !wantsHtml(req)) return next(err);
    const e = toAppError(err);
    const log = req.log ?? logger;
    if (e.status >= 500) log.error({ err, code: e.code }, "page failed");
    else log.info({ code: e.code, status: e.status, reason: e.message }, "page refused");
    if (e.status === 503) res.setHeader("Retry-After", "5");
    const message =
      e.status >= 500 && !e.expose
        ? "Something went wrong on the server. Please try again in a moment."
        : e.message;
    kit.errorPage(req, res, e.status, e.status >= 500 ? "Server error" : "Request refused", message);
  };
}
