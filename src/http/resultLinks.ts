// Who signs download links for result objects (`POST …/file-urls`, docs/api.md): the object store for
// object-store requests, or, when results are local (no object store), the App's own read-only S3 endpoint
// (docs/local-results.md), whose links name the host and scheme the caller used.
import type { IncomingMessage } from "node:http";
import type { ObjectStore } from "../domain/objectStore.js";
import type { ResultLinks } from "../domain/requestReads.service.js";
import { isEncrypted, type LocalS3, presignLocalResult } from "./localS3.js";
import type { Caller } from "./presenters/request.presenter.js";

/** How `req` reached the App (for links and endpoints given back to the caller). */
export function callerOf(req: IncomingMessage): Caller {
  return { headers: req.headers, encrypted: isEncrypted(req) };
}

/** The link signer for one caller; one that serves nothing when results are neither local nor in a store. */
export type ResultLinksFor = (caller: Caller) => ResultLinks;

export function resultLinks(
  objectStore: ObjectStore | null,
  localS3: LocalS3 | null | undefined,
): ResultLinksFor {
  if (!objectStore && localS3) {
    return (caller) => ({
      serves: () => true,
      sign: (requestId, key, expiry) => presignLocalResult(localS3, requestId, key, expiry, caller),
    });
  }
  if (!objectStore) return () => ({ serves: () => false, sign: () => "" });
  const store = objectStore;
  return () => ({
    serves: (r) => r.resultDestination === "object-store",
    sign: (requestId, key, expiry) => store.presignGet(requestId, key, expiry),
  });
}
