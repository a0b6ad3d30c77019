// Client API for transform requests (docs/api.md, plus /errors from docs/decisions.md D12). Each route
// declares its schemas and guard, calls one service method and answers with one presenter.
import { type Request, Router } from "express";
import type { Config } from "../../config.js";
import { clampPresignExpiry } from "../../domain/objectStore.js";
import { appError, badRequest, transformNotFound } from "../../domain/errors.js";
import type { RequestReads } from "../../domain/requestReads.service.js";
import type { RerunService } from "../../domain/rerun.service.js";
import type { TransformationService } from "../../domain/transformation.service.js";
import { type Auth, identifiedRequester, requester } from "../middleware/auth.js";
import { refuseHead } from "../middleware/head.js";
import { clientKey, rateLimit } from "../middleware/rateLimit.js";
import { defaultInvalid, describeZodError, op } from "../openapi.js";
import { type RequestDetailPresenter, requestListJson } from "../presenters/request.presenter.js";
import { errorsJson, resultsJson } from "../presenters/result.presenter.js";
import {
  deploymentStatusJson,
  fileUrlsJson,
  messageJson,
  rerunJson,
  statusJson,
  submitJson,
} from "../presenters/status.presenter.js";
import { callerOf, type ResultLinksFor } from "../resultLinks.js";
import { MessageResponse, requestIdParam } from "../schemas/common.js";
import {
  DeploymentStatusResponse,
  ErrorResponse,
  ErrorsResponse,
  FileUrlsBody,
  FileUrlsResponse,
  ListQuery,
  RequestListResponse,
  RerunResponse,
  ResultsQuery,
  ResultsResponse,
  StatusQuery,
  StatusResponse,
  SubmitBody,
  SubmitResponse,
  TransformRequestJson,
  submitInput,
} from "../schemas/transformation.schemas.js";

export interface TransformationRoutesDeps {
  transformations: Pick<TransformationService, "submitRequest" | "list" | "cancel" | "delete">;
  reads: RequestReads;
  reruns: Pick<RerunService, "rerunFailed">;
  auth: Auth;
  /** The polling call's presenter, shared with the fast path. */
  detail: RequestDetailPresenter;
  resultLinks: ResultLinksFor;
  config: Pick<Config, "SUBMIT_RATE_LIMIT_PER_MINUTE" | "FILE_URL_EXPIRY_SECONDS">;
}

const paramNotFound = (req: Request) => transformNotFound(String(req.params.request_id));
const unknown = { description: "Unknown request", schema: ErrorResponse };
const notYours = { description: "Not the owner", schema: ErrorResponse };

export function transformationRoutes(deps: TransformationRoutesDeps): Router {
  const { transformations, reads, reruns, auth, config } = deps;
  // S3 signs for at most 7 days; the expiry reported is the one the URL really has.
  const linkExpiry = clampPresignExpiry(config.FILE_URL_EXPIRY_SECONDS);
  const r = Router();
  r.post(
    "/servicex/transformation",
    rateLimit({
      limit: config.SUBMIT_RATE_LIMIT_PER_MINUTE,
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
        400: { description: "Invalid request", schema: ErrorResponse },
        503: { description: "A dependency (code generator, database) is unavailable", schema: ErrorResponse },
      },
    },
    async (req, res, { body }) => {
      const key = req.get("idempotency-key");
      const opts = key === undefined ? {} : { idempotencyKey: key };
      res.json(submitJson(await transformations.submitRequest(submitInput(body), requester(res), opts)));
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
        200: { description: "Per object: [url, {}, expiry epoch seconds]", schema: FileUrlsResponse },
        400: { description: "Not an object-store request", schema: ErrorResponse },
        403: notYours,
        404: unknown,
      },
    },
    async (req, res, { body }) => {
      const links = deps.resultLinks(callerOf(req));
      const signed = await reads.resultLinks(
        body.request_id,
        requester(res),
        body.file_list,
        links,
        linkExpiry,
      );
      res.json(fileUrlsJson(signed));
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
        200: { description: "Requests", schema: RequestListResponse },
        403: { description: "Another user's requests", schema: ErrorResponse },
      },
    },
    async (_req, res, { query }) => {
      const paged = query.page !== undefined || query.per_page !== undefined;
      const page = paged ? { page: query.page ?? 1, perPage: query.per_page ?? 100 } : undefined;
      const { rows, total } = await transformations.list(requester(res), query.submitted_by, page);
      res.json(requestListJson(rows, total));
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
      responses: { 200: { description: "Request", schema: TransformRequestJson }, 404: unknown },
    },
    async (req, res, { params }) => {
      res.json(deps.detail(await reads.request(params.request_id, requester(res)), callerOf(req)));
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
        400: { description: "Still in progress", schema: ErrorResponse },
        403: notYours,
        404: unknown,
      },
    },
    async (_req, res, { params }) => {
      res.json(messageJson(await transformations.delete(params.request_id, requester(res))));
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
      responses: { 200: { description: "Status", schema: StatusResponse }, 404: unknown },
    },
    async (_req, res, { params, query }) => {
      const status = await reads.status(params.request_id, requester(res), Boolean(query.details));
      res.json(statusJson(params.request_id, status));
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
        200: { description: "V1DeploymentStatus as a dict", schema: DeploymentStatusResponse },
        404: { description: "Unknown request or no Deployment", schema: ErrorResponse },
      },
    },
    async (_req, res, { params }) => {
      res.json(deploymentStatusJson(await reads.deploymentStatus(params.request_id, requester(res))));
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
        400: { description: "Not in progress", schema: ErrorResponse },
        403: notYours,
        404: unknown,
      },
    },
    async (_req, res, { params }) => {
      res.json(messageJson(await transformations.cancel(params.request_id, requester(res))));
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
        403: notYours,
        404: unknown,
        409: {
          description:
            "Still in progress (a concurrent re-run included), not Complete, no failed files, or its dataset is stale",
          schema: ErrorResponse,
        },
        503: { description: "Code generator or object store unavailable", schema: ErrorResponse },
      },
    },
    async (_req, res, { params }) => {
      res.json(rerunJson(params.request_id, await reruns.rerunFailed(params.request_id, requester(res))));
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
        200: { description: "Results (none for an unknown request)", schema: ResultsResponse },
        400: { description: "Invalid later_than", schema: ErrorResponse },
        403: notYours,
      },
    },
    async (_req, res, { params, query }) => {
      res.json(resultsJson(await reads.results(params.request_id, requester(res), query.later_than)));
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
        200: { description: "Errors", schema: ErrorsResponse },
        403: notYours,
        404: unknown,
      },
    },
    async (_req, res, { params }) => {
      res.json(errorsJson(await reads.failures(params.request_id, requester(res))));
    },
  );
  return r;
}
