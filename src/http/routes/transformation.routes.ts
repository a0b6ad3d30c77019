// Client API for transform requests (docs/api.md, plus /errors from docs/decisions.md D12).
import type { IncomingHttpHeaders } from "node:http";
import { type Request, Router } from "express";
import { z } from "zod";
import { clampPresignExpiry } from "../../adapters/objectStore/objectStore.js";
import { appError, badRequest, notFound, transformNotFound } from "../../domain/errors.js";
import { assertMayRequest, type Requester } from "../../domain/policy.js";
import type { AppDeps } from "../deps.js";
import { isEncrypted, localS3Access, presignLocalResult } from "../localS3.js";
import { authGuards, identifiedRequester, requester } from "../middleware/auth.js";
import { refuseHead } from "../middleware/head.js";
import { clientKey, rateLimit } from "../middleware/rateLimit.js";
import { defaultInvalid, describeZodError, op } from "../openapi.js";
import { requestDetailJson, requestJson } from "../presenters/request.presenter.js";
import { resultJson } from "../presenters/result.presenter.js";
import { isoZ } from "../presenters/time.js";
import { MessageResponse, requestIdParam } from "../schemas/common.js";
import {
  FileUrlsBody,
  ListQuery,
  ResultsQuery,
  StatusQuery,
  SubmitBody,
  SubmitResponse,
  TransformRequestJson,
  TransformResultJson,
} from "../schemas/transformation.schemas.js";

/** docs/api.md: the answer of POST …/rerun-failed. */
const RerunResponse = z.object({
  message: z.string(),
  request_id: z.string(),
  files: z.number().int().describe("failed files given a new task"),
  rerun: z.number().int().describe("1 for the request's first re-run, 2 for the second, …"),
});

const notFoundFor = (id: string) => transformNotFound(id);
const paramNotFound = (req: Request) => notFoundFor(String(req.params.request_id));

/**
 * GET /servicex/transformation/<id>: the Python client's polling call (docs/api.md). Shared by the
 * Express route and the fast path (fastPath.ts).
 */
export async function requestDetail(
  deps: AppDeps,
  id: string,
  who: Requester,
  caller?: { headers: IncomingHttpHeaders; encrypted: boolean },
): Promise<Record<string, unknown>> {
  const { config } = deps;
  const rec = await deps.transformations.get(id, who);
  const objectStore = config.objectStorePublic
    ? {
        endpoint: config.objectStorePublic.endpoint,
        secured: config.objectStorePublic.secure,
        // Read-only public keys when the site configured them; otherwise the root keys, as upstream.
        accessKey: config.MINIO_PUBLIC_ACCESS_KEY ?? config.MINIO_ACCESS_KEY ?? "",
        secretKey: config.MINIO_PUBLIC_ACCESS_KEY
          ? (config.MINIO_PUBLIC_SECRET_KEY ?? "")
          : (config.MINIO_SECRET_KEY ?? ""),
      }
    : null;
  // Local results (no object store): the App's own read-only S3 endpoint, with this request's key pair.
  const localResults = deps.localS3 && caller ? localS3Access(deps.localS3, rec.requestId, caller) : null;
  return requestDetailJson(rec, { objectStore, localResults, logsUrl: config.LOGS_URL });
}

export function transformationRoutes(deps: AppDeps): Router {
  const r = Router();
  const { transformations, repos } = deps;
  const auth = authGuards(deps.requester);
  r.post(
    "/servicex/transformation",
    rateLimit({
      limit: deps.config.SUBMIT_RATE_LIMIT_PER_MINUTE,
      // Per user: the caller was identified (token verified) before the body was read (app.ts).
      key: (req) => {
        const who = identifiedRequester(req.res);
        return who?.user ? `user:${who.user.id}` : clientKey(req);
      },
    }),
  );

  op(
    r,
    {
      method: "post",
      path: "/servicex/transformation",
      guard: auth(),
      tag: "client",
      summary: "Submit a transform request (a DID or a file list, plus a selection)",
      body: SubmitBody,
      invalid: (_w, e) => appError("malformed_request", { detail: describeZodError(e) }),
      responses: {
        200: { description: "Accepted", schema: SubmitResponse },
        400: { description: "Invalid request", schema: MessageResponse },
        503: {
          description: "A dependency (code generator, database) is unavailable",
          schema: MessageResponse,
        },
      },
    },
    async (req, res, { body }) => {
      const who = requester(res);
      const key = req.get("idempotency-key");
      const out = await transformations.submitRequest(
        {
          title: body.title ?? null,
          did: body.did ?? null,
          fileList: body["file-list"] ?? null,
          selection: body.selection,
          codegen: body.codegen,
          treeName: body["tree-name"] ?? null,
          workers: body.workers ?? 1,
          resultDestination: body["result-destination"],
          resultFormat: body["result-format"] ?? "parquet",
        },
        who,
        key === undefined ? {} : { idempotencyKey: key },
      );
      res.json({ request_id: out.requestId });
    },
  );

  op(
    r,
    {
      method: "post",
      path: "/servicex/transformation/file-urls",
      guard: auth(),
      tag: "client",
      summary: "Presigned download URLs for result objects of a request (owner or admin)",
      body: FileUrlsBody,
      responses: {
        200: { description: '{"uris": {"<object>": [url, {}, expiry epoch]}}' },
        400: { description: "Not an object-store request", schema: MessageResponse },
        403: { description: "Not the owner", schema: MessageResponse },
        404: { description: "Unknown request", schema: MessageResponse },
      },
    },
    async (req, res, { body }) => {
      const rec = await transformations.get(body.request_id, requester(res));
      const store = deps.objectStore;
      const local = deps.localS3;
      // S3 signs for at most 7 days; the expiry reported is the one the URL really has.
      const expiry = clampPresignExpiry(deps.config.FILE_URL_EXPIRY_SECONDS);
      const expiresAt = Math.floor(Date.now() / 1000) + expiry;
      const uris: Record<string, [string, Record<string, never>, number]> = {};
      if (!store && local) {
        // Local results: URLs of the App's read-only S3 endpoint (docs/local-results.md).
        const caller = { headers: req.headers, encrypted: isEncrypted(req) };
        for (const key of body.file_list) {
          uris[key] = [presignLocalResult(local, rec.requestId, key, expiry, caller), {}, expiresAt];
        }
        return res.json({ uris });
      }
      if (!store || rec.resultDestination !== "object-store") {
        throw badRequest(`Transform request ${body.request_id} does not use object-store`);
      }
      for (const key of body.file_list) {
        uris[key] = [await store.presignGet(rec.requestId, key, expiry), {}, expiresAt];
      }
      res.json({ uris });
    },
  );

  op(
    r,
    {
      method: "get",
      path: "/servicex/transformation",
      guard: auth(),
      tag: "client",
      summary: "List transform requests (own requests for non-admins); optional pagination adds `total`",
      query: ListQuery,
      responses: {
        200: {
          description: "Requests",
          schema: z.object({ requests: z.array(TransformRequestJson), total: z.number().int().optional() }),
        },
        403: { description: "Another user's requests", schema: MessageResponse },
      },
    },
    async (_req, res, { query }) => {
      const who = requester(res);
      const paged = query.page !== undefined || query.per_page !== undefined;
      const { rows, total } = await transformations.list(
        who,
        query.submitted_by,
        paged ? { page: query.page ?? 1, perPage: query.per_page ?? 100 } : undefined,
      );
      const body: Record<string, unknown> = { requests: rows.map(requestJson) };
      if (total !== undefined) body.total = total;
      res.json(body);
    },
  );

  op(
    r,
    {
      method: "get",
      path: "/servicex/transformation/:request_id",
      guard: auth(),
      tag: "client",
      summary: "One transform request (UUID or integer id): the client's polling call",
      params: requestIdParam,
      notFound: paramNotFound,
      responses: {
        200: { description: "Request", schema: TransformRequestJson },
        404: { description: "Unknown request", schema: MessageResponse },
      },
    },
    async (req, res, { params }) => {
      res.json(
        await requestDetail(deps, params.request_id, requester(res), {
          headers: req.headers,
          encrypted: isEncrypted(req),
        }),
      );
    },
  );

  op(
    r,
    {
      method: "delete",
      path: "/servicex/transformation/:request_id",
      guard: auth(),
      tag: "client",
      summary: "Delete a finished request with its results",
      params: requestIdParam,
      notFound: paramNotFound,
      responses: {
        200: { description: "Deleted", schema: MessageResponse },
        400: { description: "Still in progress", schema: MessageResponse },
        403: { description: "Not the owner", schema: MessageResponse },
        404: { description: "Unknown request", schema: MessageResponse },
      },
    },
    async (_req, res, { params }) => {
      const message = await transformations.delete(params.request_id, requester(res));
      res.json({ message });
    },
  );

  op(
    r,
    {
      method: "get",
      path: "/servicex/transformation/:request_id/status",
      guard: auth(),
      tag: "client",
      summary: "Legacy status with statistics (and per-file details with ?details=true)",
      params: requestIdParam,
      notFound: paramNotFound,
      query: StatusQuery,
      responses: {
        200: { description: "Status" },
        404: { description: "Unknown request", schema: MessageResponse },
      },
    },
    async (_req, res, { params, query }) => {
      const rec = await transformations.get(params.request_id, requester(res));
      const s = await repos.requests.stats(rec.requestId);
      const remaining = rec.files ? rec.files - rec.filesCompleted - rec.filesFailed : null;
      const body: Record<string, unknown> = {
        status: requestJson(rec).status,
        "request-id": params.request_id,
        "submit-time": isoZ(rec.submitTime),
        "finish-time": rec.finishTime ? isoZ(rec.finishTime) : null,
        "files-completed": rec.filesCompleted,
        "files-processed": rec.filesCompleted,
        "files-failed": rec.filesFailed,
        "files-skipped": rec.filesFailed,
        "files-remaining": remaining,
        stats: s && {
          "min-time": s.minTime,
          "max-time": s.maxTime,
          "avg-time": s.avgTime,
          "total-time": s.totalTime,
          "avg-rate": s.avgRate,
          "total-bytes": s.totalBytes,
          "total-events": s.totalEvents,
        },
      };
      if (query.details) {
        body.details = (await repos.results.listForRequest(rec.requestId, null)).map(resultJson);
      }
      res.json(body);
    },
  );

  op(
    r,
    {
      method: "get",
      path: "/servicex/transformation/:request_id/deployment-status",
      guard: auth(),
      tag: "client",
      summary: "The transformer Deployment's status (Kubernetes, snake_case keys)",
      params: requestIdParam,
      notFound: paramNotFound,
      responses: {
        200: { description: "V1DeploymentStatus as a dict" },
        404: { description: "Unknown request or no Deployment", schema: MessageResponse },
      },
    },
    async (_req, res, { params }) => {
      const rec = await transformations.get(params.request_id, requester(res));
      const status = deps.launcher.deploymentStatus
        ? await deps.launcher.deploymentStatus(rec.requestId)
        : null;
      // Upstream answered 500 without a transformer manager; "not found" says what is true.
      if (!status) throw notFound(`Deployment not found: '${params.request_id}'`);
      res.json(status);
    },
  );

  // The Python client cancels with GET; HEAD must not (Express would run the GET handler for it).
  refuseHead(r, "/servicex/transformation/:request_id/cancel", "GET, POST");
  op(
    r,
    {
      method: ["get", "post"],
      path: "/servicex/transformation/:request_id/cancel",
      guard: auth({ changesState: true }),
      tag: "client",
      summary: "Cancel a running request (GET as the Python client sends it, or POST)",
      params: requestIdParam,
      notFound: paramNotFound,
      responses: {
        200: { description: "Canceled", schema: MessageResponse },
        400: { description: "Not in progress", schema: MessageResponse },
        403: { description: "Not the owner", schema: MessageResponse },
        404: { description: "Unknown request", schema: MessageResponse },
      },
    },
    async (_req, res, { params }) => {
      const message = await transformations.cancel(params.request_id, requester(res));
      res.json({ message });
    },
  );

  op(
    r,
    {
      method: "post",
      path: "/servicex/transformation/:request_id/rerun-failed",
      guard: auth({ changesState: true }),
      tag: "client",
      summary:
        "Re-run the failed files of a Complete request (owner or admin): it runs again and ends Complete, results merged",
      params: requestIdParam,
      notFound: paramNotFound,
      responses: {
        200: { description: "Re-run started", schema: RerunResponse },
        403: { description: "Not the owner", schema: MessageResponse },
        404: { description: "Unknown request", schema: MessageResponse },
        409: {
          description:
            "Still in progress (a concurrent re-run included), not Complete, no failed files, or its dataset is stale",
          schema: MessageResponse,
        },
        503: { description: "Code generator or object store unavailable", schema: MessageResponse },
      },
    },
    async (_req, res, { params }) => {
      const out = await deps.reruns.rerunFailed(params.request_id, requester(res));
      res.json({
        message: `Re-running ${out.files} failed file${out.files === 1 ? "" : "s"} of transformation request ${params.request_id}`,
        request_id: out.requestId,
        files: out.files,
        rerun: out.rerun,
      });
    },
  );

  op(
    r,
    {
      method: "get",
      path: "/servicex/transformation/:request_id/results",
      guard: auth(),
      tag: "client",
      summary: "Per-file results newer than `later_than` (ISO 8601), ordered by creation",
      params: requestIdParam,
      notFound: paramNotFound,
      query: ResultsQuery,
      // An unparsable later_than is answered with its message alone (as upstream); other problems as usual.
      invalid: (where, e) => {
        const time = e.issues.find((i) => i.code === "custom" && i.path[0] === "later_than");
        return time ? badRequest(time.message) : defaultInvalid(where, e);
      },
      responses: {
        200: { description: "Results", schema: z.object({ results: z.array(TransformResultJson) }) },
        400: { description: "Invalid later_than", schema: MessageResponse },
      },
    },
    async (_req, res, { params, query }) => {
      // Unknown ids answer an empty list (upstream); ownership is checked when the request exists.
      const rec = await repos.requests.find(params.request_id);
      if (rec) assertMayRequest(requester(res), rec, "view");
      const rows = rec ? await repos.results.listForRequest(rec.requestId, query.later_than) : [];
      res.json({ results: rows.map(resultJson) });
    },
  );

  op(
    r,
    {
      method: "get",
      path: "/servicex/transformation/:request_id/errors",
      guard: auth(),
      tag: "client",
      summary: "Per-file failures with pod name and message (from file_status)",
      params: requestIdParam,
      notFound: paramNotFound,
      responses: {
        200: {
          description: "Errors",
          schema: z.object({
            errors: z.array(
              z.object({
                "pod-name": z.string().nullable(),
                file: z.string().nullable(),
                events: z.number().nullable(),
                info: z.string().nullable(),
              }),
            ),
          }),
        },
      },
    },
    async (_req, res, { params }) => {
      const rec = await transformations.get(params.request_id, requester(res));
      const rows = await repos.results.failures(rec.requestId);
      res.json({
        errors: rows.map((e) => ({
          "pod-name": e.pod_name,
          file: e.paths,
          events: e.file_events,
          info: e.info,
        })),
      });
    },
  );
  return r;
}
