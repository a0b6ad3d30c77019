import { z } from "zod";
import { INT32_MAX, SAFE_MAX, intLike, text } from "./common.js";
import { normaliseIsoTime } from "./isotime.js";

const count = intLike(0, SAFE_MAX);
const seconds = z.number().finite().min(0).max(1e12);

/** One file from a DID finder (docs/api.md). `paths` is a list of replicas (a string is accepted too). */
export const DidFile = z.object({
  paths: z.union([z.array(text(4096).min(1)).min(1).max(1000), text(100_000).min(1)]),
  adler32: text(48).nullish(),
  file_size: count.nullish(),
  file_events: count.nullish(),
  timestamp: z.unknown().optional(),
});
export const AddFilesBody = z.union([DidFile, z.array(DidFile).min(1).max(100_000)]);

export const FilesetCompleteBody = z.object({
  files: count,
  "files-skipped": count.optional(),
  "total-events": count.optional(),
  "total-bytes": count.optional(),
  "elapsed-time": seconds.optional(),
});

export const FilesetErrorBody = z.object({
  "elapsed-time": seconds.optional(),
  message: text(10_000).optional(),
  /** Unknown types become internal_failure, as the DID-finder library does for unexpected exceptions. */
  "error-type": text(64),
});

/** From the transformer sidecar (docs/api.md). */
export const FileCompleteBody = z.object({
  requestId: text(64).optional(),
  "file-path": text(4096),
  "file-id": intLike(1, INT32_MAX),
  status: text(120).min(1),
  "total-time": seconds.optional(),
  "total-events": count.nullish(),
  "total-bytes": count.nullish(),
  "avg-rate": z.number().finite().min(0).nullish(),
  place: z
    .object({ host_name: text(256).nullish(), site: text(256).nullish() })
    .partial()
    .nullish(),
  "s3-object-name": text(512).nullish(),
  error: text(1_000_000).nullish(),
  info: text(1_000_000).nullish(),
});

/** Legacy `POST …/<request_id>/status` (docs/api.md). */
export const TransformStatusBody = z.object({
  severity: text(64).optional(),
  source: text(1024),
  info: text(1_000_000),
  timestamp: text(64).optional(),
});

/** Legacy per-file `POST …/<request_id>/<file_id>/status` (docs/decisions.md D12). */
export const FileStatusBody = z.object({
  timestamp: text(64).refine((s) => normaliseIsoTime(s) !== null, {
    message: "must be an ISO 8601 time (YYYY-MM-DDTHH:MM:SS.ffffff)",
  }),
  "status-code": text(128).min(1),
  "pod-name": text(128).nullish(),
  info: text(1_000_000).nullish(),
});
