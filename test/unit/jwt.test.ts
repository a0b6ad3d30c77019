// API tokens (A.5, §7.4): flask-jwt-extended claims, HS256 only, the stored record re-creates the very same
// token, upstream databases holding full JWTs still work.
import jwt from "jsonwebtoken";
import { describe, expect, it } from "vitest";
import {
  JwtService,
  bearerToken,
  decodeTokenRecord,
  encodeTokenRecord,
  storedJti,
} from "../../src/adapters/auth/jwt.js";

const svc = new JwtService({
  secret: "k".repeat(40),
  accessExpiresSeconds: 600,
  refreshExpiresSeconds: false,
});

describe("JwtService", () => {
  it("When a refresh token is issued, then its record re-creates exactly the same token", () => {
    const { token, record } = svc.issue("refresh", "alice@example.org", 1_700_000_000);
    const stored = encodeTokenRecord(record);
    expect(stored).not.toContain(token.split(".")[2]!);
    expect(decodeTokenRecord(stored)).toEqual(record);
    expect(svc.sign("refresh", "alice@example.org", decodeTokenRecord(stored)!)).toBe(token);
    expect(storedJti(stored)).toBe(record.jti);
  });

  it("When a token is issued, then it has flask-jwt-extended's header and claims", () => {
    const { token } = svc.issue("access", "alice@example.org", 1_700_000_000);
    const decoded = jwt.decode(token, { complete: true })!;
    expect(decoded.header).toEqual({ alg: "HS256", typ: "JWT" });
    expect(decoded.payload).toEqual({
      fresh: false,
      iat: 1_700_000_000,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      type: "access",
      sub: "alice@example.org",
      nbf: 1_700_000_000,
      exp: 1_700_000_600,
    });
    const { token: refresh } = svc.issue("refresh", "a@b.c");
    expect((jwt.decode(refresh) as Record<string, unknown>).exp).toBeUndefined(); // JWT_REFRESH_TOKEN_EXPIRES=false
  });

  it("When upstream stored the whole refresh JWT, then its jti is still found", () => {
    const upstream = jwt.sign(
      { fresh: false, jti: "0b9f4c1e-1111-4222-8333-444455556666", type: "refresh", sub: "x" },
      "other",
    );
    expect(storedJti(upstream)).toBe("0b9f4c1e-1111-4222-8333-444455556666");
    expect(storedJti(null)).toBeNull();
    expect(storedJti("garbage")).toBeNull();
  });

  it("When a verified access token expires later, then the remembered verification does not outlive it", async () => {
    const short = new JwtService({
      secret: "s".repeat(40),
      accessExpiresSeconds: 1,
      refreshExpiresSeconds: false,
    });
    const { token } = short.issue("access", "a@b.c");
    expect(short.verify(token, "access").sub).toBe("a@b.c");
    await new Promise((r) => setTimeout(r, 2100));
    expect(() => short.verify(token, "access")).toThrow("Token has expired");
  });

  it("When the Authorization header is malformed, then the flask-jwt-extended answers come back", () => {
    expect(bearerToken(undefined)).toBeNull();
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(() => bearerToken("Token abc")).toThrow(/Missing 'Bearer' type/);
    expect(() => bearerToken("Bearer a b")).toThrow(/Bad Authorization header/);
  });
});
