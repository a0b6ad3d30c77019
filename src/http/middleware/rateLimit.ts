// Per-client rate limits (fixed one-minute windows, per process) on the endpoints an attacker or a broken
// script would hammer: token refresh, sign-in callback, Slack, accept, submit. Over the limit: 429 with
// Retry-After and a clear message.
import type { Request, RequestHandler } from "express";
import { AppError } from "../../domain/errors.js";

export interface RateLimitOptions {
  /** Requests allowed per window and key. */
  limit: number;
  windowMs?: number;
  /** What is limited: default the client address; submit uses the bearer token or session user. */
  key?: (req: Request) => string;
}

export function clientKey(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? "unknown";
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
      const message = `Too many requests: at most ${o.limit} per ${Math.round(windowMs / 1000)} s. Retry in ${retry} s.`;
      next(new AppError("rate_limited", message, 429, { message }));
      return;
    }
    next();
  };
}
