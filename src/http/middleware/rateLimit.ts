// Rate limits (fixed one-minute windows, per process) on the endpoints an attacker or a broken script would
// hammer: token refresh, sign-in callback, Slack, accept, submit. Over the limit: 429 with Retry-After and a
// clear message.
// Who is counted: a caller with a verified token is counted as its user (one user's script cannot lock out
// others behind the same address, and many tokens of one user share one budget); anyone else by client
// address, which is the socket's unless TRUST_PROXY names the proxies in front (then X-Forwarded-For's).
// A token's user is only believed once its signature is verified: otherwise anyone could spend a victim's
// budget by sending tokens that merely claim to be theirs.
import type { Request, RequestHandler } from "express";
import { type JwtService, type TokenType, bearerToken } from "../../adapters/auth/jwt.js";
import { appError } from "../../domain/errors.js";

export interface RateLimitOptions {
  /** Requests allowed per window and key. */
  limit: number;
  windowMs?: number;
  /** What is limited: default the client address; submit uses the bearer token or session user. */
  key?: (req: Request) => string;
}

/** The client address (Express's req.ip: the socket address, or X-Forwarded-For's per TRUST_PROXY). */
export function clientKey(req: Request): string {
  return `addr:${req.ip ?? req.socket.remoteAddress ?? "unknown"}`;
}

/**
 * The user of a verified bearer token of the given type (the e-mail the token names), else the client
 * address. Without a token service (ENABLE_AUTH=false) everyone is counted by address.
 */
export function userOrClientKey(jwt: JwtService | null, type: TokenType): (req: Request) => string {
  return (req) => {
    if (jwt) {
      try {
        const token = bearerToken(req.headers.authorization);
        if (token !== null) return `user:${jwt.verify(token, type).sub.toLowerCase()}`;
      } catch {
        // not a valid token of ours: counted by address (the route answers the token's problem)
      }
    }
    return clientKey(req);
  };
}

export function rateLimit(o: RateLimitOptions): RequestHandler {
  const windowMs = o.windowMs ?? 60_000;
  const counts = new Map<string, { n: number; reset: number }>();
  return (req, res, next) => {
    const now = Date.now();
    if (counts.size > 50_000) {
      for (const [k, v] of counts) if (v.reset <= now) counts.delete(k);
    }
    const key = (o.key ?? clientKey)(req);
    let c = counts.get(key);
    if (!c || c.reset <= now) {
      c = { n: 0, reset: now + windowMs };
      counts.set(key, c);
    }
    c.n++;
    if (c.n > o.limit) {
      const retry = Math.max(1, Math.ceil((c.reset - now) / 1000));
      res.setHeader("Retry-After", String(retry));
      const seconds = Math.round(windowMs / 1000);
      next(appError("rate_limited", { limit: o.limit, seconds, retry }, { body: "message" }));
      return;
    }
    next();
  };
}
