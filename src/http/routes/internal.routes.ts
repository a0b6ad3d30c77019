// Internal API called by DID finders and transformer sidecars (docs/api.md). No authentication, as
// upstream: it relies on network isolation, which INTERNAL_PORT provides (a listener of its own, app.ts).
// Note the path id is a *dataset* id for the DID-finder calls and a request UUID for the transformer calls.
// Each route reads its input and calls one service method; the routers are given those services only.
import { type Request, Router } from "express";
import { z } from "zod";
import type { Config } from "../../config.js";
import type { DataLifecycleService } from "../../domain/dataLifecycle.service.js";
import { appError, type AppError } from "../../domain/errors.js";
import type { FileCompleteService } from "../../domain/fileComplete.service.js";
import type { KubernetesCleanupService } from "../../domain/kubernetesCleanup.service.js";
import type { LookupService } from "../../domain/lookup.service.js";
import { DATASET_LOOKUP_ERRORS, type DatasetLookupError } from "../../domain/status.js";
import type { TransformerReportsService } from "../../domain/transformerReports.service.js";
import { op } from "../openapi.js";
import { MessageResponse, datasetIdParam, requestIdParam } from "../schemas/common.js";
import { normaliseIsoTime } from "../schemas/isotime.js";
import {
  AddFilesBody,
  FileCompleteBody,
  FileStatusBody,
  FilesetCompleteBody,
  FilesetErrorBody,
  TransformStatusBody,
} from "../schemas/internal.schemas.js";

const BASE = "/servicex/internal/transformation";
const datasetNotFound = (req: Request) =>
  appError("dataset_not_found", { id: String(req.params.dataset_id) });
const requestNotFound = () => appError("request_not_found");
const INFO_MAX = 2048;

/** The services of the cron routes (LIFECYCLE_PATHS). */
export interface LifecycleRouteServices {
  dataLifecycle: Pick<DataLifecycleService, "markStaleDatasets" | "purge">;
  kubernetesCleanup: Pick<KubernetesCleanupService, "run">;
  config: Pick<Config, "MAX_DESIRED_TRANSFORM_CACHE_SIZE">;
}

/** The services of the DID-finder and transformer callbacks. */
export interface CallbackServices {
  lookups: Pick<LookupService, "addFiles" | "complete" | "error">;
  fileComplete: Pick<FileCompleteService, "record">;
  transformerReports: Pick<TransformerReportsService, "status" | "fileStatus">;
}

/**
 * PUT …/<request_id>/file-complete: the sidecar's body as the service's report. Shared by the Express route
 * below and the fast path (fastPath.ts) that serves this endpoint without Express at high rates.
 */
export function recordFileComplete(
  s: Pick<CallbackServices, "fileComplete">,
  requestId: string,
  body: z.output<typeof FileCompleteBody>,
): Promise<void> {
  const info = body.error ?? body.info ?? null;
  return s.fileComplete.record({
    requestId,
    fileId: body["file-id"],
    success: body.status === "success",
    status: body.status,
    filePath: body["file-path"].slice(0, 512),
    // Kept with its fraction (transform_seconds); transform_time gets the rounded whole seconds.
    transformTime: Math.min(body["total-time"] ?? 0, 2 ** 31 - 1),
    totalEvents: body["total-events"] ?? 0,
    totalBytes: body["total-bytes"] ?? 0,
    avgRate: body["avg-rate"] ?? 0,
    s3ObjectName: body["s3-object-name"] ?? null,
    podName: body.place?.host_name?.slice(0, 128) ?? null,
    info: info === null ? null : info.slice(0, INFO_MAX),
  });
}

const invalidAge = () => appError("invalid_age", {}, { body: "message" });

const invalidMaxAge = () => appError("invalid_max_age", {}, { body: "message" });

/** Hours from a JSON body field or the query (docs/api.md): a non-negative number, default 24. */
function hoursParam(req: Request, key: string, invalid: () => AppError): number {
  const body = req.body as unknown;
  const fromBody =
    body !== null && typeof body === "object" && !Array.isArray(body)
      ? (body as Record<string, unknown>)[key]
      : undefined;
  const raw = fromBody ?? req.query[key];
  if (raw === undefined || raw === null) return 24;
  if (typeof raw === "number") {
    if (!Number.isFinite(raw) || raw < 0) throw invalid();
    return raw;
  }
  if (typeof raw !== "string" || !/^\s*\d+(\.\d+)?\s*$/.test(raw)) throw invalid();
  return Number(raw);
}

/** The cron routes that delete or expire data of every user. */
export const LIFECYCLE_PATHS = [
  "/servicex/internal/dataset-lifecycle",
  "/servicex/internal/data-lifecycle",
  "/servicex/internal/kubernetes-cleanup",
] as const;

/** The lifecycle routes (LIFECYCLE_PATHS), called by the CronJobs; the guard in front is the caller's (app.ts). */
export function lifecycleRoutes(s: LifecycleRouteServices): Router {
  const r = Router();
  const { dataLifecycle, kubernetesCleanup, config } = s;

  op(
    r,
    {
      method: "post",
      path: "/servicex/internal/dataset-lifecycle",
      tag: "internal",
      summary: "Cron: mark stale every live dataset not updated for `age` hours (body or query, default 24)",
      query: z.object({ age: z.string().optional() }).loose(),
      invalid: invalidAge,
      responses: {
        200: { description: "Done", schema: MessageResponse },
        422: { description: "Invalid age parameter", schema: MessageResponse },
      },
    },
    async (req, res) => {
      await dataLifecycle.markStaleDatasets(hoursParam(req, "age", invalidAge));
      res.json({ message: "Success" });
    },
  );

  op(
    r,
    {
      method: "post",
      path: "/servicex/internal/data-lifecycle",
      tag: "internal",
      summary:
        "Cron: delete finished requests submitted at or before cutoff_timestamp (earlier when the cache exceeds MAX_DESIRED_TRANSFORM_CACHE_SIZE), their results and orphaned datasets",
      query: z.object({ cutoff_timestamp: z.string() }),
      invalid: () =>
        appError("invalid_cutoff", {
          detail: "cutoff_timestamp is required: an ISO 8601 time such as 2024-10-21T17:40:31",
        }),
      responses: {
        200: {
          description: "What was deleted",
          schema: z.object({
            total_bytes_before: z.number(),
            total_bytes_after: z.number(),
            cutoff_timestamp: z.string().nullable(),
            deleted_transforms: z.array(z.string()),
            deleted_datasets: z.array(z.string()),
          }),
        },
        400: { description: "Invalid cutoff_timestamp", schema: MessageResponse },
      },
    },
    async (_req, res, { query }) => {
      res.json(
        await dataLifecycle.purge({
          cutoff: query.cutoff_timestamp,
          maxCacheBytes: config.MAX_DESIRED_TRANSFORM_CACHE_SIZE ?? null,
        }),
      );
    },
  );

  op(
    r,
    {
      method: "post",
      path: "/servicex/internal/kubernetes-cleanup",
      tag: "internal",
      summary:
        "Cron: remove transformer Deployments, HPAs and generated-code ConfigMaps older than `maxAge` hours (body or query, default 24) whose request is finished or unknown; answers null",
      query: z.object({ maxAge: z.string().optional() }).loose(),
      invalid: invalidMaxAge,
      responses: {
        200: { description: "Done (the report is logged)", schema: z.null() },
        422: { description: "Invalid maxAge parameter", schema: MessageResponse },
      },
    },
    async (req, res) => {
      await kubernetesCleanup.run(hoursParam(req, "maxAge", invalidMaxAge));
      res.json(null);
    },
  );
  return r;
}

/** The DID-finder and transformer-sidecar callbacks (anonymous, as upstream: they rely on the network). */
export function callbackRoutes(s: CallbackServices): Router {
  const r = Router();
  const { lookups, transformerReports } = s;

  op(
    r,
    {
      method: "put",
      path: `${BASE}/:dataset_id/files`,
      tag: "internal",
      summary:
        "DID finder: add a file or a batch of files to a dataset being looked up (a path the dataset has is not added again)",
      params: datasetIdParam,
      notFound: datasetNotFound,
      body: AddFilesBody,
      responses: {
        200: { description: "Stored", schema: z.object({ dataset_id: z.string() }) },
        404: { description: "Unknown dataset", schema: MessageResponse },
        503: {
          description: "Database unavailable for 30 s (a restart is waited out); retry",
          schema: MessageResponse,
        },
      },
    },
    async (_req, res, { params, body }) => {
      const list = Array.isArray(body) ? body : [body];
      await lookups.addFiles(
        params.dataset_id,
        list.map((f) => ({
          paths: Array.isArray(f.paths) ? f.paths.join(",") : f.paths,
          adler32: f.adler32 ?? null,
          fileSize: f.file_size ?? 0,
          fileEvents: f.file_events ?? 0,
        })),
      );
      res.json({ dataset_id: String(params.dataset_id) });
    },
  );

  op(
    r,
    {
      method: "put",
      path: `${BASE}/:dataset_id/complete`,
      tag: "internal",
      summary:
        "DID finder: the lookup finished; waiting requests start running. When `files` is not the number of files that arrived, the lookup is sent again instead",
      params: datasetIdParam,
      notFound: datasetNotFound,
      body: FilesetCompleteBody,
      responses: {
        200: { description: "Done (or the lookup was sent again)" },
        409: { description: "The lookup already failed (/error); ignored", schema: MessageResponse },
        422: { description: "Unknown dataset", schema: MessageResponse },
        503: {
          description: "Database unavailable for 30 s (a restart is waited out); retry",
          schema: MessageResponse,
        },
      },
    },
    async (_req, res, { params, body }) => {
      await lookups.complete(params.dataset_id, {
        files: body.files,
        totalEvents: body["total-events"] ?? 0,
        totalBytes: body["total-bytes"] ?? 0,
      });
      res.json(null);
    },
  );

  op(
    r,
    {
      method: "put",
      path: `${BASE}/:dataset_id/error`,
      tag: "internal",
      summary: "DID finder: the lookup failed; waiting requests end as Bad Dataset",
      params: datasetIdParam,
      notFound: datasetNotFound,
      body: FilesetErrorBody,
      responses: {
        200: { description: "Done (a repeated /error changes nothing)" },
        409: { description: "The lookup already completed; ignored", schema: MessageResponse },
        422: { description: "Unknown dataset", schema: MessageResponse },
        503: {
          description: "Database unavailable for 30 s (a restart is waited out); retry",
          schema: MessageResponse,
        },
      },
    },
    async (_req, res, { params, body }) => {
      const given = body["error-type"];
      // Any other exception type of the DID-finder library means internal_failure (docs/api.md).
      const errorType: DatasetLookupError = DATASET_LOOKUP_ERRORS.includes(given as DatasetLookupError)
        ? (given as DatasetLookupError)
        : "internal_failure";
      await lookups.error(params.dataset_id, { errorType, message: body.message ?? "" });
      res.json(null);
    },
  );

  op(
    r,
    {
      method: "put",
      path: `${BASE}/:request_id/file-complete`,
      tag: "internal",
      summary: "Transformer sidecar: one file transformed (success or failure)",
      params: requestIdParam,
      notFound: requestNotFound,
      body: FileCompleteBody,
      responses: {
        200: { description: '"Ok"' },
        400: { description: "Invalid report or a file of another request", schema: MessageResponse },
        404: { description: "Unknown request", schema: MessageResponse },
        409: {
          description: "The request has no transform tasks yet (Pending Lookup); not recorded",
          schema: MessageResponse,
        },
        503: {
          description: "Database unavailable for 30 s (a restart is waited out); retry",
          schema: MessageResponse,
        },
      },
    },
    async (_req, res, { params, body }) => {
      await recordFileComplete(s, params.request_id, body);
      res.json("Ok");
    },
  );

  op(
    r,
    {
      method: "post",
      path: `${BASE}/:request_id/status`,
      tag: "internal",
      summary: "Legacy transformer status report; severity fatal ends the request",
      params: requestIdParam,
      notFound: requestNotFound,
      body: TransformStatusBody,
      invalid: () => appError("bad_status"),
      responses: {
        200: { description: "Recorded" },
        400: { description: "bad status", schema: MessageResponse },
      },
    },
    async (_req, res, { params, body }) => {
      await transformerReports.status(params.request_id, {
        severity: body.severity ?? "info",
        source: body.source,
        info: body.info,
      });
      res.json(null);
    },
  );

  op(
    r,
    {
      method: "post",
      path: `${BASE}/:request_id/:file_id/status`,
      tag: "internal",
      summary: "Legacy per-file status event (old transformer API), stored in file_status",
      params: requestIdParam.extend({
        file_id: z
          .string()
          .regex(/^\d{1,9}$/)
          .transform(Number),
      }),
      notFound: requestNotFound,
      body: FileStatusBody,
      invalid: (_w, e) => {
        const fields: Record<string, string> = {};
        for (const i of e.issues) {
          const k = String(i.path[0] ?? "body");
          fields[k] ??= i.code === "invalid_type" ? "This field cannot be blank" : i.message;
        }
        return appError("bad_request", { detail: "invalid file status" }, { body: { message: fields } });
      },
      responses: { 200: { description: '"Ok"' }, 400: { description: "Missing field" } },
    },
    async (_req, res, { params, body }) => {
      await transformerReports.fileStatus(params.request_id, {
        fileId: params.file_id,
        status: body["status-code"],
        timestamp: normaliseIsoTime(body.timestamp)!,
        podName: body["pod-name"] ?? null,
        info: body.info ? body.info.slice(0, INFO_MAX) : null,
      });
      res.json("Ok");
    },
  );
  return r;
}
