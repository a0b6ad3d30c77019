import { z } from "zod";
import type { SubmitInput } from "../../domain/transformation.service.js";
import { INT32_MAX, boolQuery, intLike, pageQuery, text } from "./common.js";
import { normaliseIsoTime } from "./isotime.js";

/** Most entries of a submit's file-list (docs/api.md). */
export const MAX_FILE_LIST = 1_000_000;

const MAX_PATH = 4096;

/** The rules of a file list, element by element (and their messages). */
const FileListRules = z
  .array(text(MAX_PATH).min(1, { message: "file paths must not be empty" }))
  .max(MAX_FILE_LIST, { message: `at most ${MAX_FILE_LIST} files per request` });

/** The JSON schema of `schema` (without its `$schema` key), as metadata that documents another schema. */
function documentedAs(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...js } = z.toJSONSchema(schema, { io: "input", target: "draft-2020-12" });
  return js;
}

/** FileListRules for a list that keeps them, in one loop (no per-entry allocation, no copy). */
function keepsFileListRules(v: unknown): v is string[] {
  if (!Array.isArray(v) || v.length > MAX_FILE_LIST) return false;
  for (const p of v) {
    if (typeof p !== "string" || p.length === 0 || p.length > MAX_PATH || p.includes("\u0000")) return false;
  }
  return true;
}

/**
 * A submit's file-list. A 1,000,000-path list through FileListRules costs about 100 MB of zod's per-entry
 * bookkeeping (docs/decisions.md D37), so a list is checked by one loop first; only a list that breaks a
 * rule goes through FileListRules, for the same issues and messages as ever. Documented as FileListRules.
 */
const FileList = z
  .custom<string[]>()
  .superRefine((v, ctx) => {
    if (keepsFileListRules(v)) return;
    const r = FileListRules.safeParse(v);
    if (r.success) return;
    for (const issue of r.error.issues)
      ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
  })
  .meta(documentedAs(FileListRules));

/** `POST /servicex/transformation` (docs/api.md). Unknown keys are ignored, as reqparse did. */
export const SubmitBody = z.object({
  title: text(10240).nullish(),
  did: text(1024).nullish(),
  "file-list": FileList.nullish(),
  selection: text(10 * 1024 * 1024),
  codegen: text(256),
  image: text(1024).nullish(),
  "tree-name": text(512).nullish(),
  workers: intLike(1, 100_000).nullish(),
  "result-destination": z.enum(["object-store", "volume"]),
  "result-format": z.enum(["parquet", "root-file", "root-rntuple"]).nullish(),
  "client-version": text(256).nullish(),
});
export type SubmitBody = z.output<typeof SubmitBody>;

/** The submit's body in the service's terms, with the defaults of docs/api.md (1 worker, parquet). */
export function submitInput(body: SubmitBody): SubmitInput {
  return {
    title: body.title ?? null,
    did: body.did ?? null,
    fileList: body["file-list"] ?? null,
    selection: body.selection,
    codegen: body.codegen,
    treeName: body["tree-name"] ?? null,
    workers: body.workers ?? 1,
    resultDestination: body["result-destination"],
    resultFormat: body["result-format"] ?? "parquet",
  };
}

export const SubmitResponse = z.object({ request_id: z.string() });

export const ListQuery = z.object({ submitted_by: intLike(0, INT32_MAX).optional(), ...pageQuery });
export const StatusQuery = z.object({ details: boolQuery });
/**
 * `later_than`: an ISO 8601 time, normalised to the form the results are compared in (null when absent). An
 * unparsable time is answered with this message alone (the results route's `invalid`), as upstream.
 */
export const ResultsQuery = z.object({
  later_than: z
    .string()
    .max(64)
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return null;
      const later = normaliseIsoTime(v);
      if (later !== null) return later;
      ctx.addIssue({
        code: "custom",
        message: `later_than value ${v} is not an ISO 8601 compliant datetime`,
      });
      return z.NEVER;
    }),
});

export const TransformRequestJson = z
  .object({
    request_id: z.string(),
    title: z.string().nullable(),
    did: z.string(),
    did_id: z.number().int(),
    selection: z.string(),
    "tree-name": z.string().nullable(),
    image: z.string(),
    workers: z.number().int().nullable(),
    "result-destination": z.enum(["object-store", "volume"]),
    "result-format": z.enum(["parquet", "root-file", "root-rntuple"]),
    "generated-code-cm": z.string(),
    status: z.enum([
      "Submitted",
      "Pending Lookup",
      "Lookup",
      "Running",
      "Complete",
      "Fatal",
      "Canceled",
      "Bad Dataset",
    ]),
    "failure-info": z.string().nullable(),
    "app-version": z.string(),
    "code-gen-image": z.string().nullable(),
    files: z.number().int(),
    "files-completed": z.number().int(),
    "files-failed": z.number().int(),
    "files-remaining": z.number().int().nullable(),
    "submit-time": z.string(),
    "finish-time": z.string().describe('"None" while unfinished'),
    "minio-endpoint": z.string().optional(),
    "minio-secured": z.boolean().optional(),
    "minio-access-key": z.string().optional(),
    "minio-secret-key": z.string().optional(),
    "log-url": z.string().optional(),
  })
  .meta({ id: "TransformRequest" });

export const TransformResultJson = z
  .object({
    id: z.number().int(),
    "request-id": z.string(),
    "file-id": z.number().int().nullable(),
    "file-path": z.string(),
    "s3-object-name": z.string().nullable(),
    transform_status: z.string(),
    transform_time: z.number().int().nullable(),
    "total-events": z.number().nullable(),
    "total-bytes": z.number().nullable(),
    "avg-rate": z.number().nullable(),
    created_at: z.string().nullable(),
  })
  .meta({ id: "TransformResult" });

/** `POST /servicex/transformation/file-urls` (docs/api.md). */
export const FileUrlsBody = z.object({
  request_id: text(64),
  file_list: z.array(text(1024).min(1)).min(1).max(10_000),
  scheme: z.enum(["http", "xrootd"]).optional(),
});

// ---- Response bodies of the transform-request routes (docs/api.md). Each is the output type of its
// presenter (src/http/presenters/), so the OpenAPI document and the bodies sent cannot differ.

/** `GET /servicex/transformation`: `total` only when paginated. */
export const RequestListResponse = z.object({
  requests: z.array(TransformRequestJson),
  total: z.number().int().optional(),
});

/** `POST …/file-urls`: per object `[url, {}, expiry epoch seconds]` (the shape upstream's client reads). */
export const FileUrlsResponse = z.object({
  uris: z.record(z.string(), z.tuple([z.string(), z.object({}).strict(), z.number().int()])),
});

/** The `stats` of `GET …/status`: aggregates over the request's results; null while there are none. */
const StatusStats = z
  .object({
    "min-time": z.number(),
    "max-time": z.number(),
    "avg-time": z.number(),
    "total-time": z.number(),
    "avg-rate": z.number(),
    "total-bytes": z.number(),
    "total-events": z.number(),
  })
  .nullable();

/** `GET …/status` (legacy): counters and statistics; `details` (per-file results) with `?details=true`. */
export const StatusResponse = z.object({
  status: TransformRequestJson.shape.status,
  "request-id": z.string().describe("the id as given in the URL (UUID or integer id)"),
  "submit-time": z.string(),
  "finish-time": z.string().nullable(),
  "files-completed": z.number().int(),
  "files-processed": z.number().int().describe("the same as files-completed (upstream's name)"),
  "files-failed": z.number().int(),
  "files-skipped": z.number().int().describe("the same as files-failed (upstream's name)"),
  "files-remaining": z.number().int().nullable(),
  stats: StatusStats,
  details: z.array(TransformResultJson).optional(),
});

/** `GET …/results`. */
export const ResultsResponse = z.object({ results: z.array(TransformResultJson) });

/** `GET …/errors` (docs/decisions.md D12): one item per failed file, from `file_status`. */
export const ErrorsResponse = z.object({
  errors: z.array(
    z.object({
      "pod-name": z.string().nullable(),
      file: z.string().nullable(),
      events: z.number().nullable(),
      info: z.string().nullable(),
    }),
  ),
});

/** `GET …/deployment-status`: the transformer Deployment's V1DeploymentStatus, snake_case keys. */
export const DeploymentStatusResponse = z.record(z.string(), z.unknown());

/** docs/api.md: the answer of `POST …/rerun-failed`. */
export const RerunResponse = z.object({
  message: z.string(),
  request_id: z.string(),
  files: z.number().int().describe("failed files given a new task"),
  rerun: z.number().int().describe("1 for the request's first re-run, 2 for the second, …"),
});

const ProgressPointJson = z.object({
  time: z.string().describe("UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ"),
  status: z.string(),
  "files-completed": z.number().int(),
  "files-failed": z.number().int(),
  bytes: z.number(),
  events: z.number(),
});

/** `GET …/history`: the progress points, oldest first, and the request's counters now. */
export const HistoryResponse = z.object({
  history: z.array(ProgressPointJson),
  current: z
    .object({
      status: z.string(),
      terminal: z.boolean(),
      files: z.number().int(),
      "files-completed": z.number().int(),
      "files-failed": z.number().int(),
      "files-remaining": z.number().int().nullable(),
      "finish-time": z.string().nullable(),
    })
    .describe("The request's counters now (for live pages)"),
});

/**
 * An error answer of these routes (docs/errors.md): the message clients show and the stable code; the
 * authentication checks answer the message alone, as ServiceX clients expect.
 */
export const ErrorResponse = z.object({
  message: z.string(),
  code: z.string().optional().describe("stable error code (docs/errors.md)"),
});
