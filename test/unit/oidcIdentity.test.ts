// Which e-mails and subjects of an OIDC answer the App relies on (adapters/auth/oidc.ts, docs/sign-in.md).
import { describe, expect, it } from "vitest";
import { identityFromClaims } from "../../src/adapters/auth/oidc.js";

const ISS = "https://idp.example";
const base = { iss: ISS, sub: "s-1", name: "N" };
const globusSet = [
  { sub: "s-1", email: "Primary@Uni.example", name: "N", username: "p" },
  { sub: "s-2", email: "linked@cern.example", name: "N", username: "l" },
  { sub: "s-3", email: null, name: "N", username: "x" },
];

describe("identityFromClaims", () => {
  it("When a generic provider says email_verified=true, then that e-mail (lowercase) is the verified one", () => {
    const id = identityFromClaims({ ...base, email: "A@B.example", email_verified: true }, "generic");
    expect(id).toMatchObject({ iss: ISS, sub: "s-1", subjects: ["s-1"], email: "A@B.example" });
    expect(id.verifiedEmails).toEqual(["a@b.example"]);
  });

  it.each([
    ["false", false],
    ["absent", undefined],
    ['the string "true"', "true"],
    ["1", 1],
  ])("When a generic provider's email_verified is %s, then no e-mail is verified", (_what, flag) => {
    const claims = { ...base, email: "a@b.example", ...(flag === undefined ? {} : { email_verified: flag }) };
    const id = identityFromClaims(claims, "generic");
    expect(id.email).toBe("a@b.example");
    expect(id.verifiedEmails).toEqual([]);
  });

  it("When there is no e-mail claim, then the identity has no e-mail and nothing verified", () => {
    expect(identityFromClaims(base, "generic")).toMatchObject({ email: null, verifiedEmails: [] });
    expect(identityFromClaims({ ...base, email: "  " }, "globus")).toMatchObject({
      email: null,
      verifiedEmails: [],
    });
  });

  it("When a generic provider sends identity_set, then neither its subjects nor its e-mails count", () => {
    const id = identityFromClaims({ ...base, identity_set: globusSet }, "generic");
    expect(id).toMatchObject({ subjects: ["s-1"], verifiedEmails: [] });
  });

  it("When Globus sends identity_set, then its subjects key the account and its e-mails are verified; the top-level e-mail alone is not", () => {
    const id = identityFromClaims(
      { ...base, email: "primary@uni.example", identity_set: globusSet },
      "globus",
    );
    expect(id.subjects).toEqual(["s-1", "s-2", "s-3"]);
    expect(id.verifiedEmails).toEqual(["primary@uni.example", "linked@cern.example"]);
    const alone = identityFromClaims({ ...base, email: "primary@uni.example" }, "globus");
    expect(alone.verifiedEmails).toEqual([]);
  });

  it("When a Globus identity_set entry says email_verified=false, then its e-mail is not verified", () => {
    const id = identityFromClaims(
      { ...base, identity_set: [{ ...globusSet[1], email_verified: false }] },
      "globus",
    );
    expect(id.verifiedEmails).toEqual([]);
    expect(id.subjects).toEqual(["s-1", "s-2"]);
  });

  it("When the claims have no issuer or subject, then it throws", () => {
    expect(() => identityFromClaims({ sub: "x" }, "generic")).toThrow(/issuer or subject/);
    expect(() => identityFromClaims({ iss: ISS }, "generic")).toThrow(/issuer or subject/);
  });
});
