// Wire JSON of the transform-request routes other than the request object itself, each typed by the response
// schema the OpenAPI document publishes (src/http/schemas/transformation.schemas.ts): the legacy status,
// file-urls, the re-run answer and the plain `{"message"}` answers (docs/api.md).
import type { z } from "zod";
import type { RequestStatus, SignedLinks } from "../../domain/requestReads.service.js";
import type { MessageResponse } from "../schemas/common.js";
import type {
  DeploymentStatusResponse,
  FileUrlsResponse,
  RerunResponse,
  StatusResponse,
  SubmitResponse,
} from "../schemas/transformation.schemas.js";
import { requestJson } from "./request.presenter.js";
import { resultJson } from "./result.presenter.js";
import { isoZ } from "./time.js";

export function messageJson(message: string): z.infer<typeof MessageResponse> {
  return { message };
}

export function submitJson(out: { requestId: string }): z.infer<typeof SubmitResponse> {
  return { request_id: out.requestId };
}

/**
 * `GET …/status`: `request-id` is the id as the caller wrote it (UUID or integer id); the upstream names
 * `files-processed`/`files-skipped` repeat completed/failed; `finish-time` is null (not "None") when unset.
 */
export function statusJson(asked: string, s: RequestStatus): z.infer<typeof StatusResponse> {
  const r = requestJson(s.request);
  const out: z.infer<typeof StatusResponse> = {
    status: r.status,
    "request-id": asked,
    "submit-time": r["submit-time"],
    "finish-time": s.request.finishTime ? isoZ(s.request.finishTime) : null,
    "files-completed": r["files-completed"],
    "files-processed": r["files-completed"],
    "files-failed": r["files-failed"],
    "files-skipped": r["files-failed"],
    "files-remaining": r["files-remaining"],
    stats: s.stats && {
      "min-time": s.stats.minTime,
      "max-time": s.stats.maxTime,
      "avg-time": s.stats.avgTime,
      "total-time": s.stats.totalTime,
      "avg-rate": s.stats.avgRate,
      "total-bytes": s.stats.totalBytes,
      "total-events": s.stats.totalEvents,
    },
  };
  if (s.details) out.details = s.details.map(resultJson);
  return out;
}

/** `POST …/file-urls`: `{"uris": {"<object>": [url, {}, expiry epoch seconds]}}`. */
export function fileUrlsJson(signed: SignedLinks): z.infer<typeof FileUrlsResponse> {
  const uris: z.infer<typeof FileUrlsResponse>["uris"] = {};
  for (const { key, url } of signed.links) uris[key] = [url, {}, signed.expiresAt];
  return { uris };
}

/** `POST …/rerun-failed` (docs/api.md). */
export function rerunJson(
  asked: string,
  out: { requestId: string; files: number; rerun: number },
): z.infer<typeof RerunResponse> {
  return {
    message: `Re-running ${out.files} failed file${out.files === 1 ? "" : "s"} of transformation request ${asked}`,
    request_id: out.requestId,
    files: out.files,
    rerun: out.rerun,
  };
}

/** `GET …/deployment-status`: the Kubernetes status object as the launcher gave it. */
export function deploymentStatusJson(status: object): z.infer<typeof DeploymentStatusResponse> {
  return status as z.infer<typeof DeploymentStatusResponse>;
}
