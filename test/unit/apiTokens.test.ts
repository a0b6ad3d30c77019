// The stored API-token record (src/domain/apiTokens.ts, docs/sign-in.md): its round trip, and the jti read
// from what `users.refresh_token` may hold (the App's record, a whole JWT stored by upstream's App, or
// something unreadable), compared with jsonwebtoken's own decoding.
import { randomUUID } from "node:crypto";
import jwt from "jsonwebtoken";
import { describe, expect, it } from "vitest";
import { decodeTokenRecord, encodeTokenRecord, storedJti } from "../../src/domain/apiTokens.js";

describe("Stored API-token records", () => {
  it("When a record is encoded and decoded, then it comes back unchanged (with and without expiry)", () => {
    for (const r of [
      { jti: randomUUID(), iat: 1_700_000_000, exp: 1_800_000_000 },
      { jti: randomUUID(), iat: 1_700_000_000, exp: null },
    ]) {
      expect(decodeTokenRecord(encodeTokenRecord(r))).toEqual(r);
      expect(storedJti(encodeTokenRecord(r))).toBe(r.jti);
    }
  });

  it("When upstream's App stored the whole JWT, then its jti is read as jsonwebtoken decodes it", () => {
    const jti = randomUUID();
    const token = jwt.sign({ jti, sub: "a@b.example", type: "refresh" }, "some-secret", {
      algorithm: "HS256",
    });
    expect(storedJti(token)).toBe(jti);
    expect(storedJti(token)).toBe((jwt.decode(token) as { jti: string }).jti);
    expect(decodeTokenRecord(token)).toBeNull();
  });

  it("When the stored value is absent or unreadable, then there is no jti", () => {
    const noJti = jwt.sign({ sub: "a@b.example" }, "s", { algorithm: "HS256" });
    for (const v of [null, "", "garbage", "a.b.c", "a.%%%.c", noJti, "x.IkEi.y"]) {
      expect(storedJti(v), String(v)).toBeNull();
    }
  });
});
