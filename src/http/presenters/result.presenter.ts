// transform_result wire JSON (docs/database.md). docs/decisions.md D8: `file-id` is the file's id (upstream sent the
// result row id). `created_at` is naive with microseconds and no Z (docs/decisions.md D22).
import type { ResultJsonRow } from "../../adapters/repositories/results.repo.js";

const n = (v: string | number | null) => (v === null ? null : Number(v));

export function resultJson(r: ResultJsonRow): Record<string, unknown> {
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
