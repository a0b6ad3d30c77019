// Security headers on every answer of the Express app (helmet): a Content-Security-Policy without inline
// script or style (the pages load theirs from /static), no framing, nosniff, a same-origin Referrer-Policy,
// and HSTS when the browser came over TLS. The fast path outside Express (src/http/fastPath.ts) sends the same
// headers through src/http/respond.ts, so the middleware takes plain Node requests as well.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { Request } from "express";
import helmet from "helmet";
import { requestScheme } from "./session.js";

/**
 * The policy the pages are written for (test/integration/csp.browser.test.ts visits each one). form-action is
 * left open on purpose: a form posted with an expired session is redirected through /sign-in to the identity
 * provider, and browsers apply form-action to every hop of that redirect.
 */
export const CSP_DIRECTIVES = {
  "default-src": ["'self'"],
  "script-src": ["'self'"],
  "style-src": ["'self'"],
  "img-src": ["'self'", "data:"],
  "connect-src": ["'self'"],
  "font-src": ["'self'"],
  "object-src": ["'none'"],
  "base-uri": ["'none'"],
  "frame-ancestors": ["'none'"],
};

/** One year; no includeSubDomains: other hosts of the site's domain are not ours to pin to https. */
const HSTS_MAX_AGE = 31_536_000;

/**
 * What requestScheme reads, from a plain Node request (X-Scheme / X-Forwarded-Proto come first there, so
 * Express's trust-proxy view of the protocol adds nothing beyond the socket's TLS).
 */
function expressView(req: IncomingMessage): Request {
  if (typeof (req as Partial<Request>).get === "function") return req as Request;
  return {
    headers: req.headers,
    secure: (req.socket as TLSSocket).encrypted === true,
    get: (name: string) => req.headers[name.toLowerCase()],
  } as unknown as Request;
}

type NodeMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** What a helmet middleware does to an answer: the headers it sets and the ones it removes. */
interface Recorded {
  set: [string, string][];
  removed: string[];
}

/**
 * Runs a helmet middleware once against a recorder. helmet writes the same headers whatever the request (it
 * reads nothing of it; the CSP above has no per-request values), so the answers get the recorded headers
 * without running helmet each time: the fast path (src/http/fastPath.ts) serves thousands of calls a second.
 */
function record(mw: NodeMiddleware): Recorded {
  const out: Recorded = { set: [], removed: [] };
  const res = {
    setHeader(name: string, value: unknown) {
      out.set.push([name, String(value)]);
      return res;
    },
    removeHeader(name: string) {
      out.removed.push(name);
    },
  };
  let finished = false;
  mw({ headers: {} } as IncomingMessage, res as unknown as ServerResponse, (err) => {
    if (err) throw err;
    finished = true;
  });
  if (!finished) throw new Error("helmet did not set its headers synchronously");
  return out;
}

function apply(res: ServerResponse, r: Recorded): void {
  for (const name of r.removed) res.removeHeader(name);
  for (const [name, value] of r.set) res.setHeader(name, value);
}

/** The security headers for one answer; a middleware for Express, also called by the fast path (respond.ts). */
export function securityHeaders(): NodeMiddleware {
  const always = record(
    helmet({
      contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
      xFrameOptions: { action: "deny" },
      referrerPolicy: { policy: "same-origin" },
      // Sent below only to browsers that came over TLS (an http answer may be the one a site serves on purpose).
      strictTransportSecurity: false,
    }),
  );
  const hsts = record(helmet.strictTransportSecurity({ maxAge: HSTS_MAX_AGE, includeSubDomains: false }));
  return (req, res, next) => {
    apply(res, always);
    // The same judgement as the session cookie's Secure flag (X-Forwarded-Proto / X-Scheme behind an
    // ingress that terminates TLS); browsers ignore HSTS received over plain http anyway.
    if (requestScheme(expressView(req)) === "https") apply(res, hsts);
    next();
  };
}
