// API tokens (docs/sign-in.md, docs/decisions.md D5): HS256 JWTs with flask-jwt-extended's claims, so a site keeping its
// JWT_SECRET_KEY keeps its users' tokens. Only HS256 is accepted on decode (no `none`, no RS/HS confusion).
// Refresh tokens are the users' API tokens; only the latest one per user is valid, checked by `jti` against
// the stored token record (see TokenRecord: the token itself is never stored, only what identifies it).
import { type KeyObject, createSecretKey, randomUUID } from "node:crypto";
import jwt from "jsonwebtoken";
import type { ApiTokenSigner, TokenClaims, TokenRecord, TokenType } from "../../domain/apiTokens.js";
import { appError } from "../../domain/errors.js";

// The token types and the stored token record are the domain's (src/domain/apiTokens.ts).
export {
  type TokenClaims,
  type TokenRecord,
  type TokenType,
  decodeTokenRecord,
  encodeTokenRecord,
  storedJti,
} from "../../domain/apiTokens.js";

export interface JwtOptions {
  secret: string;
  accessExpiresSeconds: number;
  /** false: refresh tokens never expire */
  refreshExpiresSeconds: number | false;
}

/** flask-jwt-extended's error answers: `{"msg": ...}` with 401 (missing, expired) or 422 (invalid). */
/** An invalid App JWT (422, body {"msg": …} as flask-jwt-extended); an expired one is 401 token_expired. */
export const jwtError = (detail: string) => appError("invalid_token", { detail }, { body: "msg" });

export class JwtService implements ApiTokenSigner {
  /** Made once: given the secret as a string, jsonwebtoken builds a key per call (~0.5 ms; 12 µs with this). */
  private readonly key: KeyObject;
  private readonly verified = new Map<string, TokenClaims>();

  constructor(private readonly o: JwtOptions) {
    this.key = createSecretKey(Buffer.from(o.secret, "utf8"));
  }

  issue(
    type: TokenType,
    sub: string,
    now = Math.floor(Date.now() / 1000),
  ): { token: string; record: TokenRecord } {
    const ttl = type === "access" ? this.o.accessExpiresSeconds : this.o.refreshExpiresSeconds;
    const record: TokenRecord = { jti: randomUUID(), iat: now, exp: ttl === false ? null : now + ttl };
    return { token: this.sign(type, sub, record), record };
  }

  /** Re-creates a token from its record (same claims, same bytes). */
  sign(type: TokenType, sub: string, r: TokenRecord): string {
    const claims: TokenClaims = { fresh: false, iat: r.iat, jti: r.jti, type, sub, nbf: r.iat };
    if (r.exp !== null) claims.exp = r.exp;
    return jwt.sign(claims, this.key, { algorithm: "HS256" });
  }

  /**
   * Verifies signature, algorithm, expiry, nbf and type. Throws AppError with flask-jwt-extended's status and
   * `{"msg"}` body.
   */
  verify(token: string, expected: TokenType): TokenClaims {
    // Clients poll with the same access token for hours: a verified token is remembered (its expiry is still
    // checked on every use), which takes the HMAC and JSON work off the status-poll path.
    const hit = this.verified.get(token);
    if (hit && hit.type === expected) {
      if (hit.exp === undefined || hit.exp > Date.now() / 1000) return hit;
      this.verified.delete(token);
    }
    const claims = this.verifyUncached(token, expected);
    if (this.verified.size >= 10_000) this.verified.clear();
    this.verified.set(token, claims);
    return claims;
  }

  private verifyUncached(token: string, expected: TokenType): TokenClaims {
    let claims: TokenClaims;
    try {
      claims = jwt.verify(token, this.key, { algorithms: ["HS256"] }) as TokenClaims;
    } catch (e) {
      const err = e as Error;
      if (err.name === "TokenExpiredError") throw appError("token_expired", {}, { body: "msg" });
      if (err.name === "NotBeforeError") throw jwtError("The token is not yet valid (nbf)");
      const m = err.message;
      if (m === "invalid signature") throw jwtError("Signature verification failed");
      if (m === "invalid algorithm" || m.startsWith("jwt signature is required"))
        throw jwtError("The specified alg value is not allowed");
      if (m === "jwt malformed") throw jwtError("Not enough segments");
      throw jwtError(`Invalid token: ${m}`);
    }
    if (typeof claims !== "object" || claims === null || typeof claims.sub !== "string") {
      throw jwtError("Missing claim: sub");
    }
    if (typeof claims.jti !== "string") throw jwtError("Missing claim: jti");
    const type = claims.type ?? "access";
    if (expected === "refresh" && type !== "refresh") throw jwtError("Only refresh tokens are allowed");
    if (expected === "access" && type === "refresh") throw jwtError("Only non-refresh tokens are allowed");
    return claims;
  }
}

export const MSG_NO_BEARER =
  "Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'";

/**
 * `Authorization: Bearer <token>` → token; null when there is no Authorization header. As flask-jwt-extended:
 * a header without a `Bearer` part is a missing token (401, `key` names the body key: "msg" at
 * /token/refresh, "message" in auth_required); `Bearer` not followed by exactly one token is 422.
 */
export function bearerToken(header: string | undefined, key: "msg" | "message" = "msg"): string | null {
  if (header === undefined) return null;
  const parts = header.split(/,\s*/).filter((p) => /^Bearer(\s|$)/.test(p.trim()));
  if (parts.length !== 1) {
    throw appError("missing_authorization", { detail: MSG_NO_BEARER }, { body: key });
  }
  const words = parts[0]!.trim().split(/\s+/);
  if (words.length !== 2) throw jwtError("Bad Authorization header. Expected 'Authorization: Bearer <JWT>'");
  return words[1]!;
}
