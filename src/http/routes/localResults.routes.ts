// GET /transformation-request/<id>/results/<file>: one result file of a request, as a download (the results
// page links it; docs/local-results.md). With ENABLE_AUTH=true only the owner or an admin gets it (a browser
// session, or a bearer token); any other user gets the same 404 as for an unknown request. Local results are
// read from RESULTS_DIR/<request_id>/ with the checks of LocalResultFiles (no "..", hidden names, absolute
// paths or symlinks leaving the directory); results in an object store are a redirect to a short-lived
// presigned URL.
import type { NextFunction, Request, Response } from "express";
import { Router } from "express";
import { type LocalResultFiles, validResultKey } from "../../adapters/localS3/resultFiles.js";
import { notFound, transformNotFound } from "../../domain/errors.js";
import type { ObjectStore } from "../../domain/objectStore.js";
import type { RequestReads } from "../../domain/requestReads.service.js";
import { type Auth, identifiedRequester } from "../middleware/auth.js";
import type { PageKit } from "./pages/kit.js";

export interface LocalResultsRoutesDeps {
  reads: Pick<RequestReads, "visible">;
  auth: Auth;
  kit: PageKit;
  objectStore: ObjectStore | null;
  /** RESULTS_DIR's files (the local S3 endpoint's, when it runs). */
  files: LocalResultFiles;
}

/** Lifetime of the presigned URL a download of an object-store result is redirected to. */
const REDIRECT_EXPIRY_SECONDS = 300;

/** `attachment` with an ASCII fallback name and the exact name in RFC 5987 form. */
function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  const exact = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}

export function localResultsRoutes({ reads, auth, kit, objectStore, files }: LocalResultsRoutesDeps): Router {
  const r = Router();
  const apiGuard = auth();
  // A bearer token (API callers) is checked by the API guard; a browser without one signs in first.
  const signedIn = (req: Request, res: Response, next: NextFunction) =>
    req.headers.authorization !== undefined ? apiGuard(req, res, next) : kit.oauthRequired(req, res, next);

  r.get("/transformation-request/:id/results/:file", signedIn, async (req, res) => {
    const id = String(req.params.id);
    const file = String(req.params.file);
    const missing = (what: string) => {
      if (req.accepts(["json", "html"]) === "html") return kit.errorPage(req, res, 404, "Not found", what);
      throw notFound(what);
    };
    const who = identifiedRequester(res) ?? kit.who(req);
    // Another user's request is answered exactly as an unknown one.
    const rec = /^(?:\d{1,9}|[0-9a-fA-F-]{36})$/.test(id) ? await reads.visible(id, who) : null;
    if (!rec) {
      return missing(transformNotFound(id).message);
    }
    const gone = () => missing(`Result file not found: ${file}`);
    if (!validResultKey(file)) return gone();

    if (objectStore && rec.resultDestination === "object-store") {
      if ((await objectStore.objectSize(rec.requestId, file)) === null) return gone();
      res.set("Cache-Control", "no-store");
      return res.redirect(302, await objectStore.presignGet(rec.requestId, file, REDIRECT_EXPIRY_SECONDS));
    }

    const opened = await files.open(rec.requestId, file);
    if (!opened) return gone();
    const { handle } = opened;
    let streaming = false;
    try {
      res.status(200).set({
        "Content-Type": "application/octet-stream",
        "Content-Length": String(opened.size),
        "Content-Disposition": contentDisposition(opened.key.split("/").at(-1)!),
        ETag: opened.etag,
        "Last-Modified": opened.lastModified.toUTCString(),
        "Cache-Control": "private, no-cache",
      });
      if (req.method === "HEAD" || opened.size === 0) {
        res.end();
        return;
      }
      streaming = true;
      const stream = handle.createReadStream({ autoClose: true });
      stream.on("error", () => res.destroy());
      res.on("close", () => stream.destroy());
      stream.pipe(res);
    } finally {
      if (!streaming) await handle.close();
    }
  });
  return r;
}
