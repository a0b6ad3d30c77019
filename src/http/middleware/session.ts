// Browser sessions for the web pages (docs/api.md): the session lives in one cookie, encrypted and
// authenticated with AES-256-GCM under a key derived from SECRET_KEY (a forged or edited cookie is simply
// no session). Cookie: HttpOnly, SameSite=Lax, Secure behind TLS, 12 h. The session id is renewed at
// sign-in; every form carries the session's CSRF token (checked by `requireCsrf`).
//
// A signed-in cookie is not enough on its own (docs/sign-in.md): it counts only while the server-side record
// of its session id lives (`SessionStore`), so sign-out, deleting the user or revoking their admin rights
// ends every copy of the cookie at once. The record is read only for cookies that claim to be signed in:
// API calls with a bearer token and no cookie never touch it.
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Request, RequestHandler, Response } from "express";
import type { PendingAuthorization } from "../../adapters/auth/oidc.js";
import { appError } from "../../domain/errors.js";

export const SESSION_COOKIE = "sx_session";
const MAX_AGE_S = 12 * 3600;

export interface Flash {
  category: "info" | "success" | "warning" | "danger";
  message: string;
}

export interface SessionData {
  /** Random id, renewed at sign-in. */
  sid: string;
  /** Issued at (s); the cookie is refused after MAX_AGE_S. */
  iat: number;
  csrf: string;
  isAuthenticated?: boolean;
  /** The provider's issuer and subject of the signed-in identity (the account's key). */
  iss?: string;
  sub?: string;
  /** Every subject of the person at `iss` (Globus linked identities), `sub` first. */
  subjects?: string[];
  /** The e-mail the provider asserts (verified or not), then the account's once it has a profile. */
  email?: string;
  /** E-mails the identity provider vouches for (lowercase): profile e-mails must be among them. */
  verifiedEmails?: string[];
  name?: string;
  institution?: string;
  /** Set once the user has a profile. */
  userId?: number;
  admin?: boolean;
  oidc?: PendingAuthorization & { next?: string };
  idp?: { accessToken?: string; refreshToken?: string; idToken?: string };
  flash?: Flash[];
}

declare global {
  namespace Express {
    interface Request {
      session: SessionData;
      /** True when the request brought a valid session cookie. */
      hadSession: boolean;
    }
  }
}

export class SessionCodec {
  private readonly key: Buffer;
  constructor(secret: string) {
    this.key = createHash("sha256").update(`servicex-session:${secret}`).digest();
  }

  encode(s: SessionData): string {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([c.update(JSON.stringify(s), "utf8"), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]).toString("base64url");
  }

  decode(v: string): SessionData | null {
    try {
      const raw = Buffer.from(v, "base64url");
      if (raw.length < 29) return null;
      const d = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12));
      d.setAuthTag(raw.subarray(12, 28));
      const json = Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString("utf8");
      const s = JSON.parse(json) as SessionData;
      if (typeof s.sid !== "string" || typeof s.iat !== "number" || typeof s.csrf !== "string") return null;
      if (Date.now() / 1000 - s.iat > MAX_AGE_S) return null;
      return s;
    } catch {
      return null;
    }
  }
}

export function newSession(): SessionData {
  return {
    sid: randomBytes(16).toString("base64url"),
    iat: Math.floor(Date.now() / 1000),
    csrf: randomBytes(24).toString("base64url"),
  };
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/**
 * The scheme the browser used (docs/api.md `get_correct_url`): X-Scheme (or X-Forwarded-Proto) when present, else
 * https unless the host is local — the App runs behind a TLS-terminating ingress in production.
 */
export function requestScheme(req: Request): string {
  const x = req.headers["x-scheme"] ?? req.headers["x-forwarded-proto"];
  if (typeof x === "string" && x) return x.split(",")[0]!.trim();
  if (req.secure) return "https";
  const host = req.get("host") ?? "localhost";
  return /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(host) || host.includes("localhost")
    ? "http"
    : "https";
}

/** Where the server-side records of signed-in sessions are looked up (UserService). */
export interface SessionStore {
  /** The live session's user id (null: signed in, no profile yet), or undefined when it has ended. */
  sessionAlive(sid: string): Promise<{ userId: number | null } | undefined>;
}

/**
 * Loads the session (or a fresh one) into req.session; the cookie is (re)written when the page ends, only if
 * the session changed or is new and non-empty (API calls without a cookie get no cookie). With a `store`, a
 * cookie that says "signed in" is checked against its server-side record: an ended session is no session
 * (and its cookie is expired in the browser).
 */
export function sessionMiddleware(codec: SessionCodec, store?: SessionStore | null): RequestHandler {
  return (req, res, next) => {
    const raw = readCookie(req.headers.cookie, SESSION_COOKIE);
    let loaded = raw ? codec.decode(raw) : null;
    let ended = false;
    const start = () => {
      req.hadSession = loaded !== null;
      req.session = loaded ?? newSession();
      const before = loaded ? JSON.stringify(loaded) : null;
      const writeHead = res.writeHead;
      // Written just before the headers go out, whatever the handler did (render, redirect, json).
      res.writeHead = function (this: Response, ...args: Parameters<typeof writeHead>) {
        if (!res.getHeader("x-session-cleared")) {
          const now = JSON.stringify(req.session);
          if (
            now !== before &&
            (before !== null ||
              req.session.isAuthenticated ||
              req.session.oidc ||
              req.session.flash?.length ||
              req.session.userId)
          ) {
            res.appendHeader("Set-Cookie", cookieHeader(req, codec.encode(req.session), MAX_AGE_S));
          } else if (ended) {
            res.appendHeader("Set-Cookie", cookieHeader(req, "", 0));
          }
        } else {
          res.removeHeader("x-session-cleared");
        }
        return writeHead.apply(this, args);
      } as typeof writeHead;
      next();
    };
    if (!loaded?.isAuthenticated || !store) {
      start();
      return;
    }
    store.sessionAlive(loaded.sid).then(
      (alive) => {
        if (!alive || !loaded) {
          loaded = null;
          ended = true;
        } else if (alive.userId === null) {
          delete loaded.userId;
          delete loaded.admin;
        } else {
          loaded.userId = alive.userId;
        }
        start();
      },
      (err: unknown) => next(err),
    );
  };
}

function cookieHeader(req: Request, value: string, maxAge: number): string {
  const secure = requestScheme(req) === "https" ? "; Secure" : "";
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure}`;
}

/** Ends the session: the cookie is expired in the browser. */
export function clearSession(req: Request, res: Response): void {
  req.session = newSession();
  res.setHeader("x-session-cleared", "1");
  res.appendHeader("Set-Cookie", cookieHeader(req, "", 0));
}

/** Renews the session id and CSRF token (at sign-in), keeping nothing from the anonymous session. */
export function renewSession(req: Request): void {
  const flash = req.session.flash;
  req.session = { ...newSession(), ...(flash ? { flash } : {}) };
}

export function flash(req: Request, category: Flash["category"], message: string): void {
  req.session.flash = [...(req.session.flash ?? []), { category, message }];
}

/** Flash messages to show now (and forget). */
export function takeFlashes(req: Request): Flash[] {
  const f = req.session.flash ?? [];
  if (f.length) req.session.flash = [];
  return f;
}

/** Form POSTs must carry the session's CSRF token (`_csrf` field or X-CSRF-Token header). */
export const requireCsrf: RequestHandler = (req, _res, next) => {
  const body = req.body as Record<string, unknown> | undefined;
  const sent = (typeof body?._csrf === "string" ? body._csrf : undefined) ?? req.get("x-csrf-token");
  const expected = req.session.csrf;
  const ok =
    req.hadSession &&
    typeof sent === "string" &&
    sent.length === expected.length &&
    timingSafeEqual(Buffer.from(sent), Buffer.from(expected));
  if (!ok) {
    next(appError("csrf_failed"));
    return;
  }
  next();
};

/**
 * Makes the browser keep a session it does not have yet, so the CSRF token of a form on this page is still
 * the session's when the form comes back (pages with forms for visitors not signed in: ENABLE_AUTH=false).
 */
export function persistSession(req: Request, res: Response, codec: SessionCodec): void {
  if (req.hadSession || res.headersSent) return;
  res.appendHeader("Set-Cookie", cookieHeader(req, codec.encode(req.session), MAX_AGE_S));
}
