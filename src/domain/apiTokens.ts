// API tokens as the domain sees them (docs/sign-in.md, docs/decisions.md D5): what a token claims, the record
// `users.refresh_token` keeps of the latest API token (never the token itself), and the port that issues,
// re-creates and verifies tokens (HS256 JWTs with flask-jwt-extended's claims: src/adapters/auth/jwt.ts).

export type TokenType = "access" | "refresh";

export interface TokenClaims {
  fresh: boolean;
  iat: number;
  jti: string;
  type: TokenType;
  sub: string;
  nbf: number;
  exp?: number;
}

/**
 * What `users.refresh_token` holds for a token the App issued: enough to check the jti and to re-create the
 * very same token (HS256 signing is deterministic) for servicex.yaml, never the token itself, so a database
 * dump does not hand out API tokens. Format: `sxrt1:<jti>:<iat>:<exp or ->` (sub = the user's e-mail).
 */
export interface TokenRecord {
  jti: string;
  iat: number;
  exp: number | null;
}

/** Issues, re-creates and verifies API tokens; verification failures are the catalogue's 401/422 errors. */
export interface ApiTokenSigner {
  issue(type: TokenType, sub: string): { token: string; record: TokenRecord };
  /** The token of a record again (same claims, same bytes). */
  sign(type: TokenType, sub: string, r: TokenRecord): string;
  verify(token: string, expected: TokenType): TokenClaims;
}

const RECORD = /^sxrt1:([0-9a-f-]{36}):(\d+):(\d+|-)$/;

export function encodeTokenRecord(r: TokenRecord): string {
  return `sxrt1:${r.jti}:${r.iat}:${r.exp ?? "-"}`;
}

export function decodeTokenRecord(stored: string | null): TokenRecord | null {
  const m = stored ? RECORD.exec(stored) : null;
  if (!m) return null;
  return { jti: m[1]!, iat: Number(m[2]), exp: m[3] === "-" ? null : Number(m[3]) };
}

/**
 * The jti of a stored token: the record format above, or a whole JWT as upstream's App stored it (its payload
 * read without verification: it came from the App's own database). null when absent or unreadable.
 */
export function storedJti(stored: string | null): string | null {
  if (!stored) return null;
  const m = RECORD.exec(stored);
  if (m) return m[1]!;
  const parts = stored.split(".");
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    const jti = payload && typeof payload === "object" ? (payload as { jti?: unknown }).jti : undefined;
    return typeof jti === "string" ? jti : null;
  } catch {
    return null;
  }
}
