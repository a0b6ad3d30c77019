// The kwargs of a `transformer_sidecar.transform_file` Celery task body ([args, kwargs, embed]), checked field
// by field: shared by the in-process local transformers and the worker processes.
import type { TransformTask } from "../../domain/ports.js";

export function taskFromCeleryBody(body: unknown): TransformTask | null {
  if (!Array.isArray(body)) return null;
  const k = body[1] as Record<string, unknown> | undefined;
  if (!k || typeof k !== "object") return null;
  const { request_id, file_id, paths, service_endpoint, result_destination, result_format } = k;
  if (
    typeof request_id !== "string" ||
    typeof file_id !== "number" ||
    !Array.isArray(paths) ||
    !paths.every((p) => typeof p === "string") ||
    typeof service_endpoint !== "string" ||
    typeof result_destination !== "string" ||
    typeof result_format !== "string"
  ) {
    return null;
  }
  return { request_id, file_id, paths, service_endpoint, result_destination, result_format };
}
