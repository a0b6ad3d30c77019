// transform_result wire JSON (docs/database.md), typed by the published TransformResultJson. docs/decisions.md
// D8: `file-id` is the file's id (upstream sent the result row id). `created_at` is naive with microseconds
// and no Z (docs/decisions.md D22).
import type { z } from "zod";
import type { FailureRow } from "../../domain/requestReads.service.js";
import type { ResultJsonRow } from "../../domain/repositories.js";
import type {
  ErrorsResponse,
  ResultsResponse,
  TransformResultJson,
} from "../schemas/transformation.schemas.js";

const n = (v: string | number | null) => (v === null ? null : Number(v));

export function resultJson(r: ResultJsonRow): z.infer<typeof TransformResultJson> {
  return {
    id: r.id,
    "request-id": r.request_id,
    "file-id": r.file_id,
    "file-path": r.file_path,
    "s3-object-name": r.s3_object_name,
    transform_status: r.transform_status,
    transform_time: r.transform_time,
    "total-events": n(r.total_events),
    "total-bytes": n(r.total_bytes),
    "avg-rate": r.avg_rate,
    created_at: r.created_at,
  };
}

/** `GET …/results`. */
export function resultsJson(rows: readonly ResultJsonRow[]): z.infer<typeof ResultsResponse> {
  return { results: rows.map(resultJson) };
}

/** `GET …/errors` (docs/decisions.md D12): pod, file path(s), events and message of each failed file. */
export function errorsJson(rows: readonly FailureRow[]): z.infer<typeof ErrorsResponse> {
  return {
    errors: rows.map((e) => ({
      "pod-name": e.pod_name,
      file: e.paths,
      events: e.file_events,
      info: e.info,
    })),
  };
}
