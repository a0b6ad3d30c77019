// Who may read or change what: the one place for the rules of docs/decisions.md D10 (a non-admin sees and
// changes only their own requests; an admin everything) and of docs/api.md's guards. With ENABLE_AUTH=false
// the caller is "no user" and every rule answers yes, as upstream's open behaviour. Identification itself
// (session or bearer token, admin_required) is the HTTP guard's job (src/http/middleware/auth.ts); these
// rules only look at who was identified.
import { forbidden } from "./errors.js";

/** Who is asking. `null` user = authentication disabled (docs/sign-in.md). */
export interface Requester {
  user: { id: number; admin: boolean } | null;
}

/** The part of a request (or of anything owned by a user) the rules look at. */
export interface Owned {
  submittedBy: number | null;
}

/** The owner-or-admin rule: no user (authentication off), an admin, or the owner. */
export function isOwnerOrAdmin(who: Requester, ownerId: number | null): boolean {
  return !who.user || who.user.admin || ownerId === who.user.id;
}

/** May `who` see the request (its status, results, errors, history, files)? */
export function mayReadRequest(who: Requester, r: Owned): boolean {
  return isOwnerOrAdmin(who, r.submittedBy);
}

/** May `who` cancel, delete or re-run the request? The same rule as reading today (docs/decisions.md D10). */
export function mayChangeRequest(who: Requester, r: Owned): boolean {
  return isOwnerOrAdmin(who, r.submittedBy);
}

/** What a refused caller was trying to do, for the 403 message ("You are not authorized to <verb> this request"). */
export type RequestAction = "view" | "cancel" | "delete" | "re-run";

/** Throws the 403 of docs/api.md unless `who` may do `action` on the request. */
export function assertMayRequest(who: Requester, r: Owned, action: RequestAction): void {
  const allowed = action === "view" ? mayReadRequest(who, r) : mayChangeRequest(who, r);
  if (!allowed) throw forbidden(`You are not authorized to ${action} this request`);
}

/**
 * Whose requests a listing shows: an admin (or no user) sees everyone's, or those of `asked` when given; a
 * non-admin sees only their own, and asking for another user's is a 403.
 */
export function requestListScope(who: Requester, asked: number | undefined): number | undefined {
  if (!who.user || who.user.admin) return asked;
  if (asked !== undefined && asked !== who.user.id) {
    throw forbidden("You are not authorized to view these requests");
  }
  return who.user.id;
}

/**
 * The owner whose requests a page about shared things (a dataset's requests) lists for `who`: undefined
 * (everyone's) for an admin or no user, the caller's own id otherwise.
 */
export function ownRequestsOnly(who: Requester): number | undefined {
  return who.user && !who.user.admin ? who.user.id : undefined;
}

/**
 * Datasets are shared by every user (a lookup serves everyone who asks for the same DID): any identified
 * caller may read them and mark one stale (docs/api.md, `auth_required`).
 */
export function mayReadDataset(_who: Requester): boolean {
  return true;
}

/** See mayReadDataset: marking a dataset stale is open to every identified caller. */
export function mayChangeDataset(_who: Requester): boolean {
  return true;
}

/** A user's own account, or an admin: who may see a user's record. */
export function mayReadUser(who: Requester, userId: number): boolean {
  return isOwnerOrAdmin(who, userId);
}

/** Approving, promoting or deleting users is for admins (`admin_required`); no user when authentication is off. */
export function mayChangeUser(who: Requester): boolean {
  return !who.user || who.user.admin;
}
