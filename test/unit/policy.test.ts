// The access rules of src/domain/policy.ts (docs/decisions.md D10), without HTTP or a database.
import { describe, expect, it } from "vitest";
import {
  assertMayRequest,
  isOwnerOrAdmin,
  mayChangeDataset,
  mayChangeRequest,
  mayChangeUser,
  mayReadDataset,
  mayReadRequest,
  mayReadUser,
  ownRequestsOnly,
  type Requester,
  requestListScope,
} from "../../src/domain/policy.js";

const open: Requester = { user: null };
const owner: Requester = { user: { id: 7, admin: false } };
const other: Requester = { user: { id: 8, admin: false } };
const admin: Requester = { user: { id: 1, admin: true } };
const req = { submittedBy: 7 };
const anonymous = { submittedBy: null };

describe("request rules", () => {
  it("When authentication is off, then every caller may read and change every request", () => {
    expect(mayReadRequest(open, req)).toBe(true);
    expect(mayChangeRequest(open, anonymous)).toBe(true);
  });
  it("When the caller owns the request or is an admin, then they may read and change it", () => {
    for (const who of [owner, admin]) {
      expect(mayReadRequest(who, req)).toBe(true);
      expect(mayChangeRequest(who, req)).toBe(true);
    }
  });
  it("When another user asks, then reading and changing are refused with the action in the 403", () => {
    expect(mayReadRequest(other, req)).toBe(false);
    expect(mayChangeRequest(other, anonymous)).toBe(false);
    for (const action of ["view", "cancel", "delete", "re-run"] as const) {
      expect(() => assertMayRequest(other, req, action)).toThrow(
        expect.objectContaining({ status: 403, message: `You are not authorized to ${action} this request` }),
      );
      expect(() => assertMayRequest(owner, req, action)).not.toThrow();
    }
  });
  it("When a request has no owner (submitted with authentication off), then only admins may touch it", () => {
    expect(isOwnerOrAdmin(owner, null)).toBe(false);
    expect(isOwnerOrAdmin(admin, null)).toBe(true);
  });
});

describe("listing scope", () => {
  it("When a non-admin lists, then they see only their own requests; asking for another's is a 403", () => {
    expect(requestListScope(owner, undefined)).toBe(7);
    expect(requestListScope(owner, 7)).toBe(7);
    expect(() => requestListScope(owner, 8)).toThrow(
      expect.objectContaining({ status: 403, message: "You are not authorized to view these requests" }),
    );
  });
  it("When an admin or no user lists, then the asked owner (or everyone) is listed", () => {
    expect(requestListScope(admin, 8)).toBe(8);
    expect(requestListScope(admin, undefined)).toBeUndefined();
    expect(requestListScope(open, 3)).toBe(3);
    expect(ownRequestsOnly(owner)).toBe(7);
    expect(ownRequestsOnly(admin)).toBeUndefined();
    expect(ownRequestsOnly(open)).toBeUndefined();
  });
});

describe("datasets and users", () => {
  it("When any identified caller asks, then datasets may be read and marked stale (they are shared)", () => {
    for (const who of [open, owner, admin]) {
      expect(mayReadDataset(who)).toBe(true);
      expect(mayChangeDataset(who)).toBe(true);
    }
  });
  it("When a user record is asked for, then the user themself or an admin may read it; only admins change users", () => {
    expect(mayReadUser(owner, 7)).toBe(true);
    expect(mayReadUser(other, 7)).toBe(false);
    expect(mayReadUser(admin, 7)).toBe(true);
    expect(mayChangeUser(owner)).toBe(false);
    expect(mayChangeUser(admin)).toBe(true);
    expect(mayChangeUser(open)).toBe(true);
  });
});
